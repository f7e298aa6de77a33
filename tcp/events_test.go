package tcp

import (
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/synack/synack/wire"
)

// Events (events.go): each step of a ladder reports exactly what it
// changed. The helpers check the events of one call before the output is
// drained, so that EventOutput shows.

// evStart takes tcb with the events its creation left.
func (h *harness) evStart(tcb *TCB, want Events) {
	h.t.Helper()
	h.tcb = tcb
	tcb.OnStateChange = func(from, to State, now time.Time) {
		h.log("      %s -> %s", from, to)
		h.trans = append(h.trans, from.String()+" -> "+to.String())
	}
	h.evCheck("TakeEvents after creation", tcb.TakeEvents(), want)
	h.collect()
}

// evIn delivers s and checks the events HandleSegment returns.
func (h *harness) evIn(s seg, want Events) {
	h.t.Helper()
	h.log("  <-- %s", s)
	x := s.segment()
	h.evCheck("HandleSegment", h.tcb.HandleSegment(&x, h.now), want)
	h.collect()
}

// evTimer moves the clock to t0+d, checks that the deadline is there, and
// checks the events HandleTimer returns.
func (h *harness) evTimer(d time.Duration, want Events) {
	h.t.Helper()
	h.deadline(d)
	h.now = t0.Add(d)
	h.log("      timer")
	h.evCheck("HandleTimer", h.tcb.HandleTimer(h.now), want)
	h.collect()
}

// evTake checks the events TakeEvents returns after a user call.
func (h *harness) evTake(call string, want Events) {
	h.t.Helper()
	h.log("      %s", call)
	h.evCheck("TakeEvents after "+call, h.tcb.TakeEvents(), want)
	h.collect()
}

func (h *harness) evCheck(what string, got, want Events) {
	h.t.Helper()
	h.log("      events %s", got)
	if got != want {
		h.fail("%s: events %s, want %s", what, got, want)
	}
}

// An active open, a data exchange both ways, the peer's FIN and our
// close: every call reports what it changed, and a take with nothing new
// reports nothing.
func TestEvents_ActiveOpenDataAndPassiveClose(t *testing.T) {
	h := newHarness(t)
	// The SYN is queued and its RTO armed; a Write would be taken
	// (data waits for ESTABLISHED), so the TCB starts writable.
	h.evStart(NewActive(plain, iss, h.now), EventOutput|EventWritable|EventDeadlineMoved)
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: mss(1460)})
	h.deadline(time.Second)
	h.evTake("nothing", 0)

	h.after(10 * time.Millisecond)
	// The SYN-ACK completes the handshake: the ACK goes out and the
	// SYN's RTO is cancelled.
	h.evIn(seg{flags: "S.", seq: peer, ack: iss + 1, win: 65535, opts: mss(1460)},
		EventOutput|EventEstablished|EventDeadlineMoved)
	h.out(seg{flags: ".", seq: iss + 1, ack: peer + 1, win: 65535})
	h.deadline(0)

	// Data: readable, and its ACK delayed 40 ms.
	h.evIn(seg{flags: "P.", seq: 301, ack: 101, win: 65535, data: "hello"}, EventReadable|EventDeadlineMoved)
	h.none()
	h.deadline(50 * time.Millisecond)
	// More data while the first is unread is news too (RCV.NXT moved);
	// the delayed ACK's deadline stays.
	h.evIn(seg{flags: "P.", seq: 306, ack: 101, win: 65535, data: "world"}, EventReadable)
	h.none()
	// A duplicate of it is not.
	h.evIn(seg{flags: "P.", seq: 306, ack: 101, win: 65535, data: "world"}, EventOutput|EventDeadlineMoved)
	h.out(seg{flags: ".", seq: 101, ack: 311, win: 65525}) // a duplicate is ACKed at once
	h.deadline(0)

	n, err := h.tcb.Read(make([]byte, 100), h.now)
	h.check(n == 10 && err == nil, "Read: %d, %v", n, err)
	h.evTake("read 10 bytes", 0) // not readable any more: no event for that

	// Writing arms the RTO.
	n, err = h.tcb.Write([]byte("abc"), h.now)
	h.check(n == 3 && err == nil, "Write: %d, %v", n, err)
	h.evTake("write 3 bytes", EventOutput|EventDeadlineMoved)
	// 10 bytes read do not reopen the window (SWS avoidance).
	h.out(seg{flags: "P.", seq: 101, ack: 311, win: 65525, data: "abc"})
	h.deadline(210 * time.Millisecond) // the RTO: its 200 ms floor over a 10 ms RTT
	h.after(5 * time.Millisecond)
	h.evIn(seg{flags: ".", seq: 311, ack: 104, win: 65535}, EventDeadlineMoved)
	h.deadline(0)
	h.none()

	// The peer's FIN: readable (io.EOF), and ACKed at once.
	h.trans = nil
	h.evIn(seg{flags: "F.", seq: 311, ack: 104, win: 65535}, EventOutput|EventReadable|EventReadClosed)
	h.out(seg{flags: ".", seq: 104, ack: 312, win: 65525})
	h.transitions("ESTABLISHED -> CLOSE-WAIT")
	_, err = h.tcb.Read(make([]byte, 10), h.now)
	h.check(err == io.EOF, "Read after FIN: %v", err)
	h.evTake("read EOF", 0)

	// Our close: the FIN goes, with its RTO. Write now fails at once,
	// but it was writable already: no event for that.
	h.check(h.tcb.Close(h.now) == nil, "Close")
	h.evTake("CLOSE", EventOutput|EventDeadlineMoved)
	h.out(seg{flags: "F.", seq: 104, ack: 312, win: 65525})
	h.evIn(seg{flags: ".", seq: 312, ack: 105, win: 65535}, EventClosed|EventDeadlineMoved)
	h.transitions("CLOSE-WAIT -> LAST-ACK", "LAST-ACK -> CLOSED")
	h.check(h.tcb.Done(), "Done after the ACK of our FIN")
	h.evTake("nothing", 0)
}

// A passive open reports EventEstablished on the ACK of its SYN-ACK, and
// data on that ACK as readable in the same call.
func TestEvents_PassiveOpenWithDataOnThirdACK(t *testing.T) {
	h := newHarness(t)
	syn := seg{flags: "S", seq: peer, win: 65535, opts: mss(1460)}.segment()
	h.evStart(NewPassive(plain, iss, &syn, h.now), EventOutput|EventWritable|EventDeadlineMoved)
	h.out(seg{flags: "S.", seq: iss, ack: peer + 1, win: 65535, opts: mss(1460)})
	h.deadline(time.Second)
	h.evIn(seg{flags: "P.", seq: peer + 1, ack: iss + 1, win: 65535, data: "GET"},
		EventEstablished|EventReadable|EventDeadlineMoved)
	h.state(StateEstablished)
	h.deadline(40 * time.Millisecond) // the delayed ACK of "GET"
}

// A connection made from a SYN cookie's ACK reports, at its owner's first
// take, the handshake and the data that ACK carried.
func TestEvents_CookieACKWithData(t *testing.T) {
	syn := Segment{Seq: peer, Flags: wire.FlagSYN, Window: 65535, Options: mss(1460)}
	sa := CookieSynAck(plain, ckKey, ckLocal, ckRemote, &syn, t0)
	ack := cookieACK(&sa, 0)
	ack.Flags |= wire.FlagPSH
	ack.Payload = []byte("GET /")
	ck, ok := CheckCookie(plain, ckKey, ckLocal, ckRemote, &ack, t0)
	if !ok {
		t.Fatal("CheckCookie refused the cookie")
	}
	h := newHarness(t)
	h.evStart(NewFromCookie(plain, ck, &ack, t0), EventEstablished|EventReadable|EventWritable|EventDeadlineMoved)
	h.state(StateEstablished)
	h.deadline(40 * time.Millisecond) // the delayed ACK of "GET /"
	h.readAll("GET /")
}

// A RST ends the connection with ECONNRESET: closed, failed and readable
// (Read returns the error) in one call; it was writable already.
func TestEvents_ResetInEstablished(t *testing.T) {
	h := established(t, plain)
	h.evTake("nothing", 0) // the harness's HandleSegment calls took them
	h.evIn(seg{flags: "R", seq: 301, win: 0}, EventClosed|EventError|EventReadable)
	h.err(syscall.ECONNRESET)
	h.state(StateClosed)
	h.evTake("nothing", 0)
	// A reset in SYN-RECEIVED sends a passive TCB back to LISTEN: the
	// connection ended too.
	syn := seg{flags: "S", seq: peer, win: 65535, opts: mss(1460)}.segment()
	p := newHarness(t)
	p.evStart(NewPassive(plain, iss, &syn, p.now), EventOutput|EventWritable|EventDeadlineMoved)
	p.evIn(seg{flags: "R", seq: peer + 1, win: 0}, EventClosed|EventReadable|EventDeadlineMoved)
	p.state(StateListen)
	p.err(nil)
}

// A full send buffer is not writable; the ACK that empties it is the
// event a blocked writer waits for.
func TestEvents_WritableWhenTheSendBufferDrains(t *testing.T) {
	cfg := plain
	cfg.SendBufferSize, cfg.MaxSendBufferSize = 4096, 4096
	cfg.NoDelay = true
	h := established(t, cfg)
	h.evTake("nothing", 0)
	data := make([]byte, 8192)
	n, err := h.tcb.Write(data, h.now)
	h.check(n == 4096 && err == nil, "Write: %d, %v", n, err)
	h.check(!h.tcb.Writable(), "writable with a full send buffer")
	h.evTake("write 4096 of 8192 bytes", EventOutput|EventDeadlineMoved)
	h.pending = nil
	h.after(10 * time.Millisecond)
	h.evIn(seg{flags: ".", seq: 301, ack: 101 + 4096, win: 65535}, EventWritable|EventDeadlineMoved)
	h.check(h.tcb.Writable(), "not writable after the ACK of everything")
	// The writer that came up short has not written since: each call
	// that finds the TCB writable says so again (a window update here).
	h.evIn(seg{flags: ".", seq: 301, ack: 101 + 4096, win: 65000}, EventWritable)
	// Writable already: the next ACK is no news.
	n, _ = h.tcb.Write(data[:1000], h.now)
	h.check(n == 1000, "Write: %d", n)
	h.evTake("write 1000 bytes", EventOutput|EventDeadlineMoved)
	h.pending = nil
	h.evIn(seg{flags: ".", seq: 301, ack: 101 + 5096, win: 65535}, EventDeadlineMoved)

	// Full again, then CloseWrite: a blocked Write now fails at once
	// (EPIPE), so it is writable.
	n, _ = h.tcb.Write(data, h.now)
	h.check(n == 4096, "Write: %d", n)
	h.evTake("write 4096 of 8192 bytes", EventOutput|EventDeadlineMoved)
	h.pending = nil
	h.check(h.tcb.CloseWrite(h.now) == nil, "CloseWrite")
	h.evTake("CLOSE (write side)", EventOutput|EventWritable)
	h.out(seg{flags: "F.", seq: 101 + 9192, ack: 301, win: 65535}) // all data is sent: the FIN goes
}

// Timers: a SYN retransmission moves the deadline (the backoff); the
// last one running out fails the connection.
func TestEvents_SynTimeout(t *testing.T) {
	cfg := plain
	cfg.SynRetries = 1
	h := newHarness(t)
	h.evStart(NewActive(cfg, iss, h.now), EventOutput|EventWritable|EventDeadlineMoved)
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: mss(1460)})
	h.evTimer(time.Second, EventOutput|EventDeadlineMoved)
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: mss(1460)})
	h.evTimer(3*time.Second, EventClosed|EventError|EventReadable|EventDeadlineMoved)
	h.err(syscall.ETIMEDOUT)
	h.deadline(0)
	h.none()
}

// Our close first: FIN-WAIT-2, then TIME-WAIT on the peer's FIN, then
// CLOSED when 2·MSL runs out; the delayed ACK timer reports its output.
func TestEvents_ActiveCloseTimeWaitAndDelayedACK(t *testing.T) {
	h := established(t, plain)
	h.evTake("nothing", 0)
	h.evIn(seg{flags: "P.", seq: 301, ack: 101, win: 65535, data: "x"}, EventReadable|EventDeadlineMoved)
	h.evTimer(40*time.Millisecond, EventOutput|EventDeadlineMoved)
	h.out(seg{flags: ".", seq: 101, ack: 302, win: 65534})
	h.deadline(0)

	h.check(h.tcb.Close(h.now) == nil, "Close")
	h.evTake("CLOSE with unread data", EventOutput|EventClosed)
	h.out(seg{flags: "R.", seq: 101, ack: 302, win: 65534})

	h = established(t, plain)
	h.evTake("nothing", 0)
	h.check(h.tcb.Close(h.now) == nil, "Close")
	// Close stops reading too: Read returns io.EOF at once.
	h.evTake("CLOSE", EventOutput|EventReadable|EventDeadlineMoved)
	h.out(seg{flags: "F.", seq: 101, ack: 301, win: 65535})
	h.evIn(seg{flags: ".", seq: 301, ack: 102, win: 65535}, EventDeadlineMoved) // FIN-WAIT-2's timeout replaces the RTO
	h.deadline(60 * time.Second)
	// 2·MSL from now replaces it (at the same instant, the deadline
	// would not have moved).
	h.after(time.Second)
	h.evIn(seg{flags: "F.", seq: 301, ack: 102, win: 65535}, EventOutput|EventReadClosed|EventTimeWait|EventDeadlineMoved)
	h.out(seg{flags: ".", seq: 102, ack: 302, win: 65535})
	h.state(StateTimeWait)
	h.evTimer(61*time.Second, EventClosed|EventDeadlineMoved)
	h.state(StateClosed)
}

func TestEvents_String(t *testing.T) {
	for _, c := range []struct {
		ev   Events
		want string
	}{
		{0, "0"},
		{EventOutput, "Output"},
		{EventReadable | EventReadClosed | EventDeadlineMoved, "Readable|ReadClosed|DeadlineMoved"},
		{EventClosed | EventError | 1<<12, "Closed|Error|Events(4096)"},
	} {
		if got := c.ev.String(); got != c.want {
			t.Errorf("%#x.String() = %q, want %q", uint16(c.ev), got, c.want)
		}
	}
	if !(EventClosed | EventError).Has(EventError) || EventClosed.Has(EventClosed|EventError) {
		t.Error("Has")
	}
}

// The events against the questions, in FuzzEngine: at every drain, the
// events reported since the last one (returned by HandleSegment and
// HandleTimer, then TakeEvents) must say exactly what polling the TCB
// before and after says changed.

// evPoll is what the questions answered at a drain.
type evPoll struct {
	readable, writable, rcvFin, failed bool
	rcvNxt                             uint32
	deadline                           time.Time
}

func pollTCB(t *TCB) evPoll {
	return evPoll{readable: t.Readable(), writable: t.Writable(), rcvFin: t.rcvFin,
		failed: t.Err() != nil, rcvNxt: t.rcvNxt, deadline: t.Deadline()}
}

// evSaw is the events the transitions (OnStateChange) since the last
// drain stand for.
type evSaw Events

func (s *evSaw) transition(from, to State) {
	switch {
	case to == StateEstablished && (from == StateSynSent || from == StateSynReceived):
		*s |= evSaw(EventEstablished)
	case to == StateTimeWait:
		*s |= evSaw(EventTimeWait)
	case to == StateClosed || to == StateListen:
		*s |= evSaw(EventClosed)
	}
}

func (e *engineFuzz) checkEvents() {
	t := e.tcb
	queued := len(t.outQ) > 0
	got := e.evGot | t.TakeEvents()
	was, now := e.evPoll, pollTCB(t)
	saw := Events(e.evSaw)
	e.evGot, e.evPoll, e.evSaw = 0, now, 0
	newData := now.rcvNxt != was.rcvNxt && !t.readClosed
	want := saw
	for _, c := range []struct {
		ev Events
		on bool
	}{
		{EventOutput, queued},
		{EventReadable, now.readable && (!was.readable || newData)},
		{EventReadClosed, now.rcvFin && !was.rcvFin},
		{EventWritable, now.writable && (!was.writable || e.writeShort)},
		{EventError, now.failed && !was.failed},
		{EventDeadlineMoved, !now.deadline.Equal(was.deadline)},
	} {
		if c.on {
			want |= c.ev
		}
	}
	if got != want {
		e.fail("events %s; polling says %s (Readable %v -> %v, Writable %v -> %v, RCV.NXT %d -> %d, deadline %v -> %v)",
			got, want, was.readable, now.readable, was.writable, now.writable, was.rcvNxt, now.rcvNxt,
			was.deadline.Sub(t0), now.deadline.Sub(t0))
	}
	if got != 0 {
		e.logf("      events %s", got)
	}
}
