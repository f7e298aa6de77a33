package tcp

import (
	"math/bits"
	"sync"
	"sync/atomic"
)

// Buffer memory.
//
// A connection's send and receive buffers (sndBuffer, sndpages.go, and
// ring, buffer.go) hold no memory until their first byte. The send
// buffer's storage is pages of the slab classes, taken as its data
// grows and dropped as it is acknowledged (sndpages.go); the receive
// buffer's is one slab, taken from a pool by power-of-two size class
// and doubled as the data it must hold grows,
// up to the buffer's size (the limit the window follows); it goes back to
// the pool when the buffer drains. A slab taken from the pool is not
// zeroed: every byte is written before it is read.
//
// Memory, shared by the connections of a stack, accounts for the slabs
// they hold and bounds them as Linux's tcp_mem does: past Pressure the
// stack is under memory pressure until the total falls below Low; past
// High, slab growth is refused. See Memory.

// Slab size classes: 1<<minSlabShift … 1<<maxSlabShift bytes.
const (
	minSlabShift = 9  // 512 bytes
	maxSlabShift = 30 // 1 GiB, above maxBufferSize
)

// freeList keeps up to max free objects for reuse, in front of a
// sync.Pool that takes the rest (and lets the garbage collector have
// them). The list makes reuse certain where a sync.Pool may drop what it
// is given (it does so at random under the race detector), so that a
// connection's steady path does not allocate; its bound keeps what it
// holds small.
type freeList[T any] struct {
	mu   sync.Mutex
	free []*T
	max  int
	pool sync.Pool
}

func (f *freeList[T]) get() *T {
	f.mu.Lock()
	if n := len(f.free); n > 0 {
		x := f.free[n-1]
		f.free[n-1] = nil
		f.free = f.free[:n-1]
		f.mu.Unlock()
		return x
	}
	f.mu.Unlock()
	if x, ok := f.pool.Get().(*T); ok {
		return x
	}
	return nil
}

func (f *freeList[T]) put(x *T) {
	f.mu.Lock()
	if len(f.free) < f.max {
		f.free = append(f.free, x)
		f.mu.Unlock()
		return
	}
	f.mu.Unlock()
	f.pool.Put(x)
}

// drain drops every object the list keeps (the sync.Pool behind it is
// left to the garbage collector).
func (f *freeList[T]) drain() {
	f.mu.Lock()
	clear(f.free)
	f.free = f.free[:0]
	f.mu.Unlock()
}

// FreeCaches drops the buffers the process's connections gave back and
// the free lists keep for reuse: receive-buffer slabs and send-buffer
// pages (up to 16 MiB of them after a bulk transfer at a large MTU), and
// the smaller storage connections take while in use (output queues,
// records of segments in flight, page lists). The slab and page lists
// give theirs back on their own once unused for a minute; FreeCaches is
// for a program that wants the memory back at once after a burst, and
// for a measurement of what connections hold that must not see the
// lists shrink in the middle. They fill again as traffic needs.
func FreeCaches() {
	for c := range slabPools {
		slabPools[c].drain()
	}
	for c := range pagePools {
		pagePools[c].drain()
	}
	outPool.drain()
	txSegsPool.drain()
	rackMarksPool.drain()
	dequePool.drain()
	rcvChunksPool.drain()
	lossStatePool.drain()
}

// freeListBytes bounds what each free list keeps (at least two objects).
const freeListBytes = 256 << 10

// slabPools holds free slabs by size class. Each entry is a *[]byte whose
// length is its class size.
var slabPools [maxSlabShift + 1]freeList[[]byte]

func init() {
	for c := range slabPools {
		slabPools[c].max = max(2, freeListBytes>>c)
	}
}

// slabClass is the size class that holds n bytes.
func slabClass(n int) uint8 {
	if n <= 1<<minSlabShift {
		return minSlabShift
	}
	return uint8(bits.Len(uint(n - 1)))
}

// getSlab returns a slab of class c, not zeroed when it comes from the pool.
func getSlab(c uint8) *[]byte {
	if s := slabPools[c].get(); s != nil {
		return s
	}
	b := make([]byte, 1<<c)
	return &b
}

// putSlab returns s to its pool.
func putSlab(s *[]byte) {
	slabPools[slabClass(len(*s))].put(s)
}

// Memory accounts for the buffer memory of a set of connections (a stack)
// and bounds it, as Linux's tcp_mem does. Set Config.Memory to share one
// between connections; set its thresholds before first use.
//
//   - Below Pressure, buffers take the storage their data needs and
//     auto-tune freely.
//   - Once the total passes Pressure the connections are under memory
//     pressure until it falls below Low: auto-tuning stops (the growth
//     refused is counted), and the receive windows they offer shrink, as
//     data arrives, to a minimal window of four segments (never
//     withdrawing what was offered: RFC 9293 §3.8.6.2.2). A buffer's
//     storage grows past Pressure only within that minimal window.
//   - High is the hard limit. The first, smallest slab (512 bytes) of an
//     empty buffer is always granted, so that every connection, new ones
//     included, makes progress; the room for those is kept: other growth
//     stops 1 KiB per connection (AddConnections) short of the thresholds.
//     Past them a Write takes only what the send buffer's storage holds,
//     and received data that does not fit is dropped unacknowledged, for
//     the peer to resend.
//
// A threshold of zero or less is no threshold. Memory is safe for
// concurrent use.
type Memory struct {
	Low, Pressure, High int64 // bytes

	used           atomic.Int64
	conns          atomic.Int64 // connections, each with room kept for two first slabs
	peak           atomic.Int64
	pressure       atomic.Bool
	pressureEvents atomic.Uint64
	growthRefused  atomic.Uint64
	dropped        atomic.Uint64

	limMu  sync.Mutex
	limits map[int32]*ringLimits // by minimal window (limitsFor)
}

// ringLimits is what the buffers of the connections that share a Memory
// and a minimal window have in common: one record for all of them
// (limitsFor) keeps each buffer one pointer smaller.
type ringLimits struct {
	mem    *Memory // accounts for the storage; nil: unaccounted
	minCap int32   // the minimal window: storage granted under memory pressure
}

// unaccounted holds the limits of buffers that have no Memory.
var unaccounted Memory

// limitsFor returns the shared limits of buffers accounted by m (nil:
// none) with a minimal window of minCap bytes.
func limitsFor(m *Memory, minCap int32) *ringLimits {
	owner := m
	if owner == nil {
		owner = &unaccounted
	}
	owner.limMu.Lock()
	defer owner.limMu.Unlock()
	l := owner.limits[minCap]
	if l == nil {
		if owner.limits == nil {
			owner.limits = make(map[int32]*ringLimits)
		}
		l = &ringLimits{mem: m, minCap: minCap}
		owner.limits[minCap] = l
	}
	return l
}

// growth says what storage a buffer asks for (see Memory).
type growth uint8

const (
	growFree    growth = iota // beyond the minimal window
	growMinimal               // within the minimal window
	growFirst                 // the first, smallest slab of an empty buffer
	growForced                // bytes already held (a resize that keeps them)
)

// MemoryStats are a Memory's counters.
type MemoryStats struct {
	InUse          int64  // bytes of buffer storage held now
	Peak           int64  // the most ever held at once
	PressureEvents uint64 // times the total crossed Pressure (from below Low)
	GrowthRefused  uint64 // buffer growths refused: auto-tuning under pressure, slabs past High
	Dropped        uint64 // received segments whose data was dropped, in part or whole, for want of memory
}

// Stats returns m's counters.
func (m *Memory) Stats() MemoryStats {
	return MemoryStats{
		InUse:          m.used.Load(),
		Peak:           m.peak.Load(),
		PressureEvents: m.pressureEvents.Load(),
		GrowthRefused:  m.growthRefused.Load(),
		Dropped:        m.dropped.Load(),
	}
}

// UnderPressure reports whether the connections are under memory
// pressure. A nil Memory never is.
func (m *Memory) UnderPressure() bool {
	return m != nil && m.pressure.Load()
}

// charge takes n more bytes for a growth of kind g; it refuses, counting
// it, what Memory does not grant.
func (m *Memory) charge(n int, g growth) bool {
	if m == nil {
		return true
	}
	if !m.canCharge(n, g) {
		m.growthRefused.Add(1)
		if g == growFree {
			m.enterPressure()
		}
		return false
	}
	u := m.used.Add(int64(n))
	for {
		p := m.peak.Load()
		if u <= p || m.peak.CompareAndSwap(p, u) {
			break
		}
	}
	if m.Pressure > 0 && u+m.kept() > m.Pressure {
		m.enterPressure()
	}
	return true
}

// kept is the room kept for the first slabs of the connections' buffers.
func (m *Memory) kept() int64 { return m.conns.Load() * 2 << minSlabShift }

// enterPressure starts memory pressure, counting it.
func (m *Memory) enterPressure() {
	if m.pressure.CompareAndSwap(false, true) {
		m.pressureEvents.Add(1)
	}
}

// canCharge reports whether charge(n, g) would succeed now.
func (m *Memory) canCharge(n int, g growth) bool {
	if m == nil {
		return true
	}
	u := m.used.Load() + int64(n) + m.kept()
	switch g {
	case growFree:
		return (m.Pressure <= 0 || u <= m.Pressure) && (m.High <= 0 || u <= m.High)
	case growMinimal:
		return m.High <= 0 || u <= m.High
	}
	return true
}

// AddConnections counts n more connections (n < 0: fewer) whose buffers
// draw on m: room for the first slab of each of their two buffers is
// kept below the thresholds.
func (m *Memory) AddConnections(n int) { m.conns.Add(int64(n)) }

// uncharge gives n bytes back.
func (m *Memory) uncharge(n int) {
	if m == nil {
		return
	}
	if u := m.used.Add(-int64(n)) + m.kept(); u < m.Low || m.Low <= 0 && u < m.Pressure {
		m.pressure.Store(false)
	}
}

// refuseGrowth counts a growth refused: an auto-tuning step under
// pressure, or storage past a threshold (memory pressure then starts).
func (m *Memory) refuseGrowth() {
	if m != nil {
		m.growthRefused.Add(1)
		if m.Pressure > 0 && m.used.Load()+m.kept() > m.Pressure {
			m.enterPressure()
		}
	}
}

// countDrop counts a segment whose data was dropped for want of memory.
func (m *Memory) countDrop() {
	if m != nil {
		m.dropped.Add(1)
	}
}

// minWindowSegments is the minimal window, in segments of our MSS, that a
// connection may always offer and fill, whatever the memory pressure.
const minWindowSegments = 4

// initBuffers gives the buffers their accounting.
func (t *TCB) initBuffers() {
	lim := limitsFor(t.cfg.Memory, int32(minWindowSegments*t.cfg.MSS))
	t.sndBuf.lim, t.rcvBuf.lim = lim, lim
}

// rcvFree is the room the receive window may offer: the free buffer
// space, and under memory pressure no more than the minimal window less
// what is buffered, so that the window shrinks as data arrives and is
// not read. offerableWindow keeps what was offered before.
func (t *TCB) rcvFree() int {
	free := t.rcvBuf.Free()
	if t.cfg.Memory.UnderPressure() {
		free = max(0, min(free, t.rcvBuf.minCap()-t.rcvBuf.Len()))
	}
	return free
}

// rcvRoom reports whether n bytes at off past the buffered ones can be
// stored (out-of-order data): the buffer has room and Memory the storage.
func (t *TCB) rcvRoom(off, n int) bool {
	if off+n > t.rcvBuf.byteFree() {
		return false
	}
	if !t.rcvBuf.reserve(int(t.rcvBuf.n) + off + n) { // the ring's own bytes: kept payloads are not in it
		t.cfg.Memory.countDrop()
		return false
	}
	return true
}

// rcvWrite appends in-order data to the receive buffer and returns how
// much it took.
func (t *TCB) rcvWrite(data []byte) int {
	n := t.rcvBuf.Write(data)
	if n < len(data) && n < t.rcvBuf.Free()+n {
		t.cfg.Memory.countDrop()
	}
	return n
}

// reclaim gives back the memory of buffers that have drained: the
// receive buffer once read (and holding no out-of-order data), the send
// buffer and the record of segments in flight once all is acknowledged,
// and (releaseOut) the output queue once both buffers are empty.
func (t *TCB) reclaim() {
	if t.cfg.DeferReclaim && t.holdsStorage() && !t.cfg.Memory.UnderPressure() {
		t.reclaimBits |= reclaimUsed
		return
	}
	t.reclaimDrained()
}

// reclaimDrained gives back the storage of the buffers that hold no
// data.
func (t *TCB) reclaimDrained() {
	if t.rcvBuf.n == 0 && t.ooo.empty() {
		t.rcvBuf.release()
	}
	if t.sndBuf.n == 0 {
		t.sndBuf.release()
		t.releaseTx()
	}
}

// Deferred reclaim (Config.DeferReclaim): the bits of reclaimBits.
const (
	// reclaimUsed: a buffer drained, or data was read, since the owner's
	// last ReclaimIdle.
	reclaimUsed uint8 = 1 << iota
	// reclaimNoted: EventStorage was reported for the storage held now.
	reclaimNoted
)

// holdsStorage reports whether the connection's buffers hold storage,
// which reclaimDrained gives back with the records of segments in flight.
// Neither the records alone nor the output queue count: a connection
// that carried no data (a SYN and a FIN in flight) gives them back as it
// did without deferral, and takes no place in the owner's sweep; the
// output queue goes back (releaseOut) whenever it is empty and the
// buffers hold none.
func (t *TCB) holdsStorage() bool {
	return t.sndBuf.holds() || t.rcvBuf.slab != nil || t.rcvBuf.q != nil
}

// ReclaimIdle is the owner's periodic look at a connection that reported
// EventStorage (Config.DeferReclaim). When a buffer drained or data was
// read since the last look, it reports true: the connection is in use,
// look again later. Otherwise it gives back the storage of every buffer
// that holds no data and reports false: the owner forgets the
// connection until the next EventStorage, which the engine reports the
// next time it finds storage held (at once, if a buffer still holds
// data). With two looks 100 ms apart, a connection's storage goes back
// between 100 and 200 ms after it was last used.
func (t *TCB) ReclaimIdle() bool {
	if t.reclaimBits&reclaimUsed != 0 {
		t.reclaimBits &^= reclaimUsed
		return true
	}
	t.reclaimDrained()
	t.releaseOut()
	t.reclaimBits &^= reclaimNoted
	return false
}

// outBox carries an output queue's storage through outPool.
type outBox struct {
	q    []outEntry
	data []byte
}

var outPool = freeList[outBox]{max: 1024}

// takeOut gives the TCB an output queue from the pool.
func (t *TCB) takeOut() {
	b := outPool.get()
	if b == nil {
		b = &outBox{q: make([]outEntry, 0, 4)}
	}
	t.outQ, t.outData = b.q[:0], b.data[:0]
	b.q, b.data = nil, nil
	t.outBox = b
}

// releaseOut returns an empty output queue to the pool when the
// connection holds no buffer memory: an idle connection keeps none.
func (t *TCB) releaseOut() {
	if t.outBox == nil || len(t.outQ) != 0 || t.sndBuf.holds() || t.rcvBuf.slab != nil {
		return
	}
	b := t.outBox
	b.q, b.data = t.outQ[:0], t.outData[:0]
	if cap(b.data) > 64<<10 {
		b.data = nil // a large burst's copy space is not kept
	}
	t.outQ, t.outData, t.outBox = nil, nil, nil
	outPool.put(b)
}

// txSegsMin is the smallest record of segments in flight (txMap). Records
// of that size come from a pool and go back to it when the connection
// has nothing in flight and nothing to send (reclaim).
const txSegsMin = 16

var txSegsPool = freeList[[txSegsMin]txSeg]{max: 256}

// newTxSegs returns storage for n segment records.
func newTxSegs(n int) []txSeg {
	if n == txSegsMin {
		if s := txSegsPool.get(); s != nil {
			return s[:]
		}
	}
	return make([]txSeg, n)
}

// releaseTx gives back the storage of an empty record of segments in
// flight, and RACK's marks with it.
func (t *TCB) releaseTx() {
	m := &t.tx
	if m.n != 0 || m.segs == nil {
		return
	}
	if len(m.segs) == txSegsMin {
		txSegsPool.put((*[txSegsMin]txSeg)(m.segs))
	}
	m.segs, m.head = nil, 0
	if cap(t.rack.marks) == rackMarksMin {
		rackMarksPool.put((*[rackMarksMin]rackMark)(t.rack.marks[:rackMarksMin]))
	}
	t.rack.marks, t.rack.marksHead = nil, 0
}

// rackMarksMin is the storage RACK's marks (rack.mark) start with. Like
// the record of segments in flight, it comes from a pool and goes back to
// it with that record (releaseTx), so that a request/response exchange,
// which empties the flight every round trip, allocates none.
const rackMarksMin = 4

var rackMarksPool = freeList[[rackMarksMin]rackMark]{max: 256}

// newRackMarks returns empty storage for RACK's marks.
func newRackMarks() []rackMark {
	if a := rackMarksPool.get(); a != nil {
		return a[:0]
	}
	return make([]rackMark, 0, rackMarksMin)
}
