package cubic

import (
	"math"
	"testing"
	"time"
	"unsafe"

	"github.com/synack/synack/tcp/cc"
)

var t0 = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Every connection holds a Cubic, idle ones too: it stays in the 144-byte
// allocation class on 64-bit platforms (160 with its epoch a time.Time).
func TestCubicSize(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("sizes are for 64-bit platforms")
	}
	if n := unsafe.Sizeof(Cubic{}); n > 144 {
		t.Errorf("Cubic is %d bytes, past the 144-byte class", n)
	}
}

// After a loss at W_max = 100 segments cwnd drops to 70 and the cubic
// function brings it back to W_max K = cbrt(W_max·(1−β)/C) seconds later.
func TestCubic_ReductionAndConcaveGrowth(t *testing.T) {
	const mss = 1000
	q := New(mss)
	q.cwnd = 100 * mss
	q.OnCongestionEvent(100*mss, t0)
	if q.Window() != 70*mss || q.Ssthresh() != 70*mss {
		t.Fatalf("after loss: %d/%d", q.Window(), q.Ssthresh())
	}
	k := math.Cbrt(100 * (1 - beta) / c) // 4.217 s
	rtt := 100 * time.Millisecond
	now := t0
	// ACK a window's worth every RTT until K has passed.
	for now.Sub(t0).Seconds() < k {
		now = now.Add(rtt)
		w := q.Window()
		for range w / mss {
			q.OnAck(cc.Ack{Acked: mss, RTT: rtt, CwndLimited: true, Now: now})
		}
	}
	w := float64(q.Window()) / mss
	if w < 99 || w > 102 {
		t.Fatalf("at K: cwnd %.1f segments, want about W_max = 100", w)
	}
	// Fast convergence: a loss below the previous W_max lowers it.
	q.OnCongestionEvent(q.Window(), now)
	if q.wMax > w {
		t.Fatalf("W_max %.1f", q.wMax)
	}
	q.OnRTO(q.Window(), now)
	if q.Window() != mss {
		t.Fatalf("RTO: %d", q.Window())
	}
}

// HyStart++: an RTT rise of more than max(4 ms, lastRoundMinRTT/8) over
// the last round's minimum enters Conservative Slow Start (growth /4), and
// after 5 CSS rounds slow start ends with ssthresh = cwnd.
func TestCubic_HyStartPlusPlus(t *testing.T) {
	const mss = 1000
	q := New(mss)
	now := t0
	round := func(rtt time.Duration) {
		now = now.Add(rtt)
		for i := range 8 {
			q.OnAck(cc.Ack{Acked: mss, RTT: rtt, RoundStart: i == 0, CwndLimited: true, Now: now})
		}
	}
	round(100 * time.Millisecond)
	round(100 * time.Millisecond)
	if q.InCSS() {
		t.Fatal("CSS without an RTT rise")
	}
	before := q.Window()
	round(113 * time.Millisecond) // +13 ms > 100/8 = 12.5 ms
	if !q.InCSS() {
		t.Fatal("no CSS after the RTT rise")
	}
	grown := q.Window() - before
	// The rise is seen at the round's eighth sample; before it, slow start.
	if grown <= 0 || grown > 8*mss {
		t.Fatalf("growth %d", grown)
	}
	before = q.Window()
	round(113 * time.Millisecond)
	if g := q.Window() - before; g != 8*mss/cssGrowthDivisor {
		t.Fatalf("CSS growth %d, want %d", g, 8*mss/cssGrowthDivisor)
	}
	for range 4 {
		round(113 * time.Millisecond)
	}
	// ssthresh was set to cwnd at the start of this round; the rest of
	// it grew cwnd in congestion avoidance.
	if q.InSlowStart() || q.InCSS() || q.Ssthresh() > q.Window() || q.Ssthresh() < 40*mss {
		t.Fatalf("after CSS: cwnd %d ssthresh %d", q.Window(), q.Ssthresh())
	}
}

// Slow start grows by every byte an ACK delivers (a stretch ACK too, no
// RFC 3465 limit), stops at ssthresh, and the rest of the ACK starts a
// congestion-avoidance epoch, as Linux's bictcp_cong_avoid.
func TestCubic_SlowStartStretchAckAndSsthresh(t *testing.T) {
	const mss = 1000
	q := New(mss)
	q.OnAck(cc.Ack{Acked: 10 * mss, CwndLimited: true, Now: t0})
	if q.Window() != 20*mss || !q.InSlowStart() {
		t.Fatalf("stretch ACK: cwnd %d", q.Window())
	}
	q.ssthresh = 25 * mss
	q.OnAck(cc.Ack{Acked: 10 * mss, RTT: 100 * time.Millisecond, CwndLimited: true, Now: t0})
	if q.Window() < 25*mss || q.Window() > 26*mss || q.InSlowStart() || q.epoch == 0 {
		t.Fatalf("at ssthresh: cwnd %d, epoch %d", q.Window(), q.epoch)
	}
}
