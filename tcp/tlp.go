package tcp

import (
	"time"

	"github.com/synack/synack/wire"
)

// Tail loss probes (RFC 8985 §7): when the ACKs stop coming with data in
// flight, a probe (new data, or the last segment again) after about two
// round trips draws an ACK whose SACK lets RACK find a lost tail without
// waiting for the retransmission timeout.

// tlpState is the tail loss probe state of the sender.
type tlpState struct {
	tlpOut       bool     // a tail loss probe episode is open (TLP.end_seq is set)
	tlpNew       bool     // the probe may send one new segment past cwnd
	tlpSampled   bool     // an RTT sample came since the last probe
	tlpRetrans   bool     // TLP.is_retrans: the probe resent tlpProbe
	tlpEnd       uint32   // TLP.end_seq
	tlpProbe     seqRange // what a retransmitted probe resent
	tlpFlight    int32    // the flight size when the probe went out
	tlpResponses int32    // congestion responses to losses probes repaired
	ptoAt        instant
}

// ptoAllowed reports whether a tail loss probe may be armed (RFC 8985
// §7.2): with data in flight, no probe outstanding, an RTT sample taken
// since the last probe (§7.3: else probes answered only by D-SACKs could
// go on forever, pushing the RTO back each time), and no recovery.
func (t *TCB) ptoAllowed() bool {
	return t.loss().probes() && !t.tlpOut && t.tlpSampled && t.recState == recOpen &&
		t.sndUna != t.sndNxt && t.synAcked() && !t.persistProbing
}

// armPTO arms the tail loss probe (RFC 8985 §7.2) when ptoAllowed: after
// 2·SRTT, plus the worst-case delayed ACK when less than two full
// segments are in flight (their receiver may hold the ACK that long), and
// never less than minPTO. When that would fall at or after the RTO expiry, the probe
// goes at the RTO expiry instead, in its place (§7.2: "If Now() + PTO >
// TCP_RTO_expire(), PTO = TCP_RTO_expire() - Now()"; Linux likewise).
func (t *TCB) armPTO(now time.Time) {
	t.ptoAt = 0
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
	at := instantOf(now.Add(pto))
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
	t.ptoAt = 0
	if t.sndUna == t.sndNxt || t.recState != recOpen {
		return
	}
	t.tlpOut, t.tlpSampled = true, false
	t.tlpFlight = int32(t.flightSize())
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
	t.rtoAt = instantOf(now.Add(t.rto))
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
	t.cc.OnCongestionEvent(int(t.tlpFlight), now)
	t.cc.OnRecoveryEnd(now)
	t.startEpisode()
	t.tlpResponses++
}
