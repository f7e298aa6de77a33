package stack

import (
	"io"
	"testing"
	"time"

	"github.com/synack/synack/link"
	"github.com/synack/synack/tcp"
)

// loopWakes sums what woke s's loops: their timers and kicks.
func loopWakes(s *Stack) (timers, kicks uint64) {
	for _, sh := range s.shards {
		timers += sh.loopTimers.Load()
		kicks += sh.loopKicks.Load()
	}
	return timers, kicks
}

// A request/response exchange keeps moving its connection's timers on (a
// probe timeout re-armed by every segment, a delayed ACK sent with the
// reply): the loops' timers follow them without waking the loops
// (postponeTimer), and a user call arms a loop's timer itself rather than
// kicking the loop to do it (realTime.wake). Before, each loop woke some
// 50 times a second for nothing, and was kicked as often.
func TestLoopTimers_NotWokenForNothing(t *testing.T) {
	a, b := link.PipeGSO(1500)
	cl, sv := pairOn(t, a, b, Options{}, Options{})
	c, s := connected(t, cl, sv)
	go func() {
		buf := make([]byte, 1)
		for {
			if _, err := io.ReadFull(s, buf); err != nil {
				return
			}
			if _, err := s.Write(buf); err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 1)
	t0c, k0c := loopWakes(cl)
	t0s, k0s := loopWakes(sv)
	start, n := time.Now(), 0
	for ; n < 200000 && time.Since(start) < 500*time.Millisecond; n++ {
		if _, err := c.Write(buf); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
	}
	el := time.Since(start)
	t1c, k1c := loopWakes(cl)
	t1s, k1s := loopWakes(sv)
	timers, kicks := t1c-t0c+t1s-t0s, k1c-k0c+k1s-k0s
	t.Logf("%d round trips in %v: the loops' timers fired %d times, loops kicked %d times", n, el.Round(time.Millisecond), timers, kicks)
	// A timer may fire for a deadline that was due (the exchange
	// stalled, on a busy machine, past a probe timeout): a few a second.
	// A kick also hands a loop the packets of a flush that several
	// goroutines contended for (shard.flushOwn): rare.
	if limit := uint64(el/(100*time.Millisecond)) + 3; timers+kicks > limit {
		t.Errorf("timers fired %d times and loops were kicked %d times; want at most %d in all", timers, kicks, limit)
	}
}

// Timers still fire when they are due while another connection of the
// same loop keeps postponing the loop's timer: a server's delayed ACK
// (40 ms; quick-ACK mode off) goes out on time while a second connection
// exchanges messages as fast as it can on the same shard.
func TestLoopTimers_DueTimerFiresWhileOthersBusy(t *testing.T) {
	a, b := link.PipeGSO(1500)
	cl, sv := pairOn(t, a, b, Options{Loops: 1}, Options{Loops: 1, TCP: tcp.Config{QuickAcks: -1}})
	busyC, busyS := connected(t, cl, sv)
	c, _ := connected(t, cl, sv)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := busyC.Write(buf); err != nil {
				return
			}
			if _, err := io.ReadFull(busyS, buf); err != nil {
				return
			}
			if _, err := busyS.Write(buf); err != nil {
				return
			}
			if _, err := io.ReadFull(busyC, buf); err != nil {
				return
			}
		}
	}()
	defer func() { close(stop); <-done }()
	time.Sleep(20 * time.Millisecond) // the busy exchange is under way
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	for c.Info().SndUna != c.Info().SndNxt {
		if time.Since(sent) > 2*time.Second {
			t.Fatal("no ACK of the byte within 2 s")
		}
		time.Sleep(time.Millisecond)
	}
	// The server acknowledges a lone segment when its delayed-ACK timer
	// fires: not before 40 ms, and not much later.
	if d := time.Since(sent); d < 35*time.Millisecond || d > 200*time.Millisecond {
		t.Errorf("the byte was acknowledged after %v; want the delayed ACK's 40 ms", d)
	}
}
