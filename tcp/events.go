package tcp

import (
	"strings"
	"time"
)

// Events is what happened in a TCB since its owner last took its events:
// HandleSegment and HandleTimer return them, TakeEvents returns them
// after the other calls (Write, Read, Close, the setters). An event is
// reported once, by the call that takes it first (EventOutput stands while
// segments wait, and EventWritable repeats after a short Write: see each),
// so that an owner acts on changes instead of asking the TCB after every
// call whether it became readable, writable, closed or wants its timer
// moved. The questions stay (State, Readable, Writable, Err, Deadline,
// Done) for whoever wants the current level.
type Events uint16

// The events. Readable, Writable and DeadlineMoved compare the TCB with
// what it was when events were last taken; the others record what a call
// did.
const (
	// EventOutput: segments wait in the output queue for DrainOutput.
	EventOutput Events = 1 << iota
	// EventEstablished: the handshake completed (ESTABLISHED was entered
	// from SYN-SENT or SYN-RECEIVED; a Close issued before it may have
	// moved the TCB on to FIN-WAIT-1 in the same call).
	EventEstablished
	// EventReadable: Read has something new to return: in-order data
	// or the peer's FIN arrived, or Read, which returned nothing, now
	// returns io.EOF or an error (the connection ended, CloseRead).
	EventReadable
	// EventReadClosed: the peer's FIN arrived in order; Read returns
	// io.EOF once the data before it is read.
	EventReadClosed
	// EventWritable: Writable is true, and was not when events were
	// last taken or the last Write did not take all it was given: a
	// blocked writer may go on (send-buffer room opened under the
	// wake-up rule of Writable, or the connection ended so that Write
	// fails at once). After a short Write it is reported at every take
	// that finds the TCB writable, until a Write takes everything (or
	// fails): the room Writable sees may come from memory that other
	// connections gave back, which no call on this one reports.
	EventWritable
	// EventTimeWait: TIME-WAIT was entered.
	EventTimeWait
	// EventClosed: the connection ended: CLOSED was entered, or LISTEN
	// again (a half-open connection reset). Done holds once the output
	// is drained.
	EventClosed
	// EventError: the connection failed; Err says why (ECONNREFUSED,
	// ECONNRESET, ETIMEDOUT). It comes with EventClosed.
	EventError
	// EventDeadlineMoved: Deadline differs (earlier, later or none) from
	// what it was when events were last taken: the owner re-arms its
	// timer.
	EventDeadlineMoved
	// EventStorage: with Config.DeferReclaim, the connection holds
	// buffer storage it did not hold when ReclaimIdle last gave storage
	// back (or ever): the owner looks at it with ReclaimIdle from now on.
	EventStorage
)

var eventNames = [...]string{
	"Output", "Established", "Readable", "ReadClosed", "Writable",
	"TimeWait", "Closed", "Error", "DeadlineMoved", "Storage",
}

// Has reports whether every event of f is in e.
func (e Events) Has(f Events) bool { return e&f == f }

// String lists the events by name, as "Output|Readable"; "0" for none.
func (e Events) String() string {
	if e == 0 {
		return "0"
	}
	var b strings.Builder
	for i, name := range eventNames {
		if e&(1<<i) != 0 {
			if b.Len() > 0 {
				b.WriteByte('|')
			}
			b.WriteString(name)
		}
	}
	if rest := e &^ (1<<len(eventNames) - 1); rest != 0 {
		if b.Len() > 0 {
			b.WriteByte('|')
		}
		b.WriteString("Events(" + itoa(int(rest)) + ")")
	}
	return b.String()
}

// eventState is what the TCB keeps to report events (16 bytes): the
// events recorded since the last take, and what the levels that events
// compare were at the last take.
type eventState struct {
	evDeadline instant // Deadline when events were last taken
	evRcvNxt   uint32  // RCV.NXT when events were last taken
	ev         Events  // recorded by the calls since (setState, enterClosed)
	evLevels   uint8   // evReadable, evWritable as they were at the last take; evWriteShort
}

// The bits of eventState.evLevels.
const (
	evReadable   uint8 = 1 << iota
	evWritable         // Writable at the last take
	evWriteShort       // the last Write took less than it was given (noteWrite)
)

// HandleSegment processes one incoming segment (RFC 9293 §3.10.7) and
// returns the events of the call (and of earlier calls not yet taken).
func (t *TCB) HandleSegment(seg *Segment, now time.Time) Events {
	t.handleSegment(seg, now)
	return t.TakeEvents()
}

// HandleTimer runs every timer that is due at now and returns the
// events of the call (and of earlier calls not yet taken).
func (t *TCB) HandleTimer(now time.Time) Events {
	t.handleTimer(now)
	return t.TakeEvents()
}

// TakeEvents returns the events since they were last taken, and forgets
// them: what an owner calls after a user call (Write, Read, Close, ...)
// or after creating the TCB. Without EventOutput the owner need not call
// DrainOutput: what DrainOutput would do with an empty queue (give its
// storage back once the buffers hold no memory) is done here.
func (t *TCB) TakeEvents() Events {
	ev := t.ev
	t.ev = 0
	if len(t.outQ) > 0 {
		ev |= EventOutput
	} else {
		t.releaseOut() // memory.go
	}
	var levels uint8
	if t.Readable() {
		levels |= evReadable
		// New in-order data or a FIN moved RCV.NXT; what arrives
		// after CloseRead is discarded, not readable.
		if t.evLevels&evReadable == 0 || t.rcvNxt != t.evRcvNxt && !t.readClosed {
			ev |= EventReadable
		}
	}
	t.evRcvNxt = t.rcvNxt
	levels |= t.evLevels & evWriteShort
	if t.Writable() {
		levels |= evWritable
		if t.evLevels&(evWritable|evWriteShort) != evWritable {
			ev |= EventWritable
		}
	}
	t.evLevels = levels
	if d := t.deadline(); d != t.evDeadline {
		ev |= EventDeadlineMoved
		t.evDeadline = d
	}
	if t.cfg.DeferReclaim && t.reclaimBits&reclaimNoted == 0 && t.holdsStorage() {
		t.reclaimBits |= reclaimNoted
		ev |= EventStorage
	}
	return ev
}

// noteTransition records the events of a state change (setState).
func (t *TCB) noteTransition(from, to State) {
	switch to {
	case StateEstablished:
		if from == StateSynSent || from == StateSynReceived {
			t.ev |= EventEstablished
		}
	case StateTimeWait:
		t.ev |= EventTimeWait
	case StateClosed, StateListen:
		t.ev |= EventClosed
	}
}

// noteWrite records whether a Write took all of the want bytes it was
// given (ok false: it failed), for EventWritable.
func (t *TCB) noteWrite(n, want int, ok bool) {
	if ok && n < want {
		t.evLevels |= evWriteShort
	} else {
		t.evLevels &^= evWriteShort
	}
}
