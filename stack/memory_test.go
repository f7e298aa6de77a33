package stack

import (
	"context"
	"io"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/synack/synack/tcp"
)

// What an idle connection holds besides its TCB is paid a million times
// over (BenchmarkIdleConn, TestMillionIdleConns): the Conn must stay in
// the 192-byte allocation class (its keepalive settings are the TCB's) and a timer-heap entry at 16 bytes on
// 64-bit platforms. The addresses are made on demand, the deadlines and
// the timer are int64 nanoseconds from the shard's epoch, the ICMP errors
// are 2-byte errnos, and segments go out through a method value that does
// not escape. A field that pushes the Conn past 192 goes into a padding hole
// or out of the struct. (Above 512 bytes an object with pointers also
// pays an 8-byte allocation header, which can move it up a class.)
func TestConnSize(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("sizes are for 64-bit platforms")
	}
	if n := unsafe.Sizeof(Conn{}); n > 192 {
		t.Errorf("Conn is %d bytes, past the 192-byte class", n)
	}
	if n := unsafe.Sizeof(timerEntry{}); n != 16 {
		t.Errorf("timerEntry is %d bytes, want 16", n)
	}
}

func TestParseMemTotal(t *testing.T) {
	in := "MemFree:         1000 kB\nMemTotal:        8048576 kB\n"
	if got := parseMemTotal([]byte(in)); got != 8048576<<10 {
		t.Fatalf("parseMemTotal = %d", got)
	}
	if got := parseMemTotal([]byte("MemTotal: x kB\n")); got != 0 {
		t.Fatalf("bad line: %d", got)
	}
	o := MemoryOptions{High: 3 << 30}.withDefaults()
	if o != (MemoryOptions{Low: 3 << 29, Pressure: 2 << 30, High: 3 << 30}) {
		t.Fatalf("defaults from High: %+v", o)
	}
	if o := (MemoryOptions{High: -1}).withDefaults(); o != (MemoryOptions{}) {
		t.Fatalf("no bound: %+v", o)
	}
	if o := (MemoryOptions{}).withDefaults(); o.High <= 0 || o.Pressure >= o.High || o.Low > o.Pressure {
		t.Fatalf("defaults: %+v", o)
	}
}

// The buffers of connections hold memory only while they hold data: the
// stack's count follows what is buffered, exactly, and is zero when the
// connections are idle.
func TestBufferBytesFollowData(t *testing.T) {
	cl, sv, r := manualPair(t, 1, tcp.Config{}, nil)
	ln, err := sv.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	c, err := cl.Dial("tcp", "198.18.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	if b := cl.Stats().BufferBytes + sv.Stats().BufferBytes; b != 0 {
		t.Fatalf("after the handshake: %d buffer bytes", b)
	}
	msg := make([]byte, 100000)
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	// Once acknowledged, the client holds nothing; the server holds
	// 100,000 unread bytes in a 128 KiB slab.
	r.RunUntil(func() bool { return cl.Stats().BufferBytes == 0 }, r.clk.Now().Add(time.Second))
	if got := cl.Stats().BufferBytes; got != 0 {
		t.Fatalf("client: %d buffer bytes after the ACK", got)
	}
	if got := sv.Stats().BufferBytes; got != 128<<10 {
		t.Fatalf("server: %d buffer bytes, want %d", got, 128<<10)
	}
	if i := s.Info(); i.ReceiveBufferAllocated != 128<<10 || i.SendBufferAllocated != 0 {
		t.Fatalf("server Info: receive %d, send %d", i.ReceiveBufferAllocated, i.SendBufferAllocated)
	}
	if _, err := io.ReadFull(s, msg); err != nil {
		t.Fatal(err)
	}
	if got := sv.Stats().BufferBytes; got != 0 {
		t.Fatalf("server: %d buffer bytes once read", got)
	}
	if st := sv.Stats(); st.BufferBytesPeak != 128<<10 || st.MemoryPressureEvents != 0 || st.BufferGrowthRefused != 0 {
		t.Fatalf("server stats: %+v", st)
	}
}

// Issue 9: 3,000 clients connect to an echo server, then write 32 KiB
// each and never read. The server's buffer memory stays within
// Options.Memory.High (16 MiB here; without a bound it holds about 55 MiB
//
// of the 96 MiB the clients send), its counters say it was under
// pressure, the bytes it reads are the bytes sent, in order, and a new
// client is still served. (Connections that arrive once the buffers are
// full still get their first 512-byte slabs, past High: see tcp.Memory.)
func TestMemoryBudget_ClientsThatNeverRead(t *testing.T) {
	// 3,000 clients take about 10 s; under the race detector or -short,
	// 300 clients and a tenth of the bound.
	clients, high := 3000, int64(16<<20)
	if testing.Short() || raceEnabled {
		clients, high = 300, high/10
	}
	const each = 32 << 10
	cl, sv := pair(t,
		Options{TCP: tcp.Config{ReceiveBufferSize: 2048}, Memory: MemoryOptions{High: -1}},
		Options{Memory: MemoryOptions{High: high}, Backlog: 4096})
	ln, err := sv.Listen("tcp", ":7")
	if err != nil {
		t.Fatal(err)
	}
	pattern := make([]byte, each)
	for i := range pattern {
		pattern[i] = byte(i % 251)
	}
	var corrupt atomic.Int64
	var served sync.WaitGroup
	go func() {
		for {
			s, err := ln.AcceptTCP()
			if err != nil {
				return
			}
			served.Add(1)
			go func() {
				defer served.Done()
				buf := make([]byte, 4096)
				off := 0
				for {
					n, err := s.Read(buf)
					for i, b := range buf[:n] {
						if b != byte((off+i)%251) && off+i < each {
							corrupt.Add(1)
						}
					}
					off += n
					if n > 0 {
						if _, err := s.Write(buf[:n]); err != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	var writers sync.WaitGroup
	conns := make([]*Conn, 0, clients)
	for range clients {
		c, err := cl.Dial("tcp", "198.18.0.2:7")
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	// All connected (each keeps room for its first bytes), they write.
	for _, c := range conns {
		writers.Add(1)
		go func() {
			defer writers.Done()
			c.SetWriteDeadline(time.Now().Add(time.Minute))
			c.Write(pattern) // blocks once the server stops taking data
		}()
	}
	// Until the server has been under memory pressure for a second (at
	// most 20 s): its peak is then within a few percent of the bound.
	var under time.Time
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if under.IsZero() && sv.Stats().MemoryPressureEvents > 0 {
			under = time.Now()
		}
		if !under.IsZero() && time.Since(under) > time.Second {
			break
		}
	}
	st := sv.Stats()
	t.Logf("%d clients: server buffers %d bytes (peak %d, bound %d), %d pressure events, %d growths refused, %d segments dropped for memory",
		clients, st.BufferBytes, st.BufferBytesPeak, high, st.MemoryPressureEvents, st.BufferGrowthRefused, st.MemoryDrops)
	if st.BufferBytesPeak > high {
		t.Errorf("server buffers peaked at %d bytes, past the bound of %d", st.BufferBytesPeak, high)
	}
	if st.MemoryPressureEvents == 0 || st.BufferGrowthRefused == 0 || st.MemoryDrops == 0 || st.BufferBytesPeak < high/3 {
		t.Errorf("no pressure: %+v", st)
	}
	if n := corrupt.Load(); n != 0 {
		t.Errorf("%d bytes read by the server differ from those sent", n)
	}

	// A new client is served.
	c, err := cl.DialTCP(context.Background(), netip.AddrPort{}, netip.AddrPortFrom(serverAddr, 7))
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "ping" {
		t.Fatalf("new client: read %q, %v", got, err)
	}
	for _, c := range append(conns, c) {
		c.SetLinger(0)
		c.Close()
	}
	writers.Wait()
	ln.Close()
	sv.Close()
	served.Wait()
}

// The compact times of timers and deadlines (shard.mono) come back as the
// times they stand for; the zero time is 0, and a time on the epoch
// itself, which 0 cannot stand for, comes back 1 ns earlier (still due).
func TestShardMonoTimes(t *testing.T) {
	epoch := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	sh := &shard{epoch: epoch}
	for _, tc := range []struct {
		in   time.Time
		mono int64
		out  time.Time
	}{
		{time.Time{}, 0, time.Time{}},
		{epoch.Add(15 * time.Second), 15e9, epoch.Add(15 * time.Second)},
		{epoch.Add(-time.Second), -1e9, epoch.Add(-time.Second)},
		{epoch, -1, epoch.Add(-1)},
		{time.Unix(1, 0), -946684799e9, time.Unix(1, 0)},
	} {
		m := sh.mono(tc.in)
		if m != tc.mono || !sh.wall(m).Equal(tc.out) {
			t.Errorf("mono(%v) = %d, wall %v; want %d, %v", tc.in, m, sh.wall(m), tc.mono, tc.out)
		}
	}
}

// A deadline that moves away and back leaves two entries for it in the
// timer heap that both look live; compacting keeps one per connection, so
// that the heap of idle connections (whose keepalive deadline is such a
// deadline) stays within the bound that triggers compaction instead of
// compacting on every push.
func TestTimerHeapCompactKeepsOneEntryPerConn(t *testing.T) {
	const n = 1000
	var h timerHeap
	for i := range n {
		c := &Conn{inTable: true}
		for _, at := range []int64{15e9, 1e9, 15e9} { // keepalive, RTO, keepalive again
			c.timerAt = at + int64(i)
			h.push(timerEntry{at: c.timerAt, c: c})
		}
	}
	h.compact()
	if len(h) != n {
		t.Fatalf("%d entries after compaction, want %d", len(h), n)
	}
	for i := range n {
		e := h.pop()
		if e.at != 15e9+int64(i) || e.c.timerAt != e.at || e.c.timerKept {
			t.Fatalf("entry %d: at %d, the connection's %d, kept mark %v", i, e.at, e.c.timerAt, e.c.timerKept)
		}
	}
}

// In real-time mode (Stack.bufferIdle) a connection keeps its drained
// buffers' storage while it is in use and gives it back once idle
// (tcp.Config.DeferReclaim, shard.sweepIdle): after a request and reply
// both ends still hold a 512-byte page and a 512-byte slab each; an
// exchange every 50 ms keeps them (no storage taken from the pools or
// given back per message); 100 to 200 ms after the last exchange they
// are back. Run in manual mode with bufferIdle set, on the virtual clock.
func TestIdleBuffersGiveStorageBack(t *testing.T) {
	cl, sv, r := manualPair(t, 1, tcp.Config{}, nil)
	cl.bufferIdle, sv.bufferIdle = idleBufferLook, idleBufferLook
	c, s := manualConnected(t, cl, sv)
	buf := make([]byte, 1)
	exchange := func() {
		t.Helper()
		if _, err := c.Write([]byte("q")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(s, buf); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Write([]byte("a")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
	}
	held := func() int64 { return cl.Stats().BufferBytes + sv.Stats().BufferBytes }
	const want = 4 * 512
	for i := range 10 {
		exchange()
		if got := held(); got != want {
			t.Fatalf("after exchange %d: %d buffer bytes held, want %d", i, got, want)
		}
		r.RunUntil(func() bool { return false }, r.clk.Now().Add(50*time.Millisecond))
	}
	last := r.clk.Now().Add(-50 * time.Millisecond)
	if !r.RunUntil(func() bool { return held() == 0 }, last.Add(time.Second)) {
		t.Fatalf("%d buffer bytes still held a second after the last exchange", held())
	}
	if idle := r.clk.Now().Sub(last); idle <= idleBufferLook || idle > 2*idleBufferLook {
		t.Fatalf("storage given back %v after the last exchange; want within (%v, %v]", idle, idleBufferLook, 2*idleBufferLook)
	}
	// In use again: storage taken again, and given back again.
	exchange()
	if got := held(); got != want {
		t.Fatalf("after another exchange: %d buffer bytes held, want %d", got, want)
	}
	if !r.RunUntil(func() bool { return held() == 0 }, r.clk.Now().Add(time.Second)) {
		t.Fatalf("%d buffer bytes still held a second after the exchange", held())
	}
}
