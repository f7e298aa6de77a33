package tcp

import (
	"testing"
	"time"
)

// The peer's keepalive probe (SEG.SEQ = RCV.NXT − 1) is answered with an
// ACK and dropped, but its acknowledgment is taken, as BSD does: "x" was
// received and every ACK of it lost, and without this the probe's news
// would be thrown away while our timer backs off towards minutes.
func TestOldSegment_KeepaliveProbeAcknowledges(t *testing.T) {
	h := established(t, plain)
	h.write("x")
	h.out(seg{flags: "P.", seq: 101, ack: 301, win: 65535, data: "x"})
	h.at(100 * time.Millisecond)
	h.in(seg{flags: ".", seq: 300, ack: 102, win: 65535})
	h.out(seg{flags: ".", seq: 102, ack: 301, win: 65535})
	h.none()
	h.check(h.tcb.sndUna == 102 && h.tcb.rtoAt == 0, "SND.UNA %d, RTO at %d", h.tcb.sndUna, h.tcb.rtoAt)
	i := h.info()
	h.check(i.SRTT == 0 && i.TotalRetransmits == 0, "the probe gave an RTT sample or a resend: %+v", i)
	// An old duplicate with an ACK above SND.NXT is still only answered.
	h.after(time.Second) // past the out-of-window ACK rate limit
	h.in(seg{flags: ".", seq: 300, ack: 500, win: 65535})
	h.out(seg{flags: ".", seq: 102, ack: 301, win: 65535})
	h.check(h.tcb.sndUna == 102, "SND.UNA %d", h.tcb.sndUna)
}

// A server in SYN-RECEIVED whose SYN-ACK retransmissions were answered by
// ACKs that were all lost completes the handshake on the client's
// keepalive probe, which acknowledges the SYN: a client waiting for the
// server to speak first sends nothing else.
func TestOldSegment_KeepaliveProbeCompletesHandshake(t *testing.T) {
	h := passive(t, plain, seg{flags: "S", seq: peer, win: 65535, opts: mss(1460)})
	h.out(seg{flags: "S.", seq: iss, ack: peer + 1, win: 65535, opts: mss(1460)})
	h.at(900 * time.Millisecond)
	h.in(seg{flags: ".", seq: peer, ack: iss + 1, win: 65535})
	h.state(StateEstablished)
	h.out(seg{flags: ".", seq: iss + 1, ack: peer + 1, win: 65535})
}

// An ACK that advances SND.UNA and also SACKs new data was sent for data
// beyond a hole; its echo is TS.Recent, the TSval of the last segment
// that arrived in order, whose own ACK was lost: now − TSecr spans two
// transmissions, not one round trip, and is not sampled.
func TestRTT_OutOfOrderACKEchoIsNoSample(t *testing.T) {
	cfg := Config{DisableWScale: true, CongestionControl: "newreno", NoDelay: true}
	h := active(t, cfg)
	v := h.tsval()
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: o(mss(1460), sackOK(), ts(v, 0))})
	h.at(100 * time.Millisecond)
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 65535, opts: o(mss(1460), sackOK(), ts(500, v))})
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535, opts: ts(v+100, 500)})
	h.write("a") // arrives; its ACK is lost
	h.out(seg{flags: "P.", seq: 101, ack: 301, win: 65535, opts: ts(v+100, 500), data: "a"})
	h.at(150 * time.Millisecond)
	h.write("b") // lost
	h.out(seg{flags: "P.", seq: 102, ack: 301, win: 65535, opts: ts(v+150, 500), data: "b"})
	h.at(200 * time.Millisecond)
	h.write("c") // arrives out of order
	h.out(seg{flags: "P.", seq: 103, ack: 301, win: 65535, opts: ts(v+200, 500), data: "c"})
	h.at(300 * time.Millisecond)
	h.in(seg{flags: ".", seq: 301, ack: 102, win: 65535, opts: o(ts(600, v+100), sack(103, 104))})
	i := h.info()
	h.check(i.SRTT == 100*time.Millisecond && i.RTTVar == 50*time.Millisecond,
		"the out-of-order ACK's echo was sampled: SRTT %v, RTTVAR %v", i.SRTT, i.RTTVar)
	h.check(h.tcb.sndUna == 102, "SND.UNA %d", h.tcb.sndUna)
}
