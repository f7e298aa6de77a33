package stack

import (
	"runtime"
	"sync"
	"time"

	"github.com/synack/synack/tcp"
)

// Inbound packets are copied into pooled buffers of a few size classes,
// so that a link with a large MTU (a 64 KiB packet on an MTU-65535 pipe)
// reuses its buffers as a 1500-byte link does, while small packets do not
// pin 64 KiB each.

// packetClasses are the buffer capacities of the pools, smallest first:
// an Ethernet-sized packet, a jumbo frame, and the largest IP packet
// (an IPv6 header and 65,535 bytes of payload) with room to spare.
var packetClasses = [...]int{2048, 9216, 40 + 65535 + 89}

// packetFreeMax is how many free buffers of each class are kept for
// certain (about 512 KiB, 576 KiB and 8 MiB) in front of a sync.Pool: the
// garbage collector empties a sync.Pool at every cycle, and at 64 KiB a
// packet, a bulk transfer whose buffers all came from the allocator would
// itself make the cycles that empty it. The largest class keeps the most:
// its buffers are what receive queues hold without a copy (an inPacket's
// payload kept by its engine, tcp.PayloadOwner), a window's worth of them
// per connection, which come back together when the application reads
// (with 32 kept, a 1 GiB transfer at MTU 65535 allocated about 5 KB per
// MiB moved; with 128, 0.3 KB: BENCHMARKS.md, "Zero-copy receive"). The
// lists fill only as far as that many buffers were in use at once, and
// give them back once unused for a minute (packetList.trim).
var packetFreeMax = [len(packetClasses)]int{256, 64, 128}

// packetList keeps free packets of one class: a bounded list, then a
// sync.Pool.
type packetList struct {
	mu   sync.Mutex
	free []*inPacket
	max  int
	gets int       // since the last trim
	used time.Time // when a trim last found packets taken
	pool sync.Pool
}

func (l *packetList) get() *inPacket {
	l.mu.Lock()
	l.gets++
	if n := len(l.free); n > 0 {
		p := l.free[n-1]
		l.free[n-1] = nil
		l.free = l.free[:n-1]
		l.mu.Unlock()
		return p
	}
	l.mu.Unlock()
	return l.pool.Get().(*inPacket)
}

func (l *packetList) put(p *inPacket) {
	l.mu.Lock()
	if len(l.free) < l.max {
		l.free = append(l.free, p)
		l.mu.Unlock()
		return
	}
	l.mu.Unlock()
	l.pool.Put(p)
}

// poolIdle is how long a free list goes without a packet taken from it
// before trims give its buffers back.
const poolIdle = time.Minute

// trim, called once per garbage collection, lets half of the free list
// go once no packet was taken from it for poolIdle: the buffers a bulk
// transfer left behind (up to 8 MiB of 64 KiB ones) go back over a few
// collections after its traffic stopped, and stay while it comes and
// goes.
func (l *packetList) trim(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.gets > 0 || l.used.IsZero():
		l.used = now
	case now.Sub(l.used) >= poolIdle && len(l.free) > 0:
		keep := len(l.free) / 2
		clear(l.free[keep:])
		l.free = l.free[:keep]
	}
	l.gets = 0
}

var packetPools [len(packetClasses)]packetList

func init() {
	for i, size := range packetClasses {
		packetPools[i].max = packetFreeMax[i]
		packetPools[i].pool.New = func() any { return &inPacket{buf: make([]byte, 0, size)} }
	}
	armPoolTrim()
}

// gcSentinel is an object kept by no one, whose finalizer runs after
// the garbage collection that finds it unreachable and sets itself
// again: the pools are trimmed once per collection (the runtime runs one
// at least every two minutes, so an idle process gives its buffers back
// within a quarter of an hour), and no allocation is made for it.
type gcSentinel struct{ _ [64]byte }

func armPoolTrim() { runtime.SetFinalizer(new(gcSentinel), trimPools) }

func trimPools(s *gcSentinel) {
	now := time.Now()
	for i := range packetPools {
		packetPools[i].trim(now)
	}
	runtime.SetFinalizer(s, trimPools)
}

// FreeCaches drops the buffers that stacks keep for reuse: the free
// lists of packet buffers (up to 8 MiB of 64 KiB ones after a transfer
// at MTU 65535) and those of the TCP engine (tcp.FreeCaches: buffer
// slabs and send-buffer pages). The lists give their buffers back on
// their own once unused for a minute; FreeCaches gives them back at once,
// for a program that wants its memory back after a burst of traffic, or
// a measurement of what connections hold. They fill again as traffic
// needs.
func FreeCaches() {
	for i := range packetPools {
		l := &packetPools[i]
		l.mu.Lock()
		clear(l.free)
		l.free = l.free[:0]
		l.mu.Unlock()
	}
	tcp.FreeCaches()
}

// packetClass returns the index of the smallest class that holds n
// bytes, or -1 when none does.
func packetClass(n int) int {
	for i, size := range packetClasses {
		if n <= size {
			return i
		}
	}
	return -1
}

// getPacket returns a cleared inPacket whose buffer holds n bytes without
// growing (when n fits a class).
func getPacket(n int) *inPacket {
	i := packetClass(n)
	if i < 0 {
		i = len(packetClasses) - 1
	}
	return packetPools[i].get()
}

// putPacket gives p back: it clears p and returns it to the pool of its
// buffer's class, unless an engine keeps its payload (inPacket.Retain):
// then the engine's Release does. A buffer that grew past its class (a
// reassembled datagram) goes to the class it still fills; one larger
// than every class is dropped.
func putPacket(p *inPacket) {
	if p.refs.Load() != 0 && p.refs.Add(-1) != 0 {
		return
	}
	recyclePacket(p)
}

// recyclePacket is putPacket for a packet nobody holds any longer.
func recyclePacket(p *inPacket) {
	if p.extRef != nil {
		p.extRef.Release() // send-side zero copy: the sender's page
	}
	buf := p.buf[:0]
	i := len(packetClasses) - 1
	for i >= 0 && cap(buf) < packetClasses[i] {
		i--
	}
	switch {
	case i < 0: // smaller than the smallest class (not from a pool)
		i = 0
		buf = make([]byte, 0, packetClasses[0])
	case cap(buf) > packetClasses[len(packetClasses)-1]:
		buf = make([]byte, 0, packetClasses[0])
		i = 0
	case cap(buf) > 2*packetClasses[i]:
		// Grown by reassembly well past its class: the lists keep
		// buffers for certain, so do not let one pin that much.
		buf = make([]byte, 0, packetClasses[i])
	}
	*p = inPacket{buf: buf}
	packetPools[i].put(p)
}

// packetHolders keeps inPackets without a buffer: a shard gives a
// packet's buffer away to a stack that adopts it (link.Handoff) and keeps
// the holder; the adopting stack takes a holder for the buffer it got.
var packetHolders sync.Pool

// putHolder returns an inPacket whose buffer was given away.
func putHolder(p *inPacket) {
	*p = inPacket{}
	packetHolders.Put(p)
}

// adoptPacket wraps buf, which the caller gives up, in an inPacket.
func adoptPacket(buf []byte) *inPacket {
	p, _ := packetHolders.Get().(*inPacket)
	if p == nil {
		p = new(inPacket)
	}
	p.buf = buf
	return p
}
