// Package cubic is CUBIC congestion control (RFC 9438) with HyStart++
// (RFC 9406) for leaving slow start before it overshoots.
package cubic

import (
	"math"
	"time"

	"github.com/synack/synack/tcp/cc"
)

// Constants of RFC 9438 §4.
const (
	c         = 0.4                         // CUBIC's scaling constant
	beta      = 0.7                         // multiplicative decrease factor
	alphaAIMD = 3 * (1 - beta) / (1 + beta) // §4.3, Reno-friendly increase
)

// Constants of RFC 9406 §4.3.
const (
	minRTTThresh     = 4 * time.Millisecond
	maxRTTThresh     = 16 * time.Millisecond
	minRTTDivisor    = 8
	nRTTSample       = 8
	cssGrowthDivisor = 4
	cssRounds        = 5
)

// Cubic is one connection's CUBIC state. Windows are kept in bytes.
type Cubic struct {
	mss      int
	cwnd     int
	ssthresh int
	saved    cc.Saved

	wMax      float64 // W_max, in segments
	k         float64 // K, in seconds
	epoch     int64   // start of the current congestion-avoidance epoch (sinceRef); 0: none
	cwndEpoch float64 // cwnd (segments) at the start of the epoch
	wEst      float64 // W_est, the Reno-friendly window, in segments
	rtt       time.Duration
	hystart   hystart
}

// timeRef is the origin of the epochs: an int64 instead of a time.Time
// keeps every connection's Cubic in the 144-byte allocation class.
var timeRef = time.Now()

// sinceRef is t as nanoseconds since timeRef (monotonic when t is), never
// 0, which stands for no epoch.
func sinceRef(t time.Time) int64 {
	if d := int64(t.Sub(timeRef)); d != 0 {
		return d
	}
	return 1
}

// hystart is HyStart++'s per-connection state (RFC 9406 §4.2).
type hystart struct {
	done               bool // HyStart++ ended (first loss or CSS completed)
	inCSS              bool
	lastRoundMinRTT    time.Duration // 0: none yet
	currentRoundMinRTT time.Duration // 0: none yet
	rttSampleCount     int
	cssBaselineMinRTT  time.Duration
	cssRoundsDone      int
}

// New returns a CUBIC controller for segments of mss bytes, with the
// initial window of RFC 6928.
func New(mss int) *Cubic {
	mss = max(mss, 1)
	return &Cubic{mss: mss, cwnd: cc.InitialWindow(mss), ssthresh: cc.InfiniteSsthresh}
}

// Window is cwnd.
func (q *Cubic) Window() int { return q.cwnd }

// Ssthresh is the slow-start threshold.
func (q *Cubic) Ssthresh() int { return q.ssthresh }

// InSlowStart reports cwnd < ssthresh.
func (q *Cubic) InSlowStart() bool { return q.cwnd < q.ssthresh }

// InCSS reports whether HyStart++ is in Conservative Slow Start.
func (q *Cubic) InCSS() bool { return q.hystart.inCSS }

// OnAck grows the window: slow start (with HyStart++) below ssthresh,
// the cubic function above it (RFC 9438 §4.2–4.4).
func (q *Cubic) OnAck(a cc.Ack) {
	if a.RTT > 0 {
		q.rtt = a.RTT
	}
	acked := a.Acked
	if q.cwnd < q.ssthresh {
		q.hystartAck(a)
		if !a.CwndLimited || acked <= 0 {
			return
		}
		if q.hystart.inCSS {
			// RFC 9406 §4.2: CSS grows by the slow-start increase
			// divided by CSS_GROWTH_DIVISOR.
			q.cwnd += acked / cssGrowthDivisor
			return
		}
		// Linux's tcp_slow_start: every byte delivered, no per-ACK limit,
		// up to ssthresh; the rest goes to congestion avoidance.
		if acked = cc.SlowStart(&q.cwnd, q.ssthresh, acked); acked == 0 {
			return
		}
	}
	if !a.CwndLimited || acked <= 0 {
		return
	}
	q.congestionAvoidance(acked, a.Now)
}

// hystartAck is RFC 9406 §4.2 for one ACK during slow start.
func (q *Cubic) hystartAck(a cc.Ack) {
	h := &q.hystart
	if h.done {
		return
	}
	if a.RoundStart {
		h.lastRoundMinRTT = h.currentRoundMinRTT
		h.currentRoundMinRTT = 0
		h.rttSampleCount = 0
		if h.inCSS {
			h.cssRoundsDone++
			if h.cssRoundsDone >= cssRounds {
				// "If CSS_ROUNDS rounds are complete, enter congestion
				// avoidance by setting the ssthresh to the current cwnd."
				q.ssthresh = q.cwnd
				h.inCSS, h.done = false, true
				return
			}
		}
	}
	if a.RTT > 0 {
		if h.currentRoundMinRTT == 0 || a.RTT < h.currentRoundMinRTT {
			h.currentRoundMinRTT = a.RTT
		}
		h.rttSampleCount++
	}
	if h.rttSampleCount < nRTTSample || h.currentRoundMinRTT == 0 {
		return
	}
	if !h.inCSS {
		if h.lastRoundMinRTT == 0 {
			return
		}
		thresh := min(max(h.lastRoundMinRTT/minRTTDivisor, minRTTThresh), maxRTTThresh)
		if h.currentRoundMinRTT >= h.lastRoundMinRTT+thresh {
			h.cssBaselineMinRTT = h.currentRoundMinRTT
			h.inCSS = true
			h.cssRoundsDone = 0
		}
		return
	}
	if h.currentRoundMinRTT < h.cssBaselineMinRTT {
		// The RTT increase was spurious: resume slow start.
		h.inCSS = false
		h.cssBaselineMinRTT = 0
	}
}

// congestionAvoidance is RFC 9438 §4.2–4.4 for acked bytes.
func (q *Cubic) congestionAvoidance(acked int, now time.Time) {
	mss := float64(q.mss)
	cwnd := float64(q.cwnd) / mss
	if q.epoch == 0 {
		// A new epoch: after a reduction, or on leaving slow start.
		q.epoch = sinceRef(now)
		q.cwndEpoch = cwnd
		q.wEst = cwnd
		if q.wMax < cwnd {
			// No reduction yet (slow start ended by HyStart++ or an
			// undo): the plateau is here.
			q.wMax = cwnd
		}
		q.k = math.Cbrt((q.wMax - cwnd) / c)
	}
	t := time.Duration(sinceRef(now)-q.epoch).Seconds() + q.rtt.Seconds()
	d := t - q.k
	target := c*d*d*d + q.wMax
	// §4.2: the target is clamped to [cwnd, 1.5·cwnd].
	target = min(max(target, cwnd), 1.5*cwnd)
	seg := float64(acked) / mss
	// §4.3: the Reno-friendly estimate.
	q.wEst += alphaAIMD * seg / cwnd
	next := cwnd + (target-cwnd)*seg/cwnd
	if q.wEst > next {
		next = q.wEst
	}
	q.cwnd = max(int(next*mss), q.cwnd)
}

func (q *Cubic) save() {
	q.saved = cc.Saved{Cwnd: q.cwnd, Ssthresh: q.ssthresh, Valid: true}
}

// OnCongestionEvent is RFC 9438 §4.6 with fast convergence (§4.7).
func (q *Cubic) OnCongestionEvent(flight int, _ time.Time) {
	q.save()
	q.hystart.done, q.hystart.inCSS = true, false
	cwnd := float64(q.cwnd) / float64(q.mss)
	if cwnd < q.wMax {
		q.wMax = cwnd * (1 + beta) / 2
	} else {
		q.wMax = cwnd
	}
	q.ssthresh = max(int(float64(max(flight, q.mss))*beta), 2*q.mss)
	q.cwnd = q.ssthresh
	q.epoch = 0
}

// OnRecoveryEnd sets cwnd to ssthresh.
func (q *Cubic) OnRecoveryEnd(time.Time) { q.cwnd = q.ssthresh }

// OnRTO is RFC 9438 §4.8: as a congestion event, then cwnd = 1 SMSS and a
// fresh epoch once slow start ends.
func (q *Cubic) OnRTO(flight int, now time.Time) {
	q.OnCongestionEvent(flight, now)
	q.cwnd = q.mss
}

// Undo restores the state before the last reduction (RFC 9438 §4.9).
func (q *Cubic) Undo() {
	if !q.saved.Valid {
		return
	}
	q.cwnd = max(q.cwnd, q.saved.Cwnd)
	q.ssthresh = max(q.ssthresh, q.saved.Ssthresh)
	q.wMax = float64(q.cwnd) / float64(q.mss)
	q.epoch = 0
	q.saved.Valid = false
}
