package tcp

// ring is a fixed-size byte ring buffer. Its storage is allocated on first
// use (a half-open connection in a SYN queue holds none) and reused for the
// connection's lifetime, so the steady data path does not allocate.
type ring struct {
	size int    // capacity in bytes
	buf  []byte // nil until first write
	head int    // index of the first buffered byte
	n    int    // number of buffered bytes
}

func newRing(size int) ring { return ring{size: size} }

// Len is the number of buffered bytes.
func (r *ring) Len() int { return r.n }

// Free is the room left.
func (r *ring) Free() int { return r.size - r.n }

func (r *ring) alloc() {
	if r.buf == nil && r.size > 0 {
		r.buf = make([]byte, r.size)
	}
}

// Write appends as much of p as fits and returns how much that was.
func (r *ring) Write(p []byte) int {
	n := minInt(len(p), r.Free())
	if n == 0 {
		return 0
	}
	r.WriteAt(0, p[:n])
	r.n += n
	return n
}

// WriteAt stores p at offset off past the buffered bytes without making it
// readable (out-of-order data); bytes past the capacity are dropped.
func (r *ring) WriteAt(off int, p []byte) {
	r.alloc()
	start := r.n + off
	if start >= r.size {
		return
	}
	p = p[:minInt(len(p), r.size-start)]
	i := (r.head + start) % r.size
	c := copy(r.buf[i:], p)
	copy(r.buf, p[c:])
}

// Commit makes n bytes stored with WriteAt readable.
func (r *ring) Commit(n int) { r.n += minInt(n, r.Free()) }

// Peek copies buffered bytes starting at off into p and returns the count.
func (r *ring) Peek(off int, p []byte) int {
	if off >= r.n {
		return 0
	}
	n := minInt(len(p), r.n-off)
	i := (r.head + off) % r.size
	c := copy(p[:n], r.buf[i:])
	copy(p[c:n], r.buf)
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
	n = minInt(n, r.n)
	r.n -= n
	// head moves even when the ring empties: out-of-order bytes stored
	// past the end (WriteAt) stay where they were put.
	r.head = (r.head + n) % r.size
}

// Reset empties the ring.
func (r *ring) Reset() { r.head, r.n = 0, 0 }

// resize changes the capacity to size, keeping the first min(size,
// capacity) bytes from the head: the buffered ones and, past them,
// out-of-order bytes stored with WriteAt. The caller makes sure size
// is at least Len.
func (r *ring) resize(size int) {
	if size == r.size {
		return
	}
	if r.buf != nil {
		nb := make([]byte, size)
		keep := min(size, r.size)
		c := copy(nb[:keep], r.buf[r.head:])
		copy(nb[c:keep], r.buf)
		r.buf = nb
	}
	r.head = 0
	r.size = size
}
