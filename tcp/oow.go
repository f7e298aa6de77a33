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
