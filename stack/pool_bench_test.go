package stack

import (
	"fmt"
	"io"
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
			c, s := connected(b, cl, sv)
			buf := make([]byte, 64<<10)
			done := make(chan int64)
			go func() {
				n, _ := io.Copy(io.Discard, s)
				done <- n
			}()
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := c.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
			c.CloseWrite()
			if n := <-done; n != int64(b.N*len(buf)) {
				b.Fatalf("received %d bytes; want %d", n, b.N*len(buf))
			}
		})
	}
}
