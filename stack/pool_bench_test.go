package stack

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/synack/synack/link"
)

// BenchmarkBulkTransferMTU is BenchmarkBulkTransfer over a Pipe of each
// MTU: at 65535 every inbound packet needs a 64 KiB buffer, which shows
// whether the inbound packet pool keeps large buffers (B/op). Run with
//
//	go test ./stack -run '^$' -bench BulkTransferMTU -benchmem
func BenchmarkBulkTransferMTU(b *testing.B) {
	for _, mtu := range []int{1500, 65535} {
		b.Run(fmt.Sprint(mtu), func(b *testing.B) {
			a, z := link.Pipe(mtu)
			cl, sv := New(Options{}), New(Options{})
			defer cl.Close()
			defer sv.Close()
			if err := cl.AddLink(a, netip.PrefixFrom(clientAddr, 24)); err != nil {
				b.Fatal(err)
			}
			if err := sv.AddLink(z, netip.PrefixFrom(serverAddr, 24)); err != nil {
				b.Fatal(err)
			}
			bulk(b, cl, sv)
		})
	}
}
