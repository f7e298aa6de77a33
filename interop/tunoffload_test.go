//go:build linux

package interop

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/synack/synack/link"
	"github.com/synack/synack/link/tun"
	"github.com/synack/synack/stack"
)

// kernelTCPStat returns a counter of the Tcp: lines of /proc/net/snmp
// (RetransSegs, OutSegs, ...) as the rig's namespace counts it.
func (r *rig) kernelTCPStat(name string) uint64 {
	r.t.Helper()
	return r.kernelStat("snmp", "Tcp:", name)
}

// kernelStat returns counter name of the lines starting with prefix in
// /proc/net/file (snmp's "Tcp:", netstat's "TcpExt:") in the rig's
// namespace.
func (r *rig) kernelStat(file, prefix, name string) uint64 {
	r.t.Helper()
	var v uint64
	err := r.ns.Do(func() error {
		// /proc/thread-self: the namespace of this (locked) thread, not
		// the process's.
		f, err := os.Open("/proc/thread-self/net/" + file)
		if err != nil {
			return err
		}
		defer f.Close()
		var head []string
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) == 0 || fields[0] != prefix {
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
			return fmt.Errorf("no %s counter %s in /proc/net/%s", prefix, name, file)
		}
		return fmt.Errorf("no %s lines in /proc/net/%s", prefix, file)
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return v
}

// TestTUNOffloadBulk moves 16 MiB each way at once, over IPv4 and then
// IPv6, between synack and the kernel's TCP over a TUN with offloads: the
// device must use them (TSO for both families, checksums), the kernel must
// hand over super-segments that synack takes whole, synack must write
// super-segments, the bytes must arrive intact (SHA-256), and nothing may
// be lost on this lossless path: every segment the kernel retransmits must
// be a tail loss probe or one synack reports as a duplicate (D-SACK), and
// synack may retransmit nothing but tail loss probes and segments proven
// spurious. (On a quiet machine
// neither retransmits at all; on a busy one a receiver descheduled for
// longer than the sender's probe timeout, a few milliseconds, draws tail
// loss probes. The counts are logged.)
func TestTUNOffloadBulk(t *testing.T) {
	r := newRig(t, rigOptions{noCap: true, offload: true})
	want := tun.OffloadCsum | tun.OffloadTSO4 | tun.OffloadTSO6
	if got := r.dev.Offloads(); got&want != want {
		t.Fatalf("offloads %v, want at least %v", got, want)
	}
	const size = 16 << 20
	sum := payloadSum(t, size)
	k0 := r.kernelRetrans()
	var spurious uint64
	for _, fam := range families {
		t.Run(fam.name, func(t *testing.T) {
			port := uint16(5201)
			if fam.name == "ipv6" {
				port++
			}
			spurious += bulkBothFam(t, r, fam, port, size, sum)
		})
	}
	st := r.dev.Stats()
	t.Logf("device %s offloads %v: %+v", r.dev.Name(), r.dev.Offloads(), st)
	if st.RxSuper == 0 || st.RxSplit != 0 || st.RxErrors != 0 {
		t.Errorf("%d super-segments taken whole, %d split, %d bad reads; want some whole and none split or bad", st.RxSuper, st.RxSplit, st.RxErrors)
	}
	if st.TxSuper == 0 {
		t.Errorf("no super-segment written")
	}
	k := r.kernelRetrans().minus(k0)
	ss := r.st.Stats()
	t.Logf("kernel: %d segments retransmitted, %d tail loss probes, %d of them repairing a loss, %d D-SACKs received; synack: %d retransmitted, %d probes, %d link errors",
		k.retrans, k.probes, k.probeRecovery, k.dsackRecv, ss.Retransmits, ss.RetransProbe, ss.LinkErrors)
	// Each segment the kernel retransmitted must have been one synack
	// already had: synack answered it with a D-SACK (RFC 2883), but for
	// tail loss probes, as for synack's own below. A probe of the last
	// segment can reach a connection that has since left ESTABLISHED: in
	// one CI run synack, descheduled for 7 ms, took the kernel's last
	// segment and FIN after the kernel's probe timer (5 ms) had fired,
	// acknowledged them and entered TIME-WAIT, where the probe got a
	// plain ACK, as Linux's TIME-WAIT gives one (captured: the probe
	// answered 0.2 ms after the original).
	if k.retrans > k.dsackRecv+k.probes {
		t.Errorf("the kernel retransmitted %d segments, only %d of them duplicates (D-SACKed) and %d tail loss probes",
			k.retrans, k.dsackRecv, k.probes)
	}
	if ss.LinkErrors != 0 {
		t.Errorf("%d link errors", ss.LinkErrors)
	}
	// synack's: no retransmission timeout, and every retransmission but
	// tail loss probes proven spurious. (A probe of the last segment is
	// not always provable: the kernel answers one that reaches a socket
	// already closed without a D-SACK.)
	if ss.RetransTimeout != 0 || ss.Retransmits-ss.RetransProbe > spurious {
		t.Errorf("synack retransmitted %d segments (%d after a timeout, %d probes), %d of them proven spurious",
			ss.Retransmits, ss.RetransTimeout, ss.RetransProbe, spurious)
	}
}

// kernelCounts are the kernel's retransmission counters in a namespace.
type kernelCounts struct{ retrans, probes, probeRecovery, dsackRecv uint64 }

func (r *rig) kernelRetrans() kernelCounts {
	return kernelCounts{
		retrans:       r.kernelTCPStat("RetransSegs"),
		probes:        r.kernelStat("netstat", "TcpExt:", "TCPLossProbes"),
		probeRecovery: r.kernelStat("netstat", "TcpExt:", "TCPLossProbeRecovery"),
		dsackRecv:     r.kernelStat("netstat", "TcpExt:", "TCPDSACKRecv"),
	}
}

func (k kernelCounts) minus(o kernelCounts) kernelCounts {
	return kernelCounts{k.retrans - o.retrans, k.probes - o.probes, k.probeRecovery - o.probeRecovery, k.dsackRecv - o.dsackRecv}
}

// bulkBothFam moves size bytes of payload each way at once between the
// kernel and synack over fam on port and checks both arrive whole (sum).
// It returns how many of synack's retransmissions on the connection were
// proven spurious (by D-SACK or timestamps).
func bulkBothFam(t *testing.T, r *rig, fam family, port uint16, size int64, sum string) (spurious uint64) {
	t.Helper()
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
			t.Logf("synack's connection: %+v", sc.Info())
			t.Logf("stack: %+v", r.st.Stats())
		case strings.HasSuffix(x.dir, " send"):
		case x.n != size || x.sum != sum:
			t.Errorf("%s: %d bytes, SHA-256 %s; want %d, %s", x.dir, x.n, x.sum, size, sum)
		}
	}
	return uint64(sc.Info().SpuriousRetransmits)
}

// TestTUNOffloadSplit is TestTUNOffloadBulk's IPv4 transfer (4 MiB each
// way) with the stack behind a link.Sniff tap, a receiver that does not
// take super-segments: the device must split the kernel's super-segments
// into MSS-sized packets whose checksums the stack verifies (a wrong one
// would be dropped and show as a retransmission or a timeout), while
// synack's own output still goes out one packet per write.
func TestTUNOffloadSplit(t *testing.T) {
	r := newRig(t, rigOptions{noTun: true})
	dev, err := tun.Open(tun.Options{
		Name: tunName, NetNS: r.ns.Name,
		Addrs: []netip.Prefix{netip.PrefixFrom(kern4, bits4), netip.PrefixFrom(kern6, bits6)},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	if dev.Offloads()&tun.OffloadTSO4 == 0 {
		t.Fatalf("offloads %v, want TSO4", dev.Offloads())
	}
	var inbound, big atomic.Int64
	r.dev = dev
	r.st = stack.New(stack.Options{})
	t.Cleanup(func() { r.st.Close() })
	tap := link.Sniff(dev, func(d link.Direction, p []byte) {
		if d == link.Inbound {
			inbound.Add(1)
			if len(p) > 1500 {
				big.Add(1)
			}
		}
	})
	if err := r.st.AddLink(tap, netip.PrefixFrom(syn4, bits4), netip.PrefixFrom(syn6, bits6)); err != nil {
		t.Fatal(err)
	}
	const size = 4 << 20
	k0 := r.kernelRetrans()
	bulkBothFam(t, r, families[0], 5203, size, payloadSum(t, size))
	st, ss := dev.Stats(), r.st.Stats()
	k := r.kernelRetrans().minus(k0)
	t.Logf("device %+v; %d packets delivered; stack: %d bad checksums, %d retransmitted; kernel: %d retransmitted, %d D-SACKed",
		st, inbound.Load(), ss.BadChecksum, ss.Retransmits, k.retrans, k.dsackRecv)
	if st.RxSplit == 0 || st.RxSuper != 0 || big.Load() != 0 {
		t.Errorf("%d super-segments split, %d delivered whole, %d packets over the MTU: want all split", st.RxSplit, st.RxSuper, big.Load())
	}
	if st.TxSuper != 0 {
		t.Errorf("%d super-segments written through a tap that does not batch", st.TxSuper)
	}
	if ss.BadChecksum != 0 || st.RxErrors != 0 {
		t.Errorf("%d bad checksums, %d bad reads", ss.BadChecksum, st.RxErrors)
	}
	if k.retrans > k.dsackRecv {
		t.Errorf("the kernel retransmitted %d segments, only %d of them duplicates (D-SACKed)", k.retrans, k.dsackRecv)
	}
}
