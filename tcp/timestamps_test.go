package tcp

import (
	"testing"
	"time"
)

// RTT measurement from timestamps (RFC 7323 §4 with RFC 6298) and PAWS
// (RFC 7323 §5).

var tsOnly = Config{DisableSACK: true, DisableWScale: true, CongestionControl: "newreno"}

// Every ACK of new data gives a sample now − TSecr, also the ACK of a
// retransmission (TSecr tells which transmission it answers, so Karn's
// rule is not needed); an ACK echoing the original transmission's TSval
// proves the retransmission spurious (Eifel, RFC 3522).
func TestTimestamps_RTTAndEifel(t *testing.T) {
	h := active(t, tsOnly)
	v := h.tsval()
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: o(mss(1460), ts(v, 0))})
	h.at(100 * time.Millisecond)
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 65535, opts: o(mss(1460), ts(500, v))})
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535, opts: ts(v+100, 500)})
	i := h.info()
	h.check(i.SRTT == 100*time.Millisecond && i.RTTVar == 50*time.Millisecond && i.RTO == 300*time.Millisecond, "%+v", i)
	h.write("x")
	h.out(seg{flags: "P.", seq: 101, ack: 301, win: 65535, opts: ts(v+100, 500), data: "x"})
	h.at(180 * time.Millisecond)
	h.in(seg{flags: ".", seq: 301, ack: 102, win: 65535, opts: ts(600, v+100)})
	i = h.info()
	h.check(i.SRTT == 97500*time.Microsecond && i.RTTVar == 42500*time.Microsecond && i.RTO == 267500*time.Microsecond, "%+v", i)
	// A retransmission, and the ACK that answers it (TSecr = its TSval).
	h.write("y")
	h.out(seg{flags: "P.", seq: 102, ack: 301, win: 65535, opts: ts(v+180, 600), data: "y"})
	h.deadline(447500 * time.Microsecond)
	h.at(447500 * time.Microsecond)
	h.out(seg{flags: "P.", seq: 102, ack: 301, win: 65535, opts: ts(v+447, 600), data: "y"})
	h.at(500 * time.Millisecond)
	h.in(seg{flags: ".", seq: 301, ack: 103, win: 65535, opts: ts(700, v+447)})
	i = h.info()
	h.check(i.SRTT == 91937500*time.Nanosecond && i.RTTVar == 43*time.Millisecond &&
		i.TotalRetransmits == 1 && i.SpuriousRetransmits == 0, "%+v", i)
	// A retransmission answered by an ACK of the original: spurious.
	h.write("z")
	h.out(seg{flags: "P.", seq: 103, ack: 301, win: 65535, opts: ts(v+500, 700), data: "z"})
	h.at(800 * time.Millisecond)
	h.out(seg{flags: "P.", seq: 103, ack: 301, win: 65535, opts: ts(v+763, 700), data: "z"})
	h.in(seg{flags: ".", seq: 301, ack: 104, win: 65535, opts: ts(800, v+500)})
	i = h.info()
	h.check(i.TotalRetransmits == 2 && i.SpuriousRetransmits == 1, "%+v", i)
}

// PAWS drops a segment whose TSval is older than TS.Recent and answers
// with an ACK — until TS.Recent has been idle for more than 24 days,
// when it is no longer valid (RFC 7323 §5.5).
func TestPAWS_OldSegmentAnd24DayRule(t *testing.T) {
	h := active(t, tsOnly)
	v := h.tsval()
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: o(mss(1460), ts(v, 0))})
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 65535, opts: o(mss(1460), ts(500, v))})
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535, opts: ts(v, 500)})
	h.at(time.Hour)
	h.in(seg{flags: "P.", seq: 301, ack: 101, win: 65535, opts: ts(400, v), data: "a"})
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535, opts: ts(h.tsval(), 500)})
	h.none()
	h.at(24*24*time.Hour + time.Second)
	h.in(seg{flags: "P.", seq: 301, ack: 101, win: 65535, opts: ts(400, v), data: "a"})
	// Taken, and acknowledged at once: the first data of the connection
	// starts quick-ACK mode.
	h.out(seg{flags: ".", seq: 101, ack: 302, win: 65534, opts: ts(h.tsval(), 400)})
	h.readAll("a")
}
