package tcp

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TIME-WAIT (timewait.go): the compact record a stack keeps in place of
// the TCB, and the TCB in TIME-WAIT, which follows the same rules.
// toTimeWait (close_test.go) leaves SND.NXT=102, RCV.NXT=302, window
// 65535, TIME-WAIT entered at 0s, expiring at 60s.

// twLadder drives a TimeWait record at exact times and logs a ladder.
type twLadder struct {
	t      *testing.T
	tw     TimeWait
	now    time.Time
	ladder []string
	reply  *seg
}

func recordOf(t *testing.T, h *harness) *twLadder {
	t.Helper()
	tw, ok := h.tcb.TimeWait()
	if !ok {
		t.Fatalf("TimeWait: not in TIME-WAIT (%s)", h.tcb.State())
	}
	return &twLadder{t: t, tw: tw, now: h.now}
}

func (l *twLadder) log(format string, args ...any) {
	l.ladder = append(l.ladder, fmt.Sprintf("%9s ", l.now.Sub(t0))+fmt.Sprintf(format, args...))
}

func (l *twLadder) fail(format string, args ...any) {
	l.t.Helper()
	l.t.Fatalf("%s\nladder (<-- to the record, --> from it):\n%s", fmt.Sprintf(format, args...),
		strings.Join(l.ladder, "\n"))
}

func (l *twLadder) at(d time.Duration) { l.now = t0.Add(d) }

// in hands s to the record and checks its verdict.
func (l *twLadder) in(s seg, want TimeWaitVerdict) {
	l.t.Helper()
	l.log("  <-- %s", s)
	x := s.segment()
	v, reply := l.tw.HandleSegment(&x, l.now)
	l.reply = nil
	if v == TimeWaitAck {
		r := fromSegment(&reply)
		l.reply = &r
		l.log("  --> %s", r)
	}
	if v != want {
		l.fail("verdict %d, want %d", v, want)
	}
}

func (l *twLadder) out(want seg) {
	l.t.Helper()
	if l.reply == nil || l.reply.String() != want.String() || l.reply.opts != want.opts {
		l.fail("reply %v, want %s", l.reply, want)
	}
}

func (l *twLadder) expiry(d time.Duration) {
	l.t.Helper()
	if got := l.tw.Expiry(); !got.Equal(t0.Add(d)) {
		l.fail("expiry %s, want %s", got.Sub(t0), d)
	}
	if !l.tw.Expired(t0.Add(d)) || l.tw.Expired(t0.Add(d-time.Nanosecond)) {
		l.fail("Expired does not turn true at exactly %s", d)
	}
}

func TestTimeWait_RecordOfTCB(t *testing.T) {
	h := toTimeWait(t)
	l := recordOf(t, h)
	l.expiry(60 * time.Second)
	if l.tw.NextISS() != 102+65535+2 {
		t.Fatalf("NextISS %d", l.tw.NextISS())
	}
	h = established(t, plain)
	if _, ok := h.tcb.TimeWait(); ok {
		t.Fatal("TimeWait of an ESTABLISHED TCB: ok")
	}
}

// The last ACK was lost: the peer's FIN comes again, is acknowledged
// again, and the 2·MSL wait restarts from that instant.
func TestTimeWait_Record_RetransmittedFin(t *testing.T) {
	l := recordOf(t, toTimeWait(t))
	l.at(1500 * time.Millisecond)
	l.in(seg{flags: "F.", seq: 301, ack: 102, win: 65535}, TimeWaitAck)
	l.out(seg{flags: ".", seq: 102, ack: 302, win: 65535})
	l.expiry(61500 * time.Millisecond)
	// The duplicate of our last ACK's answer is taken silently.
	l.at(2 * time.Second)
	l.in(seg{flags: ".", seq: 302, ack: 102, win: 65535}, TimeWaitDrop)
	l.expiry(61500 * time.Millisecond)
}

// RFC 1337: a RST does not end TIME-WAIT, at RCV.NXT or anywhere.
func TestTimeWait_RstIgnored(t *testing.T) {
	h := toTimeWait(t)
	h.trans = nil
	h.at(time.Second)
	h.in(seg{flags: "R", seq: 302})
	h.in(seg{flags: "R.", seq: 302, ack: 102})
	h.none()
	h.state(StateTimeWait)
	h.transitions()
	h.deadline(60 * time.Second)
	l := recordOf(t, h)
	l.in(seg{flags: "R", seq: 302}, TimeWaitDrop)
	l.in(seg{flags: "R", seq: 400}, TimeWaitDrop)
	l.expiry(60 * time.Second)
}

// Issue 13: an acceptable segment (at or after RCV.NXT) other than the
// duplicate of the last ACK is acknowledged and restarts 2·MSL (RFC 9293
// §3.10.7.4; FreeBSD's tcp_twcheck): an ACK for old data, a FIN|ACK at
// RCV.NXT, data in the window.
func TestTimeWait_AcceptableSegmentsAckedAndRestart(t *testing.T) {
	h := toTimeWait(t)
	h.at(time.Second)
	h.in(seg{flags: ".", seq: 302, ack: 101, win: 65535})
	h.out(seg{flags: ".", seq: 102, ack: 302, win: 65535})
	h.none()
	h.deadline(61 * time.Second)
	h.at(2 * time.Second)
	h.in(seg{flags: "F.", seq: 302, ack: 102, win: 65535})
	h.out(seg{flags: ".", seq: 102, ack: 302, win: 65535})
	h.none()
	h.deadline(62 * time.Second)
	h.at(3 * time.Second)
	h.in(seg{flags: "P.", seq: 310, ack: 102, win: 65535, data: "late"})
	h.out(seg{flags: ".", seq: 102, ack: 302, win: 65535})
	h.none()
	h.deadline(63 * time.Second)
	h.state(StateTimeWait)

	l := recordOf(t, toTimeWait(t))
	l.at(time.Second)
	l.in(seg{flags: "F.", seq: 302, ack: 102, win: 65535}, TimeWaitAck)
	l.out(seg{flags: ".", seq: 102, ack: 302, win: 65535})
	l.expiry(61 * time.Second)
}

// An old duplicate (before RCV.NXT) is acknowledged; the wait is not
// restarted. A segment without ACK is dropped.
func TestTimeWait_OldDataAckedNoRestart(t *testing.T) {
	l := recordOf(t, toTimeWait(t))
	l.at(5 * time.Second)
	l.in(seg{flags: "P.", seq: 290, ack: 102, win: 65535, data: "old"}, TimeWaitAck)
	l.out(seg{flags: ".", seq: 102, ack: 302, win: 65535})
	l.expiry(60 * time.Second)
	l.in(seg{flags: "P", seq: 302, data: "x"}, TimeWaitDrop)
	l.in(seg{flags: "F", seq: 302}, TimeWaitDrop)
	l.expiry(60 * time.Second)
}

// RFC 6191 without timestamps: a SYN above RCV.NXT may reopen the 4-tuple;
// one at or below it is an old duplicate, answered with an ACK (RFC 5961
// §4, as Linux and FreeBSD) without a restart. A SYN|ACK gets an ACK.
func TestTimeWait_SynReopensWhenSequenceNewer(t *testing.T) {
	l := recordOf(t, toTimeWait(t))
	l.at(10 * time.Second)
	l.in(seg{flags: "S", seq: 302}, TimeWaitAck)
	l.out(seg{flags: ".", seq: 102, ack: 302, win: 65535})
	l.in(seg{flags: "S", seq: 200}, TimeWaitAck)
	l.out(seg{flags: ".", seq: 102, ack: 302, win: 65535})
	l.in(seg{flags: "S.", seq: 5000, ack: 102, win: 65535}, TimeWaitAck)
	l.out(seg{flags: ".", seq: 102, ack: 302, win: 65535})
	l.expiry(60 * time.Second)
	l.in(seg{flags: "S", seq: 303}, TimeWaitReopen)

	// The TCB in TIME-WAIT ends (CLOSED) for its owner to take the SYN.
	h := toTimeWait(t)
	h.trans = nil
	h.at(10 * time.Second)
	h.in(seg{flags: "S", seq: 302})
	h.out(seg{flags: ".", seq: 102, ack: 302, win: 65535})
	h.none()
	h.state(StateTimeWait)
	h.in(seg{flags: "S", seq: 9000})
	h.none()
	h.transitions("TIME-WAIT -> CLOSED")
	h.check(h.tcb.Done(), "not Done")
	h.err(nil)
}

// RFC 6191 with timestamps: a newer TSval reopens even with an older
// sequence number; an older TSval (PAWS) never does. The record's ACKs
// carry TSval (its clock plus the connection's offset) and TS.Recent,
// which an acceptable segment updates.
func TestTimeWait_Timestamps(t *testing.T) {
	l := &twLadder{t: t, now: t0, tw: TimeWait{sndNxt: 102, rcvNxt: 302, tsRecent: 5000, tsOffset: 7,
		tsOK: true, expires: instantOf(t0.Add(60 * time.Second)), wait: int64(60 * time.Second), window: 502}}
	tsv := uint32(t0.UnixMilli()) + 7
	l.at(time.Second)
	l.in(seg{flags: "S", seq: 100, opts: ts(5001, 0)}, TimeWaitReopen)
	l.in(seg{flags: "S", seq: 400, opts: ts(4999, 0)}, TimeWaitAck)
	l.out(seg{flags: ".", seq: 102, ack: 302, win: 502, opts: ts(tsv+1000, 5000)})
	l.in(seg{flags: "S", seq: 400, opts: ts(5000, 0)}, TimeWaitReopen)
	l.in(seg{flags: "S", seq: 302, opts: ts(5000, 0)}, TimeWaitAck)
	l.out(seg{flags: ".", seq: 102, ack: 302, win: 502, opts: ts(tsv+1000, 5000)})
	// PAWS: an old timestamp is acknowledged without restarting.
	l.in(seg{flags: "F.", seq: 302, ack: 102, win: 100, opts: ts(4000, 0)}, TimeWaitAck)
	l.out(seg{flags: ".", seq: 102, ack: 302, win: 502, opts: ts(tsv+1000, 5000)})
	l.expiry(60 * time.Second)
	l.at(2 * time.Second)
	l.in(seg{flags: "F.", seq: 302, ack: 102, win: 100, opts: ts(6000, 0)}, TimeWaitAck)
	l.out(seg{flags: ".", seq: 102, ack: 302, win: 502, opts: ts(tsv+2000, 6000)})
	l.expiry(62 * time.Second)
}

// A dial may take our own TIME-WAIT 4-tuple (Linux's tcp_tw_reuse) only
// with timestamps, and a second after the wait began or a retransmitted
// FIN restarted it; it starts at SND.NXT + 65537.
func TestTimeWait_ReusableForDial(t *testing.T) {
	tw := TimeWait{sndNxt: 102, rcvNxt: 302, tsRecent: 5000, tsOK: true,
		expires: instantOf(t0.Add(60 * time.Second)), wait: int64(60 * time.Second)}
	for _, c := range []struct {
		at   time.Duration
		want bool
	}{{0, false}, {999 * time.Millisecond, false}, {time.Second, true}, {59 * time.Second, true}} {
		if got := tw.ReusableForDial(t0.Add(c.at)); got != c.want {
			t.Errorf("with timestamps, at %v: %v; want %v", c.at, got, c.want)
		}
	}
	l := &twLadder{t: t, now: t0, tw: tw}
	l.at(500 * time.Millisecond)
	l.in(seg{flags: "F.", seq: 302, ack: 102, win: 100, opts: ts(6000, 0)}, TimeWaitAck) // restarts the wait
	if l.tw.ReusableForDial(t0.Add(1400 * time.Millisecond)) {
		t.Error("reusable 0.9 s after a retransmitted FIN restarted the wait")
	}
	if !l.tw.ReusableForDial(t0.Add(1500 * time.Millisecond)) {
		t.Error("not reusable 1 s after a retransmitted FIN restarted the wait")
	}
	noTS := tw
	noTS.tsOK = false
	if noTS.ReusableForDial(t0.Add(59 * time.Second)) {
		t.Error("reusable without timestamps")
	}
	if got := tw.NextISS(); got != 102+65537 {
		t.Errorf("NextISS %d; want %d", got, 102+65537)
	}
}
