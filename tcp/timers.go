package tcp

import (
	"time"

	"github.com/synack/synack/wire"
)

// clockGranularity is G of RFC 6298 §2.
const clockGranularity = time.Millisecond

// Deadline is when HandleTimer should next be called; zero when no timer runs.
func (t *TCB) Deadline() time.Time { return t.deadline().Time() }

// deadline is Deadline as an instant (what TakeEvents compares).
func (t *TCB) deadline() instant {
	// Instants are positive, so one less than each, unsigned, orders
	// them with 0 (not armed) last: a min of them all, without branches.
	m := min(uint64(t.rtoAt)-1, uint64(t.persistAt)-1, uint64(t.delAckAt)-1,
		uint64(t.kaAt)-1, uint64(t.timeWaitAt)-1, uint64(t.finWait2At)-1,
		uint64(t.rackAt)-1, uint64(t.ptoAt)-1, uint64(t.probeDeadline())-1)
	if t.cfg.Pacing && !t.paceAt.IsZero() && t.paceWaiting() {
		m = min(m, uint64(t.paceAt)-1)
	}
	return instant(m + 1)
}

// paceWaiting reports whether something is held back by pacing (so its
// deadline matters): lost segments or unsent data.
func (t *TCB) paceWaiting() bool {
	return t.tx.lostBytes > 0 || (t.unsent() > 0 && t.synAcked())
}

// due reports whether the timer armed for at has expired at now.
func due(at instant, now time.Time) bool { return !at.IsZero() && !at.After(instantOf(now)) }

// handleTimer runs every timer that is due at now: HandleTimer
// (events.go) without taking the events.
func (t *TCB) handleTimer(now time.Time) {
	if due(t.timeWaitAt, now) {
		// RFC 9293 §3.10.8: "If the time-wait timeout expires on a
		// connection, delete the TCB, enter the CLOSED state".
		t.timeWaitAt = 0
		t.enterClosed(nil, now)
		return
	}
	if due(t.finWait2At, now) {
		// After a full Close nobody reads: give up on the peer's FIN.
		t.finWait2At = 0
		t.enterClosed(nil, now)
		return
	}
	if due(t.ptoAt, now) {
		// Before the RTO: a probe armed at the RTO expiry goes in its
		// place (RFC 8985 §7.2) and re-arms the RTO. A probe timer
		// that fires late is armed again (tlp.go, ptoLate).
		if t.ptoLate(now) {
			t.armPTO(now)
		} else {
			t.onPTO(now)
		}
	}
	if due(t.rtoAt, now) {
		t.onRTO(now)
	}
	if due(t.rackAt, now) {
		t.onRackTimer(now)
	}
	if due(t.persistAt, now) {
		t.onPersist(now)
	}
	if due(t.kaAt, now) {
		t.onKeepAlive(now)
	}
	if due(t.paceAt, now) {
		t.paceAt = 0 // output sends what pacing held back
	}
	t.onProbe(now) // sockopt.go
	if due(t.delAckAt, now) {
		t.delAckAt = 0
		t.ackNow = true
		t.pingpong = false // the reply did not come in time: not interactive
	}
	if t.state != StateClosed && t.state != StateListen {
		t.output(now)
	}
}

// rttSample folds a round-trip measurement into SRTT and RTTVAR
// (RFC 6298 §2.2, §2.3) and recomputes the RTO.
func (t *TCB) rttSample(r time.Duration) {
	if r < 0 {
		r = 0
	}
	if !t.hasRTT {
		t.hasRTT = true
		t.srtt = r
		t.rttvar = r / 2
	} else {
		delta := t.srtt - r
		if delta < 0 {
			delta = -delta
		}
		// RTTVAR <- (1 - beta) * RTTVAR + beta * |SRTT - R'|, beta = 1/4
		t.rttvar = (3*t.rttvar + delta) / 4
		// SRTT <- (1 - alpha) * SRTT + alpha * R', alpha = 1/8
		t.srtt = (7*t.srtt + r) / 8
	}
	// RTO <- SRTT + max (G, K*RTTVAR), K = 4
	t.rto = t.clampRTO(t.srtt + max(clockGranularity, 4*t.rttvar))
	t.lastRTT = r
	t.tlpSampled = true
}

// clampRTO applies MinRTO (RFC 6298 §2.4) and MaxRTO (§2.5).
func (t *TCB) clampRTO(d time.Duration) time.Duration {
	return min(max(d, t.cfg.MinRTO), t.cfg.MaxRTO)
}

// onRTO is the retransmission timeout (RFC 6298 §5.4–5.6).
func (t *TCB) onRTO(now time.Time) {
	t.rtoAt = 0
	if t.sndUna == t.sndNxt {
		return
	}
	limit := t.cfg.MaxRetries
	if !t.synAcked() {
		limit = t.cfg.SynRetries
		if t.passive {
			limit = t.cfg.SynAckRetries
		}
	}
	expire, resend := int(t.retransmits) >= limit, true
	if t.synAcked() && t.UserTimeout() > 0 {
		// TCP_USER_TIMEOUT replaces the retry count (sockopt.go).
		expire = false
	}
	if t.userTimedOut(now) {
		expire = true
	}
	if e, r, ok := t.deferSynAck(limit); ok && !t.synAcked() {
		expire, resend = e, r // TCP_DEFER_ACCEPT (sockopt.go)
	}
	if expire {
		if t.passive && !t.synAcked() {
			// A half-open connection nobody accepted yet: drop it silently.
			t.enterClosed(nil, now)
			return
		}
		// RFC 9293 §3.8.3 R2: give up on the connection.
		t.enterClosed(errTimedOut, now)
		return
	}
	t.retransmits++
	t.rttTiming = false // Karn's rule: no sample from a retransmission
	t.ptoAt, t.rackAt, t.tlpOut = 0, 0, false
	switch {
	case !t.synAcked() && !resend:
		// TCP_DEFER_ACCEPT: the peer did ACK; wait for its data.
	case !t.synAcked():
		t.retransmitFirst(now)
	default:
		t.goBack(now)
	}
	t.rto = t.clampRTO(2 * t.rto)       // §5.5: back off the timer
	t.rtoAt = instantOf(now).Add(t.rto) // §5.6
	t.clampToUserTimeout()
}

// goBack is the data sender's response to a timeout: the congestion
// window collapses to one segment (RFC 5681 §3.1; ssthresh is reduced on
// the first timeout of a loss only), every unSACKed segment in flight is
// presumed lost (RFC 6675 §5.1), and retransmission starts at SND.UNA and
// continues as the window opens, before any new data. With F-RTO
// (frto.go) only the first segment is resent until the ACKs tell whether
// the timeout was spurious.
func (t *TCB) goBack(now time.Time) {
	open := t.recState == recOpen
	if t.retransmits == 1 {
		t.cc.OnRTO(t.flightSize(), now)
		if t.recState != recFast {
			t.startEpisode()
		}
		// A timeout during fast recovery continues its episode: it can
		// be undone only if every retransmission of the recovery, not
		// just the timeout's, proves spurious.
	}
	t.takeLoss()
	t.recState = recRTO
	t.recoverPt = t.sndNxt
	t.inflate, t.dupAcks = 0, 0
	if !t.frtoStart(open) {
		for i := range t.tx.n {
			t.tx.markLost(i)
		}
	}
	if t.tx.n == 0 {
		t.retransmitFirst(now) // nothing recorded: resend from SND.UNA
		return
	}
	t.forceRtx = true
	t.sendData(now)
}

// checkPersist arms the persist timer when data waits for a zero window
// and nothing is in flight to elicit a window update (RFC 9293 §3.8.6.1).
func (t *TCB) checkPersist(now time.Time) {
	if t.persistProbing {
		return
	}
	if t.sndWnd == 0 && t.unsent() > 0 && t.sndNxt == t.sndUna && t.synAcked() {
		if t.persistAt.IsZero() {
			t.persistAt = instantOf(now).Add(t.persistInterval())
		}
		return
	}
	t.persistAt = 0
}

// persistInterval is the RTO backed off once per unanswered probe.
func (t *TCB) persistInterval() time.Duration {
	d := t.rto
	for i := 0; i < int(t.persistBackoff) && d < t.cfg.MaxRTO; i++ {
		d *= 2
	}
	return t.clampRTO(d)
}

// onPersist sends a zero-window probe: one byte of new data past the
// window (RFC 1122 §4.2.2.17), or that byte again while unanswered.
func (t *TCB) onPersist(now time.Time) {
	t.persistAt = 0
	if t.sndWnd != 0 {
		return
	}
	if t.persistTimedOut(now) || int(t.persistProbes) >= t.cfg.MaxRetries && t.UserTimeout() == 0 {
		t.enterClosed(errTimedOut, now)
		return
	}
	switch {
	case t.persistProbing && seqLT(t.sndUna, t.sndNxt):
		t.queue(t.dataFlags(t.sndUna, 1), t.sndUna, 1, now)
	case t.unsent() > 0:
		t.queue(t.dataFlags(t.sndNxt, 1), t.sndNxt, 1, now)
		t.sndNxt++
		t.persistProbing = true
	default:
		return
	}
	t.persistProbes++
	t.persistBackoff++
	t.persistAt = instantOf(now).Add(t.persistInterval())
	t.clampToUserTimeout() // TCP_USER_TIMEOUT (sockopt.go)
}

// dataFlags are the flags of a data segment of n bytes at seq: ACK, and
// PSH when it ends the queued data.
func (t *TCB) dataFlags(seq uint32, n int) (f wire.Flags) {
	f = wire.FlagACK
	if seq+uint32(n) == t.sndBufSeq+uint32(t.sndBuf.Len()) {
		f |= wire.FlagPSH
	}
	return f
}

// keepAliveState reports whether keepalive runs in the current state.
func (t *TCB) keepAliveState() bool {
	switch t.state {
	case StateEstablished, StateFinWait1, StateFinWait2, StateCloseWait:
		return true
	}
	return false
}

// onKeepAlive is RFC 1122 §4.2.3.6: after Idle without a segment from the
// peer send <SEQ=SND.NXT-1><ACK=RCV.NXT> with no data, then every
// Interval; after Count unanswered probes reset the connection.
func (t *TCB) onKeepAlive(now time.Time) {
	t.kaAt = 0
	ka := &t.cfg.KeepAlive
	if !ka.Enable || !t.keepAliveState() {
		return
	}
	if t.sndUna != t.sndNxt || t.unsent() > 0 {
		// Data in flight: the retransmission timer watches the peer.
		t.kaAt = instantOf(now).Add(ka.Interval)
		return
	}
	if t.keepAliveExpired() { // TCP_USER_TIMEOUT bounds it (sockopt.go)
		t.sendAbortRST(now)
		t.enterClosed(errTimedOut, now)
		return
	}
	t.queue(wire.FlagACK, t.sndNxt-1, 0, now)
	t.kaProbes++
	t.kaAt = instantOf(now).Add(ka.Interval)
}

// persistState is the zero-window probing of the sender (RFC 9293
// §3.8.6.1, RFC 1122 §4.2.2.17).
type persistState struct {
	persistProbing bool // a zero-window probe byte is outstanding
	persistBackoff uint16
	persistProbes  uint16 // probes unanswered since the last ACK
	persistAt      instant
}

// keepalive is the keepalive timer and its probes (RFC 1122 §4.2.3.6).
type keepalive struct {
	kaProbes int
	kaAt     instant
}
