package newreno

import (
	"testing"
	"time"

	"github.com/synack/synack/tcp/cc"
)

var t0 = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func ack(n int) cc.Ack { return cc.Ack{Acked: n, CwndLimited: true, Now: t0} }

func TestNewReno_SlowStartAvoidanceLossTimeoutUndo(t *testing.T) {
	r := New(1000)
	if r.Window() != 10000 || !r.InSlowStart() {
		t.Fatalf("IW %d", r.Window())
	}
	r.OnAck(ack(5000)) // slow start: all 5000 bytes delivered, no per-ACK limit
	if r.Window() != 15000 {
		t.Fatalf("slow start: %d", r.Window())
	}
	r.OnAck(cc.Ack{Acked: 1000, Now: t0}) // not cwnd-limited: no growth
	if r.Window() != 15000 {
		t.Fatalf("app-limited: %d", r.Window())
	}
	r.OnCongestionEvent(12000, t0)
	if r.Window() != 6000 || r.Ssthresh() != 6000 || r.InSlowStart() {
		t.Fatalf("loss: %d/%d", r.Window(), r.Ssthresh())
	}
	// Congestion avoidance: one SMSS per window acknowledged.
	for range 5 {
		r.OnAck(ack(1000))
	}
	if r.Window() != 6000 {
		t.Fatalf("CA early: %d", r.Window())
	}
	r.OnAck(ack(1000))
	if r.Window() != 7000 {
		t.Fatalf("CA: %d", r.Window())
	}
	r.OnRTO(7000, t0)
	if r.Window() != 1000 || r.Ssthresh() != 3500 {
		t.Fatalf("RTO: %d/%d", r.Window(), r.Ssthresh())
	}
	r.Undo()
	if r.Window() != 7000 || r.Ssthresh() != 6000 {
		t.Fatalf("undo: %d/%d", r.Window(), r.Ssthresh())
	}
	r.OnCongestionEvent(1000, t0) // ssthresh is at least 2·SMSS
	if r.Ssthresh() != 2000 {
		t.Fatalf("floor: %d", r.Ssthresh())
	}
}

// Slow start stops at ssthresh and the rest of the ACK counts in
// congestion avoidance, as Linux's tcp_slow_start returns it.
func TestNewReno_SlowStartStopsAtSsthresh(t *testing.T) {
	r := New(1000)
	r.OnRTO(24000, t0) // ssthresh 12000, cwnd 1000
	r.OnAck(ack(8000))
	if r.Window() != 9000 || !r.InSlowStart() {
		t.Fatalf("slow start: %d", r.Window())
	}
	r.OnAck(ack(6000)) // 3000 to reach ssthresh, 3000 for congestion avoidance
	if r.Window() != 12000 || r.InSlowStart() || r.acked != 3000 {
		t.Fatalf("at ssthresh: cwnd %d, CA bytes %d", r.Window(), r.acked)
	}
	r.OnAck(ack(9000)) // 12000 bytes in CA: one SMSS
	if r.Window() != 13000 || r.acked != 0 {
		t.Fatalf("CA: cwnd %d, CA bytes %d", r.Window(), r.acked)
	}
}
