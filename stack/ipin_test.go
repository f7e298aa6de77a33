package stack

import (
	"net/netip"
	"testing"

	"github.com/synack/synack/wire"
)

func TestIPv4OptionsAndTTL(t *testing.T) {
	p := newProbe(t, Options{TTL: 99})
	ln, err := p.s.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// A SYN with IP options (NOP NOP NOP EOL) and TTL 1: the options are
	// skipped, and a host takes a TTL of 1.
	h := wire.TCPHeader{SrcPort: 4000, DstPort: 80, Seq: 1, Flags: wire.FlagSYN, Window: 65535}
	seg := wire.AppendTCP(nil, &h, nil, wire.Endpoints{Src: peerAddr, Dst: clientAddr})
	ip := wire.IPv4Header{TTL: 1, Protocol: wire.ProtocolTCP, Src: peerAddr, Dst: clientAddr, Options: []byte{1, 1, 1, 0}}
	pkt := append(wire.AppendIPv4(nil, &ip, len(seg)), seg...)
	p.s.DeliverPacket(pkt)
	out := p.takeOne()
	got, hdr, _, err := wire.ParseTCPPacket(out)
	if err != nil || hdr.Flags != wire.FlagSYN|wire.FlagACK || hdr.Ack != 2 || got.TTL != 99 {
		t.Fatalf("answer %+v ttl %d, %v", hdr, got.TTL, err)
	}
	if h4, _, _ := wire.ParseIPv4(out); !h4.DontFragment || h4.ID != 0 {
		t.Errorf("SYN-ACK DF %v ID %d; want DF, ID 0", h4.DontFragment, h4.ID)
	}
}

func TestIPv6ExtensionHeaders(t *testing.T) {
	p := newProbe(t, Options{})
	c, err := p.s.ListenUDP("udp6", ":9")
	if err != nil {
		t.Fatal(err)
	}
	h := wire.UDPHeader{SrcPort: 1, DstPort: 9}
	u := wire.AppendUDP(nil, &h, []byte("through"), wire.Endpoints{Src: peer6, Dst: client6})
	// Hop-by-hop (PadN), then destination options (PadN), then UDP.
	ext := []byte{wire.ProtocolDestOptions, 0, 1, 4, 0, 0, 0, 0, wire.ProtocolUDP, 0, 1, 4, 0, 0, 0, 0}
	ip := wire.IPv6Header{NextHeader: wire.ProtocolHopByHop, HopLimit: 64, Src: peer6, Dst: client6}
	pkt := append(wire.AppendIPv6(nil, &ip, len(ext)+len(u)), ext...)
	p.s.DeliverPacket(append(pkt, u...))
	buf := make([]byte, 16)
	n, from, err := c.ReadFromUDPAddrPort(buf)
	if err != nil || string(buf[:n]) != "through" || from != netip.AddrPortFrom(peer6, 1) {
		t.Fatalf("read %q from %v, %v", buf[:n], from, err)
	}
}
