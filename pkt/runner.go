package pkt

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/synack/synack/clock"
	"github.com/synack/synack/link"
	"github.com/synack/synack/stack"
	"github.com/synack/synack/tcp"
)

// runner runs one script. It plays the remote peer and is the stack's
// Runner: a call that must wait runs the script's later events, in the
// caller's goroutine, until it can go on — packetdrill's "the call blocks
// while the script goes on".
type runner struct {
	script *Script
	cfg    Config
	base   tcp.Config // engine configuration after the script's sysctls
	// freeBSD is set once a FreeBSD sysctl (net.inet.*) was applied.
	freeBSD bool
	// keepInit is FreeBSD's net.inet.tcp.keepinit: how long a connection
	// may take to be established (0: no limit but the SYN retries).
	keepInit time.Duration
	// notSentLowat is net.ipv4.tcp_notsent_lowat (sockopt.go); 0: none.
	notSentLowat int
	// Listener settings from the script's sysctls.
	synCookies      stack.SynCookieMode
	abortOnOverflow bool

	clk *clock.Virtual
	st  *stack.Stack // created on first use, with the first socket's options
	lnk *scriptLink
	out []outPacket // packets the stack sent that no '>' line has taken yet

	next      int           // index of the next event to run
	lastStart time.Duration // start time of the last event run (relative times count from it)
	stopped   *Result       // first failure or skip

	socks    map[int]*socket
	states   map[flowKey]tcp.State // every connection's state, from the stack's trace
	lastFD   int                   // the socket of the last system call (for %{ }%)
	codeVars map[string]int64      // the variables of the %{ }% blocks
	flows    map[flowKey]*flow
	cur      *flow  // where inbound packets without ports go
	nextPort uint16 // next remote port for a new inbound connection
	// blocked counts the system calls now blocked. While one is, the
	// next system call line waits for it to return (packetdrill runs
	// calls one at a time), so it acts as the end of the script.
	blocked int
	ticks   int // timer events run so far

	fo runnerFastOpen // TCP Fast Open settings (fastopen.go)
}

// outPacket is one packet the stack sent, with its script time.
type outPacket struct {
	at  time.Duration
	pkt []byte
}

// scriptLink is the link between the stack and the runner.
type scriptLink struct {
	r    *runner
	mtu  int
	recv link.Receiver
}

func (l *scriptLink) MTU() int                { return l.mtu }
func (l *scriptLink) Attach(rc link.Receiver) { l.recv = rc }
func (l *scriptLink) Close() error            { return nil }
func (l *scriptLink) WritePacket(p []byte) error {
	l.r.out = append(l.r.out, outPacket{at: l.r.now(), pkt: append([]byte(nil), p...)})
	return nil
}

func newRunner(s *Script, cfg Config) *runner {
	r := &runner{
		script:   s,
		cfg:      cfg,
		base:     cfg.TCP,
		clk:      clock.NewVirtual(),
		socks:    map[int]*socket{},
		flows:    map[flowKey]*flow{},
		states:   map[flowKey]tcp.State{},
		codeVars: map[string]int64{},
		nextPort: 40000,
	}
	// The link MTU: 1500 by default whatever the IP version (an IPv6 MSS
	// of 1440).
	mtu := 1500
	if cfg.MTU > 0 {
		mtu = cfg.MTU
	}
	r.lnk = &scriptLink{r: r, mtu: mtu}
	return r
}

// now is the script time.
func (r *runner) now() time.Duration { return r.clk.Now().Sub(clock.Epoch) }

func (r *runner) setNow(t time.Duration) { r.clk.Set(clock.Epoch.Add(t)) }

// stack returns the stack, creating it with cfg (nil: the base
// configuration) on first use.
func (r *runner) stack(cfg *tcp.Config) *stack.Stack {
	if r.st != nil {
		return r.st
	}
	c := r.base
	if cfg != nil {
		c = *cfg
	}
	r.st = stack.New(stack.Options{
		Clock:  r.clk,
		Runner: r,
		TCP:    c,
		Secret: []byte("synack pkt runner"),

		SynCookies:      r.synCookies,
		AbortOnOverflow: r.abortOnOverflow,
		Trace:           r.trace,
		// A Linux socket has no keepalive unless SO_KEEPALIVE asks.
		KeepAlive: -1,
	})
	bits := 24
	if r.cfg.IPv6 {
		bits = 64
	}
	if err := r.st.AddLink(r.lnk, netip.PrefixFrom(r.cfg.LocalIP, bits)); err != nil {
		r.failf(0, "cannot attach the link: %v", err)
	}
	r.fastOpenStackCreated()
	return r.st
}

// failf records the first failure.
func (r *runner) failf(line int, format string, args ...any) {
	if r.stopped == nil {
		r.stopped = &Result{Status: Fail, Line: line, Reason: fmt.Sprintf(format, args...)}
	}
}

// mismatch records a failure with expected and actual ladder lines.
func (r *runner) mismatch(line int, reason, expected, actual string) {
	if r.stopped == nil {
		r.stopped = &Result{Status: Fail, Line: line, Reason: reason, Expected: expected, Actual: actual}
	}
}

// skipf records that the script cannot be honoured.
func (r *runner) skipf(line int, format string, args ...any) {
	if r.stopped == nil {
		r.stopped = &Result{Status: Skip, Line: line, Reason: fmt.Sprintf(format, args...)}
	}
}

// maxTicks bounds the timer events of one script, against a runaway.
const maxTicks = 1 << 20

// run runs every event; what the stack does after the last one is not
// looked at.
func (r *runner) run() Result {
	r.runUntil(func() bool { return r.next >= len(r.script.Events) }, -1)
	if r.st != nil {
		r.st.Close()
	}
	if r.stopped != nil {
		return *r.stopped
	}
	return Result{Status: Pass}
}

// RunUntil implements stack.Runner: the stack calls it when a call (Close
// with a linger) must wait.
func (r *runner) RunUntil(cond func() bool, deadline time.Time) bool {
	limit := time.Duration(-1)
	if !deadline.IsZero() {
		limit = deadline.Sub(clock.Epoch)
	}
	return r.runUntil(cond, limit)
}

// eventStart is the start time of event i, counted from the last event
// run when relative.
func (r *runner) eventStart(i int) time.Duration {
	t := r.script.Events[i].Time
	switch t.Kind {
	case TimeRelative:
		return r.lastStart + t.Start
	case TimeAny:
		return r.now()
	}
	return t.Start
}

// eventEnd is the end of event i's span (its start when it has none).
func (r *runner) eventEnd(i int, start time.Duration) time.Duration {
	t := r.script.Events[i].Time
	switch t.Span {
	case SpanRange:
		if t.Kind == TimeRelative {
			return r.lastStart + t.End
		}
		return t.End
	case SpanBlocking:
		if t.Kind == TimeRelative {
			return r.lastStart + t.End
		}
		return t.End
	}
	return start
}

// runUntil runs the script's events, and the stack's timers between them,
// until cond holds (true), or until the script time limit (when >= 0)
// passes, the script ends with nothing left to happen, or the run stops
// (false).
func (r *runner) runUntil(cond func() bool, limit time.Duration) bool {
	for {
		if r.stopped != nil {
			return false
		}
		if cond() {
			return true
		}
		if r.next >= len(r.script.Events) || (r.blocked > 0 && r.isSyscall(r.next)) {
			if !r.tick(limit) {
				if limit >= 0 {
					r.setNow(max(r.now(), limit))
				}
				return cond()
			}
			continue
		}
		i := r.next
		start := r.eventStart(i)
		if limit >= 0 && start > limit {
			for r.tick(limit) {
				if cond() {
					return true
				}
			}
			r.setNow(max(r.now(), limit))
			return cond()
		}
		if p, isPacket := r.script.Events[i].Action.(*Packet); !isPacket || p.Dir != Outbound {
			for r.tick(start) {
				if cond() {
					return true
				}
				if r.stopped != nil {
					return false
				}
			}
			r.setNow(max(r.now(), start))
		}
		r.next++
		r.exec(i, start)
	}
}

// isSyscall reports whether event i is a system call.
func (r *runner) isSyscall(i int) bool {
	_, ok := r.script.Events[i].Action.(*Syscall)
	return ok
}

// tick runs the stack's earliest timer if it is due by limit (any time
// when limit < 0); it reports whether one ran.
func (r *runner) tick(limit time.Duration) bool {
	if r.st == nil {
		return false
	}
	d := r.st.NextDeadline()
	t := time.Duration(-1)
	if !d.IsZero() {
		t = d.Sub(clock.Epoch)
	}
	// The runner's own timer: a connection-establishment limit.
	ksk, kt := r.nextKeepInit()
	if ksk != nil && (t < 0 || kt <= t) {
		if limit >= 0 && kt > limit {
			return false
		}
		r.setNow(max(r.now(), kt))
		ksk.timedOut = true
		ksk.conn.Close() // in SYN-SENT: the TCB goes, nothing is sent
		return true
	}
	if t < 0 || (limit >= 0 && t > limit) {
		return false
	}
	if r.ticks++; r.ticks > maxTicks {
		r.failf(0, "runaway: more than %d timer events", maxTicks)
		return false
	}
	r.setNow(max(r.now(), t))
	r.st.Tick()
	return true
}

// nextKeepInit returns the connecting socket whose connection-
// establishment limit (FreeBSD's keepinit, TCP_KEEPINIT) comes first.
func (r *runner) nextKeepInit() (*socket, time.Duration) {
	var best *socket
	var at time.Duration
	for _, sk := range r.socks {
		if sk.conn == nil || sk.timedOut || sk.keepInitAt <= 0 || sk.conn.Readiness().State != tcp.StateSynSent {
			continue
		}
		if best == nil || sk.keepInitAt < at || (sk.keepInitAt == at && sk.fd < best.fd) {
			best, at = sk, sk.keepInitAt
		}
	}
	return best, at
}

// exec runs event i, which starts at start.
func (r *runner) exec(i int, start time.Duration) {
	ev := r.script.Events[i]
	end := r.eventEnd(i, start)
	if p, ok := ev.Action.(*Packet); ok && p.Dir == Outbound {
		r.lastStart = start
		r.expect(i, p, start, end)
		return
	}
	// Anything the stack sent before now should have been expected. As in
	// packetdrill, packets sent at the time of a system call, command or
	// code line stay buffered for the next '>' line (a call at the same
	// time as the send is still running when packetdrill looks).
	_, inbound := ev.Action.(*Packet)
	if _, icmp := ev.Action.(*ICMPPacket); icmp {
		inbound = true
	}
	if len(r.out) > 0 && !r.cfg.QueueOutbound && (inbound || r.out[0].at < start-r.cfg.Tolerance) {
		op := r.out[0]
		r.mismatch(ev.Line, "unexpected packet", fmt.Sprintf("%s %s", fmtTime(start), FormatAction(ev.Action)),
			fmt.Sprintf("%s %s", fmtTime(op.at), r.describe(op.pkt)))
		return
	}
	r.lastStart = start
	switch a := ev.Action.(type) {
	case *Packet:
		r.inject(ev, a)
	case *Syscall:
		r.syscall(ev, a, start, end)
	case *Command:
		r.command(ev.Line, a.Text)
	case *Code:
		r.runCode(ev.Line, a.Text)
	case *UDPPacket:
		r.skipf(ev.Line, "UDP packets are not supported")
	case *ICMPPacket:
		r.injectICMP(ev, a)
	}
}

// fmtTime formats a script time in seconds, as packetdrill does.
func fmtTime(t time.Duration) string {
	return fmt.Sprintf("%.3f", t.Seconds())
}
