//go:build linux

package interop

import (
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// bulkSize is the size of each bulk transfer.
const bulkSize = 64 << 20

// bulkCapture is the snapshot length of the bulk tests' captures: headers
// only (IPv6 40 + TCP with options 60 bytes fit), so that tshark checks
// 180,000 packets in seconds. tshark still flags malformed headers and
// expert errors; it cannot verify truncated TCP checksums, but both ends
// do: the kernel and synack each drop a segment whose checksum is wrong,
// and the SHA-256 check would catch the hole.
const bulkCapture = 128

// TestBulk moves 64 MiB each way between the kernel (Go net sockets in the
// namespace) and synack, over IPv4 and IPv6, and checks the SHA-256 of
// what arrives.
func TestBulk(t *testing.T) {
	want := payloadSum(t, bulkSize)
	forEachFamily(t, func(t *testing.T, fam family) {
		t.Run("kernel-to-synack", func(t *testing.T) {
			r := newRig(t, rigOptions{snaplen: bulkCapture})
			l, err := r.st.Listen("tcp", hostPort(fam.syn, 5001))
			if err != nil {
				t.Fatal(err)
			}
			type result struct {
				n   int64
				sum string
				err error
			}
			got := make(chan result, 1)
			go func() {
				c, err := l.Accept()
				if err != nil {
					got <- result{err: err}
					return
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(60 * time.Second))
				n, sum, err := sumOf(c)
				got <- result{n, sum, err}
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c, err := r.ns.DialContext(ctx, "tcp", hostPort(fam.syn, 5001))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(60 * time.Second))
			start := time.Now()
			if _, err := io.Copy(c, payload(bulkSize)); err != nil {
				t.Fatal(err)
			}
			if err := c.(*net.TCPConn).CloseWrite(); err != nil {
				t.Fatal(err)
			}
			res := <-got
			el := time.Since(start)
			if res.err != nil {
				t.Fatal(res.err)
			}
			if res.n != bulkSize || res.sum != want {
				t.Fatalf("synack received %d bytes with sha256 %s, want %d with %s", res.n, res.sum, bulkSize, want)
			}
			t.Logf("%d MiB in %v: %.0f Mbit/s", bulkSize>>20, el.Round(time.Millisecond), float64(bulkSize)*8/el.Seconds()/1e6)
		})
		t.Run("synack-to-kernel", func(t *testing.T) {
			r := newRig(t, rigOptions{snaplen: bulkCapture})
			l, err := r.ns.Listen("tcp", hostPort(fam.kern, 5001))
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			type result struct {
				n   int64
				sum string
				err error
			}
			got := make(chan result, 1)
			go func() {
				c, err := l.Accept()
				if err != nil {
					got <- result{err: err}
					return
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(60 * time.Second))
				n, sum, err := sumOf(c)
				got <- result{n, sum, err}
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c, err := r.st.DialContext(ctx, "tcp", hostPort(fam.kern, 5001))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(60 * time.Second))
			start := time.Now()
			if _, err := io.Copy(c, payload(bulkSize)); err != nil {
				t.Fatal(err)
			}
			if err := c.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			res := <-got
			el := time.Since(start)
			if res.err != nil {
				t.Fatal(res.err)
			}
			if res.n != bulkSize || res.sum != want {
				t.Fatalf("the kernel received %d bytes with sha256 %s, want %d with %s", res.n, res.sum, bulkSize, want)
			}
			t.Logf("%d MiB in %v: %.0f Mbit/s", bulkSize>>20, el.Round(time.Millisecond), float64(bulkSize)*8/el.Seconds()/1e6)
		})
	})
}
