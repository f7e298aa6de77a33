package tcp

// ring is a byte ring buffer of a given size (the most it may hold: the
// window follows it). Its storage is a pooled slab (memory.go) that it
// takes with its first byte, doubles as the data it must hold grows, and
// gives back when it is emptied by Reset or release, so that an idle
// connection holds no buffer memory. The slab is len(*slab) bytes; the
// ring uses the first min(len(*slab), size) of them.
//
// A ring is 32 bytes and every TCB has one, its receive buffer's (the
// send buffer is a sndBuffer of pages, sndpages.go; TestRingSize): what the
// rings of a stack's connections share is behind lim, and the size class
// of the last slab, which only an empty ring needs, is kept in head.
type ring struct {
	slab *[]byte     // storage; nil while the ring holds none
	lim  *ringLimits // the accounting and the minimal window; nil: none
	size int         // capacity in bytes
	head int32       // index of the first buffered byte; while slab is nil, the size class of the last slab (hint)
	n    int32       // number of buffered bytes
}

func newRing(size int) ring { return ring{size: size} }

// memory is what accounts for the ring's storage; nil: nothing.
func (r *ring) memory() *Memory {
	if r.lim == nil {
		return nil
	}
	return r.lim.mem
}

// minCap is the minimal window: storage granted under memory pressure.
func (r *ring) minCap() int {
	if r.lim == nil {
		return 0
	}
	return int(r.lim.minCap)
}

// hint is the size class of the last slab: a ring emptied by a read and
// refilled at once takes it again without doubling its way up.
func (r *ring) hint() uint8 {
	if r.slab != nil {
		return slabClass(len(*r.slab))
	}
	return uint8(r.head)
}

// Len is the number of buffered bytes.
func (r *ring) Len() int { return int(r.n) }

// Free is the room left.
func (r *ring) Free() int { return r.size - int(r.n) }

// capacity is how many bytes the storage holds now.
func (r *ring) capacity() int {
	if r.slab == nil {
		return 0
	}
	return min(len(*r.slab), r.size)
}

// Allocated is how many bytes of memory the ring holds.
func (r *ring) Allocated() int {
	if r.slab == nil {
		return 0
	}
	return len(*r.slab)
}

// reserve makes the storage hold at least need bytes from the head
// (need ≤ size), or as much of them as Memory grants; it reports whether
// it holds them all.
func (r *ring) reserve(need int) bool {
	if need <= r.capacity() {
		return true
	}
	top := slabClass(r.size)
	c := min(slabClass(need), top)
	if h := min(r.hint(), top); h > c && r.memory().canCharge(1<<h-r.Allocated(), r.growth(h)) &&
		r.moveTo(h, r.size, r.growth(h)) {
		return true
	}
	// Down from what need asks, the largest slab Memory grants.
	cur := uint8(0)
	if r.slab != nil {
		cur = slabClass(len(*r.slab))
	}
	for ; c > cur; c-- {
		if r.memory().canCharge(1<<c-r.Allocated(), r.growth(c)) && r.moveTo(c, r.size, r.growth(c)) {
			break
		}
	}
	if need > r.capacity() {
		r.memory().refuseGrowth()
		return false
	}
	return true
}

// sndSpace reports whether the send buffer has room worth waking a
// blocked writer for: Write takes data whenever the buffer has room, but
// a writer it stopped (and poll's POLLOUT) goes on only once the free
// space is at least half of what is queued, a third of the buffer when it
// was full, as Linux's sk_stream_write_space and tcp_poll decide
// (sk_stream_wspace >= sk_stream_min_wspace). Each wake-up then moves a
// third of the buffer or more, not the few bytes one ACK frees.
func (t *TCB) sndSpace() bool {
	if sm := t.sndMem(); sm != nil {
		return t.sndMemSpace(sm) // Linux's send-buffer memory (sndmem.go)
	}
	b := &t.sndBuf
	return b.room() > 0 && b.Free() >= b.Len()/2
}

// room is how many bytes Write would take now.
func (r *ring) room() int {
	free := r.Free()
	if free == 0 || r.capacity()-int(r.n) >= free || r.memory() == nil {
		return free
	}
	cur := uint8(0)
	if r.slab != nil {
		cur = slabClass(len(*r.slab))
	}
	for c := min(slabClass(int(r.n)+free), slabClass(r.size)); c > cur; c-- {
		if r.memory().canCharge(1<<c-r.Allocated(), r.growth(c)) {
			return min(free, min(1<<c, r.size)-int(r.n))
		}
	}
	return r.capacity() - int(r.n)
}

// growth is what kind of growth a slab of class c is for the ring.
func (r *ring) growth(c uint8) growth {
	switch {
	case r.slab == nil && c == minSlabShift:
		return growFirst
	case 1<<c <= max(r.minCap(), 1<<minSlabShift):
		return growMinimal
	}
	return growFree
}

// moveTo puts the ring in a slab of class c and sets its size, keeping
// the first bytes from the head (buffered ones, and out-of-order ones
// past them) as far as the new storage holds them. It fails when Memory
// refuses the growth g.
func (r *ring) moveTo(c uint8, size int, g growth) bool {
	old := r.Allocated()
	if d := 1<<c - old; d > 0 {
		if !r.memory().charge(d, g) {
			return false
		}
	} else if d < 0 {
		r.memory().uncharge(-d)
	}
	ns := getSlab(c)
	if r.slab != nil {
		b := (*r.slab)[:r.capacity()]
		keep := min(len(b), len(*ns), size)
		k := copy((*ns)[:keep], b[int(r.head):])
		copy((*ns)[k:keep], b)
		putSlab(r.slab)
	}
	r.slab, r.head, r.size = ns, 0, size
	return true
}

// release gives the storage back; the ring must hold nothing (no
// buffered bytes, and no out-of-order bytes stored with WriteAt).
func (r *ring) release() {
	if r.slab == nil {
		return
	}
	c := slabClass(len(*r.slab))
	r.memory().uncharge(len(*r.slab))
	putSlab(r.slab)
	r.slab, r.head = nil, int32(c) // the hint
}

// Write appends as much of p as fits and returns how much that was. Less
// than fits in Free is taken when Memory refuses the storage.
func (r *ring) Write(p []byte) int {
	n := minInt(len(p), r.Free())
	if n == 0 {
		return 0
	}
	if !r.reserve(int(r.n) + n) {
		n = r.capacity() - int(r.n)
		if n <= 0 {
			return 0
		}
	}
	r.put(int(r.n), p[:n])
	r.n += int32(n)
	return n
}

// WriteAt stores p at offset off past the buffered bytes without making it
// readable (out-of-order data); bytes past the capacity are dropped. It
// reports whether all of p was stored.
func (r *ring) WriteAt(off int, p []byte) bool {
	start := int(r.n) + off
	end := min(start+len(p), r.size)
	if end <= start {
		return len(p) == 0
	}
	if !r.reserve(end) {
		end = min(end, r.capacity())
		if end <= start {
			return false
		}
	}
	r.put(start, p[:end-start])
	return end-start == len(p)
}

// put copies p to offset start from the head; the storage holds it.
func (r *ring) put(start int, p []byte) {
	b := (*r.slab)[:r.capacity()]
	i := (int(r.head) + start) % len(b)
	c := copy(b[i:], p)
	copy(b, p[c:])
}

// Commit makes n bytes stored with WriteAt readable.
func (r *ring) Commit(n int) { r.n += int32(minInt(n, r.Free())) }

// Peek copies buffered bytes starting at off into p and returns the count.
func (r *ring) Peek(off int, p []byte) int {
	if off >= int(r.n) {
		return 0
	}
	b := (*r.slab)[:r.capacity()]
	n := minInt(len(p), int(r.n)-off)
	i := (int(r.head) + off) % len(b)
	c := copy(p[:n], b[i:])
	copy(p[c:n], b)
	return n
}

// Read moves buffered bytes into p.
func (r *ring) Read(p []byte) int {
	n := r.Peek(0, p)
	r.Discard(n)
	return n
}

// Discard drops up to n bytes from the front.
func (r *ring) Discard(n int) {
	n = minInt(n, int(r.n))
	if n == 0 {
		return
	}
	r.n -= int32(n)
	// head moves even when the ring empties: out-of-order bytes stored
	// past the end (WriteAt) stay where they were put.
	r.head = int32((int(r.head) + n) % r.capacity())
}

// Reset empties the ring and gives its storage back.
func (r *ring) Reset() {
	r.n = 0
	r.release()
}

// resize changes the capacity to size, keeping the first min(size,
// capacity) bytes from the head: the buffered ones and, past them,
// out-of-order bytes stored with WriteAt. The caller makes sure size
// is at least Len.
func (r *ring) resize(size int) {
	if size == r.size {
		return
	}
	oldCap := r.capacity()
	if r.slab == nil || min(len(*r.slab), size) == oldCap {
		// The storage's used part does not change: no copy.
		r.size = size
		return
	}
	// The slab is larger than the old or the new size: lay the ring out
	// again in a slab that fits the new size.
	r.moveTo(min(slabClass(len(*r.slab)), slabClass(size)), size, growForced)
}
