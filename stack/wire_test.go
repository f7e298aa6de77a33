package stack

import (
	"net/netip"
	"sync"
	"testing"

	"github.com/synack/synack/link"
	"github.com/synack/synack/wire"
)

// TestSynOnTheWire checks what the stack puts in a SYN: TTL 64, the MSS
// from the link MTU (− 40 for IPv4, − 60 for IPv6) and an ephemeral port.
func TestSynOnTheWire(t *testing.T) {
	for _, tc := range []struct {
		dst     string
		mtu     int
		wantMSS uint16
	}{
		{"198.18.0.2:80", 1500, 1460},
		{"[2001:db8::2]:80", 1500, 1440},
		{"198.18.0.2:80", 9000, 8960},
	} {
		var mu sync.Mutex
		var syn []byte
		a, _ := link.Pipe(tc.mtu)
		tap := link.Sniff(a, func(dir link.Direction, pkt []byte) {
			mu.Lock()
			defer mu.Unlock()
			if dir == link.Outbound && syn == nil {
				syn = append([]byte(nil), pkt...)
			}
		})
		s := New(Options{Secret: []byte("fixed")})
		if err := s.AddLink(tap, netip.PrefixFrom(clientAddr, 24), netip.PrefixFrom(client6, 64)); err != nil {
			t.Fatal(err)
		}
		go s.Dial("tcp", tc.dst)
		eventually(t, "the SYN", func() bool { mu.Lock(); defer mu.Unlock(); return syn != nil })
		s.Close()
		ip, h, _, err := wire.ParseTCPPacket(syn)
		if err != nil {
			t.Fatal(err)
		}
		if ip.TTL != 64 || h.Flags != wire.FlagSYN || !h.Options.HasMSS || h.Options.MSS != tc.wantMSS {
			t.Errorf("%s over MTU %d: TTL %d flags %v MSS %d; want 64 S %d", tc.dst, tc.mtu, ip.TTL, h.Flags, h.Options.MSS, tc.wantMSS)
		}
		if h.SrcPort < 49152 {
			t.Errorf("source port %d outside the ephemeral range", h.SrcPort)
		}
		if want := netip.MustParseAddrPort(tc.dst); ip.Dst != want.Addr() || h.DstPort != want.Port() {
			t.Errorf("SYN to %v:%d; want %v", ip.Dst, h.DstPort, want)
		}
	}
}
