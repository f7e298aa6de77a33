package sim

import (
	"encoding/binary"
	"time"

	"github.com/synack/synack/link/impair"
)

// WithImpairment impairs every path of the network, each direction of
// each pair of hosts with its own impair.Model seeded from the network's
// seed and the two hosts' positions. A zero cfg.Delay means the network's
// delay (WithDelay); otherwise cfg.Delay replaces it on these paths.
// The rate limiter and queue work in virtual time: a packet leaves the
// bottleneck size·8/Rate after the one before it.
func WithImpairment(cfg impair.Config) Option {
	return func(c *config) { c.impair, c.hasImpair = cfg, true }
}

// WithoutPacketTrace stops the network from recording packets in its trace
// (state changes are still recorded): for long transfers, whose trace
// would hold every byte sent. Ladders then show no segments.
func WithoutPacketTrace() Option { return func(c *config) { c.noPacketTrace = true } }

// Impair sets the impairment of the path from one host to another, in that
// direction only, in place of the network's (WithImpairment); the path's
// model starts afresh. As with WithImpairment, a zero cfg.Delay means the
// network's delay.
func (n *Network) Impair(from, to *Host, cfg impair.Config) {
	n.mu.Lock()
	defer n.mu.Unlock()
	from.paths[to.index] = n.newModel(from, to, cfg)
}

// PathStats returns the counters of the impairment on the path from one
// host to another; zero if the path has none or carried nothing yet.
func (n *Network) PathStats(from, to *Host) impair.Stats {
	n.mu.Lock()
	defer n.mu.Unlock()
	if m := from.paths[to.index]; m != nil {
		return m.Stats()
	}
	return impair.Stats{}
}

// model returns the impairment of the path from one host to another, made
// from the network's default on first use; nil if there is none (n.mu
// held).
func (n *Network) model(from, to *Host) *impair.Model {
	if m, ok := from.paths[to.index]; ok {
		return m
	}
	var m *impair.Model
	if n.cfg.hasImpair {
		m = n.newModel(from, to, n.cfg.impair)
	}
	from.paths[to.index] = m
	return m
}

func (n *Network) newModel(from, to *Host, cfg impair.Config) *impair.Model {
	if cfg.Delay <= 0 {
		cfg.Delay = n.cfg.delay
	}
	seed := n.derive("path", from.index<<16|to.index)
	return impair.New(cfg, binary.BigEndian.Uint64(seed))
}

// Arrival is a packet handed to its destination host.
type Arrival struct {
	Time      time.Time // when it arrived
	Sent      time.Time // when it was sent
	From, To  *Host
	Data      []byte // the packet as delivered; valid only during the hook
	Duplicate bool   // the second copy of a duplicated packet
	Corrupted bool   // a bit was flipped on the way
}

// SetArrivalHook installs f, which sees every packet just before its
// destination's stack does; nil removes it. f runs in the goroutine that
// moves the world and must not call back into the network or keep Data.
func (n *Network) SetArrivalHook(f func(a *Arrival)) {
	n.mu.Lock()
	n.arrival = f
	n.mu.Unlock()
}
