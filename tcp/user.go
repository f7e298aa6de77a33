package tcp

import (
	"io"
	"time"
)

// The user calls of RFC 9293 §3.10 (SEND, RECEIVE, CLOSE, ABORT).

// Write queues p for sending and returns how much fit in the send buffer.
// Before the handshake completes data waits in the buffer (§3.10.2, "queue
// the data for transmission after entering ESTABLISHED state"). After
// CloseWrite or Close it fails with errPipe; after the connection
// failed, with the error that ended it.
func (t *TCB) Write(p []byte, now time.Time) (int, error) {
	if t.err != nil {
		t.noteWrite(0, len(p), false) // events.go
		return 0, t.err
	}
	if t.finQueued || t.state == StateClosed || t.state == StateListen {
		t.noteWrite(0, len(p), false)
		return 0, errPipe
	}
	var n int
	if t.so != nil && t.so.lowat > 0 {
		n = t.writeLowat(p, now) // TCP_NOTSENT_LOWAT (sockopt.go)
	} else if sm := t.sndMem(); sm != nil {
		n = t.sndMemWrite(sm, p, now) // Linux's send-buffer memory (sndmem.go)
	} else {
		n = t.sndBuf.Write(p)
	}
	if t.sndBuf.Free() == 0 {
		t.sndFull = true // the application fills the buffer: let it grow
	}
	if t.state != StateSynSent {
		t.output(now)
	} else {
		t.fastOpenWrite(now) // a deferred Fast Open SYN goes with the data
	}
	t.noteWrite(n, len(p), true)
	return n, nil
}

// Read copies received data into p. It returns 0, nil when nothing is
// ready, and io.EOF once the peer's FIN and all data before it are read.
// After a reset the data already received is returned first, then the error.
func (t *TCB) Read(p []byte, now time.Time) (int, error) {
	if t.readClosed {
		return 0, io.EOF
	}
	if n := t.rcvBuf.Read(p); n > 0 {
		t.reclaim()
		t.rcvSpaceAdjust(n, now)
		t.windowUpdate(now)
		return n, nil
	}
	switch {
	case t.rcvFin:
		return 0, io.EOF
	case t.err != nil:
		return 0, t.err
	case t.state == StateClosed || t.state == StateListen:
		return 0, io.EOF
	}
	return 0, nil
}

// windowUpdate announces a window that reading (or a bigger buffer)
// opened. When the peer has less than a segment of window left it may be
// stalled, so the update goes at once. Otherwise it goes only when the
// window opened a lot, as Linux's tcp_cleanup_rbuf decides: what remains
// of the window we offered is at most half the largest window the buffer
// allows, and the window we may offer now is at least twice that; and
// then it waits for the delayed-ACK timer, so that a reply written in the
// meantime carries it. A smaller gain goes with the next ACK: the peer
// still has at least a segment of window to send into, and an update per
// read would double the ACKs of a bulk transfer. What we may offer
// follows the receiver's SWS avoidance (RFC 9293 §3.8.6.2.2,
// offerableWindow).
func (t *TCB) windowUpdate(now time.Time) {
	switch t.state {
	case StateEstablished, StateFinWait1, StateFinWait2:
	default:
		return
	}
	w := t.offerableWindow()
	if w <= t.rcvWnd {
		return
	}
	if t.rcvWnd < uint32(t.sndMSS) || t.cfg.DelayedACK < 0 {
		t.sendAck(now)
		return
	}
	clamp := min(uint64(t.rcvBuf.size), uint64(65535)<<t.rcvWScale)
	if 2*uint64(t.rcvWnd) <= clamp && uint64(w) >= 2*uint64(t.rcvWnd) && t.delAckAt.IsZero() {
		t.delAckAt = instantOf(now).Add(t.cfg.DelayedACK)
	}
}

// Readable reports whether Read would return data, io.EOF or an error.
func (t *TCB) Readable() bool {
	return t.rcvBuf.Len() > 0 || t.rcvFin || t.err != nil || t.readClosed ||
		t.state == StateClosed || t.state == StateListen
}

// Writable reports whether Write would return an error, or accept data
// and enough of it to be worth a blocked writer's wake-up (sndSpace).
func (t *TCB) Writable() bool {
	return t.err != nil || t.finQueued || t.state == StateClosed || t.state == StateListen ||
		t.sndSpace() && t.belowLowat()
}

// CloseWrite queues a FIN after all queued data (half-close). Reading
// continues until the peer's FIN.
func (t *TCB) CloseWrite(now time.Time) error {
	if t.err != nil {
		return t.err
	}
	if t.finQueued {
		return nil
	}
	switch t.state {
	case StateClosed, StateListen:
		return errNotConn
	case StateSynSent:
		// Sent once ESTABLISHED is reached (enterEstablished).
		t.finQueued = true
	case StateSynReceived, StateEstablished:
		// §3.10.4 CLOSE, ESTABLISHED: "Queue this until all preceding
		// SENDs have been segmentized, then form a FIN segment and send
		// it. In any case, enter FIN-WAIT-1 state." SYN-RECEIVED sends
		// the FIN at once when no data is queued.
		t.finQueued = true
		t.setState(StateFinWait1, now)
		t.output(now)
	case StateCloseWait:
		// §3.10.4 CLOSE, CLOSE-WAIT: the FIN goes after queued data and
		// takes the connection to LAST-ACK (sendData).
		t.finQueued = true
		t.output(now)
	}
	return nil
}

// CloseRead discards received data from now on: what is buffered and
// what arrives later is dropped (and acknowledged), and Read returns io.EOF.
func (t *TCB) CloseRead(now time.Time) error {
	if t.readClosed {
		return nil
	}
	t.readClosed = true
	t.rcvBuf.Reset()
	t.ooo.reset()
	t.windowUpdate(now)
	return nil
}

// Close is the user CLOSE call (RFC 9293 §3.10.4): the connection is
// closed in both directions. With unread data it is reset instead
// (RFC 2525 §2.17), and so it is when data arrives afterwards.
func (t *TCB) Close(now time.Time) error {
	switch t.state {
	case StateClosed, StateListen:
		return nil
	case StateSynSent:
		// "Delete the TCB and return 'error: closing' responses to any
		// queued SENDs, or RECEIVEs."
		t.finQueued, t.fullClose = true, true
		t.enterClosed(nil, now)
		return nil
	}
	unread := t.rcvBuf.Len() > 0 && !t.readClosed
	t.fullClose = true
	t.readClosed = true
	t.rcvBuf.Reset()
	t.ooo.reset()
	if unread {
		switch t.state {
		case StateSynReceived, StateEstablished, StateFinWait1, StateFinWait2, StateCloseWait:
			t.finQueued = true
			t.sendAbortRST(now)
			t.enterClosed(nil, now)
			return nil
		}
	}
	if !t.finQueued {
		if err := t.CloseWrite(now); err != nil {
			return err
		}
	}
	if t.state == StateFinWait2 && t.finWait2At.IsZero() {
		t.armFinWait2(now) // TCP_LINGER2 (sockopt.go)
	}
	return nil
}

// Abort is the user ABORT call: send RST, enter CLOSED (§3.10.5).
func (t *TCB) Abort(now time.Time) {
	switch t.state {
	case StateSynReceived, StateEstablished, StateFinWait1, StateFinWait2, StateCloseWait:
		// "Send a reset segment: <SEQ=SND.NXT><CTL=RST>", with the ACK
		// bit and ACK=RCV.NXT as Linux sends it (sendAbortRST).
		t.sendAbortRST(now)
	}
	t.finQueued, t.fullClose = true, true
	t.enterClosed(nil, now)
}

// Discard deletes the TCB without sending anything: it enters CLOSED
// silently. A listener that closes drops its half-open connections so,
// as Linux does; the peer's next segment then reaches no connection and
// is answered by the RST of RFC 9293 §3.10.7.1.
func (t *TCB) Discard(now time.Time) {
	t.finQueued, t.fullClose = true, true
	t.outQ = t.outQ[:0]
	t.outData = t.outData[:0]
	t.enterClosed(nil, now)
}
