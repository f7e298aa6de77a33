// Package cc defines the interface between synack's TCP engine and a
// congestion controller, and the pieces every controller shares.
//
// The engine (package tcp) owns loss detection and recovery: it decides
// when a congestion event happens and which segments to retransmit. A
// Controller only keeps the congestion window (cwnd) and the slow-start
// threshold (ssthresh) and says how they change on each event. One
// Controller serves one connection; it is not safe for concurrent use and
// must not allocate on OnAck.
//
// Implementations live in sub-packages: cc/newreno (RFC 5681) and
// cc/cubic (RFC 9438 with HyStart++, RFC 9406).
package cc

import "time"

// Ack describes one acknowledgment that delivered new data, outside loss
// recovery.
type Ack struct {
	// Acked is the number of bytes newly delivered, as Linux counts
	// delivered packets (tcp_newly_delivered): the advance of SND.UNA
	// plus the bytes SACKed for the first time, less the bytes the
	// advance covered that an earlier ACK had SACKed (those were counted
	// then).
	Acked int
	// RTT is the round-trip sample this ACK gave, or 0 when it gave none.
	RTT time.Duration
	// RoundStart is true on the first ACK of a new round trip (the ACK
	// covers the SND.NXT recorded when the previous round began).
	RoundStart bool
	// CwndLimited reports whether the sender used its whole window in the
	// last round (RFC 7661): a window the application never fills must not
	// keep growing.
	CwndLimited bool
	// Now is the time the ACK arrived.
	Now time.Time
}

// Controller is a congestion-control algorithm for one connection.
// All sizes are in bytes.
type Controller interface {
	// OnAck grows the window for data delivered outside recovery.
	OnAck(a Ack)
	// OnCongestionEvent is a loss detected by fast retransmit, SACK or
	// RACK, or an ECN echo: at most once per window of data. flight is
	// the bytes in flight when the loss was detected. Afterwards Window is
	// the window for loss recovery (RFC 6675: cwnd = ssthresh).
	OnCongestionEvent(flight int, now time.Time)
	// OnRecoveryEnd is called when loss recovery ends (the ACK covers the
	// recovery point).
	OnRecoveryEnd(now time.Time)
	// OnRTO is a retransmission timeout: ssthresh is reduced and the
	// window collapses to the loss window, one segment (RFC 5681 §3.1).
	OnRTO(flight int, now time.Time)
	// Undo restores the window and threshold from before the last
	// congestion event or timeout, once that event is known to have been
	// spurious (RFC 3522/RFC 2883 undo).
	Undo()
	// Window is cwnd.
	Window() int
	// Ssthresh is the slow-start threshold.
	Ssthresh() int
	// InSlowStart reports cwnd < ssthresh.
	InSlowStart() bool
}

// InitialWindow is the initial window of RFC 6928 §2:
// min(10·MSS, max(2·MSS, 14600)).
func InitialWindow(mss int) int {
	return min(10*mss, max(2*mss, 14600))
}

// InfiniteSsthresh is the initial slow-start threshold ("arbitrarily
// high", RFC 5681 §3.1).
const InfiniteSsthresh = 1<<31 - 1

// SlowStart is slow start's growth for one ACK, as Linux's
// tcp_slow_start: cwnd grows by the acked bytes, with no per-ACK limit
// (RFC 3465's L is not applied), but not past ssthresh. It returns the
// part of acked left over once cwnd reached ssthresh, which the caller
// counts in congestion avoidance.
func SlowStart(cwnd *int, ssthresh, acked int) (rest int) {
	grown := min(*cwnd+acked, ssthresh)
	if grown < *cwnd {
		return acked // cwnd already at or past ssthresh
	}
	rest = acked - (grown - *cwnd)
	*cwnd = grown
	return rest
}

// Saved holds cwnd and ssthresh from before a congestion event, for Undo.
type Saved struct {
	Cwnd, Ssthresh int
	Valid          bool
}
