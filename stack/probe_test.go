package stack

import (
	"bytes"
	"net/netip"
	"sync"
	"testing"

	"github.com/synack/synack/clock"
	"github.com/synack/synack/link"
	"github.com/synack/synack/tcp"
	"github.com/synack/synack/wire"
)

// peerAddr and peer6 are the addresses a probe stands for.
var (
	peerAddr = netip.MustParseAddr("198.18.0.9")
	peer6    = netip.MustParseAddr("2001:db8::9")
)

// probe is a manual-mode stack (198.18.0.1/24, 2001:db8::1/64) whose link
// ends in the test: it sees every packet the stack sends, and injects
// packets with DeliverPacket. reply, if set, answers each sent packet
// (synchronously, which manual mode allows).
type probe struct {
	t     *testing.T
	s     *Stack
	r     *stepRunner
	l     link.Link
	mu    sync.Mutex
	out   [][]byte
	reply func(pkt []byte) [][]byte
}

func newProbe(t *testing.T, opts Options) *probe {
	t.Helper()
	p := &probe{t: t, r: &stepRunner{clk: clock.NewVirtual()}}
	opts.Clock, opts.Runner = p.r.clk, p.r
	if opts.TCP == (tcp.Config{}) {
		opts.TCP = tcp.Config{SynRetries: 2}
	}
	p.s = New(opts)
	p.r.stacks = []*Stack{p.s}
	a, b := link.Pipe(1500)
	b.Attach(link.ReceiverFunc(func(pkt []byte) {
		p.mu.Lock()
		p.out = append(p.out, bytes.Clone(pkt))
		reply := p.reply
		p.mu.Unlock()
		if reply != nil {
			for _, r := range reply(bytes.Clone(pkt)) {
				p.s.DeliverPacket(r)
			}
		}
	}))
	p.l = a
	if err := p.s.AddLink(a, netip.PrefixFrom(clientAddr, 24), netip.PrefixFrom(client6, 64)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.s.Close() })
	return p
}

// take returns the packets sent since the last call.
func (p *probe) take() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.out
	p.out = nil
	return out
}

// takeOne returns the one packet sent since the last call.
func (p *probe) takeOne() []byte {
	p.t.Helper()
	out := p.take()
	if len(out) != 1 {
		p.t.Fatalf("%d packets sent; want 1", len(out))
	}
	return out[0]
}

// ipPacket builds an IP packet of proto from src to dst around payload,
// IPv4 (ID id, no DF) or IPv6 by the addresses.
func ipPacket(src, dst netip.Addr, proto uint8, payload []byte) []byte {
	var b []byte
	if src.Is4() {
		h := wire.IPv4Header{ID: 77, TTL: 64, Protocol: proto, Src: src, Dst: dst}
		b = wire.AppendIPv4(nil, &h, len(payload))
	} else {
		h := wire.IPv6Header{NextHeader: proto, HopLimit: 64, Src: src, Dst: dst}
		b = wire.AppendIPv6(nil, &h, len(payload))
	}
	return append(b, payload...)
}

// udpDatagram builds an IP packet carrying a UDP datagram.
func udpDatagramPacket(src, dst netip.AddrPort, data []byte) []byte {
	h := wire.UDPHeader{SrcPort: src.Port(), DstPort: dst.Port()}
	u := wire.AppendUDP(nil, &h, data, wire.Endpoints{Src: src.Addr(), Dst: dst.Addr()})
	return ipPacket(src.Addr(), dst.Addr(), wire.ProtocolUDP, u)
}

// icmpPacket builds an ICMP (IPv4) or ICMPv6 packet from src to dst.
func icmpPacket(src, dst netip.Addr, m wire.ICMPMessage) []byte {
	if src.Is4() {
		return ipPacket(src, dst, wire.ProtocolICMP, wire.AppendICMPv4(nil, &m))
	}
	return ipPacket(src, dst, wire.ProtocolICMPv6, wire.AppendICMPv6(nil, &m, wire.Endpoints{Src: src, Dst: dst}))
}

// parseICMP parses a packet the stack sent as ICMP or ICMPv6.
func parseICMP(t *testing.T, pkt []byte) (wire.IPPacket, wire.ICMPMessage) {
	t.Helper()
	ip, err := wire.ParseIP(pkt)
	if err != nil {
		t.Fatal(err)
	}
	var m wire.ICMPMessage
	if ip.Version == 4 {
		if ip.Protocol != wire.ProtocolICMP {
			t.Fatalf("protocol %d, want ICMP", ip.Protocol)
		}
		m, err = wire.ParseICMPv4(ip.Payload)
	} else {
		if ip.Protocol != wire.ProtocolICMPv6 {
			t.Fatalf("protocol %d, want ICMPv6", ip.Protocol)
		}
		m, err = wire.ParseICMPv6(ip.Payload, wire.Endpoints{Src: ip.Src, Dst: ip.Dst})
	}
	if err != nil {
		t.Fatal(err)
	}
	return ip, m
}
