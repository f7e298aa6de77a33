package tcp

import "time"

// Quick-ACK mode, as Linux runs it (tcp_incr_quickack,
// tcp_enter_quickack_mode, tcp_event_data_recv, tcp_event_data_sent).
//
// RFC 9293 §3.8.6.3 lets a receiver delay an ACK (up to 0.5 s; ours
// waits DelayedACK, 40 ms, or until a second full-sized segment). That
// costs a sender in slow start a delayed-ACK time per round trip, and a
// request its first reply's worth of latency. So for a while the
// receiver acknowledges every segment at once:
//
//   - when the first data of the connection arrives, and when data
//     arrives after no data came for an RTO (the sender starts again
//     from a small window): quick ACKs for as many segments as half the
//     receive window holds in full segments, at least 2, at most 16;
//   - when data arrives out of order, or a segment arrives that was
//     already received (its ACK was probably lost): the same, and the
//     connection leaves interactive mode.
//
// Each ACK that covers new data spends one quick ACK. A connection is
// interactive ("pingpong") once it sends data within DelayedACK of
// receiving some — a request answered by a reply, which carries the
// ACK: then no quick ACKs are sent (except the ones out-of-order data
// calls for), until a delayed ACK has to be sent on its own timer.

// maxQuickAcks bounds quick-ACK mode, in segments (Linux's
// TCP_MAX_QUICKACKS).
const maxQuickAcks = 16

// incrQuickAck gives quick ACKs for the next segments: half the receive
// window in full segments, at least 2, at most 16 (Config.QuickAcks
// overrides the number).
func (t *TCB) incrQuickAck() {
	var n int
	switch {
	case t.cfg.DelayedACK < 0 || t.cfg.QuickAcks < 0:
		return
	case t.cfg.QuickAcks > 0:
		n = t.cfg.QuickAcks
	default:
		wnd := max(int(t.rcvWnd), t.rcvBuf.Free())
		if t.rcvWnd != 0 {
			wnd = int(t.rcvWnd)
		}
		n = min(max(wnd/(2*max(t.sndMSS, 1)), 2), maxQuickAcks)
	}
	t.quickAcks = max(t.quickAcks, n)
}

// enterQuickAck is incrQuickAck for out-of-order or duplicate data: it
// also ends interactive mode (Linux's tcp_enter_quickack_mode).
func (t *TCB) enterQuickAck() {
	t.incrQuickAck()
	t.pingpong = false
}

// inQuickAck reports whether received data is acknowledged at once.
func (t *TCB) inQuickAck() bool { return t.quickAcks > 0 && !t.pingpong }

// dataArrived notes in-sequence data arriving at now: the first data of
// the connection, or the first after an RTO without any, starts quick
// ACKs.
func (t *TCB) dataArrived(now time.Time) {
	if t.lastDataIn == 0 || time.Duration(monoNano(now)-t.lastDataIn) > t.rto {
		t.incrQuickAck()
	}
	t.lastDataIn = monoNano(now)
}

// dataSent notes that new data goes out at now: data sent within the
// delayed-ACK time of data received answers it, and the connection is
// interactive.
func (t *TCB) dataSent(now time.Time) {
	if t.lastDataIn != 0 && t.cfg.DelayedACK > 0 && time.Duration(monoNano(now)-t.lastDataIn) < t.cfg.DelayedACK {
		t.pingpong = true
	}
}

// quickAckSent spends a quick ACK on a segment whose ACK covers new
// data (called before Last.ACK.sent moves).
func (t *TCB) quickAckSent() {
	if t.quickAcks > 0 && seqGT(t.rcvNxt, t.lastAck) {
		t.quickAcks--
	}
}

// SetQuickAck is the TCP_QUICKACK socket option, as Linux applies it:
// false makes the connection interactive (ACKs delayed, quick ACKs
// suspended); true ends interactive mode and sends a delayed ACK that is
// pending at once. Quick ACKs then go as long as some are left.
func (t *TCB) SetQuickAck(on bool, now time.Time) {
	if !on {
		t.pingpong = true
		return
	}
	t.pingpong = false
	if !t.delAckAt.IsZero() {
		t.ackNow = true
		t.output(now)
	}
}
