package tcp

import (
	"time"

	"github.com/synack/synack/tcp/cc"
	"github.com/synack/synack/tcp/cc/cubic"
	"github.com/synack/synack/tcp/cc/newreno"
)

// newController returns the congestion controller cfg chooses, started
// afresh for mss: old itself when it is of that kind (the handshake's
// options set the MSS after the TCB chose one), a new one otherwise.
func newController(cfg *Config, mss int, old cc.Controller) cc.Controller {
	if cfg.CongestionControl == "newreno" {
		if q, ok := old.(*newreno.NewReno); ok {
			*q = *newreno.New(mss)
			return q
		}
		return newreno.New(mss)
	}
	if q, ok := old.(*cubic.Cubic); ok {
		*q = *cubic.New(mss)
		return q
	}
	return cubic.New(mss)
}

// recState is the loss-recovery state of the sender.
type recState uint8

const (
	recOpen recState = iota // no recovery
	recFast                 // fast recovery (RFC 6582 / RFC 6675 / RFC 8985)
	recRTO                  // after a retransmission timeout, until RecoveryPoint
)

// dupThresh is DupThresh of RFC 5681 and RFC 6675.
const dupThresh = 3

// cwnd is the congestion window in bytes. During fast recovery with SACK
// it is PRR's pipe + sndcnt (prr.go); without SACK it is inflated by one
// segment per duplicate ACK (RFC 6582 §3.2).
func (t *TCB) cwnd() int {
	w := t.cc.Window()
	switch {
	case t.prrActive():
		w = t.prr.cwnd
	case t.recState == recFast && !t.sackOK:
		w += t.inflate
	}
	return max(w, t.sndMSS)
}

// pipe is RFC 6675's estimate of the bytes in the network: what is
// outstanding, less what was SACKed and what is lost and not yet resent.
func (t *TCB) pipe() int {
	return int(t.sndNxt-t.sndUna) - int(t.tx.sackedBytes) - int(t.tx.lostBytes)
}

// delivered is the data an ACK newly delivered, as Linux's
// tcp_newly_delivered counts it and as RFC 6937 §3 defines DeliveredData:
// the advance of SND.UNA (acked bytes) plus the change in SACKed bytes,
// so data SACKed by an earlier ACK is not counted again when the
// cumulative ACK covers it.
func (t *TCB) delivered(acked int, sackedBefore uint32) int {
	return max(acked+int(t.tx.sackedBytes)-int(sackedBefore), 0)
}

// flightSize is the FlightSize a congestion event reduces from
// (RFC 5681 §3.1 equation 4): the data outstanding, but never more than
// the congestion window. After a recovery that left holes behind,
// SND.NXT − SND.UNA can be several windows (most of it SACKed or lost);
// a threshold computed from that would grow the window on every loss.
func (t *TCB) flightSize() int {
	return min(int(t.sndNxt-t.sndUna), t.cwnd())
}

// enterRecovery starts fast recovery after a loss was detected
// (RFC 5681 §3.2 step 2, RFC 6675 §5 step 4, RFC 8985 §6.3). newlySACKed
// is what the ACK that found the loss SACKed (0 on a timer), for PRR.
func (t *TCB) enterRecovery(newlySACKed uint32, now time.Time) {
	t.takeLoss()
	t.cc.OnCongestionEvent(t.flightSize(), now)
	t.recState = recFast
	t.recoverPt = t.sndNxt
	t.prrStart(newlySACKed)
	if !t.sackOK {
		t.inflate = dupThresh * t.sndMSS
	}
	t.forceRtx = true
	t.startEpisode()
	t.tlpOut = false // RFC 8985 §7.1: recovery ends the probe's episode
	t.ptoAt = 0
}

// startEpisode begins counting the retransmissions of a recovery episode,
// which D-SACKs or timestamps may prove spurious (undo).
func (t *TCB) startEpisode() {
	t.takeUndo()
	t.episode++
	if t.episode == 0 {
		t.episode = 1 // 0 marks retransmissions outside any episode
	}
	t.episodeRetrans = 0
	t.episodeUndone = false
	t.eifelOn = false
}

// exitRecovery ends fast or RTO recovery once the recovery point is
// acknowledged.
func (t *TCB) exitRecovery(now time.Time) {
	if t.recState == recFast {
		t.cc.OnRecoveryEnd(now)
	}
	t.recState = recOpen
	t.dupAcks = 0
	if t.lossState != nil {
		t.inflate = 0
		t.frto = frtoState{}
	}
	t.rack.onRecoveryEnd()
}

// retransmitted records one retransmission of [start, end) for
// spurious-retransmission detection.
//
// Only retransmissions made in fast or RTO recovery belong to the
// episode; a tail loss probe sent while no recovery runs (RFC 8985 §7)
// reduced no window, so proving it spurious undoes nothing.
func (t *TCB) retransmitted(start, end, tsval uint32) {
	t.takeUndo()
	t.totalRetrans++
	t.countRetransmit()
	ep := uint32(0)
	if t.recState != recOpen {
		ep = t.episode
		if t.episodeRetrans == 0 && t.tsOK {
			// Eifel (RFC 3522): remember the first retransmission's TSval.
			t.eifelOn, t.eifelTS, t.eifelSeq = true, tsval, start
		}
		t.episodeRetrans++
	}
	if t.rtxLog == nil {
		t.rtxLog = new([32]rtxRecord)
	}
	t.rtxLog[t.rtxLogNext] = rtxRecord{seqRange{start, end}, ep}
	t.rtxLogNext = uint8((int(t.rtxLogNext) + 1) % len(t.rtxLog))
}

// rtxRecord is one retransmission and the episode it belongs to (0: none).
type rtxRecord struct {
	r       seqRange
	episode uint32
}

// spurious reports a retransmission of data in [start, end) that the
// peer already had, found by a D-SACK (RFC 2883 §5) or by Eifel. It is
// counted once; when every retransmission of the current episode was
// spurious (RFC 3522 §3, RFC 2883 §5), the congestion response is undone.
// A retransmission of an earlier episode, or a tail loss probe, proves
// nothing about the current one.
func (t *TCB) spurious(start, end uint32) {
	ep, found := uint32(0), false
	if t.undoState == nil || t.rtxLog == nil {
		return // nothing was retransmitted
	}
	for i := range t.rtxLog {
		x := &t.rtxLog[i]
		if x.r.start != x.r.end && seqLT(x.r.start, end) && seqLT(start, x.r.end) {
			ep = x.episode
			*x = rtxRecord{}
			found = true
			break
		}
	}
	if !found {
		return // a duplicate the network made, not one we sent
	}
	t.spuriousRetrans++
	if ep == 0 || ep != t.episode || t.episodeRetrans == 0 {
		return
	}
	t.episodeRetrans--
	if t.episodeRetrans == 0 && !t.episodeUndone {
		t.undo()
	}
}

// undo restores the window after a congestion response found spurious
// and stops retransmitting what was only presumed lost.
func (t *TCB) undo() {
	t.episodeUndone = true
	t.cc.Undo()
	t.tx.clearLost()
	if t.recState != recOpen {
		t.recState = recOpen
		t.inflate = 0
		t.dupAcks = 0
		t.frto = frtoState{}
	}
}

// undoState is what undoing a spurious congestion response needs
// (RFC 2883 D-SACK, RFC 3522 Eifel): the retransmissions of the current
// episode and their record, part of the sender half of the TCB, with the
// retransmission counters. A connection that never recovered nor
// retransmitted has none (takeUndo); its zero value is the state before
// the first episode.
type undoState struct {
	rtxLog          *[32]rtxRecord // recent retransmissions, for D-SACK matching; nil until the first (memory.go)
	totalRetrans    int32
	spuriousRetrans int32
	episodeRetrans  int32
	eifelTS         uint32
	eifelSeq        uint32
	episode         uint32 // number of the current recovery episode (0: none yet)
	rtxLogNext      uint8
	episodeUndone   bool
	eifelOn         bool
	// Retransmissions by cause (introspect.go).
	rtxCauses rtxCounts
	// Tail loss probes found to have repaired a loss (tlp.go).
	tlpResponses int32
}

// rtxCounts is RetransmitCauses as the TCB keeps it.
type rtxCounts struct{ Timeout, Recovery, Probe int32 }

// takeUndo gives the TCB its undoState on first need; it is kept.
func (t *TCB) takeUndo() {
	if t.undoState == nil {
		t.undoState = new(undoState)
	}
}

// retransmitCounts returns the total and spurious retransmission counts
// and the losses tail loss probes repaired.
func (t *TCB) retransmitCounts() (total, spurious, tlpRepairs int) {
	if t.undoState == nil {
		return 0, 0, 0
	}
	return int(t.totalRetrans), int(t.spuriousRetrans), int(t.tlpResponses)
}
