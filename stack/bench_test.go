package stack

import (
	"io"
	"testing"
)

// BenchmarkBulkTransfer measures one-way bulk transfer over a Pipe between
// two real-time stacks.
func BenchmarkBulkTransfer(b *testing.B) {
	cl, sv := pair(b, Options{}, Options{})
	bulk(b, cl, sv)
}

// bulk connects cl to sv and writes b.N times 64 KiB one way.
func bulk(b *testing.B, cl, sv *Stack) {
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
}
