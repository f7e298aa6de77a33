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
	if t.oowAckAt != 0 && time.Duration(monoNano(now)-t.oowAckAt) < limit {
		return
	}
	t.oowAckAt = monoNano(now)
	t.ackNow = true
}

// oldSegmentAdvances reports whether seg, not acceptable, lies wholly
// before RCV.NXT (a retransmission of data we already hold, or a keepalive
// probe: SEG.SEQ = RCV.NXT − 1) and acknowledges data of ours not yet
// acknowledged (SND.UNA < SEG.ACK =< SND.NXT). RFC 9293 §3.10.7.4 drops
// such a segment after answering it; BSD's tcp_input drops its text but
// "keeps on processing for RST or ACK", and so does inputSynchronized, for
// the ACK alone (ackOnly). It matters under heavy loss: when every ACK of
// a retransmission is lost and the retransmission timer has backed off to
// minutes, the peer's keepalive probes still carry the acknowledgment
// (in SYN-RECEIVED, that of our SYN, from a client waiting for the server
// to speak first); without it the sender would resend data the peer
// already holds at the maximum backoff until the connection times out.
func (t *TCB) oldSegmentAdvances(seg *Segment, segLen uint32) bool {
	return seqLE(seg.Seq+segLen, t.rcvNxt) && seqGT(seg.Ack, t.sndUna) && seqLE(seg.Ack, t.sndNxt)
}

// ackOnly is a copy of seg without its text, FIN and timestamps: the echo
// of an old segment is TS.Recent, which answers none of our recent
// segments, so it must give no RTT sample, undo decision or TS.Recent.
func ackOnly(seg *Segment) *Segment {
	s := *seg
	s.Payload, s.Owner = nil, nil
	s.Flags &^= wire.FlagFIN
	s.Options.HasTimestamps = false
	return &s
}
