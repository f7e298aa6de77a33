package impair

import (
	"sync"
	"time"

	"github.com/synack/synack/clock"
	"github.com/synack/synack/link"
)

// Link is a link.Link whose outbound packets cross a Model in real time
// before they reach the wrapped link: some are dropped, the others are
// written to it when their fate says they arrive, from a goroutine of the
// Link's own. Inbound packets pass untouched; wrap both ends of a
// link.Pipe to impair both directions.
type Link struct {
	l   link.Link
	clk clock.Clock

	mu      sync.Mutex
	m       *Model
	q       timedQueue
	seq     uint64
	closed  bool
	wake    chan struct{}
	done    chan struct{}
	stopped chan struct{}
	pool    [][]byte
}

// Wrap returns l with its outbound packets impaired by m, timed by clk
// (clock.Real{} when nil). The Link owns m from now on; read its counters
// with Stats.
func Wrap(l link.Link, m *Model, clk clock.Clock) *Link {
	if clk == nil {
		clk = clock.Real{}
	}
	w := &Link{
		l:       l,
		clk:     clk,
		m:       m,
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	go w.loop()
	return w
}

// Stats returns the model's counters.
func (w *Link) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.m.Stats()
}

// MTU implements link.Link: the wrapped link's MTU. (Config.MTU makes a
// smaller path MTU that drops larger packets without telling the sender.)
func (w *Link) MTU() int { return w.l.MTU() }

// Attach implements link.Link.
func (w *Link) Attach(r link.Receiver) { w.l.Attach(r) }

// WritePacket implements link.Link: pkt is judged and, unless dropped,
// copied and scheduled. A dropped packet is not an error, as on a real
// network.
func (w *Link) WritePacket(pkt []byte) error {
	now := w.clk.Now()
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return w.l.WritePacket(pkt) // reports the closed link
	}
	f := w.m.Judge(now, len(pkt))
	for i := range f.Copies {
		b := append(w.buf(), pkt...)
		f.Corrupt(i, b)
		w.q.push(timed{at: f.At[i], seq: w.seq, data: b})
		w.seq++
	}
	w.mu.Unlock()
	if f.Copies > 0 {
		select { // the loop looks at the queue again
		case w.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// buf returns an empty buffer from the pool (w.mu held).
func (w *Link) buf() []byte {
	if n := len(w.pool); n > 0 {
		b := w.pool[n-1]
		w.pool = w.pool[:n-1]
		return b[:0]
	}
	return make([]byte, 0, 2048)
}

// loop writes each scheduled packet to the wrapped link when it is due.
func (w *Link) loop() {
	defer close(w.stopped)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		w.mu.Lock()
		var wait time.Duration = -1
		for w.q.len() > 0 {
			d := w.q.peek().at.Sub(w.clk.Now())
			if d > 0 {
				wait = d
				break
			}
			p := w.q.pop()
			w.mu.Unlock()
			_ = w.l.WritePacket(p.data) // a real network does not report late failures
			w.mu.Lock()
			w.pool = append(w.pool, p.data)
		}
		w.mu.Unlock()
		var tc <-chan time.Time
		if wait >= 0 {
			timer.Reset(wait)
			tc = timer.C
		}
		select {
		case <-w.done:
			return
		case <-w.wake:
		case <-tc:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// Close implements link.Link: packets still scheduled are discarded and
// the wrapped link is closed.
func (w *Link) Close() error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.done)
	}
	w.mu.Unlock()
	<-w.stopped
	w.mu.Lock()
	w.q = timedQueue{}
	w.mu.Unlock()
	return w.l.Close()
}

// timed is a packet waiting for its time.
type timed struct {
	at   time.Time
	seq  uint64
	data []byte
}

// timedQueue is a min-heap of packets by time, then order of sending.
type timedQueue struct{ h []timed }

func (q *timedQueue) len() int    { return len(q.h) }
func (q *timedQueue) peek() timed { return q.h[0] }

func (q *timedQueue) less(i, j int) bool {
	if !q.h[i].at.Equal(q.h[j].at) {
		return q.h[i].at.Before(q.h[j].at)
	}
	return q.h[i].seq < q.h[j].seq
}

func (q *timedQueue) push(t timed) {
	q.h = append(q.h, t)
	for i := len(q.h) - 1; i > 0; {
		p := (i - 1) / 2
		if !q.less(i, p) {
			break
		}
		q.h[i], q.h[p] = q.h[p], q.h[i]
		i = p
	}
}

func (q *timedQueue) pop() timed {
	h := q.h
	t := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h[n] = timed{}
	q.h = h[:n]
	for i := 0; ; {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && q.less(r, l) {
			m = r
		}
		if !q.less(m, i) {
			break
		}
		q.h[i], q.h[m] = q.h[m], q.h[i]
		i = m
	}
	return t
}
