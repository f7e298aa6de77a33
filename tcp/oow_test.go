package tcp

import (
	"testing"
	"time"
)

// Two ends that disagree about the sequence space (after a forged FIN
// was taken, say) answer each other's segments without data with ACKs
// for ever: found by FuzzDeliverPacket (its corpus keeps the input). At
// most one ACK per 500 ms answers a segment without data that is out of
// window or acknowledges what was never sent; one with data always gets
// its duplicate ACK, as on Linux (tcp_invalid_ratelimit).
func TestOutOfWindowAckRateLimit(t *testing.T) {
	h := established(t, plain)
	// Below the window, no data: an ACK, then silence for 500 ms.
	h.in(seg{flags: ".", seq: 300, ack: 101, win: 65535})
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535})
	h.in(seg{flags: ".", seq: 300, ack: 101, win: 65535})
	h.none()
	// An ACK older than SND.UNA − MAX.SND.WND draws a challenge ACK (RFC
	// 5961 §5.2), limited by its own clock (ChallengeACKInterval,
	// challenge.go); one of data never sent draws nothing (as Linux).
	h.after(100 * time.Millisecond)
	h.in(seg{flags: ".", seq: 301, ack: 105, win: 65535})
	h.none()
	h.in(seg{flags: ".", seq: 301, ack: sub(101, 65536), win: 65535})
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535})
	h.in(seg{flags: ".", seq: 301, ack: sub(101, 65536), win: 65535})
	h.none()
	// Data outside the window is always answered (with its duplicate ACK).
	h.in(seg{flags: "P.", seq: 291, ack: 101, win: 65535, data: "0123456789"})
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535})
	// 500 ms after the first: one more below the window.
	h.at(500 * time.Millisecond)
	h.in(seg{flags: ".", seq: 300, ack: 101, win: 65535})
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535})
	h.in(seg{flags: ".", seq: 300, ack: 101, win: 65535})
	h.none()
	h.state(StateEstablished)

	// Config.InvalidRateLimit < 0: every one is answered.
	cfg := plain
	cfg.InvalidRateLimit = -1
	h = established(t, cfg)
	for range 3 {
		h.in(seg{flags: ".", seq: 300, ack: 101, win: 65535})
		h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535})
	}
}
