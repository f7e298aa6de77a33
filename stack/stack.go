// Package stack is synack's network stack: it owns links and addresses,
// demultiplexes TCP segments to connections and listeners, runs the TCP
// engines (package tcp) on a few event loops, and gives Go programs the
// familiar net.Conn / net.Listener face (Dial, Listen, *Conn).
//
// # Concurrency
//
// There is no goroutine per connection. In real-time mode (Options.Runner
// nil) the stack runs Options.Loops event loops, the shards. Every
// connection belongs to one shard, chosen by a hash of its 4-tuple; the
// shard's mutex guards the connection's TCB, the shard's demultiplexing
// table and its timers. A shard's goroutine takes inbound packets from a
// bounded channel (DeliverPacket only parses, copies and enqueues: it never
// blocks and never takes a shard lock) and runs timers. User calls (Read,
// Write, Close, ...) run in the caller's goroutine: they lock the shard,
// call the engine, send what it produced and unlock.
//
// In manual mode (Options.Runner set, as package sim does with a virtual
// clock) the stack starts no goroutine at all: DeliverPacket processes the
// packet at once, Tick runs due timers, NextDeadline reports the next one,
// and a blocking call hands control to Runner.RunUntil in the caller's
// goroutine, holding no lock. In this mode packets produced under a shard
// lock are written to their link after the lock is released, so a link may
// deliver synchronously into any stack, this one included.
//
// Lock order: shard mutex, then Listener mutex, then Stack.mu. Trace
// callbacks run under a shard lock and must not call into the stack.
package stack

import (
	"crypto/rand"
	"fmt"
	"hash/maphash"
	"io"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/synack/synack/clock"
	"github.com/synack/synack/link"
	"github.com/synack/synack/tcp"
)

// Runner drives a stack that has no event loops of its own (manual mode),
// as package sim does. A blocking call on such a stack (Dial, Accept, Read,
// Write, Close with linger) calls RunUntil in the caller's goroutine.
type Runner interface {
	// RunUntil advances the world — delivers packets, runs timers, moves
	// the virtual clock — until cond() returns true (RunUntil returns
	// true), or until deadline passes or nothing is left to happen
	// (false). A zero deadline means no limit.
	RunUntil(cond func() bool, deadline time.Time) bool
}

// Options configures a Stack. The zero value is a working real-time stack.
type Options struct {
	Clock      clock.Clock      // default clock.Real{}
	Runner     Runner           // nil: the stack runs its own event loops; non-nil: manual mode
	Loops      int              // event loops in real-time mode; default min(4, GOMAXPROCS)
	TCP        tcp.Config       // defaults for every connection
	Secret     []byte           // key for ISNs (RFC 6528) and ephemeral ports (RFC 6056); default random
	Rand       io.Reader        // randomness (default crypto/rand); a simulation passes a seeded one
	Backlog    int              // default accept-queue length when Listen is given none; default 128
	SynBacklog int              // default SYN-queue (half-open) length; default 256
	Trace      func(TraceEvent) // called on every connection state change, if set
	// QueueLen is the capacity of each event loop's inbound packet queue
	// (real-time mode); packets arriving when it is full are dropped and
	// counted in Stats.InboundDrops. Default 4096.
	QueueLen int
}

// TraceEvent reports one state change of a connection or listener.
type TraceEvent struct {
	Time     time.Time
	Local    netip.AddrPort
	Remote   netip.AddrPort // invalid for a listener
	From, To tcp.State
}

// Stats are the stack's counters.
type Stats struct {
	PacketsIn, PacketsOut uint64
	Malformed             uint64 // packets dropped as malformed (bad header, length, option)
	BadChecksum           uint64
	NoRoute               uint64
	ResetsSent            uint64 // RSTs sent for segments that reached no connection
	ActiveOpens           uint64
	PassiveOpens          uint64
	SynQueueDrops         uint64 // SYNs dropped because the SYN queue was full
	AcceptQueueDrops      uint64 // handshakes dropped because the accept queue was full
	Connections           uint64 // connections currently known (all states)

	NotTCP       uint64 // well-formed IP packets of another protocol (ignored)
	Fragments    uint64 // IP fragments (dropped: synack does not reassemble)
	NotLocal     uint64 // packets whose destination is none of the stack's addresses
	InboundDrops uint64 // packets dropped because an event loop's queue was full
	LinkErrors   uint64 // packets a link refused to send
}

// counters are the live, atomic form of Stats.
type counters struct {
	packetsIn, packetsOut, malformed, badChecksum, noRoute, resetsSent atomic.Uint64
	activeOpens, passiveOpens, synQueueDrops, acceptQueueDrops, conns  atomic.Uint64
	notTCP, fragments, notLocal, inboundDrops, linkErrors              atomic.Uint64
}

// minMTU is the smallest link MTU the stack accepts (RFC 791's 68).
const minMTU = 68

// Stack is a userspace TCP/IP stack.
type Stack struct {
	clock  clock.Clock
	runner Runner
	cfg    tcp.Config
	secret []byte
	trace  func(TraceEvent)

	backlog, synBacklog int

	routes atomic.Pointer[routeTable]
	shards []*shard
	seed   maphash.Seed
	ctr    counters

	nextEphemeral atomic.Uint32 // RFC 6056 Algorithm 3's next_ephemeral

	mu          sync.RWMutex
	listeners   map[netip.AddrPort]*Listener
	listenPorts map[uint16]int // listeners per port
	closed      bool

	stopped atomic.Bool
	stop    chan struct{}
	loops   sync.WaitGroup

	// Manual mode: packets delivered while another delivery is being
	// processed wait here, so that a link that delivers synchronously
	// does not make DeliverPacket recurse without bound.
	mq       sync.Mutex
	mqueue   []*inPacket
	draining bool
}

// New returns a stack with no links.
func New(opts Options) *Stack {
	s := &Stack{
		clock:       opts.Clock,
		runner:      opts.Runner,
		cfg:         opts.TCP,
		trace:       opts.Trace,
		backlog:     opts.Backlog,
		synBacklog:  opts.SynBacklog,
		seed:        maphash.MakeSeed(),
		listeners:   make(map[netip.AddrPort]*Listener),
		listenPorts: make(map[uint16]int),
		stop:        make(chan struct{}),
	}
	if s.clock == nil {
		s.clock = clock.Real{}
	}
	if s.backlog <= 0 {
		s.backlog = 128
	}
	if s.synBacklog <= 0 {
		s.synBacklog = 256
	}
	s.secret = slices.Clone(opts.Secret)
	if len(s.secret) == 0 {
		r := opts.Rand
		if r == nil {
			r = rand.Reader
		}
		s.secret = make([]byte, 16)
		if _, err := io.ReadFull(r, s.secret); err != nil {
			// A broken Rand still gives a working (if predictable) stack.
			clear(s.secret)
		}
	}
	s.routes.Store(&routeTable{local: map[netip.Addr]bool{}})

	n := 1 // manual mode: one shard, so that runs replay exactly
	if s.runner == nil {
		n = opts.Loops
		if n <= 0 {
			n = min(4, runtime.GOMAXPROCS(0))
		}
	}
	qlen := opts.QueueLen
	if qlen <= 0 {
		qlen = 4096
	}
	for range n {
		s.shards = append(s.shards, newShard(s, qlen))
	}
	if s.runner == nil {
		for _, sh := range s.shards {
			s.loops.Add(1)
			go sh.loop()
		}
	}
	return s
}

// AddLink attaches l with the given addresses; their prefixes are on-link
// routes, and the first link added is also the default route.
func (s *Stack) AddLink(l link.Link, addrs ...netip.Prefix) error {
	if l == nil {
		return fmt.Errorf("stack: AddLink: nil link")
	}
	r := &route{l: l, mtu: l.MTU()}
	for _, p := range addrs {
		if !p.IsValid() {
			return fmt.Errorf("stack: AddLink: invalid prefix %v", p)
		}
		a := p.Addr().Unmap()
		if a.IsUnspecified() || a.IsMulticast() {
			return fmt.Errorf("stack: AddLink: %v cannot be a host address", a)
		}
		bits := p.Bits()
		if a.Is4() && bits > 32 {
			bits -= 96
		}
		pp, err := a.Prefix(bits)
		if err != nil {
			return fmt.Errorf("stack: AddLink: %w", err)
		}
		r.addrs = append(r.addrs, a)
		r.prefixes = append(r.prefixes, pp)
	}
	if r.mtu < minMTU {
		return fmt.Errorf("stack: AddLink: MTU %d below the minimum of %d", r.mtu, minMTU)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("stack: AddLink: %w", net.ErrClosed)
	}
	old := s.routes.Load()
	rt := &routeTable{links: append(slices.Clip(old.links), r), local: make(map[netip.Addr]bool)}
	for _, lr := range rt.links {
		for _, a := range lr.addrs {
			rt.local[a] = true
		}
	}
	s.routes.Store(rt)
	l.Attach(s)
	return nil
}

// Stats returns a snapshot of the counters.
func (s *Stack) Stats() Stats {
	c := &s.ctr
	return Stats{
		PacketsIn:        c.packetsIn.Load(),
		PacketsOut:       c.packetsOut.Load(),
		Malformed:        c.malformed.Load(),
		BadChecksum:      c.badChecksum.Load(),
		NoRoute:          c.noRoute.Load(),
		ResetsSent:       c.resetsSent.Load(),
		ActiveOpens:      c.activeOpens.Load(),
		PassiveOpens:     c.passiveOpens.Load(),
		SynQueueDrops:    c.synQueueDrops.Load(),
		AcceptQueueDrops: c.acceptQueueDrops.Load(),
		Connections:      c.conns.Load(),
		NotTCP:           c.notTCP.Load(),
		Fragments:        c.fragments.Load(),
		NotLocal:         c.notLocal.Load(),
		InboundDrops:     c.inboundDrops.Load(),
		LinkErrors:       c.linkErrors.Load(),
	}
}

// Close aborts every connection (peers get a RST), closes every listener
// and stops the loops. Blocked calls return, and later calls on its Conns
// and Listeners report net.ErrClosed. Links stay attached but the stack
// ignores what they deliver. Closing a closed stack returns an error
// wrapping net.ErrClosed.
func (s *Stack) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("stack: close: %w", net.ErrClosed)
	}
	s.closed = true
	ls := make([]*Listener, 0, len(s.listeners))
	for _, l := range s.listeners {
		ls = append(ls, l)
	}
	s.mu.Unlock()
	slices.SortFunc(ls, func(a, b *Listener) int { return compareAddrPort(a.key, b.key) })
	for _, l := range ls {
		l.close()
	}
	now := s.clock.Now()
	for _, sh := range s.shards {
		sh.mu.Lock()
		cs := make([]*Conn, 0, len(sh.conns))
		for _, c := range sh.conns {
			cs = append(cs, c)
		}
		slices.SortFunc(cs, func(a, b *Conn) int { return compareTuple(a.key, b.key) })
		for _, c := range cs {
			c.closed = true // later calls report net.ErrClosed
			c.halfOpen = false
			if !c.tcb.Done() {
				c.tcb.Abort(now)
			}
			sh.settle(c, now)
			sh.remove(c) // even a TCB the engine keeps (TIME-WAIT) goes
		}
		sh.unlock()
	}
	s.stopped.Store(true)
	close(s.stop)
	s.loops.Wait()
	for _, sh := range s.shards {
		for {
			select {
			case p := <-sh.in:
				putPacket(p)
				continue
			default:
			}
			break
		}
	}
	return nil
}

// NextDeadline returns the earliest timer of any connection (manual mode);
// zero when none is set.
func (s *Stack) NextDeadline() time.Time {
	var next time.Time
	for _, sh := range s.shards {
		sh.mu.Lock()
		d := sh.timers.next()
		sh.mu.Unlock()
		if !d.IsZero() && (next.IsZero() || d.Before(next)) {
			next = d
		}
	}
	return next
}

// Tick runs every timer due at the clock's current time (manual mode).
func (s *Stack) Tick() {
	now := s.clock.Now()
	for _, sh := range s.shards {
		sh.mu.Lock()
		sh.runTimers(now)
		sh.unlock()
	}
}

func (s *Stack) report(local, remote netip.AddrPort, from, to tcp.State, now time.Time) {
	if s.trace != nil {
		s.trace(TraceEvent{Time: now, Local: local, Remote: remote, From: from, To: to})
	}
}
