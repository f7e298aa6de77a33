//go:build linux

package interop

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/synack/synack/interop/netns"
)

// benchChunk is what one benchmark iteration moves.
const benchChunk = 1 << 20

// benchChunks is how many chunks one iteration moves: 1, or the size
// SYNACK_TUN_BULK gives (e.g. 1GiB, 256MiB, or bytes) in whole chunks, for
// a long run with -benchtime 1x.
func benchChunks(b *testing.B) int {
	v := os.Getenv("SYNACK_TUN_BULK")
	if v == "" {
		return 1
	}
	n, err := parseSize(v)
	if err != nil || n < benchChunk {
		b.Fatalf("SYNACK_TUN_BULK=%q: want a size of at least 1MiB (such as 1GiB)", v)
	}
	return int(n / benchChunk)
}

// parseSize reads a byte count with an optional KiB, MiB or GiB suffix.
func parseSize(v string) (int64, error) {
	mult := int64(1)
	for suf, m := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
		if strings.HasSuffix(v, suf) {
			v, mult = strings.TrimSuffix(v, suf), m
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q", v)
	}
	return n * mult, nil
}

// benchStream moves b.N times benchChunks chunks from w to r (one
// connection) and reports the throughput; r is drained in its own
// goroutine.
func benchStream(b *testing.B, w io.WriteCloser, r io.Reader) {
	b.Helper()
	buf := make([]byte, benchChunk)
	io.ReadFull(payload(benchChunk), buf)
	per := benchChunks(b)
	want := int64(b.N) * int64(per) * benchChunk
	done := make(chan error, 1)
	go func() {
		n, err := io.Copy(io.Discard, r)
		if err == nil && n != want {
			err = io.ErrUnexpectedEOF
		}
		done <- err
	}()
	b.SetBytes(int64(per) * benchChunk)
	b.ResetTimer()
	for range b.N * per {
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
// segments both sides retransmitted during the run (retrans:
// kernel+synack, which should be 0 on this lossless path) and synack's
// alone (synack-retrans, the stack's Stats().Retransmits). Each iteration
// moves 1 MiB, or SYNACK_TUN_BULK (e.g. 1GiB with -benchtime 1x).
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
				st0 := r.st.Stats()
				ours := st0.Retransmits
				retrans := r.kernelTCPStat("RetransSegs") + ours
				if dir == "kernel-to-synack" {
					benchStream(b, kc.(*net.TCPConn), sc)
				} else {
					benchStream(b, sc, kc)
				}
				st := r.st.Stats()
				ours = st.Retransmits - ours
				if ours != 0 {
					b.Logf("synack retransmitted %d segments: %d probes, %d in recovery, %d after a timeout",
						ours, st.RetransProbe-st0.RetransProbe, st.RetransRecovery-st0.RetransRecovery, st.RetransTimeout-st0.RetransTimeout)
				}
				retrans = r.kernelTCPStat("RetransSegs") + r.st.Stats().Retransmits - retrans
				b.ReportMetric(float64(retrans), "retrans")
				b.ReportMetric(float64(ours), "synack-retrans")
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
