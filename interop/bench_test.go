//go:build linux

package interop

import (
	"context"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/synack/synack/interop/netns"
)

// benchChunk is what one benchmark iteration moves.
const benchChunk = 1 << 20

// benchStream moves b.N chunks from w to r (one connection) and reports
// the throughput; r is drained in its own goroutine.
func benchStream(b *testing.B, w io.WriteCloser, r io.Reader) {
	b.Helper()
	buf := make([]byte, benchChunk)
	io.ReadFull(payload(benchChunk), buf)
	want := int64(b.N) * benchChunk
	done := make(chan error, 1)
	go func() {
		n, err := io.Copy(io.Discard, r)
		if err == nil && n != want {
			err = io.ErrUnexpectedEOF
		}
		done <- err
	}()
	b.SetBytes(benchChunk)
	b.ResetTimer()
	for range b.N {
		if _, err := w.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	if cw, ok := w.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	} else {
		w.Close()
	}
	select {
	case err := <-done:
		if err != nil {
			b.Fatal(err)
		}
	case <-time.After(2 * time.Minute):
		b.Fatal("receiver did not finish")
	}
	b.StopTimer()
}

// BenchmarkTUN measures bulk TCP throughput between the kernel (Go net
// sockets in the namespace) and synack over a TUN device (MTU 1500), both
// directions, IPv4, with the device's offloads (virtio-net header, TSO,
// checksums: super-segments both ways) and without (one packet per read
// and write). No capture runs. Besides the throughput it reports the
// segments both sides retransmitted during the run (kernel+synack, which
// should be 0 on this lossless path).
func BenchmarkTUN(b *testing.B) {
	for _, mode := range []string{"offload", "plain"} {
		for _, dir := range []string{"kernel-to-synack", "synack-to-kernel"} {
			b.Run(mode+"/"+dir, func(b *testing.B) {
				r := newRig(b, rigOptions{noCap: true, offload: mode == "offload"})
				if (r.dev.Offloads() != 0) != (mode == "offload") {
					b.Fatalf("device offloads %v in mode %s", r.dev.Offloads(), mode)
				}
				l, err := r.st.Listen("tcp", hostPort(syn4, 5001))
				if err != nil {
					b.Fatal(err)
				}
				defer l.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				kc, err := r.ns.DialContext(ctx, "tcp", hostPort(syn4, 5001))
				if err != nil {
					b.Fatal(err)
				}
				defer kc.Close()
				sc, err := l.AcceptContext(ctx)
				if err != nil {
					b.Fatal(err)
				}
				defer sc.Close()
				retrans := r.kernelTCPStat("RetransSegs") + r.st.Stats().Retransmits
				if dir == "kernel-to-synack" {
					benchStream(b, kc.(*net.TCPConn), sc)
				} else {
					benchStream(b, sc, kc)
				}
				retrans = r.kernelTCPStat("RetransSegs") + r.st.Stats().Retransmits - retrans
				b.ReportMetric(float64(retrans), "retrans")
			})
		}
	}
}

// BenchmarkVeth is the same transfer kernel to kernel: two namespaces
// joined by a veth pair (MTU 1500, the kernel's offloads on), for scale.
func BenchmarkVeth(b *testing.B) {
	needNetns(b)
	a, err := netns.New("synack-bench")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.Close() })
	c, err := netns.New("synack-bench")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	if err := netns.Veth(a, "veth-a", []netip.Prefix{netip.PrefixFrom(kern4, bits4)},
		c, "veth-b", []netip.Prefix{netip.PrefixFrom(syn4, bits4)}); err != nil {
		b.Fatal(err)
	}
	b.Run("a-to-b", func(b *testing.B) {
		l, err := c.Listen("tcp", hostPort(syn4, 5001))
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ac, err := a.DialContext(ctx, "tcp", hostPort(syn4, 5001))
		if err != nil {
			b.Fatal(err)
		}
		defer ac.Close()
		bc, err := l.Accept()
		if err != nil {
			b.Fatal(err)
		}
		defer bc.Close()
		benchStream(b, ac.(*net.TCPConn), bc)
	})
}
