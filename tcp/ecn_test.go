package tcp

import (
	"testing"
	"time"
)

// ECN (RFC 3168): negotiation on the SYNs, ECT on new data, ECE echoed
// from a CE mark until CWR, and the sender's once-per-window reduction.
func TestECN_NegotiateEchoAndReduce(t *testing.T) {
	cfg := reno
	cfg.ECN, cfg.QuickAcks = true, -1
	h := active(t, cfg)
	h.out(seg{flags: "SEW", seq: iss, win: 65535, opts: mss(1460)})
	h.in(seg{flags: "S.E", seq: peer, ack: iss + 1, win: 65535, opts: mss(1460)})
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535})
	h.write("hello")
	h.out(seg{flags: "P.", seq: 101, ack: 301, win: 65535, data: "hello", ect: true})
	// The peer echoes congestion: the window halves (ssthresh floor
	// 2·SMSS) and the next new data carries CWR.
	h.in(seg{flags: ".E", seq: 301, ack: 106, win: 65535})
	i := h.info()
	h.check(i.Cwnd == 2920 && i.Ssthresh == 2920 && i.TotalRetransmits == 0, "%+v", i)
	h.write("world")
	h.out(seg{flags: "P.W", seq: 106, ack: 301, win: 65535, data: "world", ect: true})
	// A second ECE in the same window changes nothing.
	h.in(seg{flags: ".E", seq: 301, ack: 111, win: 65535})
	h.check(h.info().Cwnd == 2920, "%+v", h.info())
	// A CE-marked segment is acknowledged at once with ECE, and so is
	// every ACK until the peer's CWR.
	h.in(seg{flags: "P.", seq: 301, ack: 111, win: 65535, data: "a", ce: true})
	h.out(seg{flags: ".E", seq: 111, ack: 302, win: 65534})
	h.in(seg{flags: "P.", seq: 302, ack: 111, win: 65535, data: "b"})
	h.after(40 * time.Millisecond)
	h.out(seg{flags: ".E", seq: 111, ack: 303, win: 65533})
	h.in(seg{flags: "P.W", seq: 303, ack: 111, win: 65535, data: "c"})
	h.after(40 * time.Millisecond)
	h.out(seg{flags: ".", seq: 111, ack: 304, win: 65532})
	h.none()
}

// Without ECN on our side, an ECN-setup SYN gets a plain SYN-ACK.
func TestECN_NotOffered(t *testing.T) {
	h := passive(t, plain, seg{flags: "SEW", seq: peer, win: 65535, opts: mss(1460)})
	h.out(seg{flags: "S.", seq: iss, ack: peer + 1, win: 65535, opts: mss(1460)})
	cfg := plain
	cfg.ECN = true
	h = passive(t, cfg, seg{flags: "SEW", seq: peer, win: 65535, opts: mss(1460)})
	h.out(seg{flags: "S.E", seq: iss, ack: peer + 1, win: 65535, opts: mss(1460)})
}

// Simultaneous open: the peer's SYN crossing ours is an ECN-setup SYN
// (ECE and CWR), negotiated as a SYN, not as a SYN-ACK (ECE alone): our
// SYN-ACK carries ECE and new data is ECN-capable, as FreeBSD does.
func TestECN_SimultaneousOpen(t *testing.T) {
	cfg := plain
	cfg.ECN = true
	h := active(t, cfg)
	h.out(seg{flags: "SEW", seq: iss, win: 65535, opts: mss(1460)})
	h.in(seg{flags: "SEW", seq: peer, win: 65535, opts: mss(1460)})
	h.out(seg{flags: "S.E", seq: iss, ack: peer + 1, win: 65535, opts: mss(1460)})
	h.in(seg{flags: ".", seq: peer + 1, ack: iss + 1, win: 65535})
	h.state(StateEstablished)
	h.write("hello")
	h.out(seg{flags: "P.", seq: 101, ack: 301, win: 65535, data: "hello", ect: true})
}
