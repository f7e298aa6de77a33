package tcp

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// Socket options (sockopt.go). established() leaves SND.NXT=101,
// RCV.NXT=301, an RTO of 200 ms (MinRTO; the handshake took no time).

var noDelay = Config{DisableSACK: true, DisableTimestamps: true, DisableWScale: true, QuickAcks: -1, NoDelay: true}

// TCP_USER_TIMEOUT: the data is retransmitted at 200 ms and 600 ms; the
// next timeout (1.4 s) is pulled in to the user timeout, 1 s after the
// data was sent, where the connection fails with ETIMEDOUT.
func TestUserTimeout_Data(t *testing.T) {
	h := established(t, noDelay)
	h.tcb.SetUserTimeout(time.Second)
	h.write("abc")
	h.out(seg{flags: "P.", seq: 101, ack: 301, win: 65535, data: "abc"})
	h.at(200 * time.Millisecond)
	h.out(seg{flags: "P.", seq: 101, ack: 301, win: 65535, data: "abc"})
	h.at(600 * time.Millisecond)
	h.out(seg{flags: "P.", seq: 101, ack: 301, win: 65535, data: "abc"})
	h.none()
	h.deadline(time.Second)
	h.at(time.Second)
	h.none()
	h.state(StateClosed)
	h.err(syscall.ETIMEDOUT)
}

// TCP_USER_TIMEOUT replaces MaxRetries: with a long user timeout the
// connection outlives MaxRetries retransmissions.
func TestUserTimeout_ReplacesMaxRetries(t *testing.T) {
	cfg := noDelay
	cfg.MaxRetries = 1
	h := established(t, cfg)
	h.tcb.SetUserTimeout(time.Hour)
	h.write("abc")
	h.out(seg{flags: "P.", seq: 101, ack: 301, win: 65535, data: "abc"})
	h.at(200 * time.Millisecond)
	h.out(seg{flags: "P.", seq: 101, ack: 301, win: 65535, data: "abc"})
	h.at(600 * time.Millisecond)
	h.out(seg{flags: "P.", seq: 101, ack: 301, win: 65535, data: "abc"})
	h.state(StateEstablished)
}

// TCP_USER_TIMEOUT bounds zero-window probing as well.
func TestUserTimeout_Persist(t *testing.T) {
	h := established(t, noDelay)
	h.tcb.SetUserTimeout(time.Second)
	h.in(seg{flags: ".", seq: 301, ack: 101, win: 0})
	h.write("abc")
	h.none()
	h.deadline(200 * time.Millisecond)
	h.at(200 * time.Millisecond)
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535, data: "a"})
	h.in(seg{flags: ".", seq: 301, ack: 101, win: 0})
	h.at(1200 * time.Millisecond)
	h.state(StateClosed)
	h.err(syscall.ETIMEDOUT)
}

// synReceived starts a passive open: SYN-RECEIVED, SYN-ACK sent.
func synReceived(t *testing.T) *harness {
	h := passive(t, plain, seg{flags: "S", seq: peer, win: 65535, opts: mss(1460)})
	h.out(seg{flags: "S.", seq: iss, ack: peer + 1, win: 65535, opts: mss(1460)})
	return h
}

// TCP_DEFER_ACCEPT of 3 s (2 SYN-ACK timeouts): the bare ACK is dropped,
// the SYN-ACK is not resent at 1 s but is at 3 s, and the ACK answering it
// completes the handshake.
func TestDeferAccept_BareACK(t *testing.T) {
	h := synReceived(t)
	h.tcb.SetDeferAccept(3 * time.Second)
	h.in(seg{flags: ".", seq: peer + 1, ack: iss + 1, win: 65535})
	h.none()
	h.state(StateSynReceived)
	h.at(time.Second)
	h.none()
	h.state(StateSynReceived)
	h.deadline(3 * time.Second)
	h.at(3 * time.Second)
	h.out(seg{flags: "S.", seq: iss, ack: peer + 1, win: 65535, opts: mss(1460)})
	h.in(seg{flags: ".", seq: peer + 1, ack: iss + 1, win: 65535})
	h.state(StateEstablished)
}

// Data completes a deferred handshake at once.
func TestDeferAccept_Data(t *testing.T) {
	h := synReceived(t)
	h.tcb.SetDeferAccept(5 * time.Second)
	h.in(seg{flags: ".", seq: peer + 1, ack: iss + 1, win: 65535})
	h.state(StateSynReceived)
	h.after(2500 * time.Millisecond)
	h.in(seg{flags: "P.", seq: peer + 1, ack: iss + 1, win: 65535, data: "GET"})
	h.state(StateEstablished)
	h.readAll("GET")
}

func TestSecsToRetrans(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want uint8
	}{{0, 0}, {time.Second, 1}, {3 * time.Second, 2}, {5 * time.Second, 3}, {7 * time.Second, 3}, {8 * time.Second, 4}} {
		if got := secsToRetrans(c.d, time.Second, 120*time.Second); got != c.want {
			t.Errorf("secsToRetrans(%v) = %d, want %d", c.d, got, c.want)
		}
	}
}

// finWait2 closes an established connection and has its FIN acknowledged.
func finWait2(t *testing.T, setup func(h *harness)) *harness {
	h := established(t, plain)
	setup(h)
	h.close()
	h.out(seg{flags: "F.", seq: 101, ack: 301, win: 65535})
	h.in(seg{flags: ".", seq: 301, ack: 102, win: 65535})
	return h
}

// TCP_LINGER2: a per-connection FIN-WAIT-2 timeout of 1 s instead of 60.
func TestLinger2_Timeout(t *testing.T) {
	h := finWait2(t, func(h *harness) { h.tcb.SetFinWait2Timeout(time.Second, h.now) })
	h.state(StateFinWait2)
	h.deadline(time.Second)
	h.at(time.Second)
	h.none()
	h.state(StateClosed)
}

// TCP_LINGER2 < 0: reset on reaching FIN-WAIT-2.
func TestLinger2_Negative(t *testing.T) {
	h := finWait2(t, func(h *harness) { h.tcb.SetFinWait2Timeout(-1, h.now) })
	h.out(seg{flags: "R.", seq: 102, ack: 301, win: 65535})
	h.state(StateClosed)
}

// TCP_LINGER2 0 restores the configured timeout; set in FIN-WAIT-2 it
// restarts the timer.
func TestLinger2_InFinWait2(t *testing.T) {
	h := finWait2(t, func(*harness) {})
	h.deadline(60 * time.Second)
	h.after(time.Second)
	h.tcb.SetFinWait2Timeout(2*time.Second, h.now)
	h.deadline(3 * time.Second)
	h.tcb.SetFinWait2Timeout(0, h.now)
	h.deadline(61 * time.Second)
}

// TCP_CORK holds small writes, even with NoDelay, until uncorked.
func TestCork_Uncork(t *testing.T) {
	h := established(t, noDelay)
	h.tcb.SetCork(true, h.now)
	h.write("abc")
	h.write("def")
	h.none()
	h.tcb.SetCork(false, h.now)
	h.collect()
	h.out(seg{flags: "P.", seq: 101, ack: 301, win: 65535, data: "abcdef"})
	h.none()
}

// A corked partial segment with nothing in flight goes after the probe
// timeout: max(RTO, SRTT + MinRTO) = 200 ms, with PSH.
func TestCork_Probe(t *testing.T) {
	h := established(t, noDelay)
	h.tcb.SetCork(true, h.now)
	h.write("abc")
	h.none()
	h.deadline(200 * time.Millisecond)
	h.at(200 * time.Millisecond)
	h.out(seg{flags: "P.", seq: 101, ack: 301, win: 65535, data: "abc"})
	h.none()
}

// A full segment is not held by the cork; the rest is.
func TestCork_FullSegment(t *testing.T) {
	h := established(t, noDelay)
	h.tcb.SetCork(true, h.now)
	h.write(strings.Repeat("x", 1500))
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535, data: strings.Repeat("x", 1460)})
	h.none()
	// In flight: no probe timer, the RTO only.
	h.deadline(200 * time.Millisecond)
}

// Push (TCP_NODELAY set while corked) sends the held segment once.
func TestCork_Push(t *testing.T) {
	h := established(t, noDelay)
	h.tcb.SetCork(true, h.now)
	h.write("abc")
	h.none()
	h.tcb.Push(h.now)
	h.collect()
	h.out(seg{flags: "P.", seq: 101, ack: 301, win: 65535, data: "abc"})
	h.write("def")
	h.none()
}

func (h *harness) writeFlags(data string, f WriteFlags) {
	h.t.Helper()
	h.log("      write %d bytes, flags %d", len(data), f)
	n, err := h.tcb.WriteWithFlags([]byte(data), f, h.now)
	if err != nil || n != len(data) {
		h.fail("Write: %d, %v; want %d, nil", n, err, len(data))
	}
	h.collect()
}

// MSG_MORE holds the partial segment of that write only; the next write
// without it sends everything, with PSH.
func TestMsgMore(t *testing.T) {
	h := established(t, noDelay)
	h.writeFlags("abc", WriteMore)
	h.none()
	h.writeFlags("def", 0)
	h.out(seg{flags: "P.", seq: 101, ack: 301, win: 65535, data: "abcdef"})
}

// The full segments of a MSG_MORE write go at once, the rest when an ACK
// arrives (the ACK's push is not MSG_MORE's), without PSH.
func TestMsgMore_AckSends(t *testing.T) {
	h := established(t, noDelay)
	h.writeFlags(strings.Repeat("x", 1500), WriteMore)
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535, data: strings.Repeat("x", 1460)})
	h.none()
	h.in(seg{flags: ".", seq: 301, ack: 1561, win: 65535})
	h.out(seg{flags: ".", seq: 1561, ack: 301, win: 65535, data: strings.Repeat("x", 40)})
}

// MSG_EOR: two records queued before the handshake completes go as two
// segments, not one.
func TestEOR_NoCoalesce(t *testing.T) {
	h := active(t, noDelay)
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: mss(1460)})
	h.writeFlags("abc", WriteEOR)
	h.writeFlags("def", WriteEOR)
	h.write("gh")
	h.none()
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 65535, opts: mss(1460)})
	h.out(seg{flags: "P.", seq: 101, ack: 301, win: 65535, data: "abc"})
	h.out(seg{flags: "P.", seq: 104, ack: 301, win: 65535, data: "def"})
	h.out(seg{flags: "P.", seq: 107, ack: 301, win: 65535, data: "gh"})
	h.none()
}

// TCP_NOTSENT_LOWAT: a write stops once the unsent bytes reach the mark
// (at a train boundary: what goes at once, 10 segments, then half the
// peer's window, 22 segments), and the connection is writable again only
// when fewer are unsent.
func TestNotSentLowat(t *testing.T) {
	h := established(t, noDelay)
	h.tcb.SetNotSentLowat(1000)
	b := []byte(strings.Repeat("x", 60000))
	n, err := h.tcb.Write(b, h.now)
	h.collect()
	h.check(err == nil && n == 14600+32120, "Write: %d, %v", n, err)
	h.check(h.tcb.NotSent() == 32120, "NotSent %d", h.tcb.NotSent())
	h.check(!h.tcb.Writable(), "writable with 32120 bytes unsent")
	for i := range 10 {
		f := "."
		if i == 9 {
			f = "P." // the first train emptied the buffer when it was queued
		}
		h.out(seg{flags: f, seq: 101 + uint32(i)*1460, ack: 301, win: 65535, data: strings.Repeat("x", 1460)})
	}
	h.none()
	h.tcb.SetNotSentLowat(0)
	h.check(h.tcb.Writable(), "not writable without the mark")
}

// Unread is what a Read would return (TCP_INQ).
func TestUnread(t *testing.T) {
	h := established(t, plain)
	h.in(seg{flags: "P.", seq: 301, ack: 101, win: 65535, data: "hello"})
	h.check(h.tcb.Unread() == 5, "Unread %d", h.tcb.Unread())
	h.read(2)
	h.check(h.tcb.Unread() == 3, "Unread %d", h.tcb.Unread())
}
