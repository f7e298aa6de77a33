//go:build linux

package interop

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/synack/synack/link/tun"
)

// kernelTCPStat returns a counter of the Tcp: lines of /proc/net/snmp
// (RetransSegs, OutSegs, ...) as the rig's namespace counts it.
func (r *rig) kernelTCPStat(name string) uint64 {
	r.t.Helper()
	var v uint64
	err := r.ns.Do(func() error {
		// /proc/thread-self: the namespace of this (locked) thread, not
		// the process's.
		f, err := os.Open("/proc/thread-self/net/snmp")
		if err != nil {
			return err
		}
		defer f.Close()
		var head []string
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) == 0 || fields[0] != "Tcp:" {
				continue
			}
			if head == nil {
				head = fields
				continue
			}
			for i, h := range head {
				if h == name && i < len(fields) {
					v, err = strconv.ParseUint(fields[i], 10, 64)
					return err
				}
			}
			return fmt.Errorf("no Tcp counter %s", name)
		}
		return fmt.Errorf("no Tcp: lines in /proc/net/snmp")
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return v
}

// TestTUNOffloadBulk moves 16 MiB each way, over IPv4 and IPv6, between
// synack and the kernel's TCP over a TUN with offloads: the device must
// use them (TSO both families, checksums), the kernel must hand over
// super-segments that synack takes whole, synack must write
// super-segments, the bytes must arrive intact (SHA-256), and neither side
// may retransmit anything on this lossless path.
func TestTUNOffloadBulk(t *testing.T) {
	r := newRig(t, rigOptions{noCap: true})
	want := tun.OffloadCsum | tun.OffloadTSO4 | tun.OffloadTSO6
	if got := r.dev.Offloads(); got&want != want {
		t.Fatalf("offloads %v, want at least %v", got, want)
	}
	const size = 16 << 20
	sum := payloadSum(t, size)
	retrans0 := r.kernelTCPStat("RetransSegs")
	for _, fam := range families {
		t.Run(fam.name, func(t *testing.T) {
			port := uint16(5201)
			if fam.name == "ipv6" {
				port++
			}
			l, err := r.st.Listen("tcp", hostPort(fam.syn, port))
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			kc, err := r.ns.DialContext(ctx, "tcp", hostPort(fam.syn, port))
			if err != nil {
				t.Fatal(err)
			}
			defer kc.Close()
			sc, err := l.AcceptContext(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer sc.Close()
			kc.SetDeadline(time.Now().Add(30 * time.Second))
			sc.SetDeadline(time.Now().Add(30 * time.Second))

			// Both ways at once: kernel → synack and synack → kernel.
			type result struct {
				dir string
				n   int64
				sum string
				err error
			}
			res := make(chan result, 4)
			send := func(dir string, w net.Conn) {
				_, err := io.Copy(w, payload(size))
				if cw, ok := w.(interface{ CloseWrite() error }); ok && err == nil {
					err = cw.CloseWrite()
				}
				res <- result{dir: dir + " send", err: err}
			}
			recv := func(dir string, rd net.Conn) {
				n, s, err := sumOf(rd)
				res <- result{dir: dir, n: n, sum: s, err: err}
			}
			go send("kernel → synack", kc)
			go recv("kernel → synack", sc)
			go send("synack → kernel", sc)
			go recv("synack → kernel", kc)
			for range 4 {
				x := <-res
				switch {
				case x.err != nil:
					t.Errorf("%s: %v", x.dir, x.err)
				case strings.HasSuffix(x.dir, " send"):
				case x.n != size || x.sum != sum:
					t.Errorf("%s: %d bytes, SHA-256 %s; want %d, %s", x.dir, x.n, x.sum, size, sum)
				}
			}
		})
	}
	st := r.dev.Stats()
	t.Logf("device %s offloads %v: %+v", r.dev.Name(), r.dev.Offloads(), st)
	if st.RxSuper == 0 || st.RxSplit != 0 {
		t.Errorf("%d super-segments taken whole and %d split, want some whole and none split", st.RxSuper, st.RxSplit)
	}
	if st.TxSuper == 0 {
		t.Errorf("no super-segment written")
	}
	if n := r.kernelTCPStat("RetransSegs") - retrans0; n != 0 {
		t.Errorf("the kernel retransmitted %d segments", n)
	}
	if n := r.st.Stats().Retransmits; n != 0 {
		t.Errorf("synack retransmitted %d segments", n)
	}
}
