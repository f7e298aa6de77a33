package tcp

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/synack/synack/wire"
)

// The test harness: a test plays the peer of one TCB, feeding it segments
// with in, checking every segment it emits with out, and none when it
// must stay silent. A failure prints the ladder of everything so far.

// t0 is the instant every test starts at.
var t0 = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Our ISS and the peer's, as in the examples of RFC 9293 §3.5.
const (
	iss  = 100
	peer = 300
)

// seg is a segment as a test writes it.
type seg struct {
	flags    string // tcpdump style: "S", "S.", ".", "P.", "F.", "FP.", "R", "R."
	seq, ack uint32
	win      uint16
	opts     wire.TCPOptions
	data     string
	ce, ect  bool   // ECN: CE mark on a segment in, ECT on a segment out
	gso      uint16 // GSOSize of a segment out (DrainOutputSuper)
}

// Option helpers; o merges several into one.
func mss(n uint16) wire.TCPOptions   { return wire.TCPOptions{MSS: n, HasMSS: true} }
func sackOK() wire.TCPOptions        { return wire.TCPOptions{SACKPermitted: true} }
func ws(s uint8) wire.TCPOptions     { return wire.TCPOptions{WindowScale: s, HasWindowScale: true} }
func ts(v, e uint32) wire.TCPOptions { return wire.TCPOptions{TSVal: v, TSEcr: e, HasTimestamps: true} }

// sack gives SACK blocks as start, end pairs.
func sack(edges ...uint32) wire.TCPOptions {
	var r wire.TCPOptions
	for i := 0; i+1 < len(edges) && r.NumSACK < wire.MaxSACKBlocks; i += 2 {
		r.SACK[r.NumSACK] = wire.SACKBlock{Start: edges[i], End: edges[i+1]}
		r.NumSACK++
	}
	return r
}

func o(list ...wire.TCPOptions) wire.TCPOptions {
	var r wire.TCPOptions
	for _, x := range list {
		if x.HasMSS {
			r.MSS, r.HasMSS = x.MSS, true
		}
		if x.HasWindowScale {
			r.WindowScale, r.HasWindowScale = x.WindowScale, true
		}
		if x.SACKPermitted {
			r.SACKPermitted = true
		}
		if x.HasTimestamps {
			r.TSVal, r.TSEcr, r.HasTimestamps = x.TSVal, x.TSEcr, true
		}
		if x.NumSACK > 0 {
			r.SACK, r.NumSACK = x.SACK, x.NumSACK
		}
	}
	return r
}

const flagLetters = "FSRP.UEW" // tcpdump's letters, in the order of the bits

func parseFlags(s string) wire.Flags {
	var f wire.Flags
	for _, c := range s {
		i := strings.IndexRune(flagLetters, c)
		if i < 0 {
			panic("bad flag letter " + string(c))
		}
		f |= 1 << i
	}
	return f
}

func formatFlags(f wire.Flags) string {
	var b strings.Builder
	for i := range len(flagLetters) {
		if f&(1<<i) != 0 {
			b.WriteByte(flagLetters[i])
		}
	}
	return b.String()
}

func formatOpts(o wire.TCPOptions) string {
	var p []string
	if o.HasMSS {
		p = append(p, fmt.Sprintf("mss %d", o.MSS))
	}
	if o.SACKPermitted {
		p = append(p, "sackOK")
	}
	if o.HasTimestamps {
		p = append(p, fmt.Sprintf("TS val %d ecr %d", o.TSVal, o.TSEcr))
	}
	if o.HasWindowScale {
		p = append(p, fmt.Sprintf("wscale %d", o.WindowScale))
	}
	if o.NumSACK > 0 {
		var b []string
		for _, x := range o.SACK[:min(o.NumSACK, len(o.SACK))] {
			b = append(b, fmt.Sprintf("%d:%d", x.Start, x.End))
		}
		p = append(p, "sack "+strings.Join(b, " "))
	}
	return strings.Join(p, ",")
}

func (s seg) String() string {
	r := fmt.Sprintf("[%s] seq %d", s.flags, s.seq)
	if strings.Contains(s.flags, ".") || s.ack != 0 {
		r += fmt.Sprintf(" ack %d", s.ack)
	}
	r += fmt.Sprintf(" win %d", s.win)
	if op := formatOpts(s.opts); op != "" {
		r += " [" + op + "]"
	}
	if s.ce {
		r += " CE"
	}
	if s.ect {
		r += " ECT"
	}
	if s.gso != 0 {
		r += fmt.Sprintf(" gso %d", s.gso)
	}
	if s.data != "" {
		d := s.data
		if len(d) > 12 {
			d = d[:12] + "…"
		}
		r += fmt.Sprintf(" len %d %q", len(s.data), d)
	}
	return r
}

func (s seg) segment() Segment {
	return Segment{Seq: s.seq, Ack: s.ack, Flags: parseFlags(s.flags), Window: s.win,
		Options: s.opts, Payload: []byte(s.data), CE: s.ce}
}

func fromSegment(x *Segment) seg {
	return seg{flags: formatFlags(x.Flags), seq: x.Seq, ack: x.Ack, win: x.Window,
		opts: x.Options, data: string(x.Payload), ect: x.ECT, gso: x.GSOSize}
}

type harness struct {
	t       testing.TB
	tcb     *TCB
	now     time.Time
	ladder  []string
	pending []seg
	trans   []string // "FROM -> TO" for every OnStateChange
	super   int      // DrainOutputSuper's max; 0: DrainOutput
}

func newHarness(t testing.TB) *harness {
	return &harness{t: t, now: t0}
}

// attach takes tcb, records its transitions and collects its output.
func (h *harness) attach(tcb *TCB) {
	h.tcb = tcb
	tcb.OnStateChange = func(from, to State, now time.Time) {
		h.log("      %s -> %s", from, to)
		h.trans = append(h.trans, from.String()+" -> "+to.String())
	}
	h.collect()
}

// active starts an active open with ISS 100.
func active(t testing.TB, cfg Config) *harness {
	h := newHarness(t)
	h.log("      OPEN (active), SYN-SENT")
	h.attach(NewActive(cfg, iss, h.now))
	return h
}

// passive hands syn to HandleListen and, on Accept, starts a passive open
// with ISS 100.
func passive(t testing.TB, cfg Config, syn seg) *harness {
	h := newHarness(t)
	h.log("      LISTEN")
	s := syn.segment()
	h.log("  <-- %s", syn)
	if a, _ := HandleListen(&s); a != ListenAccept {
		h.fail("HandleListen: got action %d, want ListenAccept", a)
	}
	h.log("      SYN-RECEIVED")
	h.attach(NewPassive(cfg, iss, &s, h.now))
	return h
}

// plain is a configuration without optional TCP options, for short
// ladders, and without quick-ACK mode, so that delayed ACKs show.
var plain = Config{DisableSACK: true, DisableTimestamps: true, DisableWScale: true, QuickAcks: -1}

// established returns a TCB that did an active open to ESTABLISHED with
// cfg's options off: SND.NXT=101, RCV.NXT=301, windows 65535.
func established(t testing.TB, cfg Config) *harness {
	h := active(t, cfg)
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: mss(1460)})
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 65535, opts: mss(1460)})
	h.out(seg{flags: ".", seq: iss + 1, ack: peer + 1, win: 65535})
	h.state(StateEstablished)
	return h
}

func (h *harness) log(format string, args ...any) {
	h.ladder = append(h.ladder, fmt.Sprintf("%9s ", h.now.Sub(t0))+fmt.Sprintf(format, args...))
}

func (h *harness) fail(format string, args ...any) {
	h.t.Helper()
	h.t.Fatalf("%s\nladder (<-- to the TCB, --> from it):\n%s", fmt.Sprintf(format, args...),
		strings.Join(h.ladder, "\n"))
}

func (h *harness) collect() {
	h.tcb.DrainOutputSuper(h.super, func(s *Segment) {
		x := fromSegment(s)
		h.log("  --> %s", x)
		h.pending = append(h.pending, x)
	})
}

// in delivers s to the TCB at the current time.
func (h *harness) in(s seg) {
	h.t.Helper()
	h.log("  <-- %s", s)
	x := s.segment()
	h.tcb.HandleSegment(&x, h.now)
	h.collect()
}

// out checks that the next segment the TCB emitted is exactly want.
func (h *harness) out(want seg) {
	h.t.Helper()
	if len(h.pending) == 0 {
		h.fail("want %s, got nothing", want)
	}
	got := h.pending[0]
	h.pending = h.pending[1:]
	if got.String() != want.String() || got.opts != want.opts || got.data != want.data {
		h.fail("got  %s\nwant %s", got, want)
	}
}

// none checks that the TCB emitted nothing more.
func (h *harness) none() {
	h.t.Helper()
	if len(h.pending) > 0 {
		h.fail("want nothing, got %s", h.pending[0])
	}
}

// state checks the current state.
func (h *harness) state(want State) {
	h.t.Helper()
	if got := h.tcb.State(); got != want {
		h.fail("state %s, want %s", got, want)
	}
}

// err checks Err.
func (h *harness) err(want error) {
	h.t.Helper()
	if got := h.tcb.Err(); got != want {
		h.fail("Err() = %v, want %v", got, want)
	}
}

// deadline checks that the next timer is due d after t0 (0: none).
func (h *harness) deadline(d time.Duration) {
	h.t.Helper()
	got := h.tcb.Deadline()
	if d == 0 {
		if !got.IsZero() {
			h.fail("deadline %v, want none", got.Sub(t0))
		}
		return
	}
	if got.IsZero() || got.Sub(t0) != d {
		desc := "none"
		if !got.IsZero() {
			desc = got.Sub(t0).String()
		}
		h.fail("deadline %s, want %v", desc, d)
	}
}

// at moves the clock to t0+d, running every timer that falls due on the
// way at its own instant, as an owner that obeys Deadline would.
func (h *harness) at(d time.Duration) {
	h.t.Helper()
	target := t0.Add(d)
	if target.Before(h.now) {
		h.fail("at(%v): the clock is already at %v", d, h.now.Sub(t0))
	}
	for {
		dl := h.tcb.Deadline()
		if dl.IsZero() || dl.After(target) {
			break
		}
		h.now = dl
		h.log("      timer")
		h.tcb.HandleTimer(h.now)
		h.collect()
	}
	h.now = target
}

// after moves the clock forward by d (see at).
func (h *harness) after(d time.Duration) { h.t.Helper(); h.at(h.now.Sub(t0) + d) }

// write hands data to Write and checks that all of it was taken.
func (h *harness) write(data string) {
	h.t.Helper()
	h.log("      write %d bytes", len(data))
	n, err := h.tcb.Write([]byte(data), h.now)
	if err != nil || n != len(data) {
		h.fail("Write: %d, %v; want %d, nil", n, err, len(data))
	}
	h.collect()
}

// read reads up to n bytes and returns them with Read's error.
func (h *harness) read(n int) (string, error) {
	b := make([]byte, n)
	m, err := h.tcb.Read(b, h.now)
	h.log("      read %d bytes, %v", m, err)
	h.collect()
	return string(b[:m]), err
}

// readAll checks that Read returns exactly want and a nil error.
func (h *harness) readAll(want string) {
	h.t.Helper()
	got, err := h.read(len(want) + 100)
	if got != want || err != nil {
		h.fail("Read: %q, %v; want %q, nil", got, err, want)
	}
}

func (h *harness) close() {
	h.t.Helper()
	h.log("      CLOSE")
	if err := h.tcb.Close(h.now); err != nil {
		h.fail("Close: %v", err)
	}
	h.collect()
}

func (h *harness) closeWrite() {
	h.t.Helper()
	h.log("      CLOSE (write side)")
	if err := h.tcb.CloseWrite(h.now); err != nil {
		h.fail("CloseWrite: %v", err)
	}
	h.collect()
}

func (h *harness) abort() {
	h.log("      ABORT")
	h.tcb.Abort(h.now)
	h.collect()
}

// tsval is the TCB's TSval at the current time.
func (h *harness) tsval() uint32 { return h.tcb.tsNow(h.now) }

// info returns the TCB's variables.
func (h *harness) info() Info { return h.tcb.Info() }

// check fails with the ladder unless ok.
func (h *harness) check(ok bool, format string, args ...any) {
	h.t.Helper()
	if !ok {
		h.fail(format, args...)
	}
}

// transitions checks the state changes since the last call.
func (h *harness) transitions(want ...string) {
	h.t.Helper()
	if strings.Join(h.trans, "; ") != strings.Join(want, "; ") {
		h.fail("transitions %q, want %q", h.trans, want)
	}
	h.trans = nil
}

// burst returns the flags of segment k (from 0) of a burst of n new
// segments queued together, goal segments to a TSO packet as Linux would
// build them (push.go): PSH ends each packet of two or more segments.
func burst(k, n, goal int) string {
	if (k+1)%goal == 0 || (k == n-1 && k%goal >= 1) {
		return "P."
	}
	return "."
}
