package tcp

import (
	"time"

	"github.com/synack/synack/wire"
)

// handleSegment processes one incoming segment (RFC 9293 §3.10.7):
// HandleSegment (events.go) without taking the events.
func (t *TCB) handleSegment(seg *Segment, now time.Time) {
	if t.dropSynFin(seg) {
		return // Config.DropSynFin (compat.go)
	}
	switch t.state {
	case StateClosed, StateListen:
		// A finished TCB: the owner answers with ResetFor (§3.10.7.1).
		return
	case StateSynSent:
		t.inputSynSent(seg, now)
	case StateTimeWait:
		t.inputTimeWait(seg, now) // the rules of the compact record (timewait.go)
	default:
		t.inputSynchronized(seg, now)
	}
	t.output(now)
}

// inputSynSent is RFC 9293 §3.10.7.3, "If the state is SYN-SENT".
func (t *TCB) inputSynSent(seg *Segment, now time.Time) {
	hasACK := seg.Flags&wire.FlagACK != 0
	// First, check the ACK bit: "If SEG.ACK =< ISS or SEG.ACK > SND.NXT,
	// send a reset (unless the RST bit is set, if so drop the segment and
	// return) <SEQ=SEG.ACK><CTL=RST> and discard the segment."
	if hasACK && (seqLE(seg.Ack, t.iss) || seqGT(seg.Ack, t.sndNxt)) {
		if seg.Flags&wire.FlagRST == 0 {
			t.sendRST(seg.Ack, now)
		}
		return
	}
	// An acceptable ACK that echoes a timestamp none of our SYNs carried
	// did not come from the peer we are opening to: reset it and wait,
	// as Linux does (PAWSActiveRejected; a RST that does so is dropped).
	if hasACK && t.synEchoForged(seg, now) {
		if seg.Flags&wire.FlagRST == 0 {
			t.sendRST(seg.Ack, now)
		}
		return
	}
	// Second, check the RST bit: accepted only with an acceptable ACK
	// (RFC 5961 §3.2); "signal to the user 'error: connection reset',
	// drop the segment, enter CLOSED state".
	if seg.Flags&wire.FlagRST != 0 {
		if hasACK {
			t.enterClosed(errRefused, now)
		}
		return
	}
	// Fourth, check the SYN bit.
	if seg.Flags&wire.FlagSYN == 0 {
		return // Fifth: neither SYN nor RST: drop.
	}
	t.irs = seg.Seq
	t.rcvNxt = seg.Seq + 1 // data on a SYN is not taken (the peer resends it)
	t.negotiate(&seg.Options)
	t.negotiateECN(seg, hasACK) // a simultaneous-open SYN negotiates as a SYN
	t.tsRecentAt = instantOf(now)
	t.updateSndWnd(seg, true)
	if hasACK {
		t.ackAdvance(seg, now)
	}
	if t.synAcked() {
		t.fastOpenSynAck(seg, now) // data on our SYN not acknowledged: sent again
		// "If SND.UNA > ISS (our SYN has been ACKed), change the
		// connection state to ESTABLISHED, form an ACK segment
		// <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and send it."
		t.enterEstablished(now)
		t.ackNow = true
		// "If there are other controls or text in the segment, then
		// continue processing at the sixth step": text on the SYN-ACK
		// is taken (and acknowledged by this ACK).
		t.synText(seg.Seq, seg.Payload, seg.Flags&wire.FlagFIN != 0, now)
		return
	}
	// "Otherwise, enter SYN-RECEIVED, form a SYN,ACK segment
	// <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> and send it. ... If there are
	// other controls or text in the segment, queue them for processing
	// after the ESTABLISHED state has been reached" (simultaneous open).
	t.setState(StateSynReceived, now)
	t.sendSYN(now)
	if len(seg.Payload) > 0 || seg.Flags&wire.FlagFIN != 0 {
		t.synHeld = append(t.synHeld[:0], seg.Payload...)
		t.synHeldFin = seg.Flags&wire.FlagFIN != 0
		t.synHeldOn = true
	}
}

// synText processes the text (and FIN) of the peer's SYN at syn, once
// ESTABLISHED (RFC 9293 §3.10.7.3): it starts at syn+1 and is taken like
// any in-window segment.
func (t *TCB) synText(syn uint32, text []byte, fin bool, now time.Time) {
	if len(text) == 0 && !fin {
		return
	}
	s := Segment{Seq: syn + 1, Payload: text}
	if fin {
		s.Flags = wire.FlagFIN
	}
	seq, data, fin := t.trim(&s)
	if len(data) > 0 {
		t.receive(seq, data, nil, now)
	}
	if fin && seq+uint32(len(data)) == t.rcvNxt {
		t.receiveFIN(now)
	}
}

// synHeldText processes the text a simultaneous-open SYN carried, now
// that the connection is ESTABLISHED.
func (t *TCB) synHeldText(now time.Time) {
	if !t.synHeldOn {
		return
	}
	t.synHeldOn = false
	t.synText(t.irs, t.synHeld, t.synHeldFin, now)
	t.synHeld = nil
}

// updateSndWnd sets SND.WND, SND.WL1 and SND.WL2 from seg. The window of a
// SYN is never scaled (RFC 7323 §2.2).
func (t *TCB) updateSndWnd(seg *Segment, syn bool) {
	w := uint32(seg.Window)
	if !syn {
		w <<= t.sndWScale
	}
	t.sndWnd = w
	t.sndWL1, t.sndWL2 = seg.Seq, seg.Ack
	t.maxSndWnd = max(t.maxSndWnd, w)
}

// acceptable is the segment acceptability test of RFC 9293 §3.10.7.4
// (the four cases of segment length and receive window).
func (t *TCB) acceptable(seq, segLen uint32) bool {
	wnd := t.acceptWnd() // RCV.WND (compat.go)
	end := t.rcvNxt + wnd
	switch {
	case segLen == 0 && wnd == 0:
		return seq == t.rcvNxt
	case segLen == 0:
		return seqInRange(seq, t.rcvNxt, end)
	case wnd == 0:
		return false
	default:
		return seqInRange(seq, t.rcvNxt, end) || seqInRange(seq+segLen-1, t.rcvNxt, end)
	}
}

// inputSynchronized is RFC 9293 §3.10.7.4, "Otherwise" (SYN-RECEIVED and
// the synchronized states).
func (t *TCB) inputSynchronized(seg *Segment, now time.Time) {
	flags := seg.Flags
	rst := flags&wire.FlagRST != 0
	syn := flags&wire.FlagSYN != 0
	hasACK := flags&wire.FlagACK != 0
	segLen := seg.Len()

	switch {
	case t.state == StateSynReceived && syn && !rst && !hasACK && seg.Seq == t.irs:
		// A retransmission of the SYN we answered: our SYN-ACK was lost.
		// Its TSval becomes TS.Recent (as Linux's tcp_check_req does), so
		// that the SYN-ACK echoes the SYN it answers and the peer's RTT
		// sample from it is a round trip, not one plus the SYN backoff.
		if t.tsOK && seg.Options.HasTimestamps && seqGE(seg.Options.TSVal, t.tsRecent) {
			t.tsRecent, t.tsRecentAt = seg.Options.TSVal, instantOf(now)
		}
		t.sendSYN(now)
		return
	case t.state == StateSynReceived && syn && !rst && hasACK && seg.Seq == t.irs &&
		seqGT(seg.Ack, t.sndUna) && seqLE(seg.Ack, t.sndNxt):
		// Simultaneous open (RFC 9293 Figure 7, line 6): the peer's
		// SYN-ACK repeats its SYN and acknowledges ours. It completes
		// the handshake and, being a SYN in a synchronized state, gets
		// an ACK (§3.10.7.4 with RFC 5961 §4), as Linux sends: the peer
		// may have seen neither our SYN-ACK nor any ACK of its SYN.
		if t.tsOK && seg.Options.HasTimestamps && seqGE(seg.Options.TSVal, t.tsRecent) {
			t.tsRecent, t.tsRecentAt = seg.Options.TSVal, instantOf(now)
		}
		t.updateSndWnd(seg, true)
		t.ackAdvance(seg, now)
		t.enterEstablished(now)
		t.ackNow = true
		t.synHeldText(now)
		return
	}

	// RFC 7323 §5.3 R1: PAWS before the sequence number check. A late
	// segment is taken, but its window is older than the one we have.
	late := false
	switch t.paws(seg, now) {
	case pawsStale:
		t.oowAck(seg, now)
		return
	case pawsLate:
		late = true
	}

	// First, check the sequence number. A zero window still accepts a
	// segment at RCV.NXT for its ACK and RST ("special allowance");
	// its text is trimmed below.
	if !t.acceptable(seg.Seq, segLen) && (t.rcvWnd != 0 || seg.Seq != t.rcvNxt || syn) {
		// "If an incoming segment is not acceptable, an acknowledgment
		// should be sent in reply (unless the RST bit is set ...)".
		if !rst {
			t.oowAck(seg, now)
			if n := uint32(len(seg.Payload)); n > 0 && seqLT(seg.Seq, t.rcvNxt) {
				t.noteDuplicate(seg.Seq, min32(seg.Seq+n, t.rcvNxt))
				// Data we had: our ACK was probably lost (Linux
				// tcp_send_dupack enters quick-ACK mode).
				t.enterQuickAck()
			}
		}
		if rst || syn || !hasACK || !t.oldSegmentAdvances(seg, segLen) {
			return
		}
		// Its ACK goes on through the steps below, alone.
		seg = ackOnly(seg)
		t.rttTiming = false // Karn's rule: nothing we timed is answered by it
	}
	// TS.Recent is taken only from a segment that will be processed: not
	// from a RST or SYN (answered with a challenge ACK), nor from one
	// without ACK or whose ACK is unacceptable (RFC 5961 §5.2: above
	// SND.NXT, or below SND.UNA − MAX.SND.WND), which is dropped after
	// an ACK. Otherwise one forged segment with a TSval far ahead would
	// make every later segment fail PAWS (Linux's tcp_ack updates
	// ts_recent only after these checks).
	if hasACK && !rst && !syn && !seqGT(seg.Ack, t.sndNxt) && !seqLT(seg.Ack, t.sndUna-t.maxSndWnd) {
		t.updateTSRecent(seg, now)
	}
	t.ecnReceive(seg)
	t.heardFromPeer(now)

	if rst && t.insecureRST(seg.Seq, now) {
		return // Config.InsecureRST (compat.go)
	}
	// Second, check the RST bit (RFC 5961 §3.2): reset only on an exact
	// match of RCV.NXT; otherwise in the window: challenge ACK.
	if rst {
		if seg.Seq != t.rcvNxt {
			t.challengeACK(now)
			return
		}
		t.reset(now)
		return
	}

	// Fourth, check the SYN bit.
	if syn {
		if t.state == StateSynReceived && t.passive {
			// "If the connection was initiated with a passive OPEN, then
			// return this connection to the LISTEN state and return."
			t.returnToListen(now)
			return
		}
		if t.insecureSYN(seg.Seq, now) {
			return // Config.InsecureSYN (compat.go)
		}
		// RFC 5961 §4: a SYN in a synchronized state gets a challenge ACK.
		t.challengeACK(now)
		return
	}

	// Fifth, check the ACK field: "if the ACK bit is off, drop the segment".
	if !hasACK {
		return
	}
	if t.state == StateSynReceived && t.deferBareACK(seg) {
		return // TCP_DEFER_ACCEPT (sockopt.go)
	}
	if t.state == StateSynReceived {
		// "If SND.UNA < SEG.ACK =< SND.NXT, then enter ESTABLISHED state
		// and continue processing with the variables below set to:
		// SND.WND <- SEG.WND, SND.WL1 <- SEG.SEQ, SND.WL2 <- SEG.ACK.
		// If the segment acknowledgment is not acceptable, form a reset
		// segment <SEQ=SEG.ACK><CTL=RST> and send it."
		if !(seqGT(seg.Ack, t.sndUna) && seqLE(seg.Ack, t.sndNxt)) {
			t.sendRST(seg.Ack, now)
			return
		}
		t.updateSndWnd(seg, false)
		t.ackAdvance(seg, now)
		t.enterEstablished(now)
		t.synHeldText(now)
	}
	// RFC 5961 §5.2: acceptable when (SND.UNA − MAX.SND.WND) =< SEG.ACK =<
	// SND.NXT; otherwise discard the segment. An ACK older than that
	// window is answered with a (rate-limited) challenge ACK. An ACK of
	// data never sent (SEG.ACK > SND.NXT) is dropped without one, as
	// Linux's tcp_ack does: §3.10.7.4 and §5.2 say to send an ACK, but
	// two ends that disagree about what was sent would then answer each
	// other's ACKs for ever, and the ACK tells a blind attacker that its
	// guess landed in the window; RFC 5961 §7 lets challenge ACKs be
	// limited, and this one is limited to none.
	if seqGT(seg.Ack, t.sndNxt) {
		return
	}
	if seqLT(seg.Ack, t.sndUna-t.maxSndWnd) {
		t.challengeACK(now)
		return
	}
	if t.synAcked() {
		t.processAck(seg, now)
	} else if seqGT(seg.Ack, t.sndUna) {
		t.ackAdvance(seg, now)
	}
	// Window update: "If SND.UNA =< SEG.ACK =< SND.NXT ... If (SND.WL1 <
	// SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK)), set SND.WND
	// <- SEG.WND, set SND.WL1 <- SEG.SEQ, and set SND.WL2 <- SEG.ACK."
	if !late && seqLE(t.sndUna, seg.Ack) &&
		(seqLT(t.sndWL1, seg.Seq) || (t.sndWL1 == seg.Seq && seqLE(t.sndWL2, seg.Ack))) {
		t.updateSndWnd(seg, false)
	}
	t.persistProbes = 0
	t.windowChanged()

	// The text and FIN that survive trimming to the receive window.
	seq, data, fin := t.trim(seg)

	switch t.state {
	case StateFinWait1:
		// "if the FIN segment is now acknowledged, then enter FIN-WAIT-2"
		// — unless this segment's FIN takes us to TIME-WAIT directly
		// (eighth step: "If our FIN has been ACKed (perhaps in this
		// segment), then enter TIME-WAIT").
		if t.finAcked() && !fin {
			t.enterFinWait2(now)
		}
	case StateClosing:
		// "if the ACK acknowledges our FIN, then enter the TIME-WAIT state"
		if t.finAcked() {
			t.enterTimeWait(now)
		}
		return
	case StateLastAck:
		// "If our FIN is now acknowledged, delete the TCB, enter the
		// CLOSED state, and return."
		if t.finAcked() {
			t.enterClosed(nil, now)
		}
		return
	case StateTimeWait:
		return
	}

	// Seventh, process the segment text (ESTABLISHED, FIN-WAIT-1 and
	// FIN-WAIT-2 only; after the peer's FIN there is none).
	switch t.state {
	case StateEstablished, StateFinWait1, StateFinWait2:
	default:
		data = nil
	}
	if len(data) > 0 && t.fullClose {
		// RFC 2525 §2.17: data for an application that has closed the
		// connection is answered with a reset.
		t.sendRST(seg.Ack, now)
		t.enterClosed(nil, now)
		return
	}
	if len(data) > 0 {
		t.receive(seq, data, seg.Owner, now)
		t.rcvRTTMeasure(seg, seq+uint32(len(data)), len(data), now)
	}

	// Eighth, check the FIN bit: only when everything before it arrived.
	// A FIN beyond a hole is remembered (finHeld) and processed when the
	// hole fills; it is answered at once with a duplicate ACK, as any
	// out-of-order segment (RFC 5681 §4.2).
	if fin && !t.rcvFin {
		if end := seq + uint32(len(data)); seqGT(end, t.rcvNxt) {
			t.finHeld, t.finHeldSeq = true, end
			t.ackNow = true
		} else if end == t.rcvNxt {
			t.finHeld, t.finHeldSeq = true, end
		}
	}
	switch {
	case t.finHeld && !t.rcvFin && t.rcvNxt == t.finHeldSeq:
		t.finHeld = false
		t.receiveFIN(now)
	case t.state == StateFinWait1 && t.finAcked():
		t.enterFinWait2(now)
	}
}

// trim cuts the segment's text to the receive window [RCV.NXT,
// RCV.NXT+RCV.WND) (RFC 9293 §3.10.7.4: "segments with higher beginning
// sequence numbers ... held for later processing", duplicates dropped).
// Whatever is trimmed calls for an immediate ACK.
func (t *TCB) trim(seg *Segment) (seq uint32, data []byte, fin bool) {
	seq, data, fin = seg.Seq, seg.Payload, seg.Flags&wire.FlagFIN != 0
	if seqLT(seq, t.rcvNxt) {
		d := t.rcvNxt - seq
		t.noteDuplicate(seq, min32(seq+uint32(len(data)), t.rcvNxt))
		if d > uint32(len(data)) {
			// Everything, FIN included, was received before.
			data, fin = nil, false
		} else {
			data = data[d:]
		}
		seq = t.rcvNxt
		t.ackNow = true
	}
	edge := t.rcvNxt + t.acceptWnd()
	room := int(edge - seq)
	if seqGT(seq, edge) {
		room = 0
	}
	if len(data) > room {
		data, fin = data[:room], false
		t.ackNow = true
	}
	return seq, data, fin
}

// receive takes in-window text at seq. It reports whether all of it was
// taken in order (so a FIN after it may be processed). owner, when not
// nil, lets the engine keep data without a copy (Segment.Owner).
func (t *TCB) receive(seq uint32, data []byte, owner PayloadOwner, now time.Time) bool {
	if seq != t.rcvNxt {
		// Out of order: keep it (bounded) and send a duplicate ACK at once.
		if !t.readClosed {
			off := int(seq - t.rcvNxt)
			end := seq + uint32(len(data))
			if t.rcvRoom(off, len(data)) {
				if t.ooo.empty() {
					t.pawsHoleOpened()
				}
				// Bytes already held, in whole or in part: reported in a
				// D-SACK block (RFC 2883 §4).
				if d, ok := t.ooo.overlap(seq, end); ok {
					t.noteDuplicate(d.start, d.end)
				}
				if !t.ooo.insert(seq, end) {
					t.rcvBuf.WriteAt(off, data)
				}
				t.noteSACK(seq)
			}
		}
		t.ackNow = true
		t.enterQuickAck()
		return false
	}
	n := len(data)
	if d, ok := t.ooo.overlap(seq, seq+uint32(n)); ok {
		// In order, but partly held out of order already: the
		// duplicate part goes in a D-SACK block (RFC 2883 §4).
		t.noteDuplicate(d.start, d.end)
	}
	if !t.readClosed {
		n = t.rcvTake(data, owner) // kept or copied (rcvqueue.go)
	}
	t.advanceRcvNxt(uint32(n))
	all := n == len(data)
	if !all {
		t.ackNow = true
	}
	// Data held out of order may now be in order.
	if !t.ooo.empty() {
		if end, ok := t.ooo.take(t.rcvNxt); ok {
			extra := end - t.rcvNxt
			t.rcvBuf.Commit(int(extra))
			t.advanceRcvNxt(extra)
		}
		t.ackNow = true // filling a hole is acknowledged at once
	}
	t.unackedBytes += n
	t.dataArrived(now)
	switch {
	case t.inQuickAck():
		// Quick-ACK mode (quickack.go): every segment is acknowledged
		// at once, so that the sender's slow start (and recovery) is
		// clocked by every segment.
		t.ackNow = true
	case t.cfg.DelayedACK < 0 || t.unackedBytes >= 2*t.sndMSS:
		// RFC 9293 §3.8.6.3 / RFC 1122 §4.2.3.2: ACK at least every
		// second full-sized segment.
		t.ackNow = true
	case t.delAckAt.IsZero():
		t.delAckAt = instantOf(now).Add(t.cfg.DelayedACK)
	}
	return all
}

// advanceRcvNxt moves RCV.NXT over n received bytes; the window's right
// edge stays where it was.
func (t *TCB) advanceRcvNxt(n uint32) {
	t.rcvNxt += n
	if n > t.rcvWnd {
		t.rcvSlack -= min(n-t.rcvWnd, t.rcvSlack)
		n = t.rcvWnd
	}
	t.rcvWnd -= n
}

// receiveFIN is the eighth step of §3.10.7.4 for an in-order FIN.
func (t *TCB) receiveFIN(now time.Time) {
	// The FIN takes a sequence number but no buffer space: the window
	// keeps its size (its right edge moves one to the right).
	t.rcvNxt++
	t.rcvFin = true
	t.ev |= EventReadClosed
	t.ackNow = true // "send an acknowledgment for the FIN"
	switch t.state {
	case StateSynReceived, StateEstablished:
		t.setState(StateCloseWait, now)
	case StateFinWait1:
		if t.finAcked() {
			t.enterTimeWait(now)
		} else {
			t.setState(StateClosing, now)
			t.closingAck(now) // Config.FinWithClosingAck (compat.go)
		}
	case StateFinWait2:
		t.enterTimeWait(now)
	}
}

// reset handles an acceptable RST (§3.10.7.4, second).
func (t *TCB) reset(now time.Time) {
	switch t.state {
	case StateSynReceived:
		if t.passive && !t.FastOpenChild() {
			t.returnToListen(now)
			return
		}
		if t.FastOpenChild() {
			t.enterClosed(errReset, now) // accepted already: the user sees the reset
			return
		}
		// "If this connection was initiated with an active OPEN ...
		// the connection was refused."
		t.enterClosed(errRefused, now)
	case StateEstablished, StateFinWait1, StateFinWait2, StateCloseWait,
		StateClosing, StateLastAck:
		// In CLOSING and LAST-ACK RFC 9293 only says "enter the CLOSED
		// state"; our FIN was never acknowledged, so the peer may not
		// have had all our data: the user is told ECONNRESET, as Linux
		// (tcp_reset) and FreeBSD tell it.
		t.enterClosed(errReset, now)
	default: // TIME-WAIT: "enter the CLOSED state"
		t.enterClosed(nil, now)
	}
}

// returnToListen is the passive SYN-RECEIVED → LISTEN transition. The TCB
// is finished (Done); its listener forgets it.
func (t *TCB) returnToListen(now time.Time) {
	t.stopTimers()
	t.sndBuf.Reset()
	t.setState(StateListen, now)
}

// ackAdvance moves SND.UNA to SEG.ACK, releasing acknowledged data, taking
// an RTT sample and managing the retransmission timer (RFC 6298 §5.2, §5.3).
// With timestamps the sample is now − TSecr (RFC 7323 §4), valid even for
// a retransmitted segment; without, one segment per RTT is timed and
// Karn's rule applies.
func (t *TCB) ackAdvance(seg *Segment, now time.Time) { t.ackAdvanceSample(seg, true, now) }

// ackAdvanceSample is ackAdvance; with echoOK false the timestamp echo
// gives no RTT sample. processAck passes false for an ACK that also SACKs
// new data: the peer sent it for data beyond a hole, and its echo is
// TS.Recent, the TSval of the last segment that arrived in order (RFC
// 7323 §4.3), which may be one sent many round trips ago when the ACKs
// for it were lost: now − TSecr would then be those round trips, not one.
func (t *TCB) ackAdvanceSample(seg *Segment, echoOK bool, now time.Time) {
	ack := seg.Ack
	staleEcho := !echoOK || t.staleEcho(seg)
	if seqGT(ack, t.iss) {
		t.synAckd = true
	}
	t.tx.ackTo(ack, t.loss().deliveries(t), now)
	if seqGT(ack, t.sndBufSeq) {
		n := min(int(ack-t.sndBufSeq), t.sndBuf.Len())
		t.sndBuf.Discard(n)
		t.sndBufSeq += uint32(n)
	}
	t.sndUna = ack
	t.sndBufExpand()
	t.pawsEchoAdvance(now)
	if t.rttTiming && seqGT(ack, t.rttSeq) {
		// A timed segment (our SYN or SYN-ACK; data without timestamps)
		// is a fine sample for the receiver too (autotune.go).
		t.rcvFineSample(instantOf(now).Sub(t.rttStart))
	}
	if r, ok := t.tsRTT(seg, now); ok {
		t.rttTiming = false
		if !staleEcho {
			t.rttSample(r)
		}
	} else if t.rttTiming && seqGT(ack, t.rttSeq) {
		t.rttTiming = false
		t.rttSample(instantOf(now).Sub(t.rttStart))
	}
	t.retransmits = 0
	if t.persistProbing && t.sndUna == t.sndNxt {
		t.persistProbing = false // the probe byte was taken
	}
	switch {
	case t.sndUna == t.sndNxt:
		t.rtoAt = 0
	case !t.persistProbing:
		t.rtoAt = instantOf(now).Add(t.rto)
	}
	t.noteHead() // TCP_USER_TIMEOUT (sockopt.go)
}

// staleEcho reports whether seg's timestamp echo is older than the last
// retransmission of a segment its ACK newly delivers (and had not
// SACKed): the ACK does not answer that retransmission, so now − TSecr is
// no round trip. The receiver echoes TS.Recent, which only a segment at
// or below Last.ACK.sent updates (RFC 7323 §4.3); when its ACKs were lost
// and our retransmission timer backed off, the retransmission arrives as
// an old duplicate, and the ACK it draws echoes the TSval of a segment
// sent before the timeouts — a sample inflated by every backoff (seconds,
// even minutes, at 30% loss). Such a sample is ambiguous in the sense of
// Karn's rule and is not taken, as RACK ignores it for RACK.rtt (RFC
// 8985 §6.2 step 2); an echo at or after the retransmission's TSval
// proves the ACK answers it, and is taken.
func (t *TCB) staleEcho(seg *Segment) bool {
	o := &seg.Options
	if !t.tsOK || !o.HasTimestamps || o.TSEcr == 0 {
		return false
	}
	if !t.synAcked() && t.synRetransmitted {
		// Karn's rule for the handshake (RFC 6298 §3, §5.7) holds with
		// timestamps too: the answer to a SYN or SYN-ACK sent again may
		// be the peer's own retransmission, or a duplicate's reply, late
		// by a backoff we cannot see in the echo.
		return true
	}
	for i := 0; i < t.tx.n; i++ {
		s := t.tx.at(i)
		if !seqLT(s.start, seg.Ack) {
			break
		}
		if s.flags&(txRetrans|txSACKed) == txRetrans && seqLT(o.TSEcr, s.tsval) {
			return true
		}
	}
	return false
}

// windowChanged leaves zero-window probing once the window opens. A probe
// byte the peer did not take is sent again with the data that follows it.
func (t *TCB) windowChanged() {
	if t.sndWnd == 0 {
		return
	}
	t.persistAt = 0
	t.persistBackoff = 0
	if t.persistProbing {
		t.persistProbing = false
		if seqLT(t.sndUna, t.sndNxt) {
			t.sndNxt = t.sndUna
			t.tx.truncate(t.sndNxt)
			t.rttTiming = false
		}
	}
}

// enterFinWait2 moves from FIN-WAIT-1 once our FIN is acknowledged.
func (t *TCB) enterFinWait2(now time.Time) {
	t.setState(StateFinWait2, now)
	if t.fullClose {
		t.armFinWait2(now) // TCP_LINGER2 (sockopt.go)
	}
}

// heardFromPeer restarts keepalive after any acceptable segment.
func (t *TCB) heardFromPeer(now time.Time) {
	t.kaProbes = 0
	if t.cfg.KeepAlive.Enable && t.keepAliveState() {
		t.kaAt = instantOf(now).Add(t.cfg.KeepAlive.Idle)
	}
}
