package stack

import (
	"errors"
	"net"
	"os"
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
	for _, bp := range []time.Duration{0, 20 * time.Microsecond} {
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
// after the poll yielded would.
func setBusy(c *Conn) {
	c.sh.mu.Lock()
	c.rdW.busy = true
	c.sh.mu.Unlock()
}

func busy(c *Conn) bool {
	c.sh.mu.Lock()
	defer c.sh.mu.Unlock()
	return c.rdW.busy
}

// Busy polling costs an idle connection nothing: a Read on a new
// connection parks at once; request/response turns make the connection
// busy and their Reads poll; on a busy connection a Read that finds nothing polls for at most BusyPoll
// and then parks (and data arriving later still wakes it); after that
// long wait the connection is idle again and the next Read parks at once.
func TestBusyPoll_IdleConnectionParks(t *testing.T) {
	const bound = 100 * time.Millisecond // long, so that turns under -race count as short
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

	// Turns well within the bound make it busy: Reads poll, and get
	// their data without parking.
	go echo(s)
	pingPong(t, c, 20)
	polls, hits := ctr.polls.Load(), ctr.pollHits.Load()
	if polls == 0 || hits == 0 {
		t.Fatalf("after 20 round trips: %d polls, %d hits; want some of each", polls, hits)
	}
	// (The last turn may have left it idle: its answer came from
	// another CPU while the Read spun. Busy it is, for what follows.)
	setBusy(c)

	// Silence: the Read polls, gives up within the bound and parks.
	iters := ctr.iters.Load()
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
	const bound = 2 * time.Millisecond
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
	const bound = 10 * time.Second // it polls until something happens
	cl, sv := pair(t, Options{BusyPoll: bound}, Options{})
	c, s := connected(t, cl, sv)
	go echo(s)
	pingPong(t, c, 5)
	setBusy(c)
	polls := pollCtr(cl).polls.Load()
	start := time.Now()
	c.SetReadDeadline(start.Add(20 * time.Millisecond))
	var b [1]byte
	if _, err := c.Read(b[:]); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past its deadline: %v; want os.ErrDeadlineExceeded", err)
	}
	if d := time.Since(start); d > bound/2 {
		t.Fatalf("the polling Read returned %v after its deadline was set 20 ms ahead", d)
	}
	if n := pollCtr(cl).polls.Load(); n != polls+1 {
		t.Fatalf("%d polls; want the Read to have polled once", n-polls)
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
