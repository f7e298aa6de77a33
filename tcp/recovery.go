package tcp

import (
	"time"

	"github.com/synack/synack/tcp/cc"
	"github.com/synack/synack/wire"
)

// seqRange is [start, end) in sequence space.
type seqRange struct{ start, end uint32 }

// processAck handles the acknowledgment of an acceptable segment
// (RFC 9293 §3.10.7.4, fifth, "ESTABLISHED STATE"): SACK information,
// cumulative acknowledgment, loss detection and recovery, congestion
// window growth.
func (t *TCB) processAck(seg *Segment, now time.Time) {
	ack := seg.Ack
	t.rack.tsecr, t.rack.hasTSecr = seg.Options.TSEcr, t.tsOK && seg.Options.HasTimestamps
	t.lastRTT = 0
	flight := int(t.sndNxt - t.sndUna)
	cwndBefore := t.cwnd()
	t.ackDSACK = seqRange{}
	sackedBefore := t.tx.sackedBytes
	newlySACKed := uint32(0)
	if t.sackOK && seg.Options.NumSACK > 0 {
		newlySACKed = t.processSACK(seg, now)
	}
	advanced := seqGT(ack, t.sndUna)
	acked := 0
	roundStart, dup := false, false
	switch {
	case advanced:
		acked = int(ack - t.sndUna)
		if t.undoState != nil && t.eifelOn && seqGT(ack, t.eifelSeq) {
			// RFC 3522: the ACK of the first retransmission echoes a
			// TSval older than it: the original arrived; it was spurious.
			t.eifelOn = false
			if t.rack.hasTSecr && seg.Options.TSEcr != 0 && seqLT(seg.Options.TSEcr, t.eifelTS) {
				t.spurious(t.eifelSeq, t.eifelSeq+1)
			}
		}
		t.ackAdvanceSample(seg, newlySACKed == 0, now)
		t.dupAcks = 0
		if seqGE(ack, t.roundEnd) {
			roundStart = true
			t.roundEnd = t.sndNxt
			t.rack.newRound()
		}
	case t.isDupAck(seg):
		t.dupAcks++
		dup = true
	}
	// Limited Transmit (RFC 3042, RFC 5681 §3.2): without SACK, the first
	// and second duplicate ACKs each let one new segment go beyond cwnd
	// (cwnd itself unchanged), so that a small window still brings the
	// third duplicate ACK that fast retransmit needs.
	t.limitedTx = 0
	if dup && !t.sackOK && t.recState == recOpen && t.dupAcks < dupThresh {
		t.limitedTx = uint8(t.dupAcks)
	}
	if t.lossState != nil && t.frto.step != 0 {
		t.frtoAck(ack, advanced, dup, newlySACKed, now)
	}

	// Loss detection (loss.go).
	lost := t.loss().onAck(t, now)
	if lost && t.recState == recOpen {
		t.enterRecovery(newlySACKed, now)
	} else if t.ecnOK && seg.Flags&wire.FlagECE != 0 {
		t.ecnEcho(now)
	}
	growing := t.recState != recFast // no growth in fast recovery, nor on the ACK that ends it

	switch {
	case t.recState != recOpen && advanced && seqGE(ack, t.recoverPt):
		t.exitRecovery(now)
	case t.recState == recFast && !t.sackOK && advanced:
		// RFC 6582 §3.2 step 5, a partial ACK: retransmit the first
		// unacknowledged segment, deflate the window by the amount
		// acknowledged and add back one SMSS if that was at least one.
		t.inflate -= acked
		if acked >= t.sndMSS {
			t.inflate += t.sndMSS
		}
		if t.tx.n > 0 {
			t.tx.markLost(0)
			t.forceRtx = true
		}
	case t.recState == recFast && !t.sackOK && t.dupAcks > dupThresh:
		// Step 4: each further duplicate ACK inflates the window.
		t.inflate += t.sndMSS
	}
	if t.prrActive() {
		// DeliveredData: the advance of SND.UNA plus the change in
		// SACKed bytes (RFC 6937 §3).
		t.prrAck(t.delivered(acked, sackedBefore), advanced && !lost)
	}
	// The window grows on an ACK that advances SND.UNA (RFC 5681 §3.1,
	// Linux's tcp_may_raise_cwnd), by the data newly delivered as Linux
	// counts it: SACKed data when first SACKed, not again when the
	// cumulative ACK covers it (congestion.go).
	if growing && acked > 0 {
		t.cc.OnAck(cc.Ack{Acked: t.delivered(acked, sackedBefore), RTT: t.lastRTT, RoundStart: roundStart,
			CwndLimited: 2*flight >= cwndBefore, Now: now})
	}
	if t.tlpOut {
		t.tlpAck(seg, advanced, newlySACKed, now)
	}
	// RFC 8985 §7.2: the probe timer is re-armed when an ACK advances
	// SND.UNA (and when new data goes out), not on every ACK: a run of
	// SACK-only or duplicate ACKs must not keep pushing the probe back
	// until the RTO (cwnd → 1) fires instead.
	if advanced || !t.ptoAllowed() {
		t.armPTO(now)
	}
	t.releaseLoss()
}

// isDupAck is the duplicate ACK of RFC 5681 §2: it acknowledges SND.UNA
// with data outstanding, carries no data, SYN or FIN, and does not change
// the window.
func (t *TCB) isDupAck(seg *Segment) bool {
	return seg.Ack == t.sndUna && t.sndNxt != t.sndUna && len(seg.Payload) == 0 &&
		seg.Flags&(wire.FlagSYN|wire.FlagFIN) == 0 &&
		uint32(seg.Window)<<t.sndWScale == t.sndWnd
}

// processSACK applies the SACK blocks of seg to the scoreboard
// (RFC 2018, RFC 6675 §5 "update the scoreboard") and notes D-SACKs
// (RFC 2883 §4). It returns the bytes newly SACKed.
func (t *TCB) processSACK(seg *Segment, now time.Time) (newly uint32) {
	o := &seg.Options
	n := min(max(o.NumSACK, 0), wire.MaxSACKBlocks)
	rk := t.loss().deliveries(t)
	for i := range n {
		b := o.SACK[i]
		if !seqLT(b.Start, b.End) {
			continue
		}
		if i == 0 && (seqLE(b.End, seg.Ack) ||
			(n > 1 && seqGE(b.Start, o.SACK[1].Start) && seqLE(b.End, o.SACK[1].End))) {
			// "the first SACK block ... reports a duplicate": below the
			// cumulative ACK, or inside the second block.
			t.rack.onDSACK(t.sndUna, t.sndNxt)
			t.ackDSACK = seqRange{b.Start, b.End}
			t.spurious(b.Start, b.End)
			continue
		}
		// Blocks outside (SND.UNA, SND.NXT] are bogus.
		if seqLE(b.End, t.sndUna) || seqGT(b.End, t.sndNxt) {
			continue
		}
		newly += t.tx.sack(b.Start, b.End, rk, now)
	}
	return newly
}

// sackDetectLoss is IsLost of RFC 6675 §4: a segment is lost when
// DupThresh segments, or more than (DupThresh−1)·SMSS bytes, above it
// were SACKed.
func (t *TCB) sackDetectLoss() bool {
	if t.tx.sackedBytes == 0 {
		return false
	}
	lost := false
	segs, bytes := 0, uint32(0)
	for i := t.tx.n - 1; i >= 0; i-- {
		s := t.tx.at(i)
		if s.flags&txSACKed != 0 {
			segs++
			bytes += s.len()
			continue
		}
		if s.flags&txLost == 0 && s.flags&txRetrans == 0 &&
			(segs >= dupThresh || bytes > uint32((dupThresh-1)*t.sndMSS)) {
			t.tx.markLost(i)
			lost = true
		}
	}
	return lost
}

// onRackTimer is the reordering timer (RFC 8985 §6.3): segments whose
// reordering window has passed are lost.
func (t *TCB) onRackTimer(now time.Time) {
	t.rackAt = 0
	lost, timeout := t.rackDetectLoss(now)
	if timeout > 0 {
		t.rackAt = instantOf(now).Add(timeout)
	}
	if lost && t.recState == recOpen {
		t.enterRecovery(0, now)
	}
}

// retransmitSeg sends s again: the same sequence range, with the FIN if
// it carried one.
func (t *TCB) retransmitSeg(i int, now time.Time) {
	s := t.tx.at(i)
	end := s.end
	fin := t.finSent && end == t.sndFinSeq+1
	if fin {
		end--
	}
	n := int(end - s.start)
	flags := wire.FlagACK
	if n > 0 {
		flags = t.dataFlags(s.start, n)
	}
	if fin {
		flags |= wire.FlagFIN
	}
	t.prrSent(int(s.len()))
	t.sndMemResent(s.start, end) // Linux's send-buffer memory (sndmem.go)
	t.retransmitting = true
	t.queue(flags, s.start, n, now)
	t.retransmitting = false
	t.tx.resent(i, now, t.tsNow(now))
	t.rttTiming = false // Karn's rule
	t.retransmitted(s.start, s.end, s.tsval)
	t.paceSent(n, now)
	if t.rtoAt.IsZero() {
		t.rtoAt = instantOf(now).Add(t.rto)
	}
}
