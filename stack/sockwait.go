package stack

import (
	"os"
	"sync"
	"time"
)

// sockWait is what the blocked reads of a datagram socket (UDPConn,
// PingConn) wait on: the socket's deadlines and the channel its next
// event closes. The socket's mutex guards it.
type sockWait struct {
	rdl    time.Time
	wdl    time.Time
	waitCh chan struct{}
}

// notifyLocked wakes the reads waiting.
func (w *sockWait) notifyLocked() {
	if w.waitCh != nil {
		close(w.waitCh)
		w.waitCh = nil
	}
}

// setLocked sets the deadlines named and wakes the reads waiting, so
// that a blocked one sees a new read deadline at once.
func (w *sockWait) setLocked(t time.Time, read, write bool) {
	if read {
		w.rdl = t
	}
	if write {
		w.wdl = t
	}
	w.notifyLocked()
}

// awaitLocked waits, for a read of a datagram socket whose mutex mu the
// caller holds, until w is notified or its read deadline passes, and
// returns with mu released: os.ErrDeadlineExceeded if the deadline had
// passed already, else what blocking returned (nil: look again). ready,
// called with mu held, reports whether there is something to look at
// (the simulated driver runs the world until it is true or the deadline
// moves).
func (s *Stack) awaitLocked(mu *sync.Mutex, w *sockWait, ready func() bool) error {
	dl := w.rdl
	if !dl.IsZero() && !s.clock.Now().Before(dl) {
		mu.Unlock()
		return os.ErrDeadlineExceeded
	}
	ch := s.drv.waitChan(&w.waitCh)
	mu.Unlock()
	return s.block(ch, dl, nil, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return ready() || !w.rdl.Equal(dl)
	})
}
