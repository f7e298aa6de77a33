package tcp

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/synack/synack/wire"
)

// FuzzEngine drives one TCB from each of its states through arbitrary
// sequences of peer segments, user calls and time steps decoded from the
// fuzzer's bytes, and checks after every step what must hold whatever the
// peer does:
//
//   - nothing panics, and timers do not fire in a loop at one instant;
//   - SND.UNA ≤ SND.NXT, and RCV.NXT never moves back;
//   - RCV.NXT never passes what the peer really sent: the sequence space
//     from IRS up to RCV.NXT is covered by segments that reached the TCB;
//   - what Read returns is a prefix of the peer's byte stream (every peer
//     segment carries the bytes of a fixed pattern at its sequence
//     numbers, so invented, lost or reordered bytes show);
//   - every segment sent carries exactly the bytes written at its sequence
//     numbers, never past SND.NXT, and a FIN only after all written data;
//   - the send buffer holds exactly what was written and is not yet
//     acknowledged, the buffers stay within their sizes and limits, and
//     out-of-order data is held only where the receive buffer has room.
//
// A failing input prints the ladder of the whole run.
func FuzzEngine(f *testing.F) {
	for state := range byte(fuzzStates) {
		// Each state with no options, with all of them, and with small
		// fixed buffers; then a little traffic.
		f.Add([]byte{state, 0, 0, 0, 1, 40, 5, 20, 3, 2, 6, 200, 2, 3, 4})
		f.Add([]byte{state, 0x0f, 0x1f, 0, 5, 30, 1, 30, 2, 4, 15, 3, 1, 6, 100, 4, 4, 4})
		f.Add([]byte{state, 0x31, 0x0e, 0, 5, 255, 5, 255, 1, 250, 15, 2, 1, 60, 6, 255, 2, 1, 7, 4, 8})
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		runEngineFuzz(t, data)
	})
}

// The states a run starts from (setup).
const (
	fzSynSent = iota
	fzSynRcvd
	fzEstActive
	fzEstPassive
	fzFinWait1
	fzFinWait2
	fzCloseWait
	fzClosing
	fzLastAck
	fzTimeWait
	fzEstBusy // ESTABLISHED with data in flight both ways and a hole
	fzSimOpen // SYN-RECEIVED from a simultaneous open
	fuzzStates
)

// fuzzOps bounds one run, so that one input stays cheap.
const fuzzOps = 300

// peerByte is the peer's byte at sequence number seq; ourByte is the k-th
// byte we write.
func peerByte(seq uint32) byte { return byte((seq * 0x9E3779B1) >> 24) }
func ourByte(k uint32) byte    { return byte((k*0x85EBCA6B)>>24) ^ byte(k) }

// fuzzBytes hands out the input; past its end it gives zeros.
type fuzzBytes struct {
	b []byte
	i int
}

func (r *fuzzBytes) more() bool { return r.i < len(r.b) }

func (r *fuzzBytes) byte() byte {
	if r.i >= len(r.b) {
		return 0
	}
	r.i++
	return r.b[r.i-1]
}

func (r *fuzzBytes) u16() uint16 { return uint16(r.byte())<<8 | uint16(r.byte()) }
func (r *fuzzBytes) u32() uint32 { return uint32(r.u16())<<16 | uint32(r.u16()) }

// span is a piece of sequence space the peer delivered.
type span struct{ seq, n uint32 }

type engineFuzz struct {
	t       *testing.T
	in      fuzzBytes
	tcb     *TCB
	cfg     Config // with defaults applied
	now     time.Time
	ourISS  uint32
	peerISS uint32
	ladder  []string

	written  int // bytes Write took
	read     int // bytes Read returned
	closedW  bool
	sent     []span // every peer segment's [SEQ, SEQ+LEN)
	covered  uint32 // sequence space from IRS known covered by sent
	coverOf  uint32 // the IRS covered was computed for
	synced   bool   // RCV.NXT has been set from the peer's SYN
	rcvNxt   uint32 // RCV.NXT after the last step
	peerTS   uint32 // the peer's timestamp clock
	ourTS    uint32 // the last TSval the TCB sent
	rbuf     []byte
	owners   []*owner // the buffers of payloads the TCB could keep (Segment.Owner)
	payloads int      // segments delivered

	// Events (events_test.go): those HandleSegment and HandleTimer
	// returned since the last drain, what the TCB's questions answered
	// then, and the transitions seen since.
	evGot      Events
	evPoll     evPoll
	evSaw      evSaw
	writeShort bool // the last Write took less than it was given

	// Send-side zero copy: payloads handed out in a page of the send
	// buffer (Segment.Page), on which the harness holds a reference as a
	// stack does; their bytes must not change while it does.
	held   []heldPayload
	pages0 int64 // SendPagesInUse when the run began
}

// heldPayload is a payload the harness holds a page reference for: k is
// its first byte's index in the stream written.
type heldPayload struct {
	page *SendPage
	data []byte
	k    uint32
}

func (e *engineFuzz) logf(format string, args ...any) {
	if len(e.ladder) < 2000 {
		e.ladder = append(e.ladder, fmt.Sprintf("%9v ", e.now.Sub(t0))+fmt.Sprintf(format, args...))
	}
}

func (e *engineFuzz) fail(format string, args ...any) {
	e.t.Helper()
	e.t.Fatalf("%s\n(state %s)\nladder (<-- to the TCB, --> from it):\n%s", fmt.Sprintf(format, args...),
		e.tcb.State(), strings.Join(e.ladder, "\n"))
}

func runEngineFuzz(t *testing.T, data []byte) {
	e := &engineFuzz{t: t, in: fuzzBytes{b: data}, now: t0, pages0: SendPagesInUse()}
	// The peer's payloads are at most 2040 bytes, under minKeep: let the
	// TCB keep any (zero-copy receive; deliver gives half of the owned
	// ones too large a buffer, so that those are copied).
	defer func(k int) { minKeep = k }(minKeep)
	minKeep = 1
	start := int(e.in.byte()) % fuzzStates
	cfgBits, peerBits, isnBits := e.in.byte(), e.in.byte(), e.in.byte()
	isns := [...]uint32{100, 0xffffff00, 0x7fffff80, 0xfffffffe}
	e.ourISS, e.peerISS = isns[isnBits&3], isns[(isnBits>>2)&3]+200

	cfg := Config{
		DisableSACK:       cfgBits&1 == 0,
		DisableTimestamps: cfgBits&2 == 0,
		DisableWScale:     cfgBits&4 == 0,
		NoDelay:           cfgBits&8 != 0,
		DisableRACK:       cfgBits&0x40 != 0,
		Pacing:            cfgBits&0x80 != 0,
		MSS:               536,
	}
	if cfgBits&0x10 != 0 {
		// Small fixed buffers: their limits are reached quickly.
		cfg.SendBufferSize, cfg.ReceiveBufferSize = 4096, 3000
	}
	if cfgBits&0x20 != 0 {
		cfg.CongestionControl = "newreno"
		cfg.QuickAcks = -1
	}
	e.cfg = cfg.withDefaults()
	e.setup(start, cfg, peerBits)
	e.check()
	for ops := 0; e.in.more() && ops < fuzzOps; ops++ {
		e.op()
		e.check()
	}
	// Whatever is left to read must still be the peer's bytes, after an
	// ABORT too (half of the runs: it copies what buffers the TCB kept).
	// Every buffer the TCB kept is released exactly once, at the latest
	// when the connection is aborted.
	if len(data)&1 != 0 {
		e.logf("      ABORT")
		e.tcb.Abort(e.now)
		e.drain()
		e.checkOwners()
	}
	e.doRead(1 << 20)
	e.check()
	e.tcb.Abort(e.now)
	e.checkOwners()
	// Every page goes back to its pool once the harness gives its
	// references back and the connection is aborted.
	e.releaseHeld(len(e.held))
	if n := SendPagesInUse(); n != e.pages0 {
		e.fail("%d send-buffer pages in use at the end, %d at the start", n, e.pages0)
	}
}

// releaseHeld gives back the page references of the n oldest held payloads.
func (e *engineFuzz) releaseHeld(n int) {
	for _, h := range e.held[:n] {
		h.page.Release()
	}
	e.held = slices.Delete(e.held, 0, n)
}

// checkHeld fails unless every held payload still carries the bytes
// written at its place in the stream: a page is not written again while
// a reference to it is held.
func (e *engineFuzz) checkHeld() {
	for _, h := range e.held {
		for i, b := range h.data {
			if k := h.k + uint32(i); b != ourByte(k) {
				e.fail("held payload: byte %d of the stream is %#x, %#x was written", k, b, ourByte(k))
			}
		}
	}
}

// checkOwners fails unless every buffer the TCB kept was released, once.
func (e *engineFuzz) checkOwners() {
	for i, o := range e.owners {
		if o.retained != o.released || o.retained > 1 {
			e.fail("owned payload %d: retained %d, released %d", i, o.retained, o.released)
		}
	}
}

// peerOptions are the options the peer's SYN or SYN-ACK offers.
func (e *engineFuzz) peerOptions(bits byte) wire.TCPOptions {
	var o wire.TCPOptions
	if bits&1 != 0 {
		o.HasMSS, o.MSS = true, []uint16{1, 48, 536, 1460}[(bits>>4)&3]
	}
	if bits&2 != 0 {
		o.SACKPermitted = true
	}
	if bits&4 != 0 {
		o.HasTimestamps, o.TSVal = true, e.peerTS
	}
	if bits&8 != 0 {
		o.HasWindowScale, o.WindowScale = true, []uint8{0, 2, 7, 14}[(bits>>6)&3]
	}
	return o
}

func (e *engineFuzz) attach(tcb *TCB) {
	e.tcb = tcb
	tcb.OnStateChange = func(from, to State, now time.Time) {
		e.logf("      %s -> %s", from, to)
		e.evSaw.transition(from, to) // events_test.go
	}
	e.drain()
}

// setup takes a TCB to the start state with well-formed segments.
func (e *engineFuzz) setup(start int, cfg Config, peerBits byte) {
	e.peerTS = 1000
	opts := e.peerOptions(peerBits)
	synack := func() {
		o := opts
		if o.HasTimestamps {
			o.TSEcr = e.ourTS
		}
		e.deliver(Segment{Seq: e.peerISS, Ack: e.ourISS + 1, Flags: wire.FlagSYN | wire.FlagACK, Window: 65535, Options: o})
	}
	passive := func() {
		syn := Segment{Seq: e.peerISS, Flags: wire.FlagSYN, Window: 65535, Options: opts}
		e.logf("      LISTEN")
		e.logf("  <-- %s", fmtSeg(&syn))
		e.sent = append(e.sent, span{syn.Seq, syn.Len()})
		if a, _ := HandleListen(&syn); a != ListenAccept {
			e.fail("setup: HandleListen refused the SYN")
		}
		e.attach(NewPassive(cfg, e.ourISS, &syn, e.now))
	}
	established := func() {
		if start == fzEstPassive {
			passive()
			e.peerAck(0)
		} else {
			e.logf("      OPEN (active)")
			e.attach(NewActive(cfg, e.ourISS, e.now))
			synack()
		}
	}
	switch start {
	case fzSynSent:
		e.logf("      OPEN (active)")
		e.attach(NewActive(cfg, e.ourISS, e.now))
	case fzSynRcvd:
		passive()
	case fzSimOpen:
		e.logf("      OPEN (active)")
		e.attach(NewActive(cfg, e.ourISS, e.now))
		e.deliver(Segment{Seq: e.peerISS, Flags: wire.FlagSYN, Window: 65535, Options: opts})
	default:
		established()
	}
	switch start {
	case fzFinWait1, fzFinWait2, fzClosing, fzTimeWait:
		e.write(100)
		e.closeWrite()
		if start == fzClosing {
			// The peer's FIN crosses ours: it does not acknowledge it.
			fin := e.peerSeg(e.rcvNxtNow(), 0, wire.FlagACK|wire.FlagFIN)
			fin.Ack--
			e.deliver(fin)
			break
		}
		if start != fzFinWait1 {
			// With a tiny MSS the data goes a few bytes at a time.
			for i := 0; i < 200 && e.tcb.State() == StateFinWait1; i++ {
				e.peerAck(0)
			}
		}
		if start == fzTimeWait {
			e.peerFIN(0)
		}
	case fzCloseWait, fzLastAck:
		e.peerData(50)
		e.peerFIN(0)
		if start == fzLastAck {
			e.closeWrite()
		}
	case fzEstBusy:
		e.write(5000)
		e.peerData(700)
		e.deliver(e.peerSeg(e.rcvNxtNow()+1000, 600, wire.FlagACK))
		e.peerAck(1)
	}
	want := [fuzzStates]State{StateSynSent, StateSynReceived, StateEstablished, StateEstablished,
		StateFinWait1, StateFinWait2, StateCloseWait, StateClosing, StateLastAck, StateTimeWait,
		StateEstablished, StateSynReceived}[start]
	if got := e.tcb.State(); got != want {
		// The peer's options may keep the setup from getting there (a
		// tiny MSS); the run goes on from where it is.
		e.logf("      setup ended in %s, not %s", got, want)
	}
}

// op decodes and runs one step.
func (e *engineFuzz) op() {
	switch k := e.in.byte() % 16; k {
	case 0:
		e.rawSegment()
	case 1:
		e.peerData(int(e.in.byte()) * 8)
	case 2:
		e.peerAck(int(e.in.byte() % 8))
	case 3:
		steps := [...]time.Duration{time.Millisecond, 10 * time.Millisecond, 40 * time.Millisecond,
			200 * time.Millisecond, time.Second, 5 * time.Second, time.Minute, 10 * time.Minute}
		b := e.in.byte()
		e.advance(steps[b&7] * time.Duration(1+b>>3))
	case 4:
		// To the next deadline, as an owner that obeys Deadline does.
		if dl := e.tcb.Deadline(); !dl.IsZero() && dl.After(e.now) {
			e.advance(dl.Sub(e.now))
		} else {
			e.advance(0)
		}
	case 5:
		e.write(int(e.in.byte()) * 64)
	case 6:
		e.doRead(int(e.in.byte()) * 16)
	case 7:
		e.closeWrite()
	case 8:
		e.logf("      CLOSE")
		_ = e.tcb.Close(e.now)
		e.closedW = true
		e.drain()
	case 9:
		e.logf("      CLOSE (read side)")
		_ = e.tcb.CloseRead(e.now)
		e.drain()
	case 10:
		if e.in.byte() == 0xab {
			e.logf("      ABORT")
			e.tcb.Abort(e.now)
			e.closedW = true
			e.drain()
		}
	case 11:
		nd := e.in.byte()&1 != 0
		e.logf("      SetNoDelay(%v)", nd)
		e.tcb.SetNoDelay(nd)
	case 12:
		b := e.in.byte()
		ka := KeepAliveConfig{Enable: b&1 != 0, Idle: time.Duration(b>>1) * time.Second,
			Interval: time.Second, Count: int(b>>5) + 1}
		e.logf("      SetKeepAlive(%+v)", ka)
		e.tcb.SetKeepAlive(ka, e.now)
		e.drain()
	case 13:
		b := e.in.byte()
		n := int(b&0x7f) * 1024
		if b&0x80 != 0 {
			e.logf("      SetReceiveBufferSize(%d)", n)
			e.tcb.SetReceiveBufferSize(n, e.now)
		} else {
			e.logf("      SetSendBufferSize(%d)", n)
			e.tcb.SetSendBufferSize(n)
		}
		e.drain()
	case 14:
		e.peerFIN(int(e.in.byte()))
	case 15:
		// Out-of-order data: past a hole of a few segments.
		b := e.in.byte()
		seq := e.rcvNxtNow() + uint32(b&15)*536 + uint32(b>>4)
		e.deliver(e.peerSeg(seq, int(e.in.byte())*4, wire.FlagACK))
	}
}

// rcvNxtNow is where the peer's next new byte goes.
func (e *engineFuzz) rcvNxtNow() uint32 {
	switch info := e.tcb.Info(); info.State {
	case StateSynSent, StateListen:
	case StateClosed:
		if e.synced {
			return info.RcvNxt
		}
	default:
		return info.RcvNxt
	}
	return e.peerISS + 1
}

// peerSeg builds a peer segment at seq carrying n pattern bytes, with a
// plausible ACK, window and options.
func (e *engineFuzz) peerSeg(seq uint32, n int, flags wire.Flags) Segment {
	info := e.tcb.Info()
	s := Segment{Seq: seq, Ack: info.SndNxt, Flags: flags, Window: 65535}
	if info.Timestamps {
		e.peerTS++
		s.Options.HasTimestamps, s.Options.TSVal, s.Options.TSEcr = true, e.peerTS, e.ourTS
	}
	s.Payload = e.pattern(seq, flags, n)
	return s
}

// pattern is the peer's n bytes of a segment starting at seq.
func (e *engineFuzz) pattern(seq uint32, flags wire.Flags, n int) []byte {
	if flags&wire.FlagSYN != 0 {
		seq++
	}
	p := make([]byte, n)
	for i := range p {
		p[i] = peerByte(seq + uint32(i))
	}
	return p
}

func (e *engineFuzz) peerData(n int) {
	e.deliver(e.peerSeg(e.rcvNxtNow(), n, wire.FlagACK|wire.FlagPSH))
}

// peerAck acknowledges everything sent (k = 0) or k segments of it.
func (e *engineFuzz) peerAck(k int) {
	s := e.peerSeg(e.rcvNxtNow(), 0, wire.FlagACK)
	info := e.tcb.Info()
	if k > 0 && info.SndNxt-info.SndUna > uint32(k*info.SndMSS) {
		s.Ack = info.SndUna + uint32(k*info.SndMSS)
	}
	e.deliver(s)
}

func (e *engineFuzz) peerFIN(gap int) {
	e.deliver(e.peerSeg(e.rcvNxtNow()+uint32(gap), 0, wire.FlagACK|wire.FlagFIN))
}

// rawSegment is a segment whose every field comes from the input, with
// sequence and acknowledgment numbers near the interesting edges.
func (e *engineFuzz) rawSegment() {
	info := e.tcb.Info()
	flags := wire.Flags(e.in.byte())
	var seq, ack uint32
	switch m := e.in.byte(); m & 3 {
	case 0:
		seq = e.rcvNxtNow() + uint32(int8(m))
	case 1:
		seq = e.rcvNxtNow() + uint32(int16(e.in.u16()))
	case 2:
		seq = e.in.u32()
	case 3:
		seq = e.rcvNxtNow()
	}
	switch m := e.in.byte(); m & 3 {
	case 0:
		ack = info.SndUna + uint32(int8(m))
	case 1:
		ack = info.SndNxt + uint32(int16(e.in.u16()))
	case 2:
		ack = e.in.u32()
	case 3:
		ack = info.SndNxt
	}
	var win uint16
	switch m := e.in.byte(); m & 3 {
	case 0:
		win = 65535
	case 1:
		win = 0
	case 2:
		win = uint16(m)
	case 3:
		win = e.in.u16()
	}
	n := int(e.in.byte())
	if n > 200 {
		n = (n - 200) * 400 // up to 22 KB: more than any window here
	}
	s := Segment{Seq: seq, Ack: ack, Flags: flags, Window: win, Urgent: e.in.u16()}
	s.Payload = e.pattern(seq, flags, n)
	ob := e.in.byte()
	if ob&1 != 0 {
		e.peerTS += uint32(int8(e.in.byte()))
		s.Options.HasTimestamps, s.Options.TSVal, s.Options.TSEcr = true, e.peerTS, e.ourTS
		if ob&2 != 0 {
			s.Options.TSEcr = e.in.u32()
		}
	}
	if nb := int(ob>>2) & 7; nb > 0 {
		for i := range min(nb, wire.MaxSACKBlocks) {
			a := info.SndUna + uint32(e.in.byte())*64
			s.Options.SACK[i] = wire.SACKBlock{Start: a, End: a + uint32(e.in.byte())*64}
			s.Options.NumSACK++
		}
	}
	if ob&0x20 != 0 {
		s.Options.HasMSS, s.Options.MSS = true, e.in.u16()
	}
	if ob&0x40 != 0 {
		s.Options.HasWindowScale, s.Options.WindowScale = true, e.in.byte()
	}
	s.Options.SACKPermitted = ob&0x80 != 0
	s.CE = e.in.byte()&1 != 0
	e.deliver(s)
}

// deliver runs the timers due, then hands s to the TCB.
func (e *engineFuzz) deliver(s Segment) {
	e.advance(0)
	e.logf("  <-- %s", fmtSeg(&s))
	if n := s.Len(); n > 0 {
		e.sent = append(e.sent, span{s.Seq, n})
	}
	if e.payloads++; len(s.Payload) > 0 && e.payloads&1 == 0 {
		// Zero-copy receive: every other payload comes in a buffer
		// that the TCB may keep, twice its size (kept) or, every
		// other time, eight times (under a quarter of it: copied); the
		// owner scribbles over it once released, so that a read from
		// it afterwards shows in the bytes read.
		size := 2 * len(s.Payload)
		if e.payloads&3 == 0 {
			size = 8 * len(s.Payload)
		}
		o := &owner{t: e.t, buf: append([]byte(nil), s.Payload...), size: size}
		s.Payload, s.Owner = o.buf, o
		e.owners = append(e.owners, o)
	}
	e.evGot |= e.tcb.HandleSegment(&s, e.now)
	e.drain()
}

// advance moves the clock forward by d, running every timer due on the
// way at its own instant.
func (e *engineFuzz) advance(d time.Duration) {
	target := e.now.Add(d)
	same := 0
	for {
		dl := e.tcb.Deadline()
		if dl.IsZero() || dl.After(target) {
			break
		}
		if dl.After(e.now) {
			e.now, same = dl, 0
		} else if same++; same > 64 {
			e.fail("timer storm: deadline %v stays at or before now %v", dl.Sub(t0), e.now.Sub(t0))
		}
		e.logf("      timer")
		e.evGot |= e.tcb.HandleTimer(e.now)
		e.drain()
		e.check()
	}
	e.now = target
}

func (e *engineFuzz) write(n int) {
	p := make([]byte, n)
	for i := range p {
		p[i] = ourByte(uint32(e.written + i))
	}
	m, err := e.tcb.Write(p, e.now)
	e.logf("      write %d bytes: %d, %v", n, m, err)
	if m < 0 || m > n || (err != nil && m != 0) {
		e.fail("Write(%d) = %d, %v", n, m, err)
	}
	e.written += m
	e.writeShort = m < n && err == nil
	e.drain()
}

func (e *engineFuzz) closeWrite() {
	e.logf("      CLOSE (write side)")
	_ = e.tcb.CloseWrite(e.now)
	e.closedW = true
	e.drain()
}

func (e *engineFuzz) doRead(n int) {
	if cap(e.rbuf) < n {
		e.rbuf = make([]byte, n)
	}
	p := e.rbuf[:n]
	m, err := e.tcb.Read(p, e.now)
	e.logf("      read %d bytes: %d, %v", n, m, err)
	if m < 0 || m > n || (m > 0 && err != nil) {
		e.fail("Read(%d) = %d, %v", n, m, err)
	}
	if m > 0 {
		irs := e.tcb.Info().IRS
		for i, b := range p[:m] {
			if want := peerByte(irs + 1 + uint32(e.read+i)); b != want {
				e.fail("byte %d of the stream read is %#x, the peer sent %#x", e.read+i, b, want)
			}
		}
	}
	if err != nil && err != io.EOF && e.tcb.Err() == nil {
		e.fail("Read error %v without Err", err)
	}
	e.read += m
	e.drain()
}

// drain takes the TCB's output and checks every segment, and the events
// reported since the last drain (checkEvents, events_test.go).
func (e *engineFuzz) drain() {
	if len(e.held) > 16 {
		e.releaseHeld(len(e.held) / 2)
	}
	e.checkEvents()
	info := e.tcb.Info()
	e.tcb.DrainOutput(func(s *Segment) {
		e.logf("  --> %s", fmtSeg(s))
		if s.Options.HasTimestamps {
			e.ourTS = s.Options.TSVal
		}
		if s.Flags&wire.FlagRST != 0 {
			return
		}
		if end := s.Seq + s.Len(); seqGT(end, info.SndNxt) {
			e.fail("segment ends at %d, past SND.NXT %d", end, info.SndNxt)
		}
		if s.Flags&wire.FlagSYN != 0 && s.Seq != e.ourISS {
			e.fail("SYN with seq %d, ISS is %d", s.Seq, e.ourISS)
		}
		if s.Flags&wire.FlagACK != 0 && e.synced && seqGT(s.Ack, info.RcvNxt) {
			e.fail("ACK %d past RCV.NXT %d", s.Ack, info.RcvNxt)
		}
		first := s.Seq
		if s.Flags&wire.FlagSYN != 0 {
			first++
		}
		for i, b := range s.Payload {
			k := first + uint32(i) - (e.ourISS + 1)
			if int64(k) >= int64(e.written) {
				e.fail("segment carries byte %d of the stream; only %d were written", k, e.written)
			}
			if b != ourByte(k) {
				e.fail("segment carries %#x as byte %d of the stream; %#x was written", b, k, ourByte(k))
			}
		}
		if s.Page != nil {
			// Zero copy: the payload lies in the page; hold it as a stack
			// handing it to another would.
			lo := uintptr(unsafe.Pointer(unsafe.SliceData(s.Page.buf)))
			at := uintptr(unsafe.Pointer(unsafe.SliceData(s.Payload)))
			if len(s.Payload) == 0 || at < lo || at+uintptr(len(s.Payload)) > lo+uintptr(len(s.Page.buf)) {
				e.fail("payload of %d bytes not in its page", len(s.Payload))
			}
			s.Page.Ref()
			e.held = append(e.held, heldPayload{s.Page, s.Payload, first - (e.ourISS + 1)})
		}
		if s.Flags&wire.FlagFIN != 0 {
			if fin := first + uint32(len(s.Payload)); fin != e.ourISS+1+uint32(e.written) {
				e.fail("FIN at %d, but the %d bytes written end at %d", fin, e.written, e.ourISS+1+uint32(e.written))
			}
			if !e.closedW {
				e.fail("FIN sent without CloseWrite or Close")
			}
		}
	})
}

// engineView is what the invariants read of a TCB's internals; kept in
// one place, so that a change of the buffers' representation is mended
// here alone.
type engineView struct {
	rcvHeld, rcvSize int        // bytes in the receive buffer, its size
	sndHeld, sndSize int        // the same for the send buffer
	sndBufSeq        uint32     // sequence number of the send buffer's first byte
	ooo              []seqRange // out-of-order data held past RCV.NXT
}

func view(t *TCB) engineView {
	return engineView{
		rcvHeld: t.rcvBuf.Len(), rcvSize: t.rcvBuf.size,
		sndHeld: t.sndBuf.Len(), sndSize: t.sndBuf.size,
		sndBufSeq: t.sndBufSeq, ooo: t.ooo.r,
	}
}

// check verifies the invariants.
func (e *engineFuzz) check() {
	e.checkHeld()
	info := e.tcb.Info()
	v := view(e.tcb)
	if !seqLE(info.SndUna, info.SndNxt) {
		e.fail("SND.UNA %d > SND.NXT %d", info.SndUna, info.SndNxt)
	}
	if !e.synced {
		switch info.State {
		case StateSynSent, StateClosed, StateListen:
		default:
			e.synced, e.rcvNxt = true, info.RcvNxt
			if info.IRS+1 != info.RcvNxt && info.State == StateSynReceived {
				e.fail("SYN-RECEIVED with RCV.NXT %d, IRS %d", info.RcvNxt, info.IRS)
			}
		}
	}
	if e.synced {
		if seqLT(info.RcvNxt, e.rcvNxt) {
			e.fail("RCV.NXT moved back from %d to %d", e.rcvNxt, info.RcvNxt)
		}
		e.rcvNxt = info.RcvNxt
		if got := info.RcvNxt - info.IRS; e.coverOf != info.IRS || got > e.covered {
			e.cover(info.IRS)
			if got > e.covered {
				e.fail("RCV.NXT %d is past what the peer sent: IRS %d, covered up to %d", info.RcvNxt, info.IRS, info.IRS+e.covered)
			}
		}
		// Data received in order: what was read plus what waits.
		if inOrder := int64(info.RcvNxt-info.IRS) - 1; int64(e.read+v.rcvHeld) > inOrder {
			e.fail("%d bytes read and %d buffered, but only %d arrived in order", e.read, v.rcvHeld, inOrder)
		}
	}
	if n, size := v.rcvHeld, v.rcvSize; n > size || size > max(e.cfg.MaxReceiveBufferSize, e.cfg.ReceiveBufferSize, 1<<20) {
		e.fail("receive buffer holds %d of %d bytes (limit %d)", n, size, e.cfg.MaxReceiveBufferSize)
	}
	if n, size := v.sndHeld, v.sndSize; n > size || size > max(e.cfg.MaxSendBufferSize, e.cfg.SendBufferSize, 1<<20) {
		e.fail("send buffer holds %d of %d bytes (limit %d)", n, size, e.cfg.MaxSendBufferSize)
	}
	if info.State != StateClosed && info.State != StateListen {
		if held := int64(v.sndBufSeq-(e.ourISS+1)) + int64(v.sndHeld); held != int64(e.written) {
			e.fail("send buffer: %d bytes acknowledged and %d held, but %d written", v.sndBufSeq-(e.ourISS+1), v.sndHeld, e.written)
		}
	}
	room := uint32(v.rcvSize - v.rcvHeld)
	prev := info.RcvNxt
	for _, r := range v.ooo {
		if !seqGT(r.start, prev) || !seqLT(r.start, r.end) {
			e.fail("out-of-order ranges not sorted past RCV.NXT %d: %v", info.RcvNxt, v.ooo)
		}
		if r.end-info.RcvNxt > room {
			e.fail("out-of-order data up to %d, but the receive buffer has room only up to %d", r.end, info.RcvNxt+room)
		}
		prev = r.end
	}
}

// cover computes how far from irs the peer's segments cover the
// sequence space without a gap.
func (e *engineFuzz) cover(irs uint32) {
	type rel struct{ lo, hi int64 }
	var rs []rel
	for _, s := range e.sent {
		lo := int64(int32(s.seq - irs))
		rs = append(rs, rel{lo, lo + int64(s.n)})
	}
	slices.SortFunc(rs, func(a, b rel) int { return int(a.lo - b.lo) })
	var c int64
	for _, r := range rs {
		if r.lo <= c && r.hi > c {
			c = r.hi
		}
	}
	e.covered, e.coverOf = uint32(c), irs
}

func fmtSeg(s *Segment) string {
	return fromSegment(s).String()
}

// FuzzPair runs two TCBs against each other over a path whose delay,
// loss, reordering, duplication and bottleneck the fuzzer chooses (both
// directions), with the configuration it chooses, and moves a stream from
// one to the other: what arrives must always be a prefix of what was
// sent and, unless a connection gave up (ETIMEDOUT under heavy loss), all
// of it. Neither side may stall: while data remains and neither has
// failed, something must be scheduled, and two hours of virtual time are
// enough.
func FuzzPair(f *testing.F) {
	f.Add(byte(0), byte(0x21), byte(0x10), byte(0x03), uint16(20000), uint64(1))
	f.Add(byte(0x0f), byte(0x84), byte(0x42), byte(0x35), uint16(65535), uint64(2))
	f.Add(byte(0x31), byte(0xf9), byte(0x99), byte(0xff), uint16(3000), uint64(3))
	f.Add(byte(0xff), byte(0x55), byte(0x55), byte(0x55), uint16(40000), uint64(4))
	f.Add(byte(0x19), byte(0x8a), byte(0x0b), byte(0x0b), uint16(50000), uint64(5))
	f.Fuzz(func(t *testing.T, cfgBits, abBits, baBits, more byte, size uint16, seed uint64) {
		cfg := Config{
			DisableSACK:       cfgBits&1 != 0,
			DisableTimestamps: cfgBits&2 != 0,
			DisableWScale:     cfgBits&4 != 0,
			NoDelay:           cfgBits&8 != 0,
			DisableRACK:       cfgBits&0x40 != 0,
			Pacing:            cfgBits&0x80 != 0,
			ECN:               more&0x80 != 0,
		}
		if cfgBits&0x10 != 0 {
			cfg.SendBufferSize, cfg.ReceiveBufferSize = 4096, 3000
		}
		if more&0x08 != 0 {
			// Linux's send-buffer memory (sndmem.go): it applies to
			// the fixed buffer of 4096.
			cfg.SendBufferOverhead, cfg.MinTSOSegs = LinuxSkbOverhead, 1+int(seed%10)
		}
		if cfgBits&0x20 != 0 {
			cfg.CongestionControl = "newreno"
		}
		path := func(b byte, extra byte) impair {
			im := impair{
				delay:   time.Duration(1+b&7) * 3 * time.Millisecond,
				loss:    float64(b>>3&3) * 0.08, // up to 24%
				reorder: float64(b>>5&1) * 0.1,
				extra:   time.Duration(1+extra&7) * time.Millisecond,
				dup:     float64(b>>6&1) * 0.05,
			}
			if b&0x80 != 0 {
				im.rate, im.queue = 2_000_000, 4000+int(extra>>3)*1000
			}
			return im
		}
		ab, ba := path(abBits, more), path(baBits, more>>4)
		runPair(t, cfg, ab, ba, testData(int(size)+1, uint32(seed)), seed)
	})
}

func runPair(t *testing.T, cfg Config, ab, ba impair, data []byte, seed uint64) {
	p := &netPair{now: t0, rng: rand.New(rand.NewPCG(seed, seed^0x5eed)), ab: ab, ba: ba}
	p.a = NewActive(cfg, 1000, p.now)
	p.collect()
	failed := func() bool {
		return p.a.Err() != nil || p.a.State() == StateClosed ||
			p.b != nil && (p.b.Err() != nil || p.b.State() == StateClosed || p.b.State() == StateListen)
	}
	for p.b == nil || p.a.State() != StateEstablished || p.b.State() != StateEstablished {
		if failed() {
			return // the handshake gave up: heavy loss
		}
		if !p.step(cfg) {
			t.Fatalf("handshake stalled: a %s", p.a.State())
		}
		if p.now.Sub(t0) > 2*time.Hour {
			t.Fatalf("handshake not done in two hours: a %s", p.a.State())
		}
	}
	got := make([]byte, 0, len(data))
	buf := make([]byte, 16<<10)
	sent := 0
	for len(got) < len(data) {
		if sent < len(data) {
			n, err := p.a.Write(data[sent:], p.now)
			if err != nil && !failed() {
				t.Fatalf("write: %v on a live connection", err)
			}
			sent += n
		}
		for {
			n, _ := p.b.Read(buf, p.now)
			if n == 0 {
				break
			}
			if !bytes.Equal(buf[:n], data[len(got):len(got)+n]) {
				t.Fatalf("bytes %d..%d read differ from those sent", len(got), len(got)+n)
			}
			got = append(got, buf[:n]...)
		}
		if len(got) == len(data) {
			break
		}
		if failed() {
			return // a connection gave up: what arrived was a prefix
		}
		p.collect()
		if !p.step(cfg) {
			t.Fatalf("stalled with %d of %d bytes read, nothing scheduled: a %+v, b %+v", len(got), len(data), p.a.Info(), p.b.Info())
		}
		if p.now.Sub(t0) > 2*time.Hour {
			t.Fatalf("%d of %d bytes read after two hours: a %+v", len(got), len(data), p.a.Info())
		}
	}
}
