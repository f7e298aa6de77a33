package tcp

import (
	"testing"
	"time"
)

// PAWS lets a late data segment through while a hole is open, when its
// TSval is not older than TS.Recent was as the hole opened; an older one
// is still an old duplicate (RFC 7323 §5.3).
func TestPAWS_LateDataBehindRetransmission(t *testing.T) {
	h := active(t, Config{DisableSACK: true, DisableWScale: true, QuickAcks: -1})
	v := h.tsval()
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: o(mss(1460), ts(v, 0))})
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 65535, opts: o(mss(1460), ts(500, v))})
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535, opts: ts(v, 500)})
	h.at(time.Second)
	v = h.tsval()
	// In order: TS.Recent = 600. Then "b" is lost and "c" opens a hole
	// while TS.Recent is 600.
	h.in(seg{flags: "P.", seq: 301, ack: 101, win: 65535, opts: ts(600, v), data: "a"})
	h.in(seg{flags: "P.", seq: 303, ack: 101, win: 65535, opts: ts(610, v), data: "c"})
	h.out(seg{flags: ".", seq: 101, ack: 302, win: 65534, opts: ts(v, 600)})
	// The retransmission of "b" fills the hole: TS.Recent = 700.
	h.in(seg{flags: "P.", seq: 302, ack: 101, win: 65535, opts: ts(700, v), data: "b"})
	h.out(seg{flags: ".", seq: 101, ack: 304, win: 65532, opts: ts(v, 700)})
	// "d", sent before the retransmission and held back on the path, is
	// older than TS.Recent but not than the hole: it is taken.
	h.in(seg{flags: "P.", seq: 304, ack: 101, win: 65535, opts: ts(620, v), data: "d"})
	h.none() // its ACK is delayed
	// A TSval older than the hole's is an old duplicate: dropped, and
	// answered with an ACK of what was received.
	h.in(seg{flags: "P.", seq: 305, ack: 101, win: 65535, opts: ts(590, v), data: "e"})
	h.out(seg{flags: ".", seq: 101, ack: 305, win: 65531, opts: ts(v, 700)})
	h.none()
	h.readAll("abcd")
}

// A pure ACK that arrives after a later one (reordered on the path) is
// older than TS.Recent; it acknowledges nothing new and echoes a TSval of
// ours from this connection, so its SACK blocks are used and it is not
// answered. Without them RACK would take the second segment for lost.
func TestPAWS_LateAckKeepsSACK(t *testing.T) {
	h := active(t, Config{DisableWScale: true, CongestionControl: "newreno"})
	v := h.tsval()
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: o(mss(1460), sackOK(), ts(v, 0))})
	h.at(100 * time.Millisecond)
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 65535, opts: o(mss(1460), sackOK(), ts(500, v))})
	v = h.tsval()
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535, opts: ts(v, 500)})
	data := full(4)
	h.write(data)
	for i := range 3 {
		s := dataSeg(data, i*1448, burst(i, 4, 2))
		s.data = data[i*1448 : (i+1)*1448]
		s.opts = ts(v, 500)
		h.out(s)
	}
	h.check(len(h.pending) == 2, "%d more segments", len(h.pending))
	h.pending = nil
	h.at(200 * time.Millisecond)
	// The first segment is lost. The ACK for the third (TSval 601)
	// overtakes the one for the second (TSval 600).
	h.in(seg{flags: ".", seq: 301, ack: 101, win: 65535, opts: o(ts(601, v), sack(101+1448, 101+3*1448))})
	h.in(seg{flags: ".", seq: 301, ack: 101, win: 65535, opts: o(ts(600, v), sack(101+1448, 101+2*1448))})
	h.none()
	// The reordering timer (RFC 8985 §6.3) finds the first segment lost,
	// and only it.
	h.deadline(225 * time.Millisecond)
	h.at(225 * time.Millisecond)
	s := dataSeg(data, 0, ".")
	s.data = data[:1448]
	s.opts = ts(h.tsval(), 601)
	h.out(s)
	h.none()
	i := h.info()
	h.check(i.TotalRetransmits == 1 && i.InRecovery, "%+v", i)
}
