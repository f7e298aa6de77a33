package tcp

import (
	"time"
)

// Per-connection socket options, as Linux programs set them with
// setsockopt(2): TCP_USER_TIMEOUT (RFC 5482), TCP_DEFER_ACCEPT,
// TCP_LINGER2, TCP_CORK and MSG_MORE, TCP_NOTSENT_LOWAT and MSG_EOR. A
// connection that sets none pays one nil pointer for them.

// sockOpts holds the options of one connection; TCB.so is nil until one
// is set.
type sockOpts struct {
	// userTimeout (TCP_USER_TIMEOUT, RFC 5482 §3): how long data may stay
	// unacknowledged, or zero-window probes unanswered, before the
	// connection fails with ETIMEDOUT; 0: off (MaxRetries decides).
	userTimeout time.Duration
	// rtxStart is when the data now being retransmitted (or the first
	// zero-window probe) was first sent: the user timeout counts from it.
	rtxStart instant
	// headSent is when the segment at SND.UNA was sent (noteHead).
	headSent instant
	// probeAt: a partial segment held back by cork or MSG_MORE goes out
	// when it passes, if nothing is in flight to clock it (Linux's probe0
	// timer); zero when not armed.
	probeAt instant
	// eor lists the ends (sequence numbers) of records written with
	// MSG_EOR whose last byte has not been sent: no segment reaches
	// past one (Linux's tcp_skb_can_collapse).
	eor []uint32
	// lowat (TCP_NOTSENT_LOWAT): the connection is writable only while
	// fewer bytes than this wait unsent; 0: off.
	lowat uint32
	// deferAccept (TCP_DEFER_ACCEPT): during the first deferAccept
	// SYN-ACK timeouts a bare ACK does not complete a passive handshake;
	// deferAcked: one was dropped so.
	deferAccept uint8
	deferAcked  bool
	cork        bool // TCP_CORK: partial segments wait (for a full one, uncork, or probeAt)
	more        bool // the write being processed had MSG_MORE: its partial segment waits
	noPSH       bool // the last write had MSG_MORE: the segment ending it carries no PSH
	push        bool // Push or the probe timer: a partial segment goes now
	probePSH    bool // the probe timer fired: its segment carries PSH (Linux's tcp_write_wakeup)
	// linger2Abort (TCP_LINGER2 < 0): a fully closed connection that
	// reaches FIN-WAIT-2 is reset instead of waiting for the peer's FIN.
	linger2Abort bool
	linger2Set   bool          // a per-connection FIN-WAIT-2 timeout replaces the configured one
	linger2Def   time.Duration // the configured FIN-WAIT-2 timeout, restored by SetFinWait2Timeout(0)
	// sm is Linux's send-buffer memory model (Config.SendBufferOverhead,
	// sndmem.go); nil until it applies.
	sm *sndMem
}

// opts returns the connection's socket options, allocating them.
func (t *TCB) opts() *sockOpts {
	if t.so == nil {
		t.so = &sockOpts{}
	}
	return t.so
}

// WriteFlags are the send(2) flags Write honours (WriteWithFlags).
type WriteFlags uint8

const (
	// WriteMore is MSG_MORE: more data follows at once, so a partial
	// segment is not sent at the end of this write (it goes when a full
	// segment is ready, at the next write or ACK without the flag, or
	// after the probe timeout when nothing is in flight), and the segment
	// that ends this write's data carries no PSH.
	WriteMore WriteFlags = 1 << iota
	// WriteEOR is MSG_EOR: this write ends a record. Later data is never
	// sent in one segment with it (neither when first sent nor when
	// retransmitted), so a record's last byte always ends a segment.
	WriteEOR
)

// WriteWithFlags is Write with send(2) flags (WriteMore, WriteEOR).
func (t *TCB) WriteWithFlags(p []byte, flags WriteFlags, now time.Time) (int, error) {
	if flags == 0 && t.so == nil {
		return t.Write(p, now)
	}
	o := t.opts()
	o.more = flags&WriteMore != 0
	noPSH := o.noPSH
	o.noPSH = o.more // the segment ending this write's data, if sent now
	n, err := t.Write(p, now)
	o.more = false
	if n == 0 {
		o.noPSH = noPSH
	}
	if n > 0 {
		if flags&WriteEOR != 0 && n == len(p) {
			o.eor = append(o.eor, t.sndBufSeq+uint32(t.sndBuf.Len()))
		}
	}
	return n, err
}

// SetUserTimeout sets TCP_USER_TIMEOUT (RFC 5482): once data has stayed
// unacknowledged for d (counted from its first transmission), or
// zero-window probes have gone unanswered for d, the connection fails with
// ETIMEDOUT, however many retransmissions that takes; the retransmission
// timer is shortened to fire at that moment. While set it replaces
// MaxRetries; SYN retransmissions stop at whichever limit comes first.
// It bounds keepalive too: once a probe is out and the peer has been
// silent for d, the connection is reset (instead of after
// KeepAlive.Count probes). d <= 0 turns it off.
func (t *TCB) SetUserTimeout(d time.Duration) {
	if d <= 0 {
		if t.so != nil {
			t.so.userTimeout = 0
		}
		return
	}
	t.opts().userTimeout = d
}

// UserTimeout returns the TCP_USER_TIMEOUT set, 0 if none.
func (t *TCB) UserTimeout() time.Duration {
	if t.so == nil {
		return 0
	}
	return t.so.userTimeout
}

// userTimedOut is called by onRTO before a retransmission: it reports
// whether the user timeout has expired.
func (t *TCB) userTimedOut(now time.Time) bool {
	if t.so == nil || t.so.userTimeout <= 0 {
		return false
	}
	if t.retransmits == 0 && !t.persistProbing {
		// The first timeout of this data: count from when it was sent,
		// or else from when the timer was armed, one RTO ago. (A
		// zero-window probe counts from the first probe:
		// persistTimedOut.)
		t.so.rtxStart = instantOf(now).Add(-t.rto)
		if !t.so.headSent.IsZero() && t.so.headSent.Before(t.so.rtxStart) {
			t.so.rtxStart = t.so.headSent
		}
	}
	return instantOf(now).Sub(t.so.rtxStart) >= t.so.userTimeout
}

// clampToUserTimeout makes the retransmission and persist timers fire no
// later than the user timeout (Linux's tcp_clamp_rto_to_user_timeout).
func (t *TCB) clampToUserTimeout() {
	if t.so == nil || t.so.userTimeout <= 0 || t.so.rtxStart.IsZero() {
		return
	}
	end := t.so.rtxStart.Add(t.so.userTimeout)
	if !t.rtoAt.IsZero() && end.Before(t.rtoAt) {
		t.rtoAt = end
	}
	if t.persistProbing && !t.persistAt.IsZero() && end.Before(t.persistAt) {
		t.persistAt = end
	}
}

// persistTimedOut is called by onPersist before a probe: it reports
// whether zero-window probing has gone unanswered for the user timeout.
func (t *TCB) persistTimedOut(now time.Time) bool {
	if t.so == nil || t.so.userTimeout <= 0 {
		return false
	}
	if !t.persistProbing {
		t.so.rtxStart = instantOf(now) // the first probe goes now
	}
	return instantOf(now).Sub(t.so.rtxStart) >= t.so.userTimeout
}

// SetDeferAccept sets TCP_DEFER_ACCEPT on a passive connection in
// SYN-RECEIVED: a bare ACK (no data, no FIN) that would complete the
// handshake is dropped until d has passed, counted as Linux counts it in
// SYN-ACK timeouts (1 s, 2 s, 4 s ... from InitialRTO up to MaxRTO: 5 s
// is 3 timeouts). Meanwhile the SYN-ACK is not retransmitted, except once
// at the last timeout to elicit a final ACK; that ACK, or any segment with
// data, completes the handshake. d <= 0 turns it off.
func (t *TCB) SetDeferAccept(d time.Duration) {
	n := secsToRetrans(d, t.cfg.InitialRTO, t.cfg.MaxRTO)
	if n == 0 {
		if t.so != nil {
			t.so.deferAccept = 0
		}
		return
	}
	t.opts().deferAccept = n
}

// secsToRetrans converts a TCP_DEFER_ACCEPT period into the number of
// SYN-ACK timeouts whose backed-off intervals first cover it (Linux's
// secs_to_retrans).
func secsToRetrans(d, initial, maxRTO time.Duration) uint8 {
	if d <= 0 {
		return 0
	}
	res, rto, period := uint8(1), initial, initial
	for d > period && res < 255 {
		res++
		rto = min(2*rto, maxRTO)
		period += rto
	}
	return res
}

// deferBareACK reports whether a segment in SYN-RECEIVED is a bare ACK
// that TCP_DEFER_ACCEPT drops; it records that the peer did ACK.
func (t *TCB) deferBareACK(seg *Segment) bool {
	if t.so == nil || t.so.deferAccept == 0 || !t.passive || int(t.retransmits) >= int(t.so.deferAccept) {
		return false
	}
	if seg.Len() != 0 || !seqGT(seg.Ack, t.sndUna) || !seqLE(seg.Ack, t.sndNxt) {
		return false
	}
	t.so.deferAcked = true
	return true
}

// deferSynAck decides a SYN-ACK timeout under TCP_DEFER_ACCEPT once the
// peer's bare ACK was dropped: expire (drop the half-open connection)
// only when both the SYN-ACK retries and the deferral are used up, and
// resend only at the deferral's last timeout (Linux's syn_ack_recalc).
// ok is false when no deferral applies.
func (t *TCB) deferSynAck(limit int) (expire, resend, ok bool) {
	if t.so == nil || t.so.deferAccept == 0 || !t.so.deferAcked {
		return false, false, false
	}
	d := int(t.so.deferAccept)
	r := int(t.retransmits)
	return r >= limit && r >= d, r >= d-1, true
}

// SetFinWait2Timeout sets TCP_LINGER2: how long a fully closed connection
// waits in FIN-WAIT-2 for the peer's FIN before it is dropped silently.
// d == 0 restores Config.FinWait2Timeout; d < 0 resets the connection (RST)
// as soon as it reaches FIN-WAIT-2 after Close. A timer already running
// is restarted with the new value.
func (t *TCB) SetFinWait2Timeout(d time.Duration, now time.Time) {
	o := t.opts()
	if !o.linger2Set {
		o.linger2Set, o.linger2Def = true, t.cfg.FinWait2Timeout
	}
	o.linger2Abort = d < 0
	switch {
	case d > 0:
		t.cfg.FinWait2Timeout = d
	default:
		t.cfg.FinWait2Timeout = o.linger2Def
	}
	if t.state == StateFinWait2 && t.fullClose {
		t.armFinWait2(now)
	}
}

// armFinWait2 starts the FIN-WAIT-2 timer of a fully closed connection, or
// resets it at once under TCP_LINGER2 < 0.
func (t *TCB) armFinWait2(now time.Time) {
	if t.so != nil && t.so.linger2Abort {
		t.sendAbortRST(now)
		t.enterClosed(nil, now)
		return
	}
	t.finWait2At = instantOf(now).Add(t.cfg.FinWait2Timeout)
}

// SetCork sets TCP_CORK: while on, segments shorter than the MSS are held
// back (whatever NoDelay says) until a full segment is ready, the cork is
// removed, or the probe timeout passes with nothing in flight. Removing it
// sends what waits at once.
func (t *TCB) SetCork(on bool, now time.Time) {
	if !on && t.so == nil {
		return
	}
	t.opts().cork = on
	if !on {
		t.output(now)
	}
}

// Corked reports whether TCP_CORK is on.
func (t *TCB) Corked() bool { return t.so != nil && t.so.cork }

// Push sends a partial segment held back by TCP_CORK or Nagle's algorithm
// now, once, as setting TCP_NODELAY does on Linux.
func (t *TCB) Push(now time.Time) {
	if t.so == nil && t.cfg.NoDelay {
		t.output(now) // nothing holds a segment but Nagle, which is off
		return
	}
	o := t.opts()
	o.push = true
	t.output(now)
	o.push = false
}

// corkHolds reports whether a partial segment waits for cork or MSG_MORE.
func (t *TCB) corkHolds() bool {
	return t.so != nil && !t.so.push && (t.so.cork || t.so.more)
}

// pushForced reports whether the probe timer (or Push) sends a partial
// segment regardless of Nagle and cork.
func (t *TCB) pushForced() bool { return t.so != nil && t.so.push }

// noPSH reports whether a segment ending the queued data goes without PSH:
// its data was written with MSG_MORE.
func (t *TCB) noPSH() bool { return t.so != nil && t.so.noPSH }

// probePSH reports whether the segment being sent is the probe timer's,
// which carries PSH whatever the write said.
func (t *TCB) probePSH() bool { return t.so != nil && t.so.probePSH }

// recordLimit bounds a new segment starting at seq to n bytes and the end
// of the first MSG_EOR record not yet sent.
func (t *TCB) recordLimit(seq uint32, n int) int {
	if t.so == nil || len(t.so.eor) == 0 {
		return n
	}
	for len(t.so.eor) > 0 && seqLE(t.so.eor[0], seq) {
		t.so.eor = t.so.eor[1:]
	}
	if len(t.so.eor) == 0 {
		t.so.eor = nil
		return n
	}
	return min(n, int(t.so.eor[0]-seq))
}

// atRecordEnd reports whether end is the end of a MSG_EOR record: a
// segment ending there may go although shorter than the MSS.
func (t *TCB) atRecordEnd(end uint32) bool {
	return t.so != nil && len(t.so.eor) > 0 && t.so.eor[0] == end
}

// probeHeld arms the probe timer when a partial segment is held back by
// cork or MSG_MORE with nothing in flight to clock it out (output calls
// it), and disarms it when nothing waits. The wait is the RTO, but at
// least SRTT + MinRTO, as Linux's probe0 timer waits.
func (t *TCB) probeHeld(now time.Time) {
	if t.so == nil {
		return
	}
	if t.unsent() == 0 || t.sndWnd == 0 {
		t.so.probeAt = 0
		return
	}
	if (t.so.cork || t.so.more) && t.sndNxt == t.sndUna && t.synAcked() && t.so.probeAt.IsZero() {
		t.so.probeAt = instantOf(now).Add(max(t.rto, t.srtt+t.cfg.MinRTO))
	}
}

// probeDeadline is the probe timer for Deadline; zero when not armed.
func (t *TCB) probeDeadline() instant {
	if t.so == nil {
		return 0
	}
	return t.so.probeAt
}

// onProbe is the probe timer: the held partial segment goes out.
func (t *TCB) onProbe(now time.Time) {
	if t.so == nil || !due(t.so.probeAt, now) {
		return
	}
	t.so.probeAt = 0
	if t.sndNxt == t.sndUna {
		t.so.probePSH = true
		t.Push(now)
		t.so.probePSH = false
	}
}

// SetNotSentLowat sets TCP_NOTSENT_LOWAT: the connection is writable
// (Writable, and so poll's POLLOUT) only while fewer than n bytes wait
// unsent, and a write stops queueing once that many do. What a write
// queues past the window is taken in trains of MSS-sized segments up to
// half the peer's largest window (Linux's size goal), so a write that
// starts below the mark may end a little above it. n <= 0 turns it off.
func (t *TCB) SetNotSentLowat(n int) {
	if n <= 0 {
		if t.so != nil {
			t.so.lowat = 0
		}
		return
	}
	t.opts().lowat = uint32(min(n, 1<<31-1))
}

// NotSentLowat returns the TCP_NOTSENT_LOWAT set, 0 if none.
func (t *TCB) NotSentLowat() int {
	if t.so == nil {
		return 0
	}
	return int(t.so.lowat)
}

// NotSent returns the bytes written but not yet sent.
func (t *TCB) NotSent() int { return max(t.unsent(), 0) }

// Unread returns the bytes received in order and not yet read (TCP_INQ).
func (t *TCB) Unread() int {
	if t.readClosed {
		return 0
	}
	return t.rcvBuf.Len()
}

// belowLowat reports whether the not-sent low-water mark lets a write go
// on (always true when none is set).
func (t *TCB) belowLowat() bool {
	return t.so == nil || t.so.lowat == 0 || uint32(t.NotSent()) < t.so.lowat
}

// writeLowat is Write under TCP_NOTSENT_LOWAT: data goes in trains, each
// the bytes the windows let go at once or else one size goal, while the
// unsent bytes stay below the mark.
func (t *TCB) writeLowat(p []byte, now time.Time) int {
	total := 0
	for total < len(p) && t.belowLowat() {
		chunk := t.sendable()
		if chunk == 0 {
			chunk = max(t.sndMSS, int(t.maxSndWnd/2)/t.sndMSS*t.sndMSS)
			chunk = min(chunk, 64<<10)
		}
		n := t.sndBuf.Write(p[total:min(len(p), total+chunk)])
		total += n
		if t.state != StateSynSent {
			t.output(now)
		}
		if n < chunk {
			break // the buffer is full
		}
	}
	return total
}

// sendable is how many new bytes the windows let go now.
func (t *TCB) sendable() int {
	if !t.synAcked() {
		return 0
	}
	inflight := t.sndNxt - t.sndUna
	avail := 0
	if lim := t.sendLimit(); lim > inflight {
		avail = int(lim - inflight)
	}
	room := t.cwnd() - t.pipe()
	return max(min(avail, room)-t.unsent(), 0)
}

// noteHead records when the segment now at SND.UNA was sent, for the user
// timeout (called when one is sent at SND.UNA and when SND.UNA advances).
func (t *TCB) noteHead() {
	if t.so == nil || t.so.userTimeout <= 0 {
		return
	}
	t.so.headSent = 0
	if t.tx.n > 0 {
		t.so.headSent = t.tx.at(0).sent
	}
}

// keepAliveExpired reports whether keepalive gives up: after Count
// unanswered probes, or, with TCP_USER_TIMEOUT, once a probe is out and
// the peer has been silent for the user timeout (Idle, then Interval per
// probe sent), as Linux's tcp_keepalive_timer decides.
func (t *TCB) keepAliveExpired() bool {
	ka := &t.cfg.KeepAlive
	if t.so == nil || t.so.userTimeout <= 0 {
		return t.kaProbes >= ka.Count
	}
	silent := ka.Idle + time.Duration(t.kaProbes)*ka.Interval
	return t.kaProbes > 0 && silent >= t.so.userTimeout
}
