package stack

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/synack/synack/clock"
	"github.com/synack/synack/link"
)

// Memory benchmarks (issue 9). Both ends of every connection live in this
// process, joined by an in-memory Pipe; figures are per connection, both
// ends together, measured as the growth of the live heap (after a
// garbage collection) over the connections made. See BENCHMARKS.md,
// "Memory per connection".

// memPair is two stacks for memory measurements: manual mode (no event
// loops; the Pipe delivers synchronously) or real-time mode.
type memPair struct {
	cl, sv *Stack
	r      *stepRunner
	lns    []*Listener
	next   int // connections made
}

// portsPerListener bounds the connections to one listening port: the
// client's ephemeral range (RFC 6335) has 16,384 ports per destination.
const portsPerListener = 16000

func newMemPair(tb testing.TB, manual bool, opts Options) *memPair {
	tb.Helper()
	p := &memPair{}
	copts, sopts := opts, opts
	if manual {
		p.r = &stepRunner{clk: clock.NewVirtual()}
		rnd := func(n uint64) io.Reader { return rand.NewChaCha8([32]byte{byte(n)}) }
		copts.Clock, copts.Runner, copts.Rand = p.r.clk, p.r, rnd(1)
		sopts.Clock, sopts.Runner, sopts.Rand = p.r.clk, p.r, rnd(2)
	}
	p.cl, p.sv = New(copts), New(sopts)
	if manual {
		p.r.stacks = []*Stack{p.cl, p.sv}
	}
	a, b := link.Pipe(1500)
	if err := p.cl.AddLink(a, netip.PrefixFrom(clientAddr, 24)); err != nil {
		tb.Fatal(err)
	}
	if err := p.sv.AddLink(b, netip.PrefixFrom(serverAddr, 24)); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		p.cl.Close()
		p.sv.Close()
	})
	return p
}

// listener returns the listener for the next connection, opening one more
// port every portsPerListener connections.
func (p *memPair) listener(tb testing.TB) (*Listener, netip.AddrPort) {
	i := p.next / portsPerListener
	for len(p.lns) <= i {
		ln, err := p.sv.Listen("tcp", fmt.Sprintf(":%d", 1000+len(p.lns)))
		if err != nil {
			tb.Fatal(err)
		}
		p.lns = append(p.lns, ln)
	}
	return p.lns[i], netip.AddrPortFrom(serverAddr, uint16(1000+i))
}

// open makes one connection and exchanges a 1-byte request and reply.
func (p *memPair) open(tb testing.TB, buf []byte) (c, s *Conn) {
	ln, dst := p.listener(tb)
	p.next++
	c, err := p.cl.DialTCP(context.Background(), netip.AddrPort{}, dst)
	if err != nil {
		tb.Fatal(err)
	}
	s, err = ln.AcceptTCP()
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := c.Write([]byte("q")); err != nil {
		tb.Fatal(err)
	}
	if _, err := io.ReadFull(s, buf[:1]); err != nil {
		tb.Fatal(err)
	}
	if _, err := s.Write([]byte("a")); err != nil {
		tb.Fatal(err)
	}
	if _, err := io.ReadFull(c, buf[:1]); err != nil {
		tb.Fatal(err)
	}
	return c, s
}

// settle runs the world until every delayed ACK and window update has
// gone (manual mode) and returns the live heap after a collection.
func (p *memPair) settle() uint64 {
	if p.r != nil {
		p.r.clk.Advance(time.Second)
		p.cl.Tick()
		p.sv.Tick()
	}
	return liveHeap()
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkIdleConn holds b.N established connections, idle after a
// 1-byte request and reply, and reports the heap they take:
// bytes/conn is both ends together (target: at most 4 KiB).
func BenchmarkIdleConn(b *testing.B) {
	p := newMemPair(b, true, Options{})
	buf := make([]byte, 1)
	held := make([]*Conn, 0, 2*b.N)
	p.open(b, buf) // the listener, pools and tables exist before the baseline
	before := p.settle()
	b.ResetTimer()
	for range b.N {
		c, s := p.open(b, buf)
		held = append(held, c, s)
	}
	b.StopTimer()
	after := p.settle()
	b.ReportMetric(float64(int64(after-before)-int64(16*b.N))/float64(b.N), "bytes/conn")
	b.ReportMetric(float64(p.cl.Stats().BufferBytes+p.sv.Stats().BufferBytes), "buffer-bytes")
	runtime.KeepAlive(held)
}

// BenchmarkTimeWait makes b.N connections with a 1-byte request and reply;
// the client closes first and keeps a TIME-WAIT record, the server's end
// is gone. bytes/conn is the heap each TIME-WAIT connection takes
// (target: at most 256 bytes).
func BenchmarkTimeWait(b *testing.B) {
	p := newMemPair(b, true, Options{})
	buf := make([]byte, 1)
	closeBoth := func(c, s *Conn) {
		c.Close()
		if n, err := s.Read(buf); n != 0 || err != io.EOF {
			b.Fatalf("server read after the client's close: %d, %v", n, err)
		}
		s.Close()
	}
	closeBoth(p.open(b, buf))
	before := p.settle()
	b.ResetTimer()
	for range b.N {
		closeBoth(p.open(b, buf))
	}
	b.StopTimer()
	after := p.settle()
	if got := p.cl.Stats().TimeWaitRecords; got != uint64(b.N+1) {
		b.Fatalf("%d TIME-WAIT records, want %d", got, b.N+1)
	}
	b.ReportMetric(float64(int64(after-before))/float64(b.N), "bytes/conn")
}

// BenchmarkShortConn measures connections per second, each a 1-byte
// request and reply, between two real-time stacks; the client closes
// first (its end stays in TIME-WAIT), the server answers in a goroutine
// per connection as a Go server does.
func BenchmarkShortConn(b *testing.B) {
	p := newMemPair(b, false, Options{})
	buf := make([]byte, 1)
	serve := func(ln *Listener) {
		for {
			s, err := ln.AcceptTCP()
			if err != nil {
				return
			}
			go func() {
				var q [1]byte
				if _, err := io.ReadFull(s, q[:]); err == nil {
					s.Write([]byte("a"))
				}
				io.ReadFull(s, q[:]) // the client's FIN
				s.Close()
			}()
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if p.next%portsPerListener == 0 {
			ln, _ := p.listener(b)
			go serve(ln)
		}
		_, dst := p.listener(b)
		p.next++
		c, err := p.cl.DialTCP(context.Background(), netip.AddrPort{}, dst)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Write([]byte("q")); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "conns/s")
}

// TestMillionIdleConns holds 1,000,000 idle connections (both ends, after
// a 1-byte request and reply) in this process and checks that the process
// stays within 4 GiB: its peak resident set (VmHWM; elsewhere the memory
// the runtime holds from the system). Like a server that holds that many
// connections, it runs with a memory limit (debug.SetMemoryLimit, 3,840
// MiB unless GOMEMLIMIT is set), so that the collector works to keep the
// heap within the bound instead of letting it grow to twice the live
// data. It takes minutes: it runs only with SYNACK_MILLION=1
// (SYNACK_MILLION=N holds N connections instead).
func TestMillionIdleConns(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SYNACK_MILLION"))
	switch {
	case n <= 0:
		t.Skip("set SYNACK_MILLION=1 to hold 1,000,000 idle connections")
	case n == 1:
		n = 1_000_000
	}
	const bound = 4 << 30
	if os.Getenv("GOMEMLIMIT") == "" {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(3840 << 20))
	}
	p := newMemPair(t, true, Options{})
	buf := make([]byte, 1)
	held := make([]*Conn, 0, 2*n)
	p.open(t, buf)
	before := p.settle()
	start := time.Now()
	for i := range n {
		c, s := p.open(t, buf)
		held = append(held, c, s)
		if (i+1)%100_000 == 0 {
			t.Logf("%d connections, %v, VmRSS %s", i+1, time.Since(start).Round(time.Second), procStatus("VmRSS"))
		}
	}
	after := p.settle()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	perConn := float64(after-before) / float64(n)
	hwm := procStatus("VmHWM")
	t.Logf("%d idle connections (both ends) in %v: live heap %d MiB (%.0f bytes/conn), runtime Sys %d MiB (%d MiB returned to the system), %d collections, VmHWM %s",
		n, time.Since(start).Round(time.Second), after>>20, perConn, ms.Sys>>20, ms.HeapReleased>>20, ms.NumGC, hwm)
	if kb, err := strconv.ParseUint(strings.TrimSuffix(hwm, " kB"), 10, 64); err == nil {
		if kb<<10 > bound {
			t.Errorf("peak resident set %s: above 4 GiB", hwm)
		}
	} else if held := ms.Sys - ms.HeapReleased; held > bound {
		t.Errorf("the runtime holds %d MiB from the system: above 4 GiB", held>>20)
	}
	if st := p.sv.Stats(); st.Connections != uint64(n+1) {
		t.Errorf("server connections %d, want %d", st.Connections, n+1)
	}
	runtime.KeepAlive(held)
}

// procStatus is a field of /proc/self/status (VmHWM: the peak resident
// set size, VmRSS: the resident set size now), or "unknown".
func procStatus(field string) string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
