package tcp

// Zero-copy receive.
//
// A segment's payload normally is copied into the receive ring and then,
// by Read, out of it. When the owner of the buffer the payload lives in
// lets the engine keep it (Segment.Owner: a stack hands in the pooled
// packet buffer it owns), a large in-order payload is queued as a chunk
// that refers to that buffer, and Read copies straight out of it: one
// copy fewer per byte. Each chunk is charged what it pins (its buffer's
// whole capacity) against the receive buffer's size, so the advertised
// window stays honest; small payloads (under 4 KiB or a quarter of their
// buffer) are copied as before, so that a byte does not pin a 64 KiB buffer, and
// so is everything while data is held out of order (the reassembly
// ranges address the ring only).
//
// Every chunk is released to its owner exactly once: when Read has
// consumed it, when the buffer is reset (Close, CloseRead), or when the
// connection enters CLOSED or TIME-WAIT, where what remains unread is
// copied into the ring (materialize) so that the engine holds no buffer of
// its owner's any longer.

// PayloadOwner owns the buffer a Segment's Payload lives in and lets the
// engine keep it past HandleSegment instead of copying the payload
// (Segment.Owner). The engine calls Retain when it keeps the payload and
// Release exactly once for every Retain, when it is done with it; until
// then the owner must neither change nor reuse the buffer. Retain and
// Release are called under whatever serializes the engine's calls;
// Release may come from another goroutine than the Retain did.
type PayloadOwner interface {
	// Size is the bytes of memory keeping the payload pins: its
	// buffer's capacity.
	Size() int
	// Retain takes a reference to the buffer.
	Retain()
	// Release gives a reference back.
	Release()
}

// A payload is kept (not copied) only when it fills at least
// 1/minKeepFraction of the buffer it pins, and is at least minKeep bytes
// long: a segment of one Ethernet MSS is copied (keeping it would save a
// copy of 1.4 KB for the cost of a list entry and a buffer's round trip
// through the pool, and would make a window's worth of 2 KiB buffers
// circulate: BENCHMARKS.md, "Zero-copy receive").
const minKeepFraction = 4

// minKeep is a variable only so that FuzzEngine, whose payloads are
// small, can lower it.
var minKeep = 4096

// rcvChunk is a run of in-order received bytes: a kept payload (owner
// set), or n bytes of the ring (owner nil), which the ring holds in order.
type rcvChunk struct {
	data   []byte // unread bytes of a kept payload
	owner  PayloadOwner
	n      int32 // bytes of the ring (owner nil)
	charge int32 // bytes charged for the chunk (owner set)
}

// rcvChunks is the order of a receive queue's data while it holds kept
// payloads.
type rcvChunks struct {
	c      []rcvChunk // from head
	head   int
	bytes  int // unread bytes of kept payloads
	charge int // bytes charged for kept payloads
}

var rcvChunksPool = freeList[rcvChunks]{max: 64}

// rcvQueue is the receive buffer: the ring, and the kept payloads with
// the order of both (q, nil while everything is in the ring). Its Len,
// Free, Read, Write, Commit and Reset cover both; the ring's other
// methods (WriteAt for out-of-order data, reserve, resize, release) are
// the ring's own.
type rcvQueue struct {
	ring
	q *rcvChunks
}

// Len is the number of buffered bytes, in the ring and kept.
func (r *rcvQueue) Len() int {
	if r.q == nil {
		return int(r.n)
	}
	return int(r.n) + r.q.bytes
}

// Free is the room left: the size less the ring's bytes and what the kept
// payloads are charged (never below 0). The window offered follows it.
func (r *rcvQueue) Free() int {
	if r.q == nil {
		return r.size - int(r.n)
	}
	return max(r.size-int(r.n)-r.q.charge, 0)
}

// byteFree is the room left counting bytes only (kept payloads at their
// length): what data inside a window already offered may fill.
func (r *rcvQueue) byteFree() int { return max(r.size-r.Len(), 0) }

// Allocated is how many bytes of memory the buffer holds: the ring's
// storage and the buffers of kept payloads.
func (r *rcvQueue) Allocated() int {
	n := r.ring.Allocated()
	if r.q != nil {
		n += r.q.charge
	}
	return n
}

// Kept is how many bytes of kept payloads are buffered (not copied).
func (r *rcvQueue) Kept() int {
	if r.q == nil {
		return 0
	}
	return r.q.bytes
}

// keep queues data, in order after the buffered bytes, without copying
// it, and reports whether it did: the payload must be minKeep bytes or
// more and fill at least 1/minKeepFraction of owner's buffer, the
// buffer's charge fit in Free (or nearly),
// and Memory grant it outside memory pressure. The caller makes sure no
// data is held out of order.
func (r *rcvQueue) keep(data []byte, owner PayloadOwner) bool {
	// The charge is at least the payload (an owner that says less is
	// not believed) and fits the window's arithmetic.
	size := max(owner.Size(), len(data))
	if len(data) < minKeep || minKeepFraction*len(data) < size || size > maxBufferSize {
		return false
	}
	// The charge fits in Free, or overshoots it by at most an eighth of
	// the buffer while the bytes fit (a 64 KiB segment that fills what
	// is left of the window, 181 bytes short of its buffer's charge):
	// the window's right edge then stays put until a Read.
	if free := r.Free(); size > free && (len(data) > free || size-free > size/8) {
		return false
	}
	m := r.memory()
	if m.UnderPressure() || !m.canCharge(size, growFree) || !m.charge(size, growFree) {
		return false
	}
	if r.q == nil {
		r.q = rcvChunksPool.get()
		if r.q == nil {
			r.q = &rcvChunks{c: make([]rcvChunk, 0, 8)}
		}
		if r.n > 0 {
			r.q.c = append(r.q.c, rcvChunk{n: r.n})
		}
	}
	owner.Retain()
	r.q.c = append(r.q.c, rcvChunk{data: data, owner: owner, charge: int32(size)})
	r.q.bytes += len(data)
	r.q.charge += size
	return true
}

// span records n more bytes of the ring in the order (q set).
func (r *rcvQueue) span(n int) {
	if n <= 0 {
		return
	}
	q := r.q
	if k := len(q.c); k > q.head && q.c[k-1].owner == nil {
		q.c[k-1].n += int32(n)
		return
	}
	q.c = append(q.c, rcvChunk{n: int32(n)})
}

// Write appends as much of p as the ring takes (ring.Write).
func (r *rcvQueue) Write(p []byte) int {
	n := r.ring.Write(p)
	if r.q != nil {
		r.span(n)
	}
	return n
}

// Commit makes n bytes stored with WriteAt readable (ring.Commit).
func (r *rcvQueue) Commit(n int) {
	before := r.n
	r.ring.Commit(n)
	if r.q != nil {
		r.span(int(r.n - before))
	}
}

// Read moves buffered bytes into p, in order, releasing every kept
// payload it consumes.
func (r *rcvQueue) Read(p []byte) int {
	q := r.q
	if q == nil {
		return r.ring.Read(p)
	}
	n := 0
	for n < len(p) && q.head < len(q.c) {
		e := &q.c[q.head]
		if e.owner == nil {
			k := r.ring.Read(p[n:min(len(p), n+int(e.n))])
			n += k
			e.n -= int32(k)
			if e.n > 0 {
				break
			}
		} else {
			k := copy(p[n:], e.data)
			n += k
			e.data = e.data[k:]
			q.bytes -= k
			if len(e.data) > 0 {
				break
			}
			r.drop(e)
		}
		*e = rcvChunk{}
		q.head++
	}
	if q.bytes == 0 {
		// What remains, if anything, is in the ring, in order.
		r.putChunks()
	} else if q.head > len(q.c)/2 {
		k := copy(q.c, q.c[q.head:])
		clear(q.c[k:])
		q.c, q.head = q.c[:k], 0
	}
	return n
}

// drop releases a kept payload and its charge.
func (r *rcvQueue) drop(e *rcvChunk) {
	r.q.charge -= int(e.charge)
	r.memory().uncharge(int(e.charge))
	e.owner.Release()
}

// putChunks forgets the order (every kept payload released) and gives
// its storage back.
func (r *rcvQueue) putChunks() {
	q := r.q
	clear(q.c)
	q.c, q.head, q.bytes, q.charge = q.c[:0], 0, 0, 0
	if cap(q.c) > 256 {
		q.c = nil
	}
	rcvChunksPool.put(q)
	r.q = nil
}

// releaseKept releases every kept payload not yet consumed.
func (r *rcvQueue) releaseKept() {
	q := r.q
	if q == nil {
		return
	}
	for i := q.head; i < len(q.c); i++ {
		if e := &q.c[i]; e.owner != nil {
			r.drop(e)
		}
	}
	r.putChunks()
}

// Reset empties the buffer, releasing every kept payload, and gives the
// ring's storage back.
func (r *rcvQueue) Reset() {
	r.releaseKept()
	r.ring.Reset()
}

// materialize copies what kept payloads hold unread into the ring, in
// order with the ring's own bytes, and releases them: afterwards the
// buffer holds only its own memory. Bytes held out of order past the
// buffered ones are lost (the caller has dropped them).
func (r *rcvQueue) materialize() {
	q := r.q
	if q == nil {
		return
	}
	total := r.Len()
	if total == 0 {
		r.releaseKept()
		return
	}
	ns := getSlab(slabClass(total))
	r.memory().charge(len(*ns), growForced)
	k := 0
	for i := q.head; i < len(q.c); i++ {
		e := &q.c[i]
		if e.owner == nil {
			k += r.ring.Read((*ns)[k : k+int(e.n)])
			continue
		}
		k += copy((*ns)[k:], e.data)
	}
	r.releaseKept()
	r.ring.Reset() // the ring's bytes were read: its storage goes back
	r.slab, r.head, r.n = ns, 0, int32(k)
	r.size = max(r.size, total)
}

// rcvTake queues in-order data (the receive buffer has room for it in
// the window offered) and returns how much it took: kept without a copy
// when owner lets the engine keep it (rcvQueue.keep) and nothing is held
// out of order, else copied (rcvWrite).
func (t *TCB) rcvTake(data []byte, owner PayloadOwner) int {
	if owner != nil && t.ooo.empty() && t.rcvBuf.keep(data, owner) {
		return len(data)
	}
	return t.rcvWrite(data)
}
