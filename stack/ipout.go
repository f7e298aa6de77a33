package stack

import (
	"bytes"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/synack/synack/wire"
)

// The IP output path shared by TCP, UDP and ICMP: path MTUs, source
// fragmentation and the ICMP rate limit.

// pmtuExpiry is how long a lowered path MTU is remembered (RFC 1191 §6.3
// and RFC 8201 §4 suggest 10 minutes).
const pmtuExpiry = 10 * time.Minute

// maxPMTUEntries bounds the path MTU cache; when it is full, expired
// entries go, and if none has, the whole cache is cleared.
const maxPMTUEntries = 1024

// Lower bounds on a learnt path MTU. IPv4 follows Linux (min_pmtu 552) so
// that a forged fragmentation-needed cannot shrink segments to nothing;
// IPv6 links carry at least 1280 bytes (RFC 8200 §5).
const (
	minPMTU4 = 552
	minPMTU6 = 1280
)

type pmtuEntry struct {
	mtu     int
	expires time.Time
}

// pmtuCache holds the path MTUs learnt from ICMP, per destination.
type pmtuCache struct {
	n  atomic.Int32 // len(m): while it is zero, get takes no lock
	mu sync.Mutex
	m  map[netip.Addr]pmtuEntry
}

// get returns the path MTU learnt for dst, or 0. While nothing has been
// learnt (the usual case) it is one atomic load.
func (c *pmtuCache) get(dst netip.Addr, now time.Time) int {
	if c.n.Load() == 0 {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[dst]
	if !ok {
		return 0
	}
	if !now.Before(e.expires) {
		delete(c.m, dst)
		c.n.Store(int32(len(c.m)))
		return 0
	}
	return e.mtu
}

// lower records mtu for dst if it is below what is known (cur); it
// reports whether it did.
func (c *pmtuCache) lower(dst netip.Addr, mtu, cur int, now time.Time) bool {
	if dst.Is4() {
		mtu = max(mtu, minPMTU4)
	} else {
		mtu = max(mtu, minPMTU6)
	}
	if mtu >= cur {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[netip.Addr]pmtuEntry)
	}
	if len(c.m) >= maxPMTUEntries {
		for a, e := range c.m {
			if !now.Before(e.expires) {
				delete(c.m, a)
			}
		}
		if len(c.m) >= maxPMTUEntries {
			clear(c.m)
		}
	}
	c.m[dst] = pmtuEntry{mtu: mtu, expires: now.Add(pmtuExpiry)}
	c.n.Store(int32(len(c.m)))
	return true
}

// PathMTU returns the largest IP packet the stack sends towards dst
// without fragmenting it: the MTU of the link the route table picks,
// lowered by what ICMP fragmentation-needed and packet-too-big messages
// taught (remembered for 10 minutes). It is 0 when there is no route.
func (s *Stack) PathMTU(dst netip.Addr) int {
	dst = dst.Unmap()
	r := s.routes.Load().lookup(dst)
	if r == nil {
		return 0
	}
	return s.pathMTU(r, dst)
}

func (s *Stack) pathMTU(r *route, dst netip.Addr) int {
	if s.pmtu.n.Load() == 0 {
		return r.mtu // nothing learnt: no lock, no clock read
	}
	if m := s.pmtu.get(dst, s.clock.Now()); m > 0 && m < r.mtu {
		return m
	}
	return r.mtu
}

// lowerPMTU learns a smaller path MTU towards dst.
func (s *Stack) lowerPMTU(dst netip.Addr, mtu int) {
	r := s.routes.Load().lookup(dst)
	if r == nil {
		return
	}
	if s.pmtu.lower(dst, mtu, s.pathMTU(r, dst), s.clock.Now()) {
		s.ctr.pmtuDecreases.Add(1)
	}
}

// transmit sends the IP packet pkt to dst through r, cut into fragments
// (DF clear, a fresh identification) if it is larger than the path MTU:
// so a TCP connection whose path MTU fell after it chose its MSS goes on
// working, as RFC 1191 §5 allows. With pending set (manual mode, under a
// shard lock) the packets are copied there to be written later;
// otherwise they are written at once. pkt is not kept.
func (s *Stack) transmit(r *route, dst netip.Addr, pkt []byte, pending *[]outPacket) {
	out := func(b []byte) {
		if pending != nil {
			*pending = append(*pending, outPacket{l: r.l, pkt: bytes.Clone(b)})
			return
		}
		s.write(r.l, b)
	}
	mtu := s.pathMTU(r, dst)
	if len(pkt) <= mtu {
		out(pkt)
		return
	}
	var n uint64
	if err := wire.Fragment(pkt, mtu, s.ipID.Add(1), func(f []byte) { n++; out(f) }); err != nil {
		s.ctr.linkErrors.Add(1)
		return
	}
	s.ctr.fragsOut.Add(n)
}

// appendIPHeader appends an IPv4 (DF clear, a fresh identification) or
// IPv6 header for a packet from src to dst.
func (s *Stack) appendIPHeader(b []byte, src, dst netip.Addr, proto uint8, payloadLen int) []byte {
	if src.Is4() && dst.Is4() {
		h := wire.IPv4Header{ID: uint16(s.ipID.Add(1)), TTL: s.ttl, Protocol: proto, Src: src, Dst: dst}
		return wire.AppendIPv4(b, &h, payloadLen)
	}
	h := wire.IPv6Header{NextHeader: proto, HopLimit: s.ttl, Src: src, Dst: dst}
	return wire.AppendIPv6(b, &h, payloadLen)
}

// rateLimiter is a token bucket: rate tokens a second, at most burst.
type rateLimiter struct {
	mu     sync.Mutex
	rate   int // < 0: unlimited
	burst  int
	tokens float64
	last   time.Time
	primed bool
}

// allow takes a token if there is one.
func (l *rateLimiter) allow(now time.Time) bool {
	if l.rate < 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.primed {
		l.tokens, l.last, l.primed = float64(l.burst), now, true
	}
	if d := now.Sub(l.last); d > 0 {
		l.tokens = min(float64(l.burst), l.tokens+d.Seconds()*float64(l.rate))
		l.last = now
	}
	if l.tokens < 1 {
		return false
	}
	l.tokens--
	return true
}
