package tcp

import (
	"bytes"
	"testing"
	"time"
	"unsafe"
)

// The send buffer's pages are write-once: a payload handed out by
// reference (slice, then Ref) keeps its bytes while the reference is
// held, though the buffer drops them (Discard), gives its storage back
// and is written again; the page goes back to its pool only with the
// last reference, and is then taken again.
func TestSndBuffer_PagesWriteOnce(t *testing.T) {
	pages0 := SendPagesInUse()
	b := newSndBuffer(1 << 20)
	data := make([]byte, 3000)
	for i := range data {
		data[i] = byte(i*7 + 1)
	}
	if n := b.Write(data[:500]) + b.Write(data[500:]); n != len(data) { // a 512-byte page, then a 4 KiB one
		t.Fatalf("Write took %d", n)
	}
	p, pg := b.slice(100, 400) // in the first page (512 bytes)
	if pg == nil || !bytes.Equal(p, data[100:500]) {
		t.Fatalf("slice(100, 400): page %v, bytes equal %v", pg, bytes.Equal(p, data[100:500]))
	}
	if q, spans := b.slice(400, 400); spans != nil || q != nil {
		t.Fatal("slice(400, 400) spans the first two pages, and was given as one")
	}
	var scratch []byte
	if q, qp := b.payload(400, 400, &scratch); qp != nil || !bytes.Equal(q, data[400:800]) {
		t.Fatal("payload(400, 400): not copied, or wrong bytes")
	}
	pg.Ref()
	b.Discard(len(data))
	b.release()
	if b.Allocated() != 0 || SendPagesInUse() != pages0+1 {
		t.Fatalf("released: %d bytes allocated, %d pages in use; want 0, %d", b.Allocated(), SendPagesInUse(), pages0+1)
	}
	other := bytes.Repeat([]byte{0xee}, 1<<16)
	for range 4 {
		b.Write(other)
		b.Discard(b.Len())
	}
	if !bytes.Equal(p, data[100:500]) {
		t.Fatal("a referenced page was written again")
	}
	pg.Release()
	b.Reset()
	if n := SendPagesInUse(); n != pages0 {
		t.Fatalf("%d pages in use after the last reference; want %d", n, pages0)
	}
}

// The pages follow the data as the ring's slab does: none while empty,
// 512 bytes for the first byte, a page at least as large as what is held
// as it grows (so that the storage doubles), larger ones while the
// buffer keeps data, none again once released; Memory is charged what
// the pages take, and the first page of an empty buffer is granted past
// High.
func TestSndBuffer_StorageFollowsData(t *testing.T) {
	m := &Memory{}
	b := newSndBuffer(4 << 20)
	b.lim = limitsFor(m, 4096)
	alloc := func(want int) {
		t.Helper()
		if b.Allocated() != want || m.Stats().InUse != int64(want) {
			t.Fatalf("allocated %d, Memory in use %d; want %d", b.Allocated(), m.Stats().InUse, want)
		}
	}
	alloc(0)
	if b.room() != b.Free() {
		t.Fatalf("room %d of %d free with no thresholds", b.room(), b.Free())
	}
	b.Write([]byte("x"))
	alloc(512)
	if b.room() != b.Free() {
		t.Fatalf("room %d of %d free with no thresholds, a page held", b.room(), b.Free())
	}
	b.Write(make([]byte, 511))
	alloc(512)
	b.Write(make([]byte, 1000)) // 1 KiB more (held 512, want 1000: doubling)
	alloc(512 + 1024)
	b.Discard(b.Len())
	alloc(1024) // the full first page goes; the last, with room, stays
	b.release()
	alloc(0)
	b.Write([]byte("y")) // the hint: the last page's class at once
	alloc(1024)
	b.Reset()
	alloc(0)
	// Past High only the first 512-byte page is granted.
	m.High = 1
	if n := b.Write(make([]byte, 2000)); n != 512 || b.room() != 0 {
		t.Fatalf("past High: took %d, room %d; want 512, 0", n, b.room())
	}
	b.Reset()
	alloc(0)
}

// The free list of the largest pages fills as pages come back, and a
// trim gives half of it back once no page was taken for a minute, none
// while pages are taken.
func TestSndBuffer_TopPagesTrimmed(t *testing.T) {
	l := &pagePools[maxPageShift]
	held := make([]*SendPage, topPagesKept)
	for i := range held {
		held[i] = getPage(maxPageShift)
	}
	for _, p := range held {
		p.Release()
	}
	kept := func() int { l.mu.Lock(); defer l.mu.Unlock(); return len(l.free) }
	if n := kept(); n != topPagesKept {
		t.Fatalf("%d pages kept; want %d", n, topPagesKept)
	}
	now := time.Now()
	trimTopPages(now) // pages were taken: kept
	trimTopPages(now.Add(59 * time.Second))
	if n := kept(); n != topPagesKept {
		t.Fatalf("after trims within a minute: %d kept; want %d", n, topPagesKept)
	}
	trimTopPages(now.Add(time.Minute))
	if n := kept(); n != topPagesKept/2 {
		t.Fatalf("after a minute unused: %d kept; want %d", n, topPagesKept/2)
	}
}

// The send buffer is 32 bytes on 64-bit platforms, as the ring it
// replaced: every TCB has one (TestTCBSize).
func TestSndBufferSize(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("sizes are for 64-bit platforms")
	}
	if n := unsafe.Sizeof(sndBuffer{}); n != 32 {
		t.Errorf("sndBuffer is %d bytes, want 32", n)
	}
}

// FreeCaches empties the free lists of pages and slabs at once.
func TestFreeCaches_EmptiesPagesAndSlabs(t *testing.T) {
	p := getPage(maxPageShift)
	p.Release()
	slabPools[minSlabShift].put(new([]byte))
	count := func(l *freeList[SendPage]) int { l.mu.Lock(); defer l.mu.Unlock(); return len(l.free) }
	if n := count(&pagePools[maxPageShift]); n == 0 {
		t.Fatal("a released page was not kept")
	}
	FreeCaches()
	if n := count(&pagePools[maxPageShift]); n != 0 {
		t.Fatalf("%d pages kept after FreeCaches; want 0", n)
	}
	slabPools[minSlabShift].mu.Lock()
	n := len(slabPools[minSlabShift].free)
	slabPools[minSlabShift].mu.Unlock()
	if n != 0 {
		t.Fatalf("%d slabs kept after FreeCaches; want 0", n)
	}
}
