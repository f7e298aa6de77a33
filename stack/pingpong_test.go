package stack

import (
	"errors"
	"net"
	"os"
	"runtime"
	"testing"
	"time"
)

// echo answers every byte c reads with the same byte, until c fails.
func echo(c *Conn) {
	var b [1]byte
	for {
		if _, err := c.Read(b[:]); err != nil {
			return
		}
		if _, err := c.Write(b[:]); err != nil {
			return
		}
	}
}

// pingPong sends one byte on c and reads the echo, n times.
func pingPong(t testing.TB, c *Conn, n int) {
	var b [1]byte
	for range n {
		if _, err := c.Write(b[:]); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Read(b[:]); err != nil {
			t.Fatal(err)
		}
	}
}

// A 1-byte request/response exchange allocates nothing once the
// connection is warm: not in the engines (RACK's marks come from a pool
// when the flight empties every round trip), not in the blocking waits.
func TestPingPong_NoAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes allocation counts unreliable")
	}
	for _, bp := range []time.Duration{0, -1, 20 * time.Microsecond} {
		cl, sv := pair(t, Options{BusyPoll: bp}, Options{BusyPoll: bp})
		c, s := connected(t, cl, sv)
		go echo(s)
		pingPong(t, c, 100)
		if n := testing.AllocsPerRun(10, func() { pingPong(t, c, 100) }); n != 0 {
			t.Errorf("BusyPoll %v: %v allocations per 100 round trips; want 0", bp, n)
		}
	}
}

// pollCtr returns the busy-polling counters of s's real-time driver.
func pollCtr(s *Stack) *pollCounters { return &s.drv.(*realTime).ctr }

// readAsync starts a 1-byte Read on c and returns where its result goes.
func readAsync(c *Conn) chan error {
	done := make(chan error, 1)
	go func() {
		var b [1]byte
		_, err := c.Read(b[:])
		done <- err
	}()
	return done
}

// blocked waits until a Read is counted as waiting on c.
func blocked(t *testing.T, c *Conn) {
	t.Helper()
	eventually(t, "the Read to block", func() bool {
		c.sh.mu.Lock()
		defer c.sh.mu.Unlock()
		return c.rdW.n == 1
	})
}

// setBusy marks c busy, as turns within BusyPoll whose data came right
// after the poll yielded would, with the wait estimate that makes its
// Reads poll for the whole cap.
func setBusy(c *Conn) {
	c.sh.mu.Lock()
	c.rdW.est = uint16(maxBusyPoll / estUnit)
	c.sh.mu.Unlock()
}

func busy(c *Conn) bool {
	c.sh.mu.Lock()
	defer c.sh.mu.Unlock()
	return c.rdW.est != 0
}

// Busy polling costs an idle connection nothing: a Read on a new
// connection parks at once; request/response turns make the connection
// busy and their Reads poll; on a busy connection a Read that finds nothing polls for at most BusyPoll
// and then parks (and data arriving later still wakes it); after that
// long wait the connection is idle again and the next Read parks at once.
func TestBusyPoll_IdleConnectionParks(t *testing.T) {
	const bound = maxBusyPoll // long, so that turns under -race count as short
	cl, sv := pair(t, Options{BusyPoll: bound}, Options{})
	c, s := connected(t, cl, sv)
	ctr := pollCtr(cl)
	one := []byte{1}

	// A new connection: the Read parks without polling.
	done := readAsync(c)
	blocked(t, c)
	if _, err := s.Write(one); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := ctr.polls.Load(); n != 0 {
		t.Fatalf("a Read on a new connection polled %d times; want 0", n)
	}

	// Turns well within the bound make it busy: Reads poll.
	go echo(s)
	pingPong(t, c, 20)
	if n := ctr.polls.Load(); n == 0 {
		t.Fatal("after 20 round trips: no poll; want some")
	}
	// A poll as long as the cap gets its data without parking. Under
	// -race on a loaded machine the echo may take longer than the cap
	// now and then (the poll then parks and the connection turns idle):
	// a hit within 20 tries, each counted exactly.
	hit := false
	for range 20 {
		setBusy(c)
		polls, hits := ctr.polls.Load(), ctr.pollHits.Load()
		pingPong(t, c, 1)
		if n := ctr.polls.Load(); n > polls+1 {
			t.Fatalf("a round trip on a busy connection polled %d times; want at most 1", n-polls)
		}
		if n := ctr.pollHits.Load(); n == hits+1 {
			hit = true
			break
		}
	}
	if !hit {
		t.Fatal("a round trip on a busy connection: no poll hit in 20 tries; want the data without parking")
	}
	// A poll that finds nothing makes the connection idle, however soon
	// the data comes after it parked: the peer was not taking turns on
	// this P.
	if err := s.SetNoDelay(true); err != nil { // no wait for the ACK of the last echo
		t.Fatal(err)
	}
	c.sh.mu.Lock()
	c.rdW.est = estMin // a 5 µs poll
	c.sh.mu.Unlock()
	iters := ctr.iters.Load()
	done = readAsync(c)
	for end := time.Now().Add(10 * time.Second); ctr.iters.Load() == iters; runtime.Gosched() {
		// Spin, so that the data comes at once after the poll gave up.
		if time.Now().After(end) {
			t.Fatal("the short poll never gave up")
		}
	}
	if _, err := s.Write(one); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if busy(c) {
		t.Fatal("connection still busy after a poll that found nothing")
	}
	// Busy again, for what follows.
	setBusy(c)
	polls, hits := ctr.polls.Load(), ctr.pollHits.Load()

	// Silence: the Read polls, gives up within the bound and parks.
	iters = ctr.iters.Load()
	start := time.Now()
	done = readAsync(c)
	eventually(t, "the poll to give up", func() bool { return ctr.iters.Load() != iters })
	gaveUp := time.Since(start)
	if n := ctr.polls.Load(); n != polls+1 {
		t.Fatalf("%d polls for one silent Read; want 1", n-polls)
	}
	if n := ctr.pollHits.Load(); n != hits {
		t.Fatalf("a silent Read's poll counted as a hit (%d)", n-hits)
	}
	if gaveUp < bound {
		t.Fatalf("the poll gave up after %v; want at least BusyPoll (%v)", gaveUp, bound)
	}
	select {
	case err := <-done:
		t.Fatalf("the Read returned (%v) on a silent connection", err)
	default:
	}
	if _, err := s.Write(one); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the parked Read: %v", err)
	}
	if busy(c) {
		t.Fatal("connection still busy after a wait longer than BusyPoll")
	}

	// Idle again: the next Read parks at once.
	polls = ctr.polls.Load()
	done = readAsync(c)
	blocked(t, c)
	if _, err := s.Write(one); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := ctr.polls.Load(); n != polls {
		t.Fatalf("a Read on an idle connection polled (%d)", n-polls)
	}
}

// Busy polling loses no wake-up: request/response turns whose answers
// come at once, after a pause within the bound, or after the poller
// parked all complete; so do several Reads polling one connection at
// once, and a Close or a deadline ends a Read that is polling.
func TestBusyPoll_NoLostWakeups(t *testing.T) {
	const bound = maxBusyPoll
	cl, sv := pair(t, Options{BusyPoll: bound}, Options{BusyPoll: bound})
	c, s := connected(t, cl, sv)
	go func() {
		var b [1]byte
		for i := 0; ; i++ {
			if _, err := s.Read(b[:]); err != nil {
				return
			}
			switch i % 4 {
			case 1:
				time.Sleep(50 * time.Microsecond) // within the bound: the poll gets it
			case 2:
				time.Sleep(5 * time.Millisecond) // past the bound: the Read parked
			}
			if _, err := s.Write(b[:]); err != nil {
				return
			}
		}
	}()
	pingPong(t, c, 200)
	st := cl.Stats()
	if st.BusyPolls == 0 || st.BusyPollHits == 0 || st.BusyPollHits > st.BusyPolls {
		t.Fatalf("BusyPolls %d, BusyPollHits %d; want both above 0, hits at most polls", st.BusyPolls, st.BusyPollHits)
	}

	// Several Reads at once on a busy connection, fed one byte at a time.
	c2, s2 := connected(t, cl, sv)
	go echo(s2)
	pingPong(t, c2, 10)
	const readers = 4
	results := make(chan error, readers)
	for range readers {
		go func() {
			var b [1]byte
			_, err := c2.Read(b[:])
			results <- err
		}()
	}
	for range readers {
		if _, err := s2.Write([]byte{7}); err != nil {
			t.Fatal(err)
		}
	}
	for range readers {
		if err := <-results; err != nil {
			t.Fatal(err)
		}
	}
}

// A Close or an expired deadline ends a Read that polls.
func TestBusyPoll_CloseAndDeadline(t *testing.T) {
	const bound = maxBusyPoll
	cl, sv := pair(t, Options{BusyPoll: bound}, Options{})
	c, s := connected(t, cl, sv)
	go echo(s)
	pingPong(t, c, 5)
	setBusy(c)
	ctr := pollCtr(cl)
	polls, hits := ctr.polls.Load(), ctr.pollHits.Load()
	c.SetReadDeadline(time.Now().Add(bound / 4))
	var b [1]byte
	if _, err := c.Read(b[:]); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past its deadline: %v; want os.ErrDeadlineExceeded", err)
	}
	if n := ctr.polls.Load(); n != polls+1 {
		t.Fatalf("%d polls; want the Read to have polled once", n-polls)
	}
	if n := ctr.pollHits.Load(); n != hits {
		t.Fatalf("the poll that ran into the deadline counted as a hit (%d)", n-hits)
	}
	c.SetReadDeadline(time.Time{})
	setBusy(c)
	done := readAsync(c)
	blocked(t, c)
	c.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read during Close: %v; want net.ErrClosed", err)
	}
}

// Busy polling is on by default: a Read on a busy connection of a stack
// made with the zero Options polls; with a negative BusyPoll it parks.
func TestBusyPoll_DefaultOn(t *testing.T) {
	for _, tc := range []struct {
		bp    time.Duration
		polls uint64
	}{{0, 1}, {-1, 0}} {
		cl, sv := pair(t, Options{BusyPoll: tc.bp}, Options{})
		c, s := connected(t, cl, sv)
		busyReadWoken(t, c, s)
		if n := cl.Stats().BusyPolls; n != tc.polls {
			t.Errorf("BusyPoll %v: %d polls; want %d", tc.bp, n, tc.polls)
		}
	}
}

// At most maxPollers Reads of a stack poll at once: a Read on a busy
// connection while that many poll parks at once, and counts in
// BusyPollsCapped.
func TestBusyPoll_PollersCapped(t *testing.T) {
	cl, sv := pair(t, Options{BusyPoll: maxBusyPoll}, Options{})
	c, s := connected(t, cl, sv)
	ctr := pollCtr(cl)
	if got, want := cl.drv.(*realTime).maxPoll, maxPollers(runtime.GOMAXPROCS(0)); got != want {
		t.Fatalf("maxPoll %d; want %d", got, want)
	}
	read := func() { busyReadWoken(t, c, s) }
	ctr.pollers.Store(cl.drv.(*realTime).maxPoll) // as many as may poll are polling
	read()
	if st := cl.Stats(); st.BusyPolls != 0 || st.BusyPollsCapped != 1 {
		t.Fatalf("with every polling slot taken: BusyPolls %d, BusyPollsCapped %d; want 0, 1", st.BusyPolls, st.BusyPollsCapped)
	}
	ctr.pollers.Store(cl.drv.(*realTime).maxPoll - 1) // one slot free
	read()
	if st := cl.Stats(); st.BusyPolls != 1 || st.BusyPollsCapped != 1 {
		t.Fatalf("with a polling slot free: BusyPolls %d, BusyPollsCapped %d; want 1, 1", st.BusyPolls, st.BusyPollsCapped)
	}
	if n := ctr.pollers.Load(); n != cl.drv.(*realTime).maxPoll-1 {
		t.Fatalf("pollers %d after the poll; want it back at %d", n, cl.drv.(*realTime).maxPoll-1)
	}
}

// The rule: the cap from Options.BusyPoll, how many poll at once, and
// how long a Read polls for its connection's wait estimate, which
// follows the waits that ended by polling.
func TestBusyPoll_Rule(t *testing.T) {
	for _, tc := range []struct{ o, want time.Duration }{
		{0, 10 * time.Microsecond}, {-1, 0}, {5 * time.Microsecond, 5 * time.Microsecond}, {time.Second, time.Millisecond},
	} {
		if got := pollCap(tc.o); got != tc.want {
			t.Errorf("pollCap(%v) = %v; want %v", tc.o, got, tc.want)
		}
	}
	for _, tc := range []struct {
		procs int
		want  int32
	}{{1, 1}, {2, 1}, {3, 1}, {8, 4}} {
		if got := maxPollers(tc.procs); got != tc.want {
			t.Errorf("maxPollers(%d) = %d; want %d", tc.procs, got, tc.want)
		}
	}
	d := &realTime{busyPoll: 20 * time.Microsecond}
	us := func(x float64) uint16 { return uint16(x * 1000 / 16) }
	for _, tc := range []struct {
		est  uint16
		want time.Duration
	}{
		{0, 0},                          // idle: no poll
		{1, 5 * time.Microsecond},       // at least pollMin
		{estMin, 5 * time.Microsecond},  // after a short park
		{us(3), 5984 * time.Nanosecond}, // twice the estimate: 2 × 187 × 16 ns
		{us(15), 20 * time.Microsecond}, // at most the cap
		{us(1000), 20 * time.Microsecond},
	} {
		if got := d.pollBound(tc.est); got != tc.want {
			t.Errorf("pollBound(%d) = %v; want %v", tc.est, got, tc.want)
		}
	}
	for _, tc := range []struct {
		est  uint16
		took time.Duration
		want uint16
	}{
		{us(4), 2 * time.Microsecond, 188},  // the mean: (250+125+1)/2
		{estMin, 5 * time.Microsecond, 234}, // (156+312+1)/2
		{us(4), 20 * time.Microsecond, 750}, // up to the cap
		{us(4), 21 * time.Microsecond, 0},   // past it: idle
		{1, 0, 1},                           // never 0 after a hit
	} {
		if got := d.estimate(tc.est, tc.took); got != tc.want {
			t.Errorf("estimate(%d, %v) = %d; want %d", tc.est, tc.took, got, tc.want)
		}
	}
	// A parked wait counts as a turn on one P within shortPark, or a
	// quarter of the cap if longer.
	for _, tc := range []struct{ cap, want time.Duration }{
		{10 * time.Microsecond, shortPark}, {20 * time.Microsecond, shortPark}, {time.Millisecond, 250 * time.Microsecond},
	} {
		d := &realTime{busyPoll: tc.cap}
		if got := d.parkShort(); got != tc.want {
			t.Errorf("cap %v: parkShort %v; want %v", tc.cap, got, tc.want)
		}
	}
}

// busyReadWoken marks c busy, starts a Read on it, lets it block, and
// has its peer s write the byte that ends it.
func busyReadWoken(t *testing.T, c, s *Conn) {
	t.Helper()
	setBusy(c)
	done := readAsync(c)
	blocked(t, c)
	if _, err := s.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
