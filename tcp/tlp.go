package tcp

import (
	"time"

	"github.com/synack/synack/wire"
)

// Tail loss probes (RFC 8985 §7): when the ACKs stop coming with data in
// flight, a probe (new data, or the last segment again) after about two
// round trips draws an ACK whose SACK lets RACK find a lost tail without
// waiting for the retransmission timeout.

// tlpState is the tail loss probe state of the sender. What an open
// probe episode needs besides (probeEpisode) is in the lossState, taken
// when the probe goes; the count of repairs is with the undo state.
type tlpState struct {
	tlpOut     bool // a tail loss probe episode is open (TLP.end_seq is set)
	tlpNew     bool // the probe may send one new segment past cwnd
	tlpSampled bool // an RTT sample came since the last probe
	tlpRetrans bool // TLP.is_retrans: the probe resent tlpProbe
	ptoAt      instant
}

// probeEpisode is an open probe episode (tlpOut), part of lossState.
type probeEpisode struct {
	tlpEnd    uint32   // TLP.end_seq
	tlpProbe  seqRange // what a retransmitted probe resent
	tlpFlight int32    // the flight size when the probe went out
}

// ptoAllowed reports whether a tail loss probe may be armed (RFC 8985
// §7.2): with data in flight, no probe outstanding, an RTT sample taken
// since the last probe (§7.3: else probes answered only by D-SACKs could
// go on forever, pushing the RTO back each time), and no recovery.
func (t *TCB) ptoAllowed() bool {
	return t.loss().probes() && !t.tlpOut && t.tlpSampled && t.recState == recOpen &&
		t.sndUna != t.sndNxt && t.synAcked() && !t.persistProbing
}

// armPTO arms the tail loss probe (RFC 8985 §7.2) when ptoAllowed, as
// Linux's tcp_schedule_loss_probe does: after 2·SRTT, plus the worst-case
// delayed ACK (WCDelAckT) when less than two full segments are in flight
// (their receiver may hold the ACK that long), else plus the probe slack
// (Config.ProbeSlack: Linux's TCP_TIMEOUT_MIN, 2 ms by default). When
// that would fall at or after the RTO expiry, the probe goes at the RTO
// expiry instead, in its place (§7.2: "If Now() + PTO >
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
			// flight (Linux: packets_out == 1); a receiver that
			// acknowledges every second full-sized segment (RFC 9293
			// §3.8.6.3, synack) also holds the ACK of a full segment
			// and a small one.
			pto += wcDelAckT
		} else {
			// Two full segments draw an ACK at once: no delayed ACK
			// to wait for, only the receiver's and the timer's slack.
			pto += t.cfg.ProbeSlack
		}
	}
	at := instantOf(now).Add(pto)
	if !t.rtoAt.IsZero() && at.After(t.rtoAt) {
		at = t.rtoAt
	}
	t.ptoAt = at
}

// Probe slacks (Config.ProbeSlack).
const (
	// DefaultProbeSlack is Linux's TCP_TIMEOUT_MIN at HZ=1000, the
	// clock Linux's own packetdrill scripts are timed with.
	DefaultProbeSlack = 2 * time.Millisecond
	// RealTimeProbeSlack is the probe slack of the connections a stack
	// runs in real time, in a Go process. A busy machine can keep a
	// runnable goroutine off a CPU for tens of milliseconds (the Go
	// scheduler's 10 ms quantum times the goroutines ahead of it, and the
	// kernel's scheduling period over the other processes), so the
	// receiver's event loop (in this process over an in-memory link, or
	// the goroutine reading the ACKs from a TUN) may answer that late, and
	// a probe sent before is spurious. Measured with bench (--only
	// bulk1500,bulk65535 --bulk 1GiB --rounds 3 --stacks synack, 2 cores,
	// load 4 to 11): 2 ms sent 0 to 21 spurious probes per 1 GiB, 10 ms
	// 0 to 5, 40 ms (the minimum delayed-ACK time, the floor the probe
	// timeout had before) none.
	RealTimeProbeSlack = 40 * time.Millisecond
)

// wcDelAckT is WCDelAckT of RFC 8985 §7.2, the worst-case delayed ACK
// (Linux adds TCP_RTO_MIN, the same 200 ms, for one packet in flight).
const wcDelAckT = 200 * time.Millisecond

// ptoLate reports whether the probe timer, due at now, fires more than
// the clock granularity (RFC 6298's G, 1 ms) after its time: its owner
// did not run the connection when Deadline asked, so the ACKs that would
// have cancelled the probe had no chance to come in either (an owner runs
// input and timers on one loop; a whole process may be descheduled). The
// probe's premise, no ACK for a PTO, is then unproven, and the timer is
// armed again from now instead: over an in-memory link or a TUN, the
// peer's ACK is usually queued behind the stall. A probe in the RTO's
// place, or one whose RTO is due as well, is not put off: it goes, in the
// RTO's place, rather than let the RTO (cwnd down to one segment) fire
// instead; armPTO never arms past the RTO expiry either. So stalls delay
// the repair of a lost tail by a PTO each at most, and never past the
// RTO. An owner that obeys Deadline (test clocks, the simulator, the
// packetdrill runner) never sees this.
func (t *TCB) ptoLate(now time.Time) bool {
	return now.Sub(t.ptoAt.Time()) > clockGranularity && t.ptoAt != t.rtoAt && !due(t.rtoAt, now)
}

// onPTO sends the tail loss probe (RFC 8985 §7.3): new data if the
// windows allow, else the last segment again.
func (t *TCB) onPTO(now time.Time) {
	t.ptoAt = 0
	if t.sndUna == t.sndNxt || t.recState != recOpen {
		return
	}
	t.takeLoss()
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
	t.rtoAt = instantOf(now).Add(t.rto)
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
