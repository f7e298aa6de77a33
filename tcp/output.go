package tcp

import (
	"time"

	"github.com/synack/synack/wire"
)

// outEntry is one queued outgoing segment. Its payload is the n bytes of
// the send buffer from sequence number seg.Seq: DrainOutput hands them
// out from the buffer itself, without copying them first (outData is
// scratch space for a payload that spans two of the buffer's pages).
type outEntry struct {
	seg Segment
	n   int
}

// DrainOutput passes each queued outgoing segment to emit, in order, and
// empties the queue. A segment's Payload is valid only during its emit call
// (unless the emitter takes a reference to its Page).
// emit must not call back into the TCB.
func (t *TCB) DrainOutput(emit func(seg *Segment)) { t.DrainOutputSuper(0, emit) }

// DrainOutputSuper is DrainOutput for a link that splits super-segments
// (GSO) or whose far side takes them whole: runs of queued data segments
// that differ only in their sequence numbers and payloads (and PSH, on the
// last) are emitted as one segment of up to max bytes of payload, whose
// GSOSize says how long the segments it joins are. Every segment but the
// last of a run is exactly GSOSize bytes long. The engine's own records
// (retransmission queue, SACK scoreboard, RACK) still hold the segments
// one by one: only what leaves DrainOutput is joined. max <= 0 joins
// nothing (DrainOutput).
func (t *TCB) DrainOutputSuper(max int, emit func(seg *Segment)) {
	for i := 0; i < len(t.outQ); i++ {
		e := &t.outQ[i]
		switch {
		case e.n > 0 && e.seg.Flags&wire.FlagSYN != 0:
			e.seg.Payload = t.synPayload(e.n) // Fast Open (fastopen.go)
		case e.n > 0:
			n, j := e.n, t.superRun(i, max)
			for k := i + 1; k <= j; k++ {
				n += t.outQ[k].n
			}
			if j > i {
				e.seg.Flags |= t.outQ[j].seg.Flags & wire.FlagPSH
				e.seg.GSOSize = uint16(e.n)
				i = j
			}
			e.seg.Payload = t.sndPayload(&e.seg, n)
		}
		emit(&e.seg)
		e.seg.Payload, e.seg.Page = nil, nil
	}
	t.outQ = t.outQ[:0]
	t.outData = t.outData[:0]
	t.releaseOut()
}

// superRun returns the index of the last queued segment that joins the
// one at i into a super-segment of at most max payload bytes (i itself
// when none does): data segments with no flag but ACK, ECE and PSH (PSH
// on the last only), each starting where the previous ends, all but the
// last as long as the first and the last no longer, everything else
// (acknowledgment, window, options, ECN) equal, and, with
// Config.PageSegments, all in one page of the send buffer.
func (t *TCB) superRun(i, max int) int {
	e := &t.outQ[i]
	const plain = wire.FlagACK | wire.FlagECE
	if max <= 0 || e.n <= 0 || e.seg.Flags&^plain != 0 || e.seg.Flags&wire.FlagACK == 0 || e.n > 65535 {
		return i
	}
	total, next, j := e.n, e.seg.Seq+uint32(e.n), i
	// Over a link that takes payloads by reference (Config.PageSegments),
	// a run does not go past the send-buffer page it starts in: joined
	// across a page's end, the payload would be copied.
	pageEnd := -1
	if t.cfg.PageSegments {
		pageEnd = t.sndBuf.pageRest(int(e.seg.Seq - t.sndBufSeq))
	}
	for k := i + 1; k < len(t.outQ); k++ {
		f := &t.outQ[k]
		if f.n <= 0 || f.n > e.n || total+f.n > max || f.seg.Seq != next || pageEnd >= 0 && total+f.n > pageEnd ||
			f.seg.Flags&^wire.FlagPSH != e.seg.Flags || f.seg.Ack != e.seg.Ack ||
			f.seg.Window != e.seg.Window || f.seg.Urgent != e.seg.Urgent ||
			f.seg.ECT != e.seg.ECT || f.seg.Options != e.seg.Options {
			break
		}
		j, total, next = k, total+f.n, next+uint32(f.n)
		if f.n < e.n || f.seg.Flags&wire.FlagPSH != 0 {
			break
		}
	}
	return j
}

// sndPayload returns the n bytes of the send buffer from s.Seq, where
// they are when they lie in one page (s.Page is then that page: send-side
// zero copy, sndpages.go), else copied into outData. Bytes acknowledged
// (and so dropped from the buffer) since the segment was queued are cut
// from its front, s.Seq moving with them: the peer has them already (a
// SYN's sequence number is never moved).
func (t *TCB) sndPayload(s *Segment, n int) []byte {
	if d := int(t.sndBufSeq - s.Seq); seqGT(t.sndBufSeq, s.Seq) && s.Flags&wire.FlagSYN == 0 {
		d = min(d, n)
		s.Seq += uint32(d)
		n -= d
	}
	off := int(s.Seq - t.sndBufSeq)
	n = max(min(n, t.sndBuf.Len()-off), 0)
	if n == 0 {
		return nil
	}
	p, pg := t.sndBuf.payload(off, n, &t.outData)
	s.Page = pg
	return p
}

// view returns the n bytes from off as one or two contiguous pieces of
// the ring's storage (the second is empty unless they wrap around).
func (r *ring) view(off, n int) (a, b []byte) {
	buf := (*r.slab)[:r.capacity()]
	i := (int(r.head) + off) % len(buf)
	if i+n <= len(buf) {
		return buf[i : i+n], nil
	}
	return buf[i:], buf[:n-(len(buf)-i)]
}

// queue appends one segment with n bytes of the send buffer starting at
// sequence number seq. Every segment but a bare SYN and a RST carries
// ACK=RCV.NXT (RFC 9293 §3.10.7.4 requires it once synchronized) and our
// window; once negotiated every segment but a RST carries timestamps.
func (t *TCB) queue(flags wire.Flags, seq uint32, n int, now time.Time) {
	if t.outQ == nil {
		t.takeOut()
	}
	t.outQ = append(t.outQ, outEntry{})
	e := &t.outQ[len(t.outQ)-1]
	s := &e.seg
	s.Seq, s.Flags = seq, flags
	e.n = n // taken from the send buffer by DrainOutput
	switch {
	case flags&wire.FlagRST != 0 && flags&wire.FlagACK == 0:
		// A RST answering a segment carries no window and no options.
	case flags&wire.FlagRST != 0:
		// An abort's RST|ACK is sent as Linux's tcp_send_active_reset
		// sends it: with our window and timestamps, without SACK blocks.
		s.Window = t.advertise()
		if t.tsOK {
			s.Options.HasTimestamps = true
			s.Options.TSVal, s.Options.TSEcr = t.tsNow(now), t.tsRecent
		}
	case flags&wire.FlagSYN != 0:
		t.synOptions(&s.Options, flags&wire.FlagACK != 0, now)
		s.Window = t.synWindow()
		s.Flags |= t.ecnSYNFlags(flags&wire.FlagACK != 0)
	default:
		old := t.rcvNxt + t.rcvWnd + t.rcvSlack // the furthest edge offered
		s.Window = t.advertise()
		t.rcvEdgeOffered(old, t.rcvNxt+t.rcvWnd, now) // autotune.go
		if t.tsOK {
			s.Options.HasTimestamps = true
			s.Options.TSVal, s.Options.TSEcr = t.tsNow(now), t.tsRecent
		}
		if t.sackOK && flags&wire.FlagACK != 0 {
			t.sackOptions(&s.Options, n)
		}
		t.ecnMark(s, n)
	}
	if flags&wire.FlagACK != 0 {
		s.Ack = t.rcvNxt
		t.quickAckSent()
		t.lastAck = t.rcvNxt
		// Any segment carrying the ACK satisfies a pending one (piggyback).
		t.ackNow = false
		t.unackedBytes = 0
		t.delAckAt = 0
	}
}

// sendAck queues <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>.
func (t *TCB) sendAck(now time.Time) {
	t.queue(wire.FlagACK, t.sndNxt, 0, now)
}

// sendRST queues <SEQ=seq><CTL=RST>.
func (t *TCB) sendRST(seq uint32, now time.Time) {
	t.queue(wire.FlagRST, seq, 0, now)
}

// sendAbortRST queues the RST of a connection we abort (user ABORT,
// close with unread data, keepalive timeout):
// <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>. RFC 9293 §3.10.5 writes
// <SEQ=SND.NXT><CTL=RST>; the ACK is allowed (a receiver validates a RST
// by its sequence number, §3.10.7.4) and is what Linux sends, so
// Linux-written scripts and captures match.
func (t *TCB) sendAbortRST(now time.Time) {
	t.queue(wire.FlagRST|wire.FlagACK, t.sndNxt, 0, now)
}

// sendSYN queues our SYN (in SYN-SENT) or SYN-ACK (otherwise), with
// SEQ=ISS, and starts the retransmission timer.
func (t *TCB) sendSYN(now time.Time) {
	flags := wire.FlagSYN
	if t.state != StateSynSent {
		flags |= wire.FlagACK
	}
	if t.sndNxt == t.iss && t.state == StateSynSent {
		t.synTSVal = t.tsNow(now)
	}
	t.queue(flags, t.iss, 0, now)
	if t.sndNxt == t.iss {
		t.sndNxt = t.iss + 1
		t.startRTT(t.iss, now)
	}
	if t.rtoAt.IsZero() {
		t.rtoAt = instantOf(now).Add(t.rto)
	}
}

// synWindow is the window of a SYN or SYN-ACK: never scaled (RFC 7323 §2.2).
func (t *TCB) synWindow() uint16 {
	w := uint32(min(t.rcvFree(), 65535))
	t.rcvWnd = max(t.rcvWnd, w)
	t.rcvSlack = 0
	return uint16(w)
}

// offerableWindow is the receive window we may offer now: the free buffer
// space, with the receiver's SWS avoidance of RFC 9293 §3.8.6.2.2 — the
// right edge moves only when it can move by min(Fr·RCV.BUFF, Eff.snd.MSS)
// (Fr = 1/2) — and never left of what we already offered.
func (t *TCB) offerableWindow() uint32 {
	free := uint32(t.rcvFree())
	if lim := uint32(65535) << t.rcvWScale; free > lim {
		free = lim
	}
	if free <= t.rcvWnd {
		return t.rcvWnd
	}
	if free-t.rcvWnd >= uint32(minInt(t.rcvBuf.size/2, t.sndMSS)) {
		return free
	}
	return t.rcvWnd
}

// advertise returns the window field for an outgoing segment and records
// the window offered. Rounding to the scale never shrinks the window
// (RFC 7323 §2.4) when the buffer has room for the rounded-up window. When
// it has not, the right edge moves left by less than one unit of the scale
// instead (RFC 7323 Appendix F): promising bytes the buffer cannot hold
// would let every later ACK promise a little more, until the peer sends
// into space that does not exist. Bytes up to the old edge are still
// taken when they fit (rcvSlack).
func (t *TCB) advertise() uint16 {
	shift := t.rcvWScale
	field := t.offerableWindow() >> shift
	if field<<shift < t.rcvWnd {
		if up := (t.rcvWnd + 1<<shift - 1) >> shift; up<<shift <= uint32(t.rcvBuf.Free()) {
			field = up
		}
	}
	field = min(field, 65535)
	oldEdge := t.rcvWnd + t.rcvSlack
	t.rcvWnd = field << shift
	t.rcvSlack = 0
	if oldEdge > t.rcvWnd {
		t.rcvSlack = oldEdge - t.rcvWnd
	}
	return uint16(field)
}

// sendLimit is how far past SND.UNA the peer's window lets us send; the
// congestion window is applied in sendData (cwnd − pipe).
func (t *TCB) sendLimit() uint32 {
	return t.sndWnd
}

// synAcked reports whether our SYN has been acknowledged. It is a flag,
// not SND.UNA > ISS, which stops holding once 2^31 bytes have been sent.
func (t *TCB) synAcked() bool { return t.synAckd }

// unsent is the number of queued bytes not yet given a sequence number.
func (t *TCB) unsent() int {
	if t.finSent {
		return 0
	}
	return t.sndBuf.Len() - int(t.sndNxt-t.sndBufSeq)
}

// output sends what may be sent now: new data within the window, our FIN
// once all data has been segmentized, and a pending ACK if nothing else
// carried it.
func (t *TCB) output(now time.Time) {
	switch t.state {
	case StateEstablished, StateCloseWait, StateFinWait1, StateClosing, StateLastAck:
		// CLOSING: the peer's FIN can arrive while data and our FIN
		// still wait for its window (FIN-WAIT-1 is entered on CLOSE, not
		// when the FIN is sent); they go out from here as it opens. In
		// CLOSING and LAST-ACK what is marked lost is resent from here
		// as the ACKs arrive, not one segment per timeout.
		t.sendData(now)
		t.checkPersist(now)
		t.probeHeld(now) // sockopt.go
	case StateSynReceived:
		if t.fastOpenEarly() {
			t.sendData(now) // a Fast Open child sends before the final ACK
		}
	}
	if t.ackNow && t.state != StateClosed && t.state != StateListen {
		t.sendAck(now)
	}
}

// sendData sends what the windows allow: first the segments marked lost
// (RFC 6675 NextSeg rule 1), then new data (rule 2), segmentized as
// RFC 9293 §3.8.6.2.1 and §3.10.2 say. New data is limited by the peer's
// window and by the congestion window less the pipe.
func (t *TCB) sendData(now time.Time) {
	var burst pushBurst // PSH as Linux places it (push.go)
	defer burst.mark(t)
	var mb memBurst // Linux's transmit skbs (sndmem.go)
	for !t.persistProbing {
		if t.paced(now) || t.frtoHolds() {
			return
		}
		if t.synAcked() && t.frtoNewSegs() == 0 {
			if i := t.tx.firstLost(); i >= 0 {
				s := t.tx.at(i)
				room := t.cwnd() - t.pipe()
				if !t.forceRtx && room < int(min(s.len(), uint32(t.sndMSS))) {
					return // lost data goes before new data
				}
				t.forceRtx = false
				t.retransmitSeg(i, now)
				continue
			}
		}
		if t.finSent {
			return
		}
		unsent := t.unsent()
		inflight := t.sndNxt - t.sndUna
		avail := 0
		if lim := t.sendLimit(); lim > inflight {
			avail = int(lim - inflight)
		}
		room := t.cwnd() - t.pipe()
		if t.tlpNew || t.frtoNewSegs() > 0 {
			room = max(room, t.sndMSS)
		}
		if t.limitedTx > 0 {
			// RFC 3042: outstanding data up to cwnd + 2·SMSS, one
			// new segment per duplicate ACK.
			room = max(room, t.cwnd()+int(t.limitedTx)*t.sndMSS-t.pipe())
		}
		avail = max(min(avail, room), 0)
		n := t.recordLimit(t.sndNxt, min(unsent, t.sndMSS, avail))
		cut := false // n ends where a page of the send buffer does (Config.PageSegments)
		if t.cfg.PageSegments && n >= pageCutMin {
			if rest := t.sndBuf.pageRest(int(t.sndNxt - t.sndBufSeq)); rest > 0 && rest < n {
				n, cut = rest, true
			}
		}
		if !t.synAcked() && !t.fastOpenEarly() {
			// SYN-RECEIVED closed before the handshake ended: only a
			// FIN may go before our SYN is acknowledged (§3.10.4).
			n = 0
			if unsent > 0 {
				return
			}
		}
		fin := t.finQueued && n == unsent
		if n == 0 && !fin {
			return
		}
		if n > 0 && n < t.sndMSS && !cut && !t.sendSmall(n, unsent, fin) {
			return
		}
		flags := wire.FlagACK
		if n > 0 && (n == unsent && !t.noPSH() || t.atRecordEnd(t.sndNxt+uint32(n)) || t.probePSH()) {
			flags |= wire.FlagPSH // the segment empties the send buffer or ends a record
		}
		if fin {
			flags |= wire.FlagFIN
		}
		seq := t.sndNxt
		if n > 0 {
			t.dataSent(now)
		}
		t.prrSent(n)
		t.queue(flags, seq, n, now)
		burst.sent(t, n)
		t.sndMemSent(&mb, seq, n)
		t.sndNxt += uint32(n)
		if n < t.sndMSS && !cut {
			t.sndSml = t.sndNxt
		}
		if fin {
			t.finSent = true
			t.sndFinSeq = t.sndNxt
			t.sndNxt++
			if t.state == StateCloseWait {
				// §3.10.4 CLOSE, CLOSE-WAIT: "send a FIN segment, enter
				// LAST-ACK state".
				t.setState(StateLastAck, now)
			}
		}
		if t.synAcked() || t.fastOpenEarly() {
			t.tx.push(seq, t.sndNxt, now, t.tsNow(now))
			if seq == t.sndUna {
				t.noteHead() // TCP_USER_TIMEOUT (sockopt.go)
			}
			t.paceSent(n, now)
		}
		t.tlpNew = false
		t.frtoSent()
		t.startRTT(seq, now)
		if t.rtoAt.IsZero() {
			// RFC 6298 §5.1: start the timer when sending data if it is off.
			t.rtoAt = instantOf(now).Add(t.rto)
		}
		if !t.tlpOut {
			t.armPTO(now) // RFC 8985 §7.2: re-armed on sending new data
		}
	}
}

// sendSmall decides whether a segment shorter than the MSS goes now: the
// sender's SWS avoidance (RFC 9293 §3.8.6.2.1) and Nagle's algorithm
// (RFC 1122 §4.2.3.4) in Minshall's variant, as Linux applies it: a small
// segment that empties the send buffer waits only while an earlier small
// segment is unacknowledged, and never when it carries the FIN or
// NoDelay is set.
func (t *TCB) sendSmall(n, unsent int, fin bool) bool {
	switch {
	case t.pushForced():
		return true // the probe timer, or Push (sockopt.go)
	case t.corkHolds() && !fin:
		return false // TCP_CORK or MSG_MORE (sockopt.go)
	case n < unsent && t.atRecordEnd(t.sndNxt+uint32(n)):
		return true // a MSG_EOR record ends here and data follows
	}
	idle := t.sndNxt == t.sndUna
	if n == unsent {
		// Everything queued fits: the "pushed" case.
		return fin || t.cfg.NoDelay || !t.smallInFlight()
	}
	// Limited by the window.
	if idle {
		return true // stands in for the override timeout
	}
	return t.cfg.NoDelay && uint32(n) >= t.maxSndWnd/2
}

// smallInFlight reports whether a segment shorter than the MSS is sent and
// not yet acknowledged: SND.UNA < sndSml =< SND.NXT.
func (t *TCB) smallInFlight() bool {
	return seqGT(t.sndSml, t.sndUna) && seqLE(t.sndSml, t.sndNxt)
}

// startRTT times the segment starting at seq unless one is being timed
// (RFC 6298 §3: one measurement per RTT; Karn's rule is applied on
// retransmission by clearing rttTiming).
func (t *TCB) startRTT(seq uint32, now time.Time) {
	if t.rttTiming {
		return
	}
	t.rttTiming = true
	t.rttSeq = seq
	t.rttStart = instantOf(now)
}

// retransmitFirst resends the earliest unacknowledged segment: the SYN or
// SYN-ACK, or up to one MSS of data from SND.UNA, with the FIN if it follows.
func (t *TCB) retransmitFirst(now time.Time) {
	if !t.synAcked() {
		t.synRetransmitted = true
		t.sendSYN(now)
		return
	}
	end := t.sndNxt
	if t.finSent {
		end = t.sndFinSeq
	}
	n := 0
	if seqGT(end, t.sndUna) {
		n = min(int(end-t.sndUna), t.sndMSS)
	}
	fin := t.finSent && t.sndUna+uint32(n) == t.sndFinSeq
	if n == 0 && !fin {
		return
	}
	flags := wire.FlagACK
	if n > 0 && t.sndUna+uint32(n) == t.sndBufSeq+uint32(t.sndBuf.Len()) {
		flags |= wire.FlagPSH
	}
	if fin {
		flags |= wire.FlagFIN
	}
	t.queue(flags, t.sndUna, n, now)
}
