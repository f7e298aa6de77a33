package tcp

import (
	"time"

	"github.com/synack/synack/wire"
)

// DefaultInvalidRateLimit is the default of Config.InvalidRateLimit, as
// Linux's net.ipv4.tcp_invalid_ratelimit.
const DefaultInvalidRateLimit = 500 * time.Millisecond

// oowAck asks for the ACK that answers a segment outside the receive
// window, one that fails PAWS, or one that acknowledges what was never
// sent (RFC 9293 §3.10.7.4 asks for an ACK in each case). Two ends that
// disagree about the sequence space — after a forged or corrupted segment
// was taken — would answer each other's such ACKs for ever, an ACK loop.
// So, as Linux does (tcp_oow_rate_limited), a segment without data, or
// with SYN, gets at most one such ACK per Config.InvalidRateLimit; a
// segment with data always gets its duplicate ACK (and D-SACK).
func (t *TCB) oowAck(seg *Segment, now time.Time) {
	limit := t.cfg.InvalidRateLimit
	if limit < 0 || (len(seg.Payload) > 0 && seg.Flags&wire.FlagSYN == 0) {
		t.ackNow = true
		return
	}
	if t.oowAckAt != 0 && now.Sub(time.Unix(0, t.oowAckAt)) < limit {
		return
	}
	t.oowAckAt = now.UnixNano()
	t.ackNow = true
}

// oldSegmentACK takes the acknowledgment carried by a segment that lies
// wholly before RCV.NXT: a retransmission of data we already hold, or a
// keepalive probe (SEG.SEQ = RCV.NXT − 1). RFC 9293 §3.10.7.4 drops such a
// segment after answering it; BSD's tcp_input drops its text but "keeps on
// processing for RST or ACK", and so do we, for the ACK only. It matters
// under heavy loss: when every ACK of a retransmission is lost and the
// retransmission timer has backed off to minutes, the peer's keepalive
// probes still carry the acknowledgment, and without it the sender would
// resend data the peer already holds at the maximum backoff until the
// connection times out. Only an ACK that advances SND.UNA within RFC 5961
// §5.2's bounds is taken, and without its timestamp: the echo is TS.Recent,
// which answers none of our recent segments, so it yields no RTT sample and
// no undo decision.
func (t *TCB) oldSegmentACK(seg *Segment, now time.Time) {
	if (!t.synAcked() && t.state != StateSynReceived) || !seqGT(seg.Ack, t.sndUna) || seqGT(seg.Ack, t.sndNxt) {
		return
	}
	s := *seg
	s.Payload = nil
	s.Flags &^= wire.FlagFIN
	s.Options.HasTimestamps = false
	t.rttTiming = false // Karn's rule: nothing we timed is answered by it
	switch t.state {
	case StateSynReceived:
		// The ACK of our SYN, on the client's keepalive probe: its third
		// ACK and its answers to our SYN-ACK retransmissions were lost,
		// and a client waiting for the server to speak first sends
		// nothing else.
		if t.deferBareACK(&s) {
			return
		}
		t.updateSndWnd(&s, false)
		t.ackAdvance(&s, now)
		t.enterEstablished(now)
		t.synHeldText(now)
		return
	case StateEstablished, StateCloseWait, StateFinWait1, StateClosing, StateLastAck:
	default:
		return
	}
	t.processAck(&s, now)
	switch t.state {
	case StateFinWait1:
		if t.finAcked() {
			t.enterFinWait2(now)
		}
	case StateClosing:
		if t.finAcked() {
			t.enterTimeWait(now)
		}
	case StateLastAck:
		if t.finAcked() {
			t.enterClosed(nil, now)
		}
	}
}
