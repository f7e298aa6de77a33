package stack

import (
	"testing"
	"time"
)

// BenchmarkTimerHeap: a shard's timer heap holding 10,000 connections'
// deadlines; each operation moves the earliest one later (as a connection
// re-arms its retransmission timer after an ACK): a push, and the stale
// entry dropped when it reaches the top. Run with
//
//	go test ./stack -run '^$' -bench TimerHeap -benchmem
func BenchmarkTimerHeap(b *testing.B) {
	const n = 10000
	var h timerHeap
	conns := make([]*Conn, n)
	for i := range conns {
		at := int64(1 + i*7919%n*int(time.Microsecond))
		conns[i] = &Conn{inTable: true, timerAt: at}
		h.push(timerEntry{at: at, c: conns[i]})
	}
	b.ReportAllocs()
	for b.Loop() {
		at := h.next()
		e := h[0]
		// Re-arm: a later deadline, the old entry goes stale.
		e.c.timerAt = at + int64(n*time.Microsecond)
		h.push(timerEntry{at: e.c.timerAt, c: e.c})
		if len(h) > 2*n+64 {
			h.compact()
		}
	}
	if got := h.next(); got == 0 {
		b.Fatal("heap empty")
	}
}
