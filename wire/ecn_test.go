package wire

import (
	"net/netip"
	"testing"
)

// The ECN field goes out in the low bits of the IPv4 TOS / IPv6 traffic
// class and comes back in IPPacket.ECN, for every value.
func TestECNRoundTrip(t *testing.T) {
	for _, ep := range []Endpoints{
		{Src: netip.MustParseAddr("198.18.0.1"), Dst: netip.MustParseAddr("198.18.0.2")},
		{Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::2")},
	} {
		for _, ecn := range []uint8{ECNNotECT, ECNECT1, ECNECT0, ECNCE} {
			h := TCPHeader{SrcPort: 1, DstPort: 2, Flags: FlagACK, Window: 100}
			pkt := AppendTCPPacketECN(nil, ep, 64, ecn, &h, []byte("x"))
			ip, _, payload, err := ParseTCPPacket(pkt)
			if err != nil || ip.ECN != ecn || string(payload) != "x" {
				t.Errorf("%v ECN %d: got ECN %d, payload %q, err %v", ep.Src, ecn, ip.ECN, payload, err)
			}
		}
	}
	if pkt := AppendTCPPacket(nil, Endpoints{Src: netip.MustParseAddr("198.18.0.1"), Dst: netip.MustParseAddr("198.18.0.2")}, 64, &TCPHeader{}, nil); pkt[1] != 0 {
		t.Errorf("AppendTCPPacket TOS %#x, want 0", pkt[1])
	}
}
