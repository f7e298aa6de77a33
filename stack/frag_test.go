package stack

import (
	"bytes"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/synack/synack/tcp"
	"github.com/synack/synack/wire"
)

// fragments cuts pkt into fragments of at most mtu bytes.
func fragments(t *testing.T, pkt []byte, mtu int, id uint32) [][]byte {
	t.Helper()
	var out [][]byte
	if err := wire.Fragment(pkt, mtu, id, func(f []byte) { out = append(out, bytes.Clone(f)) }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestReassembly(t *testing.T) {
	for _, tc := range []struct{ src, dst netip.Addr }{{peerAddr, clientAddr}, {peer6, client6}} {
		p := newProbe(t, Options{})
		c, err := p.s.ListenUDP("udp", ":9")
		if err != nil {
			t.Fatal(err)
		}
		data := bytes.Repeat([]byte("abcdefgh"), 300) // 2400 bytes
		pkt := udpDatagramPacket(netip.AddrPortFrom(tc.src, 1), netip.AddrPortFrom(tc.dst, 9), data)
		fs := fragments(t, pkt, 1000, 5) // 3 fragments
		if len(fs) != 3 {
			t.Fatalf("%d fragments", len(fs))
		}
		// Out of order, with an exact duplicate.
		for _, i := range []int{2, 0, 0, 1} {
			p.s.DeliverPacket(fs[i])
		}
		buf := make([]byte, 3000)
		n, _, err := c.ReadFrom(buf)
		if err != nil || !bytes.Equal(buf[:n], data) {
			t.Fatalf("read %d bytes, %v", n, err)
		}
		// Overlap: the second fragment shifted by 8 bytes drops the
		// datagram, and what comes later for it too.
		fs = fragments(t, udpDatagramPacket(netip.AddrPortFrom(tc.src, 1), netip.AddrPortFrom(tc.dst, 9), data), 1000, 6)
		shifted := shiftFragment(t, fs[1], -8)
		p.s.DeliverPacket(fs[0])
		p.s.DeliverPacket(shifted)
		p.s.DeliverPacket(fs[1])
		p.s.DeliverPacket(fs[2])
		st := p.s.Stats()
		if st.Reassembled != 1 || st.FragmentOverlaps != 1 || st.FragmentDrops != 2 || st.Fragments != 8 || st.UDPIn != 1 {
			t.Errorf("stats: Reassembled %d, Overlaps %d, Drops %d, Fragments %d, UDPIn %d",
				st.Reassembled, st.FragmentOverlaps, st.FragmentDrops, st.Fragments, st.UDPIn)
		}
		if out := p.take(); len(out) != 0 {
			t.Errorf("%d packets sent", len(out))
		}
		// The dead datagram goes at the timeout without a word; an
		// incomplete one with its first fragment draws a time exceeded.
		fs = fragments(t, udpDatagramPacket(netip.AddrPortFrom(tc.src, 1), netip.AddrPortFrom(tc.dst, 9), data), 1000, 7)
		p.s.DeliverPacket(fs[0])
		start := p.r.clk.Now()
		if d := p.s.NextDeadline(); d.Sub(start) != 30*time.Second {
			t.Errorf("next deadline in %v; want 30s", d.Sub(start))
		}
		p.r.clk.Advance(30 * time.Second)
		p.s.Tick()
		ip, m := parseICMP(t, p.takeOne())
		if ip.Dst != tc.src || tc.src.Is4() && (m.Type != wire.ICMPv4TimeExceeded || m.Code != wire.ICMPv4ReassemblyTimeExceeded) ||
			tc.src.Is6() && (m.Type != wire.ICMPv6TimeExceeded || m.Code != wire.ICMPv6ReassemblyTimeExceeded) {
			t.Errorf("time exceeded: %v %+v", ip.Dst, m)
		}
		if q, err := wire.ParseQuote(m.Body); err != nil || q.Src != tc.src || q.Protocol != wire.ProtocolUDP || len(q.Transport) != 8 {
			t.Errorf("quote %+v, %v", q, err)
		}
		if st := p.s.Stats(); st.FragmentTimeouts != 1 || !p.s.NextDeadline().IsZero() {
			t.Errorf("FragmentTimeouts %d, next deadline %v", st.FragmentTimeouts, p.s.NextDeadline())
		}
	}
}

// shiftFragment moves an IPv4 or IPv6 fragment's offset by delta bytes.
func shiftFragment(t *testing.T, f []byte, delta int) []byte {
	t.Helper()
	f = bytes.Clone(f)
	ip, err := wire.ParseIP(f)
	if err != nil {
		t.Fatal(err)
	}
	off := uint16(int(ip.FragmentOffset) + delta)
	if ip.Version == 4 {
		h, payload, _ := wire.ParseIPv4(f)
		h.FragmentOffset = off
		return append(wire.AppendIPv4(nil, &h, len(payload)), payload...)
	}
	w := uint16(f[42])<<8 | uint16(f[43])
	w = w&7 | off
	f[42], f[43] = byte(w>>8), byte(w)
	return f
}

func TestReassemblyLimits(t *testing.T) {
	p := newProbe(t, Options{Reassembly: ReassemblyOptions{Datagrams: 2, Memory: 3000}})
	data := make([]byte, 2400)
	first := func(id uint32) []byte {
		return fragments(t, udpDatagramPacket(netip.AddrPortFrom(peerAddr, 1), netip.AddrPortFrom(clientAddr, 9), data), 1000, id)[0]
	}
	// Two slots: the third datagram evicts the oldest (and its one
	// fragment).
	for id := range uint32(3) {
		p.s.DeliverPacket(first(id))
		p.r.clk.Advance(time.Second)
	}
	st := p.s.Stats()
	if st.FragmentDrops != 1 {
		t.Errorf("slots: FragmentDrops %d; want 1 (the evicted fragment)", st.FragmentDrops)
	}
	// Memory: with 2 datagrams of 1040 charged bytes, a third fragment
	// of 1040 for one of them passes 3000.
	second := fragments(t, udpDatagramPacket(netip.AddrPortFrom(peerAddr, 1), netip.AddrPortFrom(clientAddr, 9), data), 1000, 2)[1]
	p.s.DeliverPacket(second)
	if st := p.s.Stats(); st.FragmentDrops != 2 {
		t.Errorf("memory: FragmentDrops %d; want 2", st.FragmentDrops)
	}
	// A middle fragment whose length is not a multiple of 8, and one
	// past 65535 bytes, are dropped.
	bad := wire.AppendIPv4(nil, &wire.IPv4Header{ID: 9, MoreFragments: true, TTL: 64, Protocol: wire.ProtocolUDP, Src: peerAddr, Dst: clientAddr}, 12)
	bad = append(bad, make([]byte, 12)...)
	p.s.DeliverPacket(bad)
	big := wire.AppendIPv4(nil, &wire.IPv4Header{ID: 9, FragmentOffset: 65528, TTL: 64, Protocol: wire.ProtocolUDP, Src: peerAddr, Dst: clientAddr}, 16)
	big = append(big, make([]byte, 16)...)
	p.s.DeliverPacket(big)
	if st := p.s.Stats(); st.FragmentDrops != 4 {
		t.Errorf("bad fragments: FragmentDrops %d; want 4", st.FragmentDrops)
	}
}

func TestPathMTU(t *testing.T) {
	cl, sv, _ := manualPair(t, 4, tcp.Config{}, nil)
	ln, err := sv.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	c, err := cl.Dial("tcp", "198.18.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	if m := cl.PathMTU(serverAddr); m != 1500 {
		t.Fatalf("PathMTU = %d", m)
	}
	// A router on the way says 1200, quoting a segment in flight.
	router := netip.MustParseAddr("198.18.0.254")
	info := c.Info()
	h := wire.TCPHeader{SrcPort: c.LocalAddrPort().Port(), DstPort: 80, Seq: info.SndUna, Flags: wire.FlagACK}
	seg := wire.AppendTCPPacket(nil, wire.Endpoints{Src: clientAddr, Dst: serverAddr}, 64, &h, make([]byte, 1460))
	fn := wire.ICMPMessage{Type: wire.ICMPv4DestUnreachable, Code: wire.ICMPv4FragmentationNeeded, Rest: 1200, Body: seg[:28]}
	cl.DeliverPacket(icmpPacket(router, clientAddr, fn))
	if m := cl.PathMTU(serverAddr); m != 1200 {
		t.Fatalf("PathMTU after frag needed = %d; want 1200", m)
	}
	// Below 552 is taken as 552; a higher MTU is no news.
	fn.Rest = 300
	cl.DeliverPacket(icmpPacket(router, clientAddr, fn))
	fn.Rest = 1400
	cl.DeliverPacket(icmpPacket(router, clientAddr, fn))
	if m, st := cl.PathMTU(serverAddr), cl.Stats(); m != 552 || st.PathMTUDecreases != 2 || st.ICMPErrors != 3 {
		t.Fatalf("PathMTU = %d, decreases %d, errors %d; want 552, 2, 3", m, st.PathMTUDecreases, st.ICMPErrors)
	}
	// The engine heard of it: its MSS is now 552 - 40 = 512, less 12
	// bytes of timestamps, so its segments fit the path and nothing is
	// fragmented.
	if mss, st := c.Info().SndMSS, cl.Stats(); mss != 500 || st.PathMTUConnUpdates != 2 {
		t.Fatalf("SndMSS %d, PathMTUConnUpdates %d; want 500, 2", mss, st.PathMTUConnUpdates)
	}
	msg := bytes.Repeat([]byte("pmtu"), 3000)
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	c.CloseWrite()
	got, err := io.ReadAll(s)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	if st := cl.Stats(); st.FragmentsOut != 0 {
		t.Errorf("%d fragments sent", st.FragmentsOut)
	}
	// A new connection takes the path MTU into its MSS.
	c2, err := cl.Dial("tcp", "198.18.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	// 552 - 40 = 512, less 12 bytes of timestamps.
	if mss := c2.Info().SndMSS; mss != 500 {
		t.Errorf("new connection's MSS = %d; want 500", mss)
	}
	c2.SetLinger(0)
	c2.Close()

	// IPv6: packet too big below 1280 counts as 1280. It quotes a UDP
	// datagram: only one a socket could have sent counts.
	p := newProbe(t, Options{})
	q := udpDatagramPacket(netip.AddrPortFrom(client6, 1), netip.AddrPortFrom(peer6, 2), nil)
	p.s.DeliverPacket(icmpPacket(peer6, client6, wire.ICMPMessage{Type: wire.ICMPv6PacketTooBig, Rest: 1000, Body: q}))
	if m, st := p.s.PathMTU(peer6), p.s.Stats(); m != 1500 || st.PathMTUIgnored != 1 {
		t.Errorf("no socket: IPv6 PathMTU = %d, PathMTUIgnored %d; want 1500, 1", m, st.PathMTUIgnored)
	}
	u, err := p.s.ListenUDP("udp", ":1")
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	p.s.DeliverPacket(icmpPacket(peer6, client6, wire.ICMPMessage{Type: wire.ICMPv6PacketTooBig, Rest: 1000, Body: q}))
	if m := p.s.PathMTU(peer6); m != 1280 {
		t.Errorf("IPv6 PathMTU = %d; want 1280", m)
	}
}

// The ping of death: fragments of an IPv4 datagram that would reassemble
// past 65,535 bytes, header included, are dropped and counted, and
// nothing is delivered. The largest legal datagram still goes through.
func TestReassemblyPingOfDeath(t *testing.T) {
	p := newProbe(t, Options{Reassembly: ReassemblyOptions{Memory: 1 << 20}})
	c, err := p.s.ListenUDP("udp", ":9")
	if err != nil {
		t.Fatal(err)
	}
	const max = wire.MaxIPPayload - wire.IPv4HeaderLen - 8 // UDP data of a 65,535-byte datagram
	data := make([]byte, max)
	pkt := udpDatagramPacket(netip.AddrPortFrom(peerAddr, 1), netip.AddrPortFrom(clientAddr, 9), data)
	for _, f := range fragments(t, pkt, 1500, 1) {
		p.s.DeliverPacket(f)
	}
	buf := make([]byte, 1<<16)
	if n, _, err := c.ReadFrom(buf); err != nil || n != max {
		t.Fatalf("read %d bytes, %v; want %d", n, err, max)
	}
	// The same datagram whose last fragment carries 8 bytes more: 65,543
	// bytes in all.
	fs := fragments(t, pkt, 1500, 2)
	last := fs[len(fs)-1]
	h, payload, err := wire.ParseIPv4(last)
	if err != nil {
		t.Fatal(err)
	}
	payload = append(bytes.Clone(payload), make([]byte, 8)...)
	fs[len(fs)-1] = append(wire.AppendIPv4(nil, &h, len(payload)), payload...)
	for _, f := range fs {
		p.s.DeliverPacket(f)
	}
	if st := p.s.Stats(); st.Reassembled != 1 || st.ReassemblyTooBig != 1 || st.UDPIn != 1 {
		t.Errorf("Reassembled %d, ReassemblyTooBig %d, UDPIn %d; want 1, 1, 1", st.Reassembled, st.ReassemblyTooBig, st.UDPIn)
	}
	c.SetReadDeadline(p.r.clk.Now())
	if n, _, err := c.ReadFrom(buf); err == nil {
		t.Errorf("read a %d-byte datagram past 65,535 bytes", n)
	}
}
