package stack

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/synack/synack/clock"
	"github.com/synack/synack/link"
	"github.com/synack/synack/tcp"
	"github.com/synack/synack/wire"
)

func TestEchoReply(t *testing.T) {
	for _, tc := range []struct{ src, dst netip.Addr }{{peerAddr, clientAddr}, {peer6, client6}} {
		p := newProbe(t, Options{})
		typ := uint8(wire.ICMPv4EchoRequest)
		if tc.src.Is6() {
			typ = wire.ICMPv6EchoRequest
		}
		p.s.DeliverPacket(icmpPacket(tc.src, tc.dst, wire.NewICMPEcho(typ, 0x4242, 7, []byte("ping data"))))
		ip, m := parseICMP(t, p.takeOne())
		wantType := uint8(wire.ICMPv4EchoReply)
		if tc.src.Is6() {
			wantType = wire.ICMPv6EchoReply
		}
		if ip.Src != tc.dst || ip.Dst != tc.src || ip.TTL != 64 || m.Type != wantType || m.Code != 0 ||
			m.EchoID() != 0x4242 || m.EchoSeq() != 7 || string(m.Body) != "ping data" {
			t.Errorf("reply %v > %v ttl %d: %+v", ip.Src, ip.Dst, ip.TTL, m)
		}
		// Replies are not errors: nothing answers them, nor echo to
		// another host's address.
		p.s.DeliverPacket(icmpPacket(tc.src, tc.dst, wire.NewICMPEcho(wantType, 1, 1, nil)))
		other := tc.dst.Next()
		p.s.DeliverPacket(icmpPacket(tc.src, other, wire.NewICMPEcho(typ, 1, 1, nil)))
		if out := p.take(); len(out) != 0 {
			t.Errorf("%d packets in answer to a reply and a foreign echo", len(out))
		}
		st := p.s.Stats()
		if st.ICMPIn != 2 || st.EchoReplies != 1 || st.ICMPOut != 1 || st.NotLocal != 1 {
			t.Errorf("stats %+v", st)
		}
	}
}

func TestPortUnreachable(t *testing.T) {
	for _, tc := range []struct{ src, dst netip.Addr }{{peerAddr, clientAddr}, {peer6, client6}} {
		p := newProbe(t, Options{})
		dgram := udpDatagramPacket(netip.AddrPortFrom(tc.src, 5353), netip.AddrPortFrom(tc.dst, 53), []byte("who?"))
		p.s.DeliverPacket(dgram)
		ip, m := parseICMP(t, p.takeOne())
		if ip.Src != tc.dst || ip.Dst != tc.src {
			t.Errorf("error %v > %v", ip.Src, ip.Dst)
		}
		if tc.src.Is4() && (m.Type != wire.ICMPv4DestUnreachable || m.Code != wire.ICMPv4PortUnreachable) ||
			tc.src.Is6() && (m.Type != wire.ICMPv6DestUnreachable || m.Code != wire.ICMPv6PortUnreachable) {
			t.Errorf("type %d code %d", m.Type, m.Code)
		}
		if !bytes.Equal(m.Body, dgram) {
			t.Errorf("quote % x\nwant % x", m.Body, dgram)
		}
		if st := p.s.Stats(); st.UDPNoPort != 1 || st.ICMPOut != 1 {
			t.Errorf("stats %+v", st)
		}
		// No error about a datagram from a multicast source.
		p.s.DeliverPacket(udpDatagramPacket(netip.MustParseAddrPort("[ff02::1]:5353"), netip.AddrPortFrom(client6, 53), nil))
		if out := p.take(); len(out) != 0 {
			t.Errorf("answered a multicast source")
		}
	}
}

func TestICMPRateLimit(t *testing.T) {
	p := newProbe(t, Options{ICMPRate: 100, ICMPBurst: 5})
	send := func(n int) int {
		for i := range n {
			p.s.DeliverPacket(udpDatagramPacket(netip.AddrPortFrom(peerAddr, uint16(1000+i)), netip.AddrPortFrom(clientAddr, 9), nil))
		}
		return len(p.take())
	}
	if n := send(8); n != 5 {
		t.Errorf("burst: %d errors sent; want 5", n)
	}
	p.r.clk.Advance(20 * time.Millisecond) // 2 tokens at 100/s
	if n := send(8); n != 2 {
		t.Errorf("after 20ms: %d errors sent; want 2", n)
	}
	// Echo replies are not limited.
	for range 3 {
		p.s.DeliverPacket(icmpPacket(peerAddr, clientAddr, wire.NewICMPEcho(wire.ICMPv4EchoRequest, 1, 1, nil)))
	}
	if n := len(p.take()); n != 3 {
		t.Errorf("%d echo replies; want 3", n)
	}
	if st := p.s.Stats(); st.ICMPRateLimited != 9 || st.UDPNoPort != 16 {
		t.Errorf("ICMPRateLimited = %d, UDPNoPort = %d; want 9, 16", st.ICMPRateLimited, st.UDPNoPort)
	}
}

// unreachableFor answers a SYN with the ICMP error (typ, code) quoting it
// from the router at from; a nil quote edit leaves the quote as sent.
func unreachableFor(from netip.Addr, typ, code uint8, edit func(q []byte)) func([]byte) [][]byte {
	return func(pkt []byte) [][]byte {
		ip, err := wire.ParseIP(pkt)
		if err != nil || ip.Protocol != wire.ProtocolTCP {
			return nil
		}
		q := bytes.Clone(pkt)
		if edit != nil {
			edit(q)
		}
		return [][]byte{icmpPacket(from, ip.Src, wire.ICMPMessage{Type: typ, Code: code, Body: q})}
	}
}

func TestConnectHardErrors(t *testing.T) {
	router4, router6 := netip.MustParseAddr("198.18.0.254"), netip.MustParseAddr("2001:db8::fe")
	for _, tc := range []struct {
		name       string
		to         string
		from       netip.Addr
		typ, code  uint8
		want       syscall.Errno
		wantPkts   int
		wantIgnore uint64
	}{
		{"port", "198.18.0.9:80", peerAddr, wire.ICMPv4DestUnreachable, wire.ICMPv4PortUnreachable, syscall.ECONNREFUSED, 1, 0},
		{"host", "198.18.0.9:80", router4, wire.ICMPv4DestUnreachable, wire.ICMPv4HostUnreachable, syscall.EHOSTUNREACH, 1, 0},
		{"net", "198.18.0.9:80", router4, wire.ICMPv4DestUnreachable, wire.ICMPv4NetUnreachable, syscall.ENETUNREACH, 1, 0},
		{"admin", "198.18.0.9:80", router4, wire.ICMPv4DestUnreachable, wire.ICMPv4AdminProhibited, syscall.EHOSTUNREACH, 1, 0},
		{"port6", "[2001:db8::9]:80", peer6, wire.ICMPv6DestUnreachable, wire.ICMPv6PortUnreachable, syscall.ECONNREFUSED, 1, 0},
		{"addr6", "[2001:db8::9]:80", router6, wire.ICMPv6DestUnreachable, wire.ICMPv6AddressUnreachable, syscall.EHOSTUNREACH, 1, 0},
		{"noroute6", "[2001:db8::9]:80", router6, wire.ICMPv6DestUnreachable, wire.ICMPv6NoRoute, syscall.ENETUNREACH, 1, 0},
		{"admin6", "[2001:db8::9]:80", router6, wire.ICMPv6DestUnreachable, wire.ICMPv6AdminProhibited, syscall.EACCES, 1, 0},
		// Soft: the connect runs its course (1 + 2 retries) and reports
		// the soft error instead of ETIMEDOUT.
		{"ttl", "198.18.0.9:80", router4, wire.ICMPv4TimeExceeded, wire.ICMPv4TTLExceeded, syscall.EHOSTUNREACH, 3, 0},
		{"hoplimit6", "[2001:db8::9]:80", router6, wire.ICMPv6TimeExceeded, 0, syscall.EHOSTUNREACH, 3, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProbe(t, Options{})
			p.reply = unreachableFor(tc.from, tc.typ, tc.code, nil)
			_, err := p.s.Dial("tcp", tc.to)
			var op interface{ Timeout() bool }
			if !errors.Is(err, tc.want) || !errors.As(err, &op) {
				t.Fatalf("dial: %v; want %v", err, tc.want)
			}
			if n := len(p.take()); n != tc.wantPkts {
				t.Errorf("%d SYNs sent; want %d", n, tc.wantPkts)
			}
			if st := p.s.Stats(); st.ICMPErrors != uint64(tc.wantPkts) || st.ICMPIgnored != tc.wantIgnore || st.Connections != 0 {
				t.Errorf("ICMPErrors %d, ICMPIgnored %d, Connections %d", st.ICMPErrors, st.ICMPIgnored, st.Connections)
			}
		})
	}
}

func TestICMPValidation(t *testing.T) {
	// An error whose quoted sequence number is not in flight, or that
	// quotes a packet from another host, is ignored: the connect times
	// out as if nothing came.
	for _, tc := range []struct {
		name string
		edit func(q []byte)
	}{
		{"seq", func(q []byte) { q[wire.IPv4HeaderLen+4] ^= 0x80 }},
		// SND.NXT (ISS+1): no segment of ours carried it before the
		// handshake completed (RFC 5927 §4.1; Linux would abort).
		{"snd.nxt", func(q []byte) {
			seq := q[wire.IPv4HeaderLen+4 : wire.IPv4HeaderLen+8]
			binary.BigEndian.PutUint32(seq, binary.BigEndian.Uint32(seq)+1)
		}},
		{"src", func(q []byte) { q[15] = 77 }}, // quoted source 198.18.0.77
		{"short", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProbe(t, Options{})
			reply := unreachableFor(peerAddr, wire.ICMPv4DestUnreachable, wire.ICMPv4PortUnreachable, tc.edit)
			if tc.name == "short" {
				// Only 4 bytes of the TCP header quoted: no sequence number.
				reply = func(pkt []byte) [][]byte {
					m := wire.ICMPMessage{Type: wire.ICMPv4DestUnreachable, Code: wire.ICMPv4PortUnreachable, Body: pkt[:wire.IPv4HeaderLen+4]}
					return [][]byte{icmpPacket(peerAddr, clientAddr, m)}
				}
			}
			p.reply = reply
			_, err := p.s.Dial("tcp", "198.18.0.9:80")
			if !errors.Is(err, syscall.ETIMEDOUT) {
				t.Fatalf("dial: %v; want ETIMEDOUT", err)
			}
			if st := p.s.Stats(); st.ICMPIgnored != 3 || st.ICMPErrors != 0 {
				t.Errorf("ICMPIgnored %d, ICMPErrors %d; want 3, 0", st.ICMPIgnored, st.ICMPErrors)
			}
		})
	}
}

func TestSoftErrorEstablished(t *testing.T) {
	r := &stepRunner{clk: clock.NewVirtual()}
	cfg := tcp.Config{MaxRetries: 2, InitialRTO: 200 * time.Millisecond}
	cl := New(Options{Clock: r.clk, Runner: r, TCP: cfg})
	sv := New(Options{Clock: r.clk, Runner: r, TCP: cfg})
	r.stacks = []*Stack{cl, sv}
	a, b := link.Pipe(1500)
	if err := cl.AddLink(a, netip.PrefixFrom(clientAddr, 24)); err != nil {
		t.Fatal(err)
	}
	if err := sv.AddLink(b, netip.PrefixFrom(serverAddr, 24)); err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	defer sv.Close()
	ln, err := sv.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	c, err := cl.Dial("tcp", "198.18.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ln.Accept(); err != nil {
		t.Fatal(err)
	}
	// A router says the server is unreachable, quoting a segment in
	// flight: in ESTABLISHED that is only remembered (RFC 5461).
	info := c.Info()
	h := wire.TCPHeader{SrcPort: c.LocalAddrPort().Port(), DstPort: 80, Seq: info.SndNxt, Flags: wire.FlagACK}
	seg := wire.AppendTCPPacket(nil, wire.Endpoints{Src: clientAddr, Dst: serverAddr}, 64, &h, nil)
	router := netip.MustParseAddr("198.18.0.254")
	cl.DeliverPacket(icmpPacket(router, clientAddr, wire.ICMPMessage{Type: wire.ICMPv4DestUnreachable, Code: wire.ICMPv4HostUnreachable, Body: seg[:28]}))
	if st := c.State(); st != tcp.StateEstablished {
		t.Fatalf("state after a soft error = %v", st)
	}
	if st := cl.Stats(); st.ICMPErrors != 1 {
		t.Errorf("ICMPErrors = %d", st.ICMPErrors)
	}
	// The server vanishes: the retransmissions time out, and the error
	// reported is the soft one.
	b.Close()
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	_, err = c.Read(make([]byte, 1))
	if !errors.Is(err, syscall.EHOSTUNREACH) {
		t.Fatalf("read after the timeout: %v; want EHOSTUNREACH", err)
	}
}

func TestHalfOpenHardError(t *testing.T) {
	p := newProbe(t, Options{})
	ln, err := p.s.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p.s.DeliverPacket(synPacket(peerAddr, 4000, clientAddr))
	synAck := p.takeOne()
	if st := p.s.Stats(); st.Connections != 1 {
		t.Fatalf("Connections = %d after the SYN", st.Connections)
	}
	// The client's host is unreachable after all: the half-open
	// connection goes, silently.
	router := netip.MustParseAddr("198.18.0.254")
	p.s.DeliverPacket(icmpPacket(router, clientAddr, wire.ICMPMessage{Type: wire.ICMPv4DestUnreachable, Code: wire.ICMPv4HostUnreachable, Body: synAck[:28]}))
	if st := p.s.Stats(); st.Connections != 0 || st.ICMPErrors != 1 {
		t.Errorf("Connections %d, ICMPErrors %d; want 0, 1", st.Connections, st.ICMPErrors)
	}
	if out := p.take(); len(out) != 0 {
		t.Errorf("%d packets sent", len(out))
	}
}
