package tcp

import "time"

// F-RTO (RFC 5682): finding spurious retransmission timeouts.
//
// A timeout is spurious when the segments it presumed lost were only
// delayed (a delay spike on the path, a stalled receiver). Conventional
// recovery then goes back to SND.UNA and resends a whole window the peer
// already has, in slow start from one segment. F-RTO resends only the
// first segment and, when the ACK that answers it advances the window,
// sends two new segments instead of further retransmissions: if the ACK
// after that acknowledges data sent before the timeout and never
// retransmitted, the originals were delivered, so the timeout was
// spurious and its window reduction is undone. Otherwise recovery goes
// on as it would have without F-RTO.
//
// The engine runs F-RTO only on connections without timestamps: with
// them, Eifel (RFC 3522, congestion.go) proves a timeout spurious on the
// first ACK after it, one ACK sooner, from the echoed timestamp. It runs
// the SACK-enhanced algorithm (RFC 5682 §3) when SACK was negotiated and
// the basic one (§2) otherwise. It does not reset the SACK scoreboard in
// step 1: like the rest of the engine (RFC 6675 §5.1), it keeps what the
// peer SACKed, which only spares retransmissions.

// frtoState is where F-RTO stands after a timeout.
type frtoState struct {
	// step is the step of RFC 5682 §2.1/§3.1 waiting for the next ACK:
	// 2 after the timeout's retransmission, 3 after the new data of step
	// 2b, 0 when F-RTO is not running.
	step int
	// rtx is what step 1 retransmitted.
	rtx seqRange
	// recover is RecoveryPoint ("recover" in §2.1) as step 2 sets it:
	// the highest sequence number sent before the new data of step 2b.
	recover uint32
	// newSegs is how many new segments step 2b may still send
	// whatever the congestion window.
	newSegs int
}

// frtoStart is step 1 (§2.1 and §3.1): on a timeout, with no recovery in
// progress, "retransmit the first unacknowledged segment" — marked lost
// and forced out by sendData, the rest of the flight left alone. It
// reports whether F-RTO runs; if not (a second timeout, "RecoveryPoint is
// larger than or equal to SND.UNA", or a recovery already running),
// conventional recovery goes back to SND.UNA.
func (t *TCB) frtoStart(open bool) bool {
	t.frto = frtoState{}
	if !t.useFRTO || t.tsOK || !open || t.retransmits != 1 || t.tx.n == 0 {
		return false
	}
	s := t.tx.at(0)
	if s.flags&txSACKed != 0 {
		return false
	}
	t.tx.markLost(0)
	t.frto = frtoState{step: 2, rtx: seqRange{s.start, s.end}}
	return true
}

// frtoAck runs steps 2 and 3 for an ACK while F-RTO waits for one. It is
// called after the ACK updated SND.UNA and the scoreboard. advanced says
// SND.UNA moved; dup that the ACK is a duplicate (RFC 5681 §2); newly is
// what it SACKed for the first time.
func (t *TCB) frtoAck(ack uint32, advanced, dup bool, newly uint32, now time.Time) {
	switch t.frto.step {
	case 2:
		t.frtoStep2(ack, advanced, dup)
	case 3:
		t.frto.newSegs = 0
		t.frtoStep3(ack, advanced, dup, newly)
	}
}

// frtoStep2 is step 2: the first ACK after the timeout's retransmission.
func (t *TCB) frtoStep2(ack uint32, advanced, dup bool) {
	if !advanced {
		// §2.1 step 2a: a duplicate ACK reverts to conventional
		// recovery. §3.1 step 2: with SACK "stay in step 2 and wait for
		// the next new acknowledgment" (the scoreboard was updated).
		if dup && !t.sackOK {
			t.frtoFallback(t.sndNxt)
		}
		return
	}
	// "When a new acknowledgment arrives, set variable RecoveryPoint to
	// indicate the highest sequence number transmitted so far."
	t.recoverPt = t.sndNxt
	t.frto.recover = t.sndNxt
	switch {
	case seqGE(ack, t.recoverPt):
		// Step 2a: the ACK covers RecoveryPoint: everything sent is
		// acknowledged, and the recovery ends as conventional recovery
		// would end it (processAck), with the window slow start gave it.
		t.frto = frtoState{}
	case seqLT(ack, t.frto.rtx.end):
		// §2.1 step 2a: "the acknowledgment does not acknowledge all of
		// the data that was retransmitted in step 1".
		t.frtoFallback(t.sndNxt)
	case t.unsent() > 0 && t.sndWnd > t.sndNxt-t.sndUna:
		// Step 2b: "transmit up to two new (previously unsent) segments
		// and proceed to step 3" (sendData, after this ACK).
		t.frto.step, t.frto.newSegs = 3, 2
	default:
		// Step 2b, no new data or no window to send it: "refrain from
		// entering step 3 ... continue with slow-start retransmissions".
		t.frtoFallback(t.sndNxt)
	}
}

// frtoStep3 is step 3: the ACK after the new data of step 2b decides.
func (t *TCB) frtoStep3(ack uint32, advanced, dup bool, newly uint32) {
	if !advanced && !dup {
		return // "Other types of ACKs are ignored without any action."
	}
	spurious := advanced
	if t.sackOK {
		// §3.1 step 3a: "If the Cumulative Acknowledgment field or the
		// SACK information covers more than RecoveryPoint", or the ACK
		// is a duplicate that SACKs nothing new below it: the loss was
		// real. Step 3b: it covers no more than RecoveryPoint and
		// acknowledges data not acknowledged before: data sent before
		// the timeout and never resent arrived, the timeout was spurious.
		above := seqGT(ack, t.frto.recover) || t.frtoSACKedAbove()
		spurious = !above && (advanced || newly > 0)
	}
	// §2.1 step 3a: a duplicate ACK means the loss was real; step 3b: an
	// ACK that advances the window "acknowledges data that was not
	// retransmitted after the timeout".
	if !spurious {
		// Step 3a: conventional recovery, retransmitting what was sent
		// before the timeout and not acknowledged. The window is what
		// slow start from one segment gave it over steps 2 and 3: at most
		// 3·SMSS, one ACK of one segment each ("no more than 3 * MSS").
		t.frtoFallback(t.frto.recover)
		return
	}
	// Step 3b: "declare the timeout spurious": its retransmission is
	// counted spurious and, being the only one of the episode, its
	// window reduction is undone (congestion.go).
	rtx := t.frto.rtx
	t.frto = frtoState{}
	t.spurious(rtx.start, rtx.end)
}

// frtoSACKedAbove reports whether a segment sent after RecoveryPoint (the
// new data of step 2b) is SACKed.
func (t *TCB) frtoSACKedAbove() bool {
	for i := t.tx.search(t.frto.recover); i < t.tx.n; i++ {
		if t.tx.at(i).flags&txSACKed != 0 {
			return true
		}
	}
	return false
}

// frtoFallback leaves F-RTO for conventional RTO recovery: every segment
// sent before upTo and not SACKed is presumed lost and resent as the
// window opens (RFC 6675 §5.1), the same as goBack does without F-RTO.
func (t *TCB) frtoFallback(upTo uint32) {
	t.frto = frtoState{}
	for i := range t.tx.n {
		if seqGT(t.tx.at(i).end, upTo) {
			break
		}
		t.tx.markLost(i)
	}
}

// frtoHolds reports whether F-RTO holds back what sendData would send:
// while it waits in steps 2 and 3, nothing goes but step 1's
// retransmission and step 2b's new segments.
func (t *TCB) frtoHolds() bool {
	return t.lossState != nil && t.frto.step != 0 && !t.forceRtx && t.frto.newSegs == 0
}

// frtoNewSegs is how many new segments step 2b may still send whatever
// the congestion window.
func (t *TCB) frtoNewSegs() int {
	if t.lossState == nil {
		return 0
	}
	return t.frto.newSegs
}

// frtoSent counts a new segment sent against step 2b's allowance.
func (t *TCB) frtoSent() {
	if t.lossState != nil && t.frto.newSegs > 0 {
		t.frto.newSegs--
	}
}
