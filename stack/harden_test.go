package stack

import (
	"errors"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/synack/synack/tcp"
	"github.com/synack/synack/wire"
)

// ipv6With builds an IPv6 packet from peer6 to client6 whose fixed header
// names first, followed by ext (extension headers, already chained) and
// a UDP datagram to port 9.
func ipv6With(t *testing.T, first uint8, ext []byte, data string) []byte {
	t.Helper()
	h := wire.UDPHeader{SrcPort: 1, DstPort: 9}
	u := wire.AppendUDP(nil, &h, []byte(data), wire.Endpoints{Src: peer6, Dst: client6})
	payload := append(append([]byte(nil), ext...), u...)
	ip := wire.IPv6Header{NextHeader: first, HopLimit: 64, Src: peer6, Dst: client6}
	return append(wire.AppendIPv6(nil, &ip, len(payload)), payload...)
}

// RFC 8200 §4 and §4.4: a routing header with Segments Left not zero, and
// a Next Header the host does not know, are discarded and answered with a
// Parameter Problem pointing at the offending field; a routing header
// with Segments Left zero is ignored. The answers are rate-limited like
// the other ICMP errors.
func TestIPv6ParameterProblem(t *testing.T) {
	p := newProbe(t, Options{ICMPRate: 1, ICMPBurst: 3})
	c, err := p.s.ListenUDP("udp", ":9")
	if err != nil {
		t.Fatal(err)
	}
	routing := func(left byte) []byte { // type 4 (segment routing), one segment
		return append([]byte{wire.ProtocolUDP, 2, 4, left, 0, 0, 0, 0}, make([]byte, 16)...)
	}
	destOpts := []byte{253, 0, 1, 4, 0, 0, 0, 0} // names experimental protocol 253 (RFC 3692); PadN
	for _, tc := range []struct {
		name    string
		pkt     []byte
		code    uint8
		pointer uint32
	}{
		{"routing header, segments left 1", ipv6With(t, wire.ProtocolRouting, routing(1), "x"), wire.ICMPv6ErroneousHeader, 42},
		{"unknown next header", ipv6With(t, 253, nil, "x"), wire.ICMPv6UnrecognizedNextHeader, 6},
		{"unknown after destination options", ipv6With(t, wire.ProtocolDestOptions, destOpts, "x"), wire.ICMPv6UnrecognizedNextHeader, 40},
	} {
		p.s.DeliverPacket(tc.pkt)
		ip, m := parseICMP(t, p.takeOne())
		if ip.Dst != peer6 || m.Type != wire.ICMPv6ParameterProblem || m.Code != tc.code || m.Rest != tc.pointer {
			t.Errorf("%s: answer to %v: type %d code %d pointer %d; want %v: 4, %d, %d", tc.name, ip.Dst, m.Type, m.Code, m.Rest, peer6, tc.code, tc.pointer)
		}
		if q, err := wire.ParseQuote(m.Body); err != nil || q.Src != peer6 || q.Dst != client6 {
			t.Errorf("%s: quote %+v, %v", tc.name, q, err)
		}
	}
	// Segments Left zero: the routing header is ignored, the datagram
	// delivered.
	p.s.DeliverPacket(ipv6With(t, wire.ProtocolRouting, routing(0), "ok"))
	buf := make([]byte, 10)
	if n, _, err := c.ReadFrom(buf); err != nil || string(buf[:n]) != "ok" {
		t.Fatalf("read %q, %v; want \"ok\"", buf[:n], err)
	}
	if out := p.take(); len(out) != 0 {
		t.Errorf("%d packets sent for a routing header with segments left 0", len(out))
	}
	// The burst of 3 is spent: the next one is discarded in silence.
	p.s.DeliverPacket(ipv6With(t, wire.ProtocolRouting, routing(1), "x"))
	if out := p.take(); len(out) != 0 {
		t.Errorf("%d packets sent past the rate limit", len(out))
	}
	if st := p.s.Stats(); st.IPv6ParamProblems != 4 || st.ICMPRateLimited != 1 || st.UDPIn != 1 {
		t.Errorf("IPv6ParamProblems %d, ICMPRateLimited %d, UDPIn %d; want 4, 1, 1", st.IPv6ParamProblems, st.ICMPRateLimited, st.UDPIn)
	}
}

// A fragmentation needed quoting a packet of no flow the stack can check
// (here a protocol it does not carry, then a TCP segment of no
// connection) leaves the path MTU alone: before, it lowered the path MTU
// of every connection to the host.
func TestPathMTUUncheckedQuoteIgnored(t *testing.T) {
	p := newProbe(t, Options{})
	router := netip.MustParseAddr("198.18.0.254")
	quoted := ipPacket(clientAddr, peerAddr, 253, make([]byte, 8))
	fn := wire.ICMPMessage{Type: wire.ICMPv4DestUnreachable, Code: wire.ICMPv4FragmentationNeeded, Rest: 1000, Body: quoted}
	p.s.DeliverPacket(icmpPacket(router, clientAddr, fn))
	h := wire.TCPHeader{SrcPort: 40000, DstPort: 80, Seq: 1, Flags: wire.FlagACK}
	fn.Body = wire.AppendTCPPacket(nil, wire.Endpoints{Src: clientAddr, Dst: peerAddr}, 64, &h, nil)
	p.s.DeliverPacket(icmpPacket(router, clientAddr, fn))
	if m, st := p.s.PathMTU(peerAddr), p.s.Stats(); m != 1500 || st.PathMTUIgnored != 2 || st.PathMTUDecreases != 0 {
		t.Errorf("PathMTU %d, PathMTUIgnored %d, PathMTUDecreases %d; want 1500, 2, 0", m, st.PathMTUIgnored, st.PathMTUDecreases)
	}
}

// 10,000 in-window RSTs (RFC 5961 §3.2: each would draw a challenge ACK)
// at one instant draw one challenge ACK; spread over 10 s, one every
// 500 ms: 20. In virtual time.
func TestChallengeACKFlood(t *testing.T) {
	cl, sv, r := manualPairOpts(t, Options{}, Options{})
	ln, err := sv.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := cl.Dial("tcp", "198.18.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rst := func() {
		h := wire.TCPHeader{SrcPort: c.LocalAddrPort().Port(), DstPort: 80, Seq: c.Info().SndNxt + 1000, Flags: wire.FlagRST}
		sv.DeliverPacket(wire.AppendTCPPacket(nil, wire.Endpoints{Src: clientAddr, Dst: serverAddr}, 64, &h, nil))
	}
	for range 10000 {
		rst()
	}
	st := sv.Stats()
	t.Logf("10,000 in-window RSTs at once: %d challenge ACKs, %d suppressed", st.ChallengeACKs, st.ChallengeACKsSuppressed)
	if st.ChallengeACKs != 1 || st.ChallengeACKsSuppressed != 9999 {
		t.Errorf("ChallengeACKs %d, suppressed %d; want 1, 9999", st.ChallengeACKs, st.ChallengeACKsSuppressed)
	}
	for range 10000 {
		r.clk.Advance(time.Millisecond)
		rst()
	}
	st = sv.Stats()
	t.Logf("10,000 more, one a millisecond: %d challenge ACKs in all, %d suppressed", st.ChallengeACKs, st.ChallengeACKsSuppressed)
	if st.ChallengeACKs != 21 || st.ChallengeACKsSuppressed != 19979 {
		t.Errorf("ChallengeACKs %d, suppressed %d; want 21, 19979", st.ChallengeACKs, st.ChallengeACKsSuppressed)
	}
	if s.Info().State != tcp.StateEstablished {
		t.Errorf("server connection %v; want ESTABLISHED", s.Info().State)
	}
}

// Accepted and dialed connections get Go's keepalive by default: a peer
// that vanishes is given up 15 s + 9 × 15 s after its last segment, with
// 9 probes; Options.KeepAlive < 0 turns it off. In virtual time.
func TestKeepAliveDefault(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ka     time.Duration
		dialed bool
	}{{"accepted", 0, false}, {"dialed", 0, true}, {"off", -1, false}} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProbe(t, Options{KeepAlive: tc.ka})
			start := p.r.clk.Now()
			var c *Conn
			if tc.dialed {
				// The peer answers the SYN, then says no more.
				p.reply = func(pkt []byte) [][]byte {
					_, h, _, err := wire.ParseTCPPacket(pkt)
					if err != nil || h.Flags != wire.FlagSYN {
						return nil
					}
					sa := wire.TCPHeader{SrcPort: 80, DstPort: h.SrcPort, Seq: 5000, Ack: h.Seq + 1, Flags: wire.FlagSYN | wire.FlagACK, Window: 65535}
					return [][]byte{wire.AppendTCPPacket(nil, wire.Endpoints{Src: peerAddr, Dst: clientAddr}, 64, &sa, nil)}
				}
				var err error
				if c, err = p.s.Dial("tcp", "198.18.0.9:80"); err != nil {
					t.Fatal(err)
				}
				p.reply = nil
			} else {
				ln, err := p.s.Listen("tcp", ":80")
				if err != nil {
					t.Fatal(err)
				}
				defer ln.Close()
				p.s.DeliverPacket(synPacket(peerAddr, 4000, clientAddr))
				_, sa, _, err := wire.ParseTCPPacket(p.takeOne())
				if err != nil {
					t.Fatal(err)
				}
				ack := wire.TCPHeader{SrcPort: 4000, DstPort: 80, Seq: sa.Ack, Ack: sa.Seq + 1, Flags: wire.FlagACK, Window: 65535}
				p.s.DeliverPacket(wire.AppendTCPPacket(nil, wire.Endpoints{Src: peerAddr, Dst: clientAddr}, 64, &ack, nil))
				if c, err = ln.AcceptTCP(); err != nil {
					t.Fatal(err)
				}
			}
			defer c.Close()
			p.take()
			if tc.ka < 0 {
				c.SetReadDeadline(start.Add(time.Hour))
			}
			_, err := c.Read(make([]byte, 1))
			probes := len(p.take())
			elapsed := p.r.clk.Now().Sub(start)
			if tc.ka < 0 {
				if !errors.Is(err, os.ErrDeadlineExceeded) || probes != 0 {
					t.Errorf("Read: %v after %v, %d packets; want the deadline after 1h, none", err, elapsed, probes)
				}
				return
			}
			if !errors.Is(err, syscall.ETIMEDOUT) || elapsed != 150*time.Second || probes != 10 {
				t.Errorf("Read: %v after %v, %d packets; want ETIMEDOUT after 150s, 9 probes and a RST", err, elapsed, probes)
			}
		})
	}
}

// Options.ChallengeACKLimit bounds the challenge ACKs of all connections
// together: with a limit of 2, a second's budget is 1 or 2, whatever the
// number of connections provoked.
func TestChallengeACKStackLimit(t *testing.T) {
	cl, sv, _ := manualPairOpts(t, Options{}, Options{ChallengeACKLimit: 2})
	ln, err := sv.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const n = 6
	for range n {
		c, err := cl.Dial("tcp", "198.18.0.2:80")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		h := wire.TCPHeader{SrcPort: c.LocalAddrPort().Port(), DstPort: 80, Seq: c.Info().SndNxt + 1000, Flags: wire.FlagRST}
		sv.DeliverPacket(wire.AppendTCPPacket(nil, wire.Endpoints{Src: clientAddr, Dst: serverAddr}, 64, &h, nil))
	}
	st := sv.Stats()
	if st.ChallengeACKs < 1 || st.ChallengeACKs > 2 || st.ChallengeACKs+st.ChallengeACKsSuppressed != n {
		t.Errorf("ChallengeACKs %d, suppressed %d; want 1 or 2 sent of %d", st.ChallengeACKs, st.ChallengeACKsSuppressed, n)
	}
}
