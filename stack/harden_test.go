package stack

import (
	"net/netip"
	"testing"

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
