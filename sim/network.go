// Package sim is a deterministic network simulator for synack stacks.
//
// A Network holds hosts, each a stack.Stack in manual mode on a virtual
// clock, joined by links that deliver every packet after a fixed one-way
// delay, or through a seeded impairment (WithImpairment, Impair: loss,
// jitter, reordering, duplication, corruption, a rate-limited queue, an
// MTU; see package link/impair) that runs in virtual time. Nothing runs by itself: RunUntil (which the stacks also call from
// their blocking methods, as their stack.Runner) delivers packets and runs
// timers in time order, and jumps the clock straight to the next thing that
// happens. A two-minute SYN backoff therefore takes milliseconds, and a run
// from the same seed replays exactly: the same ports, ISNs, packets and
// times.
//
// The network records a trace of every packet and every state change; Ladder
// draws it, and ForTest prints it when a test fails.
package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/synack/synack/clock"
	"github.com/synack/synack/link"
	"github.com/synack/synack/link/impair"
	"github.com/synack/synack/pcap"
	"github.com/synack/synack/stack"
	"github.com/synack/synack/tcp"
)

// Defaults of a Network.
const (
	DefaultDelay     = time.Millisecond
	DefaultMTU       = 1500
	DefaultMaxEvents = 50_000_000
)

// ErrRunaway is wrapped by the error a Network reports when one RunUntil
// call handles more events than the limit (WithMaxEvents).
var ErrRunaway = errors.New("sim: runaway simulation")

// Option configures a Network.
type Option func(*config)

type config struct {
	delay     time.Duration
	mtu       int
	maxEvents int
	loss      float64
	tcp       tcp.Config

	impair        impair.Config
	hasImpair     bool
	noPacketTrace bool
}

// WithDelay sets the one-way delay of every link; default 1ms.
func WithDelay(d time.Duration) Option { return func(c *config) { c.delay = max(d, 0) } }

// WithMTU sets the default MTU of the hosts' links; default 1500.
func WithMTU(n int) Option { return func(c *config) { c.mtu = n } }

// WithTCP sets the default TCP configuration of every host.
func WithTCP(cfg tcp.Config) Option { return func(c *config) { c.tcp = cfg } }

// WithLoss drops each packet with probability p, drawn from the network's
// seeded random numbers.
func WithLoss(p float64) Option { return func(c *config) { c.loss = p } }

// WithMaxEvents bounds the events (loop turns) of one RunUntil call; past
// it the network stops and Err reports ErrRunaway. Default 50 million.
func WithMaxEvents(n int) Option { return func(c *config) { c.maxEvents = n } }

// Network is a simulated network of hosts on a virtual clock.
//
// RunUntil (and Run, RunFor) may be called from several goroutines but run
// one at a time; the world only moves while one of them runs. Functions
// passed to RunUntil and SetFilter must not call back into the Network.
type Network struct {
	seed  int64
	cfg   config
	clock *clock.Virtual

	run sync.Mutex // held by the goroutine that moves the world

	mu      sync.Mutex // guards everything below
	rng     *rand.Rand
	hosts   []*Host
	byAddr  map[addrKey]*Host
	queue   deliveries
	nextSeq uint64
	trace   []Record
	stats   Stats
	filter  func(Packet) bool
	arrival func(*Arrival)
	pcap    *pcap.Writer
	free    [][]byte // packet buffers to reuse (when packets are not traced)
	err     error
	stopped bool
}

// Stats counts what happened to packets on a Network. Its JSON keys are
// snake_case, as in every JSON synack prints.
type Stats struct {
	Sent      int `json:"sent"`      // packets written by the hosts
	Delivered int `json:"delivered"` // packets handed to their destination
	Filtered  int `json:"filtered"`  // dropped by the filter (SetFilter)
	Lost      int `json:"lost"`      // dropped by random loss (WithLoss, or an impairment's random or bursty loss)
	NoRoute   int `json:"no_route"`  // dropped because no host owns the destination address
	LinkDown  int `json:"link_down"` // dropped because the destination's link was closed

	// Impairments (WithImpairment, Impair).
	QueueFull  int `json:"queue_full"` // tail drops at a rate limiter's queue
	TooBig     int `json:"too_big"`    // larger than a path's MTU
	Duplicated int `json:"duplicated"` // packets delivered twice
	Corrupted  int `json:"corrupted"`  // copies delivered with a bit flipped
	Reordered  int `json:"reordered"`  // packets held back to arrive out of order
}

// New returns an empty network whose randomness all comes from seed.
func New(seed int64, opts ...Option) *Network {
	cfg := config{delay: DefaultDelay, mtu: DefaultMTU, maxEvents: DefaultMaxEvents}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.maxEvents <= 0 {
		cfg.maxEvents = DefaultMaxEvents
	}
	return &Network{
		seed:   seed,
		cfg:    cfg,
		clock:  clock.NewVirtual(),
		rng:    rand.New(rand.NewPCG(uint64(seed), 0x73796e61636b)), // "synack"
		byAddr: map[addrKey]*Host{},
	}
}

// Seed returns the seed the network was made with.
func (n *Network) Seed() int64 { return n.seed }

// Clock returns the network's virtual clock.
func (n *Network) Clock() *clock.Virtual { return n.clock }

// Now returns the virtual time.
func (n *Network) Now() time.Time { return n.clock.Now() }

// Elapsed returns the virtual time since the network started.
func (n *Network) Elapsed() time.Duration { return n.clock.Now().Sub(clock.Epoch) }

// Stats returns the packet counters.
func (n *Network) Stats() Stats {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stats
}

// Err returns the first error the network met: a runaway run or a failed
// pcap write.
func (n *Network) Err() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.err
}

func (n *Network) setErr(err error) {
	if n.err == nil {
		n.err = err
	}
}

// SetPcap makes the network write every packet, as it is sent, to w; nil
// stops it.
func (n *Network) SetPcap(w *pcap.Writer) {
	n.mu.Lock()
	n.pcap = w
	n.mu.Unlock()
}

// SetFilter installs f, which sees every packet as it is sent and drops it
// by returning true; nil removes the filter.
func (n *Network) SetFilter(f func(p Packet) (drop bool)) {
	n.mu.Lock()
	n.filter = f
	n.mu.Unlock()
}

// Hosts returns the hosts in the order they were added.
func (n *Network) Hosts() []*Host {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]*Host(nil), n.hosts...)
}

// RunUntil moves the world until cond returns true (it returns true), or
// until nothing is left to happen before a non-zero deadline (it returns
// false with the clock moved to the deadline), or, with a zero deadline,
// until nothing is left to happen at all (false). Each turn moves the clock
// to the next instant something is due, delivers every packet due then in
// the order sent, then runs the timers of every stack due by then. It
// implements stack.Runner.
func (n *Network) RunUntil(cond func() bool, deadline time.Time) bool {
	n.run.Lock()
	defer n.run.Unlock()
	for events := 0; ; events++ {
		if cond() {
			return true
		}
		n.mu.Lock()
		stopped := n.stopped
		if !stopped && events >= n.cfg.maxEvents {
			n.stopped = true
			n.setErr(fmt.Errorf("%w: %d events in one run, stopped at %v", ErrRunaway, events, n.clock.Now().Sub(clock.Epoch)))
			stopped = true
		}
		next, ok := n.queue.next()
		hosts := n.hosts
		n.mu.Unlock()
		if stopped {
			return false
		}
		for _, h := range hosts {
			if d := h.stack.NextDeadline(); !d.IsZero() && (!ok || d.Before(next)) {
				next, ok = d, true
			}
		}
		if !deadline.IsZero() && (!ok || next.After(deadline)) {
			n.clock.Set(deadline)
			return false
		}
		if !ok {
			return false
		}
		n.clock.Set(next)
		n.step(hosts)
	}
}

// step delivers every packet due now, in the order sent (including any
// sent at this same instant while delivering), then ticks every stack
// whose timer is due.
func (n *Network) step(hosts []*Host) {
	now := n.clock.Now()
	var a Arrival
	for {
		n.mu.Lock()
		d, ok := n.queue.popDue(now)
		var recv link.Receiver
		hook := n.arrival
		if ok {
			if d.to.link.closed || d.to.link.recv == nil {
				n.stats.LinkDown++
			} else {
				n.stats.Delivered++
				recv = d.to.link.recv
			}
		}
		n.mu.Unlock()
		if !ok {
			break
		}
		if recv != nil {
			if hook != nil {
				a = Arrival{Time: now, Sent: d.sent, From: d.from, To: d.to, Data: d.data, Duplicate: d.dup, Corrupted: d.corrupted}
				hook(&a)
			}
			recv.DeliverPacket(d.data)
		}
		if d.recycle {
			n.mu.Lock()
			n.free = append(n.free, d.data)
			n.mu.Unlock()
		}
	}
	for _, h := range hosts {
		if d := h.stack.NextDeadline(); !d.IsZero() && !d.After(now) {
			h.stack.Tick()
		}
	}
}

// Run moves the world until nothing is left to happen.
func (n *Network) Run() { n.RunUntil(func() bool { return false }, time.Time{}) }

// RunFor moves the world for d of virtual time.
func (n *Network) RunFor(d time.Duration) {
	n.RunUntil(func() bool { return false }, n.clock.Now().Add(max(d, 0)))
}

// delivery is a packet on its way.
type delivery struct {
	at        time.Time
	seq       uint64 // order of sending, which breaks ties
	sent      time.Time
	from, to  *Host
	data      []byte
	dup       bool // the second copy of a duplicated packet
	corrupted bool
	recycle   bool // data goes back to Network.free once delivered
}

// deliveries is a min-heap of packets by arrival time, then sending order.
// It is written out rather than built on container/heap, whose interface
// would allocate for every packet.
type deliveries []delivery

func (q deliveries) less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}

// push adds d.
func (q *deliveries) push(d delivery) {
	*q = append(*q, d)
	h := *q
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

// next returns the arrival time of the first packet, if any.
func (q deliveries) next() (time.Time, bool) {
	if len(q) == 0 {
		return time.Time{}, false
	}
	return q[0].at, true
}

// popDue removes and returns the first packet if it is due by now.
func (q *deliveries) popDue(now time.Time) (delivery, bool) {
	h := *q
	if len(h) == 0 || h[0].at.After(now) {
		return delivery{}, false
	}
	d := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h[n] = delivery{}
	h = h[:n]
	*q = h
	for i := 0; ; {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	return d, true
}

var _ stack.Runner = (*Network)(nil)
