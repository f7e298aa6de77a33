// Package impair makes a network path bad on purpose, reproducibly: random
// and bursty (Gilbert–Elliott) loss, delay with jitter, reordering,
// duplication, corruption by bit flips, a rate limit with a bounded queue
// (tail drop), and an MTU.
//
// The heart of the package is Model, which decides the fate of each packet
// from its size and the time it is sent and nothing else: it reads no
// clock and starts no goroutine, so it serves the simulator (package sim,
// virtual time) and the real-time Link wrapper (Wrap) alike. A Model's
// randomness comes from its seed only: the same seed, configuration and
// sequence of (time, size) give the same fates.
package impair

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Config describes an impaired path in one direction. The zero value is a
// perfect path with no delay.
type Config struct {
	// Loss is the probability that a packet is lost, independently of
	// the others. Ignored when Burst is set.
	Loss float64
	// Burst, when its ToBad is non-zero, replaces Loss by the
	// Gilbert–Elliott two-state model; see Bursty.
	Burst GilbertElliott
	// Delay is the one-way propagation delay.
	Delay time.Duration
	// Jitter adds a uniform random delay in [0, Jitter) to each packet.
	// Jitter alone never reorders: a packet is not delivered before one
	// sent ahead of it (unless that one was picked by Reorder).
	Jitter time.Duration
	// Reorder is the fraction of packets held back by ReorderDelay more,
	// so that packets sent after them overtake them.
	Reorder float64
	// ReorderDelay is how much longer a reordered packet takes. Zero
	// means max(Delay/4, 1ms).
	ReorderDelay time.Duration
	// Duplicate is the probability that a packet is delivered twice.
	Duplicate float64
	// Corrupt is the probability that a delivered copy has one bit
	// flipped (chosen uniformly in the packet). A single flipped bit is
	// always caught by the Internet checksum (RFC 1071).
	Corrupt float64
	// Rate is the bottleneck's rate in bits per second; zero means no
	// limit. A packet of n bytes occupies the bottleneck for n·8/Rate.
	Rate int64
	// Queue is how many bytes may wait for the bottleneck (with Rate
	// set); a packet that does not fit is dropped (tail drop). Zero means
	// no limit.
	Queue int
	// MTU drops packets larger than MTU bytes; zero means no limit.
	MTU int
}

// GilbertElliott is the two-state bursty loss model: in the Good state a
// packet is lost with probability LossGood, in the Bad state with
// probability LossBad; after each packet the state moves Good→Bad with
// probability ToBad and Bad→Good with probability ToGood.
type GilbertElliott struct {
	ToBad, ToGood     float64
	LossGood, LossBad float64
}

// Bursty returns the Gilbert–Elliott model (in its simple Gilbert form:
// every packet lost in the Bad state, none in the Good one) whose average
// loss is loss and whose bursts of losses last meanBurst packets on
// average. meanBurst below 1 counts as 1.
func Bursty(loss, meanBurst float64) GilbertElliott {
	loss = clamp01(loss)
	if loss == 0 {
		return GilbertElliott{}
	}
	if loss == 1 {
		return GilbertElliott{ToBad: 1, LossGood: 1, LossBad: 1}
	}
	meanBurst = max(meanBurst, 1)
	toGood := 1 / meanBurst
	// The stationary share of the Bad state is ToBad/(ToBad+ToGood).
	return GilbertElliott{ToBad: min(loss*toGood/(1-loss), 1), ToGood: toGood, LossBad: 1}
}

// Drop says why a packet was not delivered.
type Drop uint8

// Reasons for a drop.
const (
	Delivered Drop = iota // not dropped
	Lost                  // random loss (Loss)
	BurstLost             // bursty loss (Burst)
	QueueFull             // tail drop at the bottleneck's queue
	TooBig                // larger than the MTU
)

// String names the reason.
func (d Drop) String() string {
	switch d {
	case Delivered:
		return "delivered"
	case Lost:
		return "lost"
	case BurstLost:
		return "burst-lost"
	case QueueFull:
		return "queue-full"
	case TooBig:
		return "too-big"
	}
	return fmt.Sprintf("Drop(%d)", uint8(d))
}

// Fate is what happens to one packet.
type Fate struct {
	Drop      Drop
	Copies    int          // copies delivered: 0, 1 or 2 (duplicated)
	At        [2]time.Time // when each copy arrives
	Flip      [2]int       // the bit each copy has flipped (bit i of byte i/8, most significant first); -1: none
	Reordered bool         // held back by ReorderDelay
}

// Corrupt flips the bit of copy i, if any, in pkt, which must be the
// packet the fate was decided for; it reports whether it flipped one.
func (f *Fate) Corrupt(i int, pkt []byte) bool {
	b := f.Flip[i]
	if b < 0 || b/8 >= len(pkt) {
		return false
	}
	pkt[b/8] ^= 0x80 >> (b % 8)
	return true
}

// Stats counts the fates a Model decided.
type Stats struct {
	Packets    int // packets judged
	Delivered  int // packets not dropped (a duplicated one counts once)
	Lost       int // random loss
	BurstLost  int // bursty loss
	QueueFull  int // tail drops
	TooBig     int // larger than the MTU
	Duplicated int // packets delivered twice
	Corrupted  int // copies with a flipped bit
	Reordered  int // packets held back
}

// Model decides the fate of every packet on one path in one direction.
// It is not safe for concurrent use.
type Model struct {
	cfg   Config
	rng   *rand.Rand
	bad   bool      // Gilbert–Elliott state
	busy  time.Time // when the bottleneck has sent everything queued
	last  time.Time // arrival of the last packet that was not reordered
	stats Stats
}

// New returns a model of cfg whose randomness comes from seed. Out-of-range
// probabilities are clamped to [0, 1] and negative durations and sizes read
// as zero.
func New(cfg Config, seed uint64) *Model {
	cfg.Loss = clamp01(cfg.Loss)
	cfg.Reorder = clamp01(cfg.Reorder)
	cfg.Duplicate = clamp01(cfg.Duplicate)
	cfg.Corrupt = clamp01(cfg.Corrupt)
	cfg.Burst.ToBad = clamp01(cfg.Burst.ToBad)
	cfg.Burst.ToGood = clamp01(cfg.Burst.ToGood)
	cfg.Burst.LossGood = clamp01(cfg.Burst.LossGood)
	cfg.Burst.LossBad = clamp01(cfg.Burst.LossBad)
	cfg.Delay = max(cfg.Delay, 0)
	cfg.Jitter = max(cfg.Jitter, 0)
	cfg.Rate = max(cfg.Rate, 0)
	cfg.Queue = max(cfg.Queue, 0)
	cfg.MTU = max(cfg.MTU, 0)
	if cfg.ReorderDelay <= 0 {
		cfg.ReorderDelay = max(cfg.Delay/4, time.Millisecond)
	}
	return &Model{cfg: cfg, rng: rand.New(rand.NewPCG(seed, 0x696d70616972))} // "impair"
}

// Config returns the model's configuration, with defaults filled in.
func (m *Model) Config() Config { return m.cfg }

// Stats returns the counters so far.
func (m *Model) Stats() Stats { return m.stats }

// Serialization returns how long a packet of size bytes occupies the
// bottleneck; zero without a rate limit.
func (m *Model) Serialization(size int) time.Duration {
	if m.cfg.Rate <= 0 {
		return 0
	}
	return time.Duration((int64(size)*8*int64(time.Second) + m.cfg.Rate - 1) / m.cfg.Rate)
}

// Judge decides the fate of a packet of size bytes sent at now. Calls must
// come in order of now. Stages, in order: MTU, loss, the bottleneck's
// queue and serialization, propagation delay with jitter and reordering,
// duplication, corruption. A random number is drawn only for an impairment
// that is switched on.
func (m *Model) Judge(now time.Time, size int) Fate {
	c := &m.cfg
	m.stats.Packets++
	f := Fate{Flip: [2]int{-1, -1}}
	if c.MTU > 0 && size > c.MTU {
		m.stats.TooBig++
		f.Drop = TooBig
		return f
	}
	if d := m.lose(); d != Delivered {
		f.Drop = d
		return f
	}
	depart := now
	if c.Rate > 0 {
		if m.busy.Before(now) {
			m.busy = now
		}
		if c.Queue > 0 {
			backlog := int64(m.busy.Sub(now)) * c.Rate / (8 * int64(time.Second))
			if backlog+int64(size) > int64(c.Queue) {
				m.stats.QueueFull++
				f.Drop = QueueFull
				return f
			}
		}
		m.busy = m.busy.Add(m.Serialization(size))
		depart = m.busy
	}
	at := depart.Add(c.Delay)
	if c.Jitter > 0 {
		at = at.Add(time.Duration(m.rng.Int64N(int64(c.Jitter))))
	}
	if c.Reorder > 0 && m.rng.Float64() < c.Reorder {
		f.Reordered = true
		m.stats.Reordered++
		at = at.Add(c.ReorderDelay)
	} else {
		if at.Before(m.last) {
			at = m.last // jitter keeps the order
		}
		m.last = at
	}
	f.Copies = 1
	f.At[0] = at
	if c.Duplicate > 0 && m.rng.Float64() < c.Duplicate {
		f.Copies = 2
		f.At[1] = at
		m.stats.Duplicated++
	}
	if c.Corrupt > 0 && size > 0 {
		for i := range f.Copies {
			if m.rng.Float64() < c.Corrupt {
				f.Flip[i] = m.rng.IntN(size * 8)
				m.stats.Corrupted++
			}
		}
	}
	m.stats.Delivered++
	return f
}

// lose draws the loss of one packet.
func (m *Model) lose() Drop {
	ge := &m.cfg.Burst
	if ge.ToBad > 0 {
		p := ge.LossGood
		if m.bad {
			p = ge.LossBad
		}
		lost := p > 0 && m.rng.Float64() < p
		if m.bad {
			m.bad = m.rng.Float64() >= ge.ToGood
		} else {
			m.bad = m.rng.Float64() < ge.ToBad
		}
		if lost {
			m.stats.BurstLost++
			return BurstLost
		}
		return Delivered
	}
	if m.cfg.Loss > 0 && m.rng.Float64() < m.cfg.Loss {
		m.stats.Lost++
		return Lost
	}
	return Delivered
}

func clamp01(p float64) float64 {
	if p > 0 {
		return min(p, 1)
	}
	return 0 // also for NaN
}
