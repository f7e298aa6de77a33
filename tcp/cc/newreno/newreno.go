// Package newreno is the standard TCP congestion control of RFC 5681:
// slow start, congestion avoidance, and the window changes of fast
// retransmit/fast recovery (RFC 6582 partial-ACK handling is the engine's
// part of recovery). Slow start grows cwnd by every byte newly delivered,
// with no per-ACK limit, as Linux's tcp_slow_start, where RFC 5681 §3.1
// recommends at most SMSS per ACK and RFC 3465 allows 2·SMSS: a stretch
// ACK then loses the sender no growth (pacing smooths the bursts).
package newreno

import (
	"time"

	"github.com/synack/synack/tcp/cc"
)

// NewReno is one connection's NewReno state.
type NewReno struct {
	mss      int
	cwnd     int
	ssthresh int
	acked    int // bytes acknowledged in congestion avoidance (RFC 5681 §3.1, "appropriate byte counting")
	saved    cc.Saved
}

// New returns a NewReno controller for segments of mss bytes, with the
// initial window of RFC 6928.
func New(mss int) *NewReno {
	mss = max(mss, 1)
	return &NewReno{mss: mss, cwnd: cc.InitialWindow(mss), ssthresh: cc.InfiniteSsthresh}
}

// OnAck is RFC 5681 §3.1 as Linux's tcp_reno_cong_avoid runs it: in slow
// start cwnd grows by the bytes delivered, up to ssthresh, and what is
// left of them counts in congestion avoidance, where cwnd grows by one
// SMSS per cwnd of data delivered.
func (r *NewReno) OnAck(a cc.Ack) {
	if a.Acked <= 0 || !a.CwndLimited {
		return
	}
	acked := a.Acked
	if r.cwnd < r.ssthresh {
		if acked = cc.SlowStart(&r.cwnd, r.ssthresh, acked); acked == 0 {
			return
		}
	}
	r.acked += acked
	if r.acked >= r.cwnd {
		r.acked -= r.cwnd
		r.cwnd += r.mss
	}
}

func (r *NewReno) save() {
	r.saved = cc.Saved{Cwnd: r.cwnd, Ssthresh: r.ssthresh, Valid: true}
}

// OnCongestionEvent is RFC 5681 §3.2 step 2 (equation 4):
// ssthresh = max(FlightSize/2, 2·SMSS), and cwnd = ssthresh for recovery.
func (r *NewReno) OnCongestionEvent(flight int, _ time.Time) {
	r.save()
	r.ssthresh = max(flight/2, 2*r.mss)
	r.cwnd = r.ssthresh
	r.acked = 0
}

// OnRecoveryEnd deflates the window to ssthresh (RFC 6582 §3.2 step 3).
func (r *NewReno) OnRecoveryEnd(time.Time) { r.cwnd = r.ssthresh }

// OnRTO is RFC 5681 §3.1 equation 4 and "LW": cwnd = 1 SMSS.
func (r *NewReno) OnRTO(flight int, _ time.Time) {
	r.save()
	r.ssthresh = max(flight/2, 2*r.mss)
	r.cwnd = r.mss
	r.acked = 0
}

// Undo restores the state before the last reduction.
func (r *NewReno) Undo() {
	if !r.saved.Valid {
		return
	}
	r.cwnd = max(r.cwnd, r.saved.Cwnd)
	r.ssthresh = max(r.ssthresh, r.saved.Ssthresh)
	r.saved.Valid = false
}

// Window is cwnd.
func (r *NewReno) Window() int { return r.cwnd }

// Ssthresh is the slow-start threshold.
func (r *NewReno) Ssthresh() int { return r.ssthresh }

// InSlowStart reports cwnd < ssthresh.
func (r *NewReno) InSlowStart() bool { return r.cwnd < r.ssthresh }
