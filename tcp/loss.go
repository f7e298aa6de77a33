package tcp

import "time"

// Loss detection: which segments in flight an ACK shows lost. There are
// three detectors, and each connection uses one, chosen once when the
// SYNs have settled the options (chooseLoss), as its congestion
// controller is (congestion.go):
//
//   - rackLoss, RACK (RFC 8985, rack.go), with SACK unless
//     Config.DisableRACK: a segment is lost when one sent after it was
//     delivered more than a reordering window ago; tail loss probes
//     (tlp.go) run only with it;
//   - sackLoss, RFC 6675's IsLost (recovery.go), with SACK and RACK
//     turned off: DupThresh segments SACKed above a segment;
//   - renoLoss, without SACK: the third duplicate ACK (RFC 5681 §3.2,
//     RFC 6582).
//
// What is done about a loss (fast recovery, PRR, NewReno's partial ACKs,
// undo) is the same for all three and stays in recovery.go and
// congestion.go.

// lossDetector is one way of finding lost segments.
type lossDetector interface {
	// onAck marks lost what the ACK being processed (its SACK blocks
	// already applied, SND.UNA advanced) shows lost, and reports
	// whether it marked anything.
	onAck(t *TCB, now time.Time) bool
	// deliveries returns the RACK state that is told of each segment
	// delivered, or nil when the detector keeps none.
	deliveries(t *TCB) *rack
	// probes reports whether tail loss probes (RFC 8985 §7) run.
	probes() bool
}

// lossAlg names a detector: the TCB keeps one byte, not an interface.
type lossAlg uint8

const (
	lossReno lossAlg = iota
	lossSACK
	lossRACK
)

var lossDetectors = [...]lossDetector{
	lossReno: renoLoss{},
	lossSACK: sackLoss{},
	lossRACK: rackLoss{},
}

// loss is the connection's detector.
func (t *TCB) loss() lossDetector { return lossDetectors[t.lossAlg] }

// chooseLoss picks the detector once SACK is settled (negotiate).
func (t *TCB) chooseLoss() {
	switch {
	case t.sackOK && t.useRACK:
		t.lossAlg = lossRACK
	case t.sackOK:
		t.lossAlg = lossSACK
	default:
		t.lossAlg = lossReno
	}
}

// rackLoss is RACK (RFC 8985 §6.2), with its reordering timer.
type rackLoss struct{}

func (rackLoss) onAck(t *TCB, now time.Time) bool {
	lost, timeout := t.rackDetectLoss(now)
	t.rackAt = 0
	if timeout > 0 {
		t.rackAt = instantOf(now).Add(timeout)
	}
	return lost
}

func (rackLoss) deliveries(t *TCB) *rack { return &t.rack }
func (rackLoss) probes() bool            { return true }

// sackLoss is RFC 6675 §4's IsLost, and its §5 rule that the DupThresh-th
// duplicate ACK marks the first segment lost even when too little was
// SACKed above it.
type sackLoss struct{}

func (sackLoss) onAck(t *TCB, _ time.Time) bool {
	lost := t.sackDetectLoss()
	if !lost && t.dupAcks >= dupThresh && t.recState == recOpen && t.tx.n > 0 {
		t.tx.markLost(0)
		lost = true
	}
	return lost
}

func (sackLoss) deliveries(*TCB) *rack { return nil }
func (sackLoss) probes() bool          { return false }

// renoLoss is the third duplicate ACK (RFC 5681 §3.2 step 2).
type renoLoss struct{}

func (renoLoss) onAck(t *TCB, _ time.Time) bool {
	if t.dupAcks == dupThresh && t.recState == recOpen && t.tx.n > 0 {
		t.tx.markLost(0)
		return true
	}
	return false
}

func (renoLoss) deliveries(*TCB) *rack { return nil }
func (renoLoss) probes() bool          { return false }

// lossState is what only a loss recovery needs: PRR (prr.go), F-RTO
// (frto.go), NewReno's window inflation, and an open tail loss probe
// episode (tlp.go). A connection that is not
// recovering keeps none (issue 9: an idle connection's memory): it is
// taken when a recovery starts (enterRecovery, goBack) and given back
// once no recovery runs and nothing is in flight (releaseLoss). While it
// is nil, PRR is inactive, F-RTO is not running and there is no
// inflation, as their zero values say.
type lossState struct {
	prr     prrState
	frto    frtoState
	inflate int // window inflation of NewReno recovery without SACK
	probeEpisode
}

var lossStatePool = freeList[lossState]{max: 1024}

// takeLoss gives the TCB its lossState, zeroed, if it has none.
func (t *TCB) takeLoss() {
	if t.lossState != nil {
		return
	}
	ls := lossStatePool.get()
	if ls == nil {
		ls = new(lossState)
	} else {
		*ls = lossState{}
	}
	t.lossState = ls
}

// releaseLoss gives the lossState back when no recovery runs, F-RTO is
// done, no probe episode is open and the scoreboard is empty.
func (t *TCB) releaseLoss() {
	ls := t.lossState
	if ls == nil || t.recState != recOpen || ls.frto.step != 0 || t.tlpOut || t.tx.n != 0 {
		return
	}
	t.lossState = nil
	lossStatePool.put(ls)
}
