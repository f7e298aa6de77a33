package tcp

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// The send buffer's storage (send-side zero copy).
//
// The send buffer is a deque of pages: pooled byte slabs of the slab size
// classes (memory.go), up to 1<<maxPageShift bytes each, taken as the data
// written needs them. A page is write-once: Write only appends into the
// unwritten tail of the last page, and no byte of a page is written again
// while anyone holds a reference to the page. The buffer holds one
// reference to each page in its deque and drops it once every byte of the
// page is acknowledged (Discard) or the buffer is reset; a stack that
// hands a segment's payload to another stack in the same process without
// copying it (DrainOutput sets Segment.Page when the payload lies in one
// page) takes a reference of its own for as long as the payload is used,
// there and in the receiving engine. The page goes back to its pool when
// the last reference goes, whoever drops it.
//
// The accounting is the ring's (buffer.go): Memory is charged for the
// pages the buffer holds (their whole size) and uncharged when it drops
// them, whether or not a receiver still holds them (the receiver's engine
// charges what it keeps, Segment.Owner). A buffer that holds no byte
// holds no page either once reclaimed: an idle connection holds no buffer
// memory.

// maxPageShift is the class of the largest page: 1 MiB. A segment whose
// payload spans two pages is copied as before; at MTU 65535 (64 KiB
// segments) about one in sixteen does in 1 MiB pages.
const maxPageShift = 20

// topPagesKept is how many free pages of the largest class the pools keep
// for certain (16 MiB), in front of a sync.Pool: the pages of a bulk
// transfer circulate between the sender's buffer (up to 4 MiB), the
// receiver's queue (up to 6 MiB) and the pool, and at 1 MiB a page, a
// transfer whose pages came from the allocator would itself make the
// garbage collections that empty a sync.Pool (with 8 kept, a 1 GiB
// transfer at MTU 65535 allocated about 6 KB per MiB moved; with 16, 1.3
// to 2 KB: BENCHMARKS.md, "Send-side zero copy"). The list fills only as
// far as that many pages were in use at once, and gives them back once
// unused for a minute (trimPages). Smaller classes keep what the slab
// pools keep (memory.go).
const topPagesKept = 16

// SendPage is one page of a send buffer: the memory a segment's payload
// lies in when DrainOutput hands it out with Segment.Page. Its bytes are
// not written again while a reference to it is held. References are
// atomic: they may be taken and given back on any goroutine.
type SendPage struct {
	buf  []byte
	refs atomic.Int32
}

// Ref takes one more reference to the page: its bytes stay as they are
// until the matching Release. Only a holder of a reference may call it.
func (p *SendPage) Ref() {
	if p.refs.Add(1) <= 1 {
		panic("tcp: SendPage referenced after its last release")
	}
}

// Release gives one reference back; the last one returns the page to its
// pool.
func (p *SendPage) Release() {
	switch n := p.refs.Add(-1); {
	case n == 0:
		sendPagesOut.Add(-1)
		pagePools[slabClass(len(p.buf))].put(p)
	case n < 0:
		panic("tcp: SendPage released more often than referenced")
	}
}

// pagePools holds free pages by size class.
var pagePools [maxPageShift + 1]freeList[SendPage]

// sendPagesOut counts the pages taken from the pools and not given back.
var sendPagesOut atomic.Int64

func init() {
	for c := range pagePools {
		pagePools[c].max = max(2, freeListBytes>>c)
	}
	pagePools[maxPageShift].max = topPagesKept
	runtime.SetFinalizer(new(pageSentinel), trimPages)
}

// SendPagesInUse is how many send-buffer pages the process's connections
// and the stacks they handed payloads to hold now: for tests that check
// every page comes back.
func SendPagesInUse() int64 { return sendPagesOut.Load() }

// topGets counts the pages of the largest class taken since the last
// trim.
var topGets atomic.Int64

// topTrim is when a trim last found pages of the largest class taken.
var topTrim struct {
	mu   sync.Mutex
	used time.Time
}

// pageSentinel is an object kept by no one, whose finalizer runs after
// each garbage collection that finds it unreachable and sets itself
// again: the pools of pages are trimmed once per collection.
type pageSentinel struct{ _ [64]byte }

// trimPages lets half of the free pages of the largest class go once none
// was taken for a minute: the 16 MiB a bulk transfer left behind go back
// over a few collections after its traffic stopped.
func trimPages(s *pageSentinel) {
	trimTopPages(time.Now())
	runtime.SetFinalizer(s, trimPages)
}

// trimTopPages is trimPages at now.
func trimTopPages(now time.Time) {
	topTrim.mu.Lock()
	defer topTrim.mu.Unlock()
	switch {
	case topGets.Swap(0) > 0 || topTrim.used.IsZero():
		topTrim.used = now
	case now.Sub(topTrim.used) >= time.Minute:
		for range topPagesKept / 2 {
			pagePools[maxPageShift].get() // dropped: the collector takes it
		}
	}
}

// getPage returns a page of class c holding one reference, not zeroed
// when it comes from the pool.
func getPage(c uint8) *SendPage {
	if c == maxPageShift {
		topGets.Add(1)
	}
	p := pagePools[c].get()
	if p == nil {
		p = &SendPage{buf: make([]byte, 1<<c)}
	}
	p.refs.Store(1)
	sendPagesOut.Add(1)
	return p
}

// pageSlot is a page of the deque and how many of its bytes are written.
type pageSlot struct {
	p   *SendPage
	end int
}

// pageDeque is the storage of a send buffer holding pages.
type pageDeque struct {
	pages []pageSlot // pages[0] holds the first buffered byte, at head
	head  int
	alloc int   // bytes of the pages held (charged)
	last  uint8 // the class of the last page taken
}

var dequePool = freeList[pageDeque]{max: 1024}

// sndBuffer is the send buffer: size is the most it may hold (the
// window follows it), n the bytes it holds. Its storage is a deque of
// pages (d, nil while it holds none); while it holds none, hint is the
// class of the last page it held, which a refill takes again at once. It
// is 32 bytes, as the ring it replaced.
type sndBuffer struct {
	d    *pageDeque
	lim  *ringLimits // the accounting and the minimal window; nil: none
	size int
	n    int32
	hint uint8
}

func newSndBuffer(size int) sndBuffer { return sndBuffer{size: size} }

// memory is what accounts for the storage; nil: nothing.
func (b *sndBuffer) memory() *Memory {
	if b.lim == nil {
		return nil
	}
	return b.lim.mem
}

// minCap is the minimal window: storage granted under memory pressure.
func (b *sndBuffer) minCap() int {
	if b.lim == nil {
		return 0
	}
	return int(b.lim.minCap)
}

// Len is the number of buffered bytes.
func (b *sndBuffer) Len() int { return int(b.n) }

// Free is the room left.
func (b *sndBuffer) Free() int { return b.size - int(b.n) }

// Allocated is how many bytes of memory the buffer's pages take.
func (b *sndBuffer) Allocated() int {
	if b.d == nil {
		return 0
	}
	return b.d.alloc
}

// holds reports whether the buffer holds storage.
func (b *sndBuffer) holds() bool { return b.d != nil }

// tailRoom is how many bytes the last page takes before a new one is
// needed.
func (b *sndBuffer) tailRoom() int {
	if b.d == nil || len(b.d.pages) == 0 {
		return 0
	}
	s := &b.d.pages[len(b.d.pages)-1]
	return len(s.p.buf) - s.end
}

// topClass is the class of the largest page the buffer takes.
func (b *sndBuffer) topClass() uint8 { return min(slabClass(b.size), maxPageShift) }

// pageClass is the class of the page that want more bytes ask for: one
// that holds them, at least as large as what the buffer holds (the
// storage doubles as the data grows, as a ring's slab does), and twice as
// large as the last page while the buffer has held data since: a
// connection that keeps writing gets pages large enough that its
// segments seldom span two (zero copy), up to 1<<maxPageShift bytes and
// the buffer's size.
func (b *sndBuffer) pageClass(want int) uint8 {
	c := slabClass(max(want, int(b.n)))
	if b.d != nil && b.d.last >= c {
		c = b.d.last + 1
	}
	return min(c, b.topClass())
}

// growth is what kind of growth a page of class c is for the buffer.
func (b *sndBuffer) growth(c uint8) growth {
	switch {
	case b.Allocated() == 0 && c == minSlabShift:
		return growFirst
	case b.Allocated()+1<<c <= max(b.minCap(), 1<<minSlabShift):
		return growMinimal
	}
	return growFree
}

// grantedClass is the class of the page Memory grants for want more
// bytes, and false when it grants none: the class pageClass asks for
// (the hint's, when the buffer holds none and the hint is larger), else
// the largest smaller one granted.
func (b *sndBuffer) grantedClass(want int) (uint8, bool) {
	c := b.pageClass(want)
	m := b.memory()
	if b.Allocated() == 0 {
		if h := min(b.hint, b.topClass()); h > c && m.canCharge(1<<h, b.growth(h)) {
			return h, true
		}
	}
	for ; c >= minSlabShift; c-- {
		if m.canCharge(1<<c, b.growth(c)) {
			return c, true
		}
	}
	return 0, false
}

// grow appends a page for want more bytes, as large as Memory grants; it
// reports whether it did.
func (b *sndBuffer) grow(want int) bool {
	c, ok := b.grantedClass(want)
	if !ok || !b.memory().charge(1<<c, b.growth(c)) {
		b.memory().refuseGrowth()
		return false
	}
	if b.d == nil {
		b.d = dequePool.get()
		if b.d == nil {
			b.d = new(pageDeque)
		}
	}
	b.d.pages = append(b.d.pages, pageSlot{p: getPage(c)})
	b.d.alloc += 1 << c
	b.d.last = c
	return true
}

// room is how many bytes Write would take now.
func (b *sndBuffer) room() int {
	free, tail := b.Free(), b.tailRoom()
	if free <= tail || b.memory() == nil {
		return max(free, 0)
	}
	want := free - tail
	c, ok := b.grantedClass(want)
	switch {
	case !ok:
		return tail
	case c >= b.pageClass(want):
		return free // Memory grants the page asked for
	}
	return min(free, tail+1<<c)
}

// Write appends as much of p as fits and returns how much that was. Less
// than fits in Free is taken when Memory refuses the storage.
func (b *sndBuffer) Write(p []byte) int {
	n := min(len(p), b.Free())
	done := 0
	for done < n {
		if b.tailRoom() == 0 && !b.grow(n-done) {
			break
		}
		s := &b.d.pages[len(b.d.pages)-1]
		k := copy(s.p.buf[s.end:], p[done:n])
		s.end += k
		done += k
		b.n += int32(k)
	}
	return done
}

// Discard drops up to n bytes from the front, and the pages they empty
// (all but a last page with room left, which the next Write fills).
func (b *sndBuffer) Discard(n int) {
	n = min(n, int(b.n))
	if n <= 0 {
		return
	}
	b.n -= int32(n)
	d := b.d
	d.head += n
	drop := 0
	for drop < len(d.pages) {
		s := &d.pages[drop]
		if d.head < s.end || drop == len(d.pages)-1 && s.end < len(s.p.buf) {
			break
		}
		d.head -= s.end
		b.dropPage(s)
		drop++
	}
	if drop > 0 {
		k := copy(d.pages, d.pages[drop:])
		clear(d.pages[k:])
		d.pages = d.pages[:k]
	}
}

// dropPage gives the buffer's reference to a page of its deque back and
// uncharges it; the caller removes the slot.
func (b *sndBuffer) dropPage(s *pageSlot) {
	size := len(s.p.buf)
	b.d.alloc -= size
	b.memory().uncharge(size)
	s.p.Release()
	s.p = nil
}

// release gives the storage back; the buffer must hold nothing.
func (b *sndBuffer) release() {
	d := b.d
	if d == nil {
		return
	}
	for i := range d.pages {
		b.dropPage(&d.pages[i])
	}
	clear(d.pages)
	b.hint = d.last
	d.pages, d.head, d.alloc, d.last = d.pages[:0], 0, 0, 0
	b.d = nil
	if cap(d.pages) > 64 {
		d.pages = nil
	}
	dequePool.put(d)
}

// Reset empties the buffer and gives its storage back.
func (b *sndBuffer) Reset() {
	b.n = 0
	b.release()
}

// resize changes the size (the caller makes sure it is at least Len).
// The pages held stay: a smaller size bounds what later writes take.
func (b *sndBuffer) resize(size int) { b.size = size }

// slice returns the n buffered bytes from off and their page when they
// lie in one page (nil, nil when they do not, or are not all buffered).
func (b *sndBuffer) slice(off, n int) ([]byte, *SendPage) {
	if b.d == nil || off < 0 || n <= 0 || off+n > int(b.n) {
		return nil, nil
	}
	o := b.d.head + off
	for i := range b.d.pages {
		s := &b.d.pages[i]
		if o < s.end {
			if o+n <= s.end {
				return s.p.buf[o : o+n : o+n], s.p
			}
			return nil, nil
		}
		o -= s.end
	}
	return nil, nil
}

// pageCutMin is the shortest segment Config.PageSegments cuts at a page's
// end: a link copies shorter payloads anyway (package stack's
// zeroCopyMin), so two short segments would only cost more than one.
const pageCutMin = 4096

// pageRest is how many buffered bytes from off lie in the page off is
// in, off included; 0 when off is not buffered.
func (b *sndBuffer) pageRest(off int) int {
	if b.d == nil || off < 0 || off >= int(b.n) {
		return 0
	}
	o := b.d.head + off
	for i := range b.d.pages {
		s := &b.d.pages[i]
		if o < s.end {
			return s.end - o
		}
		o -= s.end
	}
	return 0
}

// appendTo appends the n buffered bytes from off to dst (the caller makes
// sure they are buffered).
func (b *sndBuffer) appendTo(dst []byte, off, n int) []byte {
	o := b.d.head + off
	for i := 0; n > 0 && i < len(b.d.pages); i++ {
		s := &b.d.pages[i]
		if o >= s.end {
			o -= s.end
			continue
		}
		k := min(n, s.end-o)
		dst = append(dst, s.p.buf[o:o+k]...)
		n -= k
		o = 0
	}
	return dst
}

// payload returns the n buffered bytes from off: where they lie, with
// their page, when they lie in one page, else copied into *scratch (and
// no page).
func (b *sndBuffer) payload(off, n int, scratch *[]byte) ([]byte, *SendPage) {
	if p, pg := b.slice(off, n); pg != nil {
		return p, pg
	}
	*scratch = b.appendTo((*scratch)[:0], off, n)
	return *scratch, nil
}
