package stack

import (
	"runtime"
	"testing"
	"time"
)

// A 64 KiB inbound packet (an MTU-65535 link) reuses a pooled buffer: no
// allocation per packet once the pool is warm.
func TestPacketPool_KeepsLargeBuffers(t *testing.T) {
	big := make([]byte, 65535)
	cycle := func() {
		p := getPacket(len(big))
		p.buf = append(p.buf[:0], big...)
		putPacket(p)
	}
	cycle()
	if n := testing.AllocsPerRun(100, cycle); n != 0 {
		t.Fatalf("%v allocations per 64 KiB packet; want 0", n)
	}
}

// A small packet never takes a large buffer, even right after a large
// one went back to the pool.
func TestPacketPool_SmallPacketsStaySmall(t *testing.T) {
	p := getPacket(65535)
	p.buf = append(p.buf[:0], make([]byte, 65535)...)
	putPacket(p)
	for _, n := range []int{40, 1500, 2048} {
		q := getPacket(n)
		if c := cap(q.buf); c < n || c > 9216 {
			t.Errorf("getPacket(%d): capacity %d; want %d to 9216", n, c, n)
		}
		putPacket(q)
	}
	if c := cap(getPacket(9000).buf); c < 9000 || c >= 65535 {
		t.Errorf("getPacket(9000): capacity %d; want 9000 to 65534", c)
	}
}

// A buffer that grew past every class (never from a pool) is not kept.
func TestPacketPool_DropsOversizedBuffers(t *testing.T) {
	p := getPacket(100)
	p.buf = make([]byte, 0, 1<<20)
	putPacket(p)
	for range 10 {
		q := getPacket(100)
		if cap(q.buf) >= 1<<20 {
			t.Fatalf("a 1 MiB buffer came back from the pool")
		}
		putPacket(q)
	}
}

// The free list of a class gives half of its buffers back at each trim
// (once per garbage collection) once none was taken for poolIdle, and
// keeps them while packets of the class keep coming.
func TestPacketPool_TrimsWhenIdle(t *testing.T) {
	l := &packetList{max: 8}
	l.pool.New = func() any { return &inPacket{buf: make([]byte, 0, 64)} }
	for range 8 {
		l.put(&inPacket{buf: make([]byte, 0, 64)})
	}
	t0 := time.Unix(1000, 0)
	check := func(at time.Duration, want int) {
		t.Helper()
		l.trim(t0.Add(at))
		if n := len(l.free); n != want {
			t.Fatalf("after the trim at %v: %d free; want %d", at, n, want)
		}
	}
	check(0, 8)               // the first trim only starts the clock
	check(59*time.Second, 8)  // idle, but not for a minute yet
	check(60*time.Second, 4)  // idle for a minute: 8 → 4
	l.put(l.get())            // traffic
	check(61*time.Second, 4)  // kept, and the clock starts again
	check(120*time.Second, 4) // idle for 59 s
	check(121*time.Second, 2) // 4 → 2
	check(122*time.Second, 1) // 2 → 1
	check(123*time.Second, 0) // 1 → 0
	check(124*time.Second, 0)
}

// Garbage collections run the trims (TestPacketPool_TrimsWhenIdle has
// the rule): a collection makes the pools' trim clock start.
func TestPacketPool_TrimmedByGC(t *testing.T) {
	big := &packetPools[len(packetClasses)-1]
	big.mu.Lock()
	big.used = time.Time{}
	big.mu.Unlock()
	for i := 0; i < 200; i++ {
		runtime.GC()
		time.Sleep(5 * time.Millisecond) // the finalizer goroutine runs the trim
		big.mu.Lock()
		used := big.used
		big.mu.Unlock()
		if !used.IsZero() {
			return
		}
	}
	t.Fatal("no trim in 200 collections")
}

// FreeCaches empties the packet free lists at once (and the engine's:
// tcp's TestFreeCaches_EmptiesPagesAndSlabs).
func TestFreeCaches_EmptiesPacketLists(t *testing.T) {
	big := &packetPools[len(packetClasses)-1]
	putPacket(getPacket(packetClasses[len(packetClasses)-1]))
	big.mu.Lock()
	n := len(big.free)
	big.mu.Unlock()
	if n == 0 {
		t.Fatal("a released packet was not kept")
	}
	FreeCaches()
	big.mu.Lock()
	n = len(big.free)
	big.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d packets kept after FreeCaches; want 0", n)
	}
}
