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
		if t.eifelOn && seqGT(ack, t.eifelSeq) {
			// RFC 3522: the ACK of the first retransmission echoes a
			// TSval older than it: the original arrived; it was spurious.
			t.eifelOn = false
			if t.rack.hasTSecr && seg.Options.TSEcr != 0 && seqLT(seg.Options.TSEcr, t.eifelTS) {
				t.spurious(t.eifelSeq, t.eifelSeq+1)
			}
		}
		t.ackAdvance(seg, now)
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
	if t.frto.step != 0 {
		t.frtoAck(ack, advanced, dup, newlySACKed, now)
	}

	// Loss detection.
	lost := false
	switch {
	case t.useRACK && t.sackOK:
		var timeout time.Duration
		lost, timeout = t.rackDetectLoss(now)
		t.rackAt = time.Time{}
		if timeout > 0 {
			t.rackAt = now.Add(timeout)
		}
	case t.sackOK:
		lost = t.sackDetectLoss()
		if !lost && t.dupAcks >= dupThresh && t.recState == recOpen && t.tx.n > 0 {
			t.tx.markLost(0)
			lost = true
		}
	default:
		if t.dupAcks == dupThresh && t.recState == recOpen && t.tx.n > 0 {
			// RFC 5681 §3.2 step 2: the third duplicate ACK.
			t.tx.markLost(0)
			lost = true
		}
	}
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
		t.prrAck(acked+int(t.tx.sackedBytes)-int(sackedBefore), advanced && !lost)
	}
	// The window grows by what the cumulative ACK covers (RFC 5681 §3.1);
	// SACKed data counts when the ACK reaches it.
	if growing && acked > 0 {
		t.cc.OnAck(cc.Ack{Acked: acked, RTT: t.lastRTT, RoundStart: roundStart,
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
}

// tlpAck is RFC 8985 §7.4.2 for an ACK during a tail loss probe episode
// (from the probe until TLP.end_seq, SND.NXT when it went out, is
// resolved). A probe of new data ends when it is acknowledged: any loss
// it revealed is RACK's. A retransmitted probe may have repaired a loss
// that no recovery responded to; the episode ends
//
//   - with a D-SACK for the probe: the original arrived, nothing was lost;
//   - with a pure duplicate ACK of TLP.end_seq that SACKs nothing new:
//     the probe arrived as a duplicate at a receiver without D-SACK;
//   - with an ACK beyond TLP.end_seq and neither of those before it: the
//     original, or its ACK, was lost and the probe repaired it — "for
//     congestion control purposes" a loss, answered like any other.
//
// An ACK of exactly TLP.end_seq waits: the D-SACK, if the probe was a
// duplicate, comes on the ACK after it.
func (t *TCB) tlpAck(seg *Segment, advanced bool, newlySACKed uint32, now time.Time) {
	ack := seg.Ack
	switch {
	case !t.tlpRetrans:
		if seqGE(ack, t.tlpEnd) {
			t.tlpOut = false
		}
	case t.ackDSACK.start != t.ackDSACK.end &&
		seqLT(t.ackDSACK.start, t.tlpProbe.end) && seqLT(t.tlpProbe.start, t.ackDSACK.end):
		t.tlpOut = false
	case seqGT(ack, t.tlpEnd):
		t.tlpOut = false
		t.tlpLossResponse(now)
	case ack == t.tlpEnd && !advanced && newlySACKed == 0 && len(seg.Payload) == 0 &&
		seg.Flags&(wire.FlagSYN|wire.FlagFIN) == 0 && uint32(seg.Window)<<t.sndWScale == t.sndWnd:
		t.tlpOut = false
	}
}

// tlpLossResponse is the congestion response to a loss that a tail loss
// probe repaired (RFC 8985 §7.4.2): the one fast recovery would have
// made, reducing from the flight the probe was sent into, and ended at
// once, since the loss is already repaired. It starts a new undo episode
// with no retransmissions, so that no D-SACK of an earlier episode undoes
// this reduction.
func (t *TCB) tlpLossResponse(now time.Time) {
	t.cc.OnCongestionEvent(t.tlpFlight, now)
	t.cc.OnRecoveryEnd(now)
	t.startEpisode()
	t.tlpResponses++
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
	var rk *rack
	if t.useRACK {
		rk = &t.rack
	}
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

// ptoAllowed reports whether a tail loss probe may be armed (RFC 8985
// §7.2): with data in flight, no probe outstanding, an RTT sample taken
// since the last probe (§7.3: else probes answered only by D-SACKs could
// go on forever, pushing the RTO back each time), and no recovery.
func (t *TCB) ptoAllowed() bool {
	return t.useRACK && t.sackOK && !t.tlpOut && t.tlpSampled && t.recState == recOpen &&
		t.sndUna != t.sndNxt && t.synAcked() && !t.persistProbing
}

// armPTO arms the tail loss probe (RFC 8985 §7.2) when ptoAllowed: after
// 2·SRTT, plus the worst-case delayed ACK when less than two full
// segments are in flight (their receiver may hold the ACK that long), and
// never less than minPTO. When that would fall at or after the RTO expiry, the probe
// goes at the RTO expiry instead, in its place (§7.2: "If Now() + PTO >
// TCP_RTO_expire(), PTO = TCP_RTO_expire() - Now()"; Linux likewise).
func (t *TCB) armPTO(now time.Time) {
	t.ptoAt = time.Time{}
	if !t.ptoAllowed() {
		return
	}
	pto := time.Second
	if t.hasRTT {
		pto = 2 * t.srtt
		if int(t.sndNxt-t.sndUna) < 2*t.sndMSS {
			// RFC 8985 §7.2 adds WCDelAckT when one segment is in
			// flight; a receiver that acknowledges every second
			// full-sized segment (RFC 9293 §3.8.6.3, synack) also
			// holds the ACK of a full segment and a small one.
			pto += wcDelAckT
		}
		pto = max(pto, minPTO)
	}
	at := now.Add(pto)
	if !t.rtoAt.IsZero() && at.After(t.rtoAt) {
		at = t.rtoAt
	}
	t.ptoAt = at
}

// wcDelAckT is WCDelAckT of RFC 8985 §7.2, the worst-case delayed ACK
// (Linux adds TCP_RTO_MIN, the same 200 ms, for one packet in flight).
const wcDelAckT = 200 * time.Millisecond

// minPTO is the probe timeout's floor. On short paths 2·SRTT is
// microseconds, far below the time a receiver may take to answer: its
// delayed-ACK timer (40 ms on Linux and synack) when an odd segment ends
// a flight, or a scheduler's delay. A probe sent before that is spurious:
// the peer answers it with a D-SACK (over a TUN, Linux does), and a probe
// taken for a repair even cuts the window. Linux adds TCP_TIMEOUT_MIN
// (2 jiffies: 2 to 8 ms) to 2·SRTT; the TLP draft it comes from floored
// the PTO at 10 ms. synack floors it at the minimum delayed-ACK time,
// 40 ms (measured: 256 MiB over the lossless in-memory link in real time
// on a loaded 2-core machine, `synack transfer --bytes 128MiB --delay 0
// --realtime`, sent 1 to 6 spurious probes per run with a 10 ms floor,
// 2 to 3 with 20 ms, 0 to 2 with 40 ms; on longer paths 2·SRTT is above
// it and the floor changes nothing).
const minPTO = 40 * time.Millisecond

// onPTO sends the tail loss probe (RFC 8985 §7.3): new data if the
// windows allow, else the last segment again.
func (t *TCB) onPTO(now time.Time) {
	t.ptoAt = time.Time{}
	if t.sndUna == t.sndNxt || t.recState != recOpen {
		return
	}
	t.tlpOut, t.tlpSampled = true, false
	t.tlpFlight = t.flightSize()
	t.tlpRetrans = false
	before := t.sndNxt
	if t.unsent() > 0 {
		t.tlpNew = true
		t.sendData(now)
		t.tlpNew = false
	}
	if t.sndNxt == before && t.tx.n > 0 {
		s := t.tx.at(t.tx.n - 1)
		t.tlpRetrans, t.tlpProbe = true, seqRange{s.start, s.end}
		t.retransmitSeg(t.tx.n-1, now)
	}
	t.tlpEnd = t.sndNxt
	t.rtoAt = now.Add(t.rto)
}

// onRackTimer is the reordering timer (RFC 8985 §6.3): segments whose
// reordering window has passed are lost.
func (t *TCB) onRackTimer(now time.Time) {
	t.rackAt = time.Time{}
	lost, timeout := t.rackDetectLoss(now)
	if timeout > 0 {
		t.rackAt = now.Add(timeout)
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
	t.retransmitting = true
	t.queue(flags, s.start, n, now)
	t.retransmitting = false
	t.tx.resent(i, now, t.tsNow(now))
	t.rttTiming = false // Karn's rule
	t.retransmitted(s.start, s.end, s.tsval)
	t.paceSent(n, now)
	if t.rtoAt.IsZero() {
		t.rtoAt = now.Add(t.rto)
	}
}
