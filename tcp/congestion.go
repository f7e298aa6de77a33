package tcp

import (
	"time"

	"github.com/synack/synack/tcp/cc"
	"github.com/synack/synack/tcp/cc/cubic"
	"github.com/synack/synack/tcp/cc/newreno"
)

// newController returns the congestion controller cfg chooses.
func newController(cfg *Config, mss int) cc.Controller {
	if cfg.CongestionControl == "newreno" {
		return newreno.New(mss)
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

// cwnd is the congestion window in bytes. During fast recovery without
// SACK it is inflated by one segment per duplicate ACK (RFC 6582 §3.2).
func (t *TCB) cwnd() int {
	w := t.cc.Window()
	if t.recState == recFast && !t.sackOK {
		w += t.inflate
	}
	return max(w, t.sndMSS)
}

// pipe is RFC 6675's estimate of the bytes in the network: what is
// outstanding, less what was SACKed and what is lost and not yet resent.
func (t *TCB) pipe() int {
	return int(t.sndNxt-t.sndUna) - int(t.tx.sackedBytes) - int(t.tx.lostBytes)
}

// enterRecovery starts fast recovery after a loss was detected
// (RFC 5681 §3.2 step 2, RFC 6675 §5 step 4, RFC 8985 §6.3).
func (t *TCB) enterRecovery(now time.Time) {
	t.recState = recFast
	t.recoverPt = t.sndNxt
	t.cc.OnCongestionEvent(int(t.sndNxt-t.sndUna), now)
	if !t.sackOK {
		t.inflate = dupThresh * t.sndMSS
	}
	t.forceRtx = true
	t.startEpisode()
}

// startEpisode begins counting the retransmissions of a recovery episode,
// which D-SACKs or timestamps may prove spurious (undo).
func (t *TCB) startEpisode() {
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
	t.inflate = 0
	t.dupAcks = 0
	t.rack.onRecoveryEnd()
}

// retransmitted records one retransmission of [start, end) for
// spurious-retransmission detection.
func (t *TCB) retransmitted(start, end, tsval uint32) {
	t.totalRetrans++
	if t.episodeRetrans == 0 && t.tsOK {
		// Eifel (RFC 3522): remember the first retransmission's TSval.
		t.eifelOn, t.eifelTS, t.eifelSeq = true, tsval, start
	}
	t.episodeRetrans++
	t.rtxLog[t.rtxLogNext] = seqRange{start, end}
	t.rtxLogNext = (t.rtxLogNext + 1) % len(t.rtxLog)
}

// spurious reports a retransmission of data in [start, end) that the
// peer already had, found by a D-SACK (RFC 2883 §5) or by Eifel. It is
// counted once; when every retransmission of the episode was spurious,
// the congestion response is undone.
func (t *TCB) spurious(start, end uint32) {
	found := false
	for i := range t.rtxLog {
		r := &t.rtxLog[i]
		if r.start != r.end && seqLT(r.start, end) && seqLT(start, r.end) {
			*r = seqRange{}
			found = true
			break
		}
	}
	if !found {
		return // a duplicate the network made, not one we sent
	}
	t.spuriousRetrans++
	if t.episodeRetrans > 0 {
		t.episodeRetrans--
	}
	if t.episodeRetrans == 0 && !t.episodeUndone {
		t.undo()
	}
}

// undo restores the window after a congestion response found spurious
// and stops retransmitting what was only presumed lost.
func (t *TCB) undo() {
	t.episodeUndone = true
	t.cc.Undo()
	for i := range t.tx.n {
		t.tx.clearFlag(t.tx.at(i), txLost)
	}
	if t.recState != recOpen {
		t.recState = recOpen
		t.inflate = 0
		t.dupAcks = 0
	}
}
