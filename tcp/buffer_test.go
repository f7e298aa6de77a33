package tcp

import "testing"

func TestRing(t *testing.T) {
	r := newRing(8)
	if n := r.Write([]byte("abcdef")); n != 6 {
		t.Fatalf("Write: %d", n)
	}
	p := make([]byte, 4)
	if n := r.Read(p); n != 4 || string(p) != "abcd" {
		t.Fatalf("Read: %d %q", n, p[:n])
	}
	// Wraps around the end.
	if n := r.Write([]byte("ghijklmn")); n != 6 {
		t.Fatalf("Write: %d", n)
	}
	q := make([]byte, 8)
	if n := r.Peek(1, q); n != 7 || string(q[:n]) != "fghijkl" {
		t.Fatalf("Peek: %q", q[:n])
	}
	r.Discard(8)
	if r.Len() != 0 || r.Free() != 8 {
		t.Fatalf("Len %d Free %d", r.Len(), r.Free())
	}
}

// Bytes stored past the end stay in place when the ring is emptied by a
// read before they are committed.
func TestRing_WriteAtSurvivesEmptying(t *testing.T) {
	r := newRing(8)
	r.Write([]byte("abc"))
	r.WriteAt(2, []byte("fg")) // "abc" + hole "de" + "fg"
	p := make([]byte, 3)
	r.Read(p)
	r.Write([]byte("de"))
	r.Commit(2)
	q := make([]byte, 8)
	if n := r.Read(q); string(q[:n]) != "defg" {
		t.Fatalf("Read: %q", q[:n])
	}
}

// A ring holds no storage until its first byte, then the smallest slab
// that holds its bytes (512 bytes at least, doubling), and none again
// once released. Growth keeps the bytes, wrapped or not.
func TestRing_StorageFollowsData(t *testing.T) {
	r := newRing(256 << 10)
	if r.Allocated() != 0 {
		t.Fatalf("new ring: %d bytes", r.Allocated())
	}
	r.Write([]byte("x"))
	if r.Allocated() != 512 {
		t.Fatalf("after 1 byte: %d bytes, want 512", r.Allocated())
	}
	big := make([]byte, 600)
	for i := range big {
		big[i] = byte(i)
	}
	r.Read(make([]byte, 1)) // head at 1
	r.Write(big[:500])      // wraps in the 512-byte slab
	r.Write(big[500:])      // grows to 1024, unwrapping
	if r.Allocated() != 1024 || r.Len() != 600 {
		t.Fatalf("after 600 bytes: %d allocated, %d held; want 1024, 600", r.Allocated(), r.Len())
	}
	got := make([]byte, 600)
	if n := r.Read(got); n != 600 || string(got) != string(big) {
		t.Fatalf("Read %d bytes, contents differ", n)
	}
	r.release()
	if r.Allocated() != 0 || r.Free() != 256<<10 {
		t.Fatalf("released: %d allocated, %d free", r.Allocated(), r.Free())
	}
	// Refilled after a release: the last slab's class at once.
	r.Write([]byte("y"))
	if r.Allocated() != 1024 {
		t.Fatalf("refilled: %d bytes, want 1024 (the hint)", r.Allocated())
	}
	// A size that is not a power of two bounds the ring, not the slab.
	s := newRing(1000)
	s.Write(make([]byte, 1000))
	if s.Allocated() != 1024 || s.Free() != 0 || s.Write([]byte("z")) != 0 {
		t.Fatalf("size 1000: %d allocated, %d free", s.Allocated(), s.Free())
	}
}

// Out-of-order bytes stored past the buffered ones make the storage grow
// to hold them, and survive growth.
func TestRing_WriteAtGrows(t *testing.T) {
	r := newRing(64 << 10)
	if !r.WriteAt(3000, []byte("later")) {
		t.Fatal("WriteAt refused")
	}
	if r.Allocated() != 4096 {
		t.Fatalf("%d bytes, want 4096", r.Allocated())
	}
	r.Write(make([]byte, 3000))
	r.Commit(5)
	p := make([]byte, 3005)
	if n := r.Read(p); n != 3005 || string(p[3000:]) != "later" {
		t.Fatalf("Read %d: %q", n, p[3000:n])
	}
}

// Memory's three levels: storage grows freely up to Pressure, within the
// minimal window up to High, and past High only an empty buffer's first
// 512-byte slab is granted. Counters are exact.
func TestMemory_Levels(t *testing.T) {
	m := &Memory{Low: 4 << 10, Pressure: 8 << 10, High: 16 << 10}
	newR := func() ring { r := newRing(1 << 20); r.lim = limitsFor(m, 2048); return r }
	a := newR()
	if n := a.Write(make([]byte, 8<<10)); n != 8<<10 {
		t.Fatalf("to Pressure: took %d", n)
	}
	st := m.Stats()
	if st.InUse != 8<<10 || m.UnderPressure() || st.PressureEvents != 0 {
		t.Fatalf("at Pressure: %+v, pressure %v", st, m.UnderPressure())
	}
	// Past Pressure: a 16 KiB slab is refused, nothing larger than the
	// storage is taken.
	if n := a.Write(make([]byte, 100)); n != 0 {
		t.Fatalf("past Pressure: took %d", n)
	}
	// Within the minimal window (2048 → a 2 KiB slab) a buffer still grows.
	b := newR()
	if n := b.Write(make([]byte, 3000)); n != 2048 {
		t.Fatalf("minimal window: took %d, want 2048", n)
	}
	st = m.Stats()
	if st.InUse != 10<<10 || !m.UnderPressure() || st.PressureEvents != 1 || st.GrowthRefused != 2 {
		t.Fatalf("under pressure: %+v, pressure %v", st, m.UnderPressure())
	}
	// Fill to High with minimal slabs; then only first slabs.
	var rs []ring
	for range 3 {
		r := newR()
		r.Write(make([]byte, 2048))
		rs = append(rs, r)
	}
	if got := m.Stats().InUse; got != 16<<10 {
		t.Fatalf("in use %d, want %d", got, 16<<10)
	}
	c := newR()
	if n := c.Write(make([]byte, 2048)); n != 512 {
		t.Fatalf("past High: took %d, want the first 512-byte slab", n)
	}
	if c.room() != 0 {
		t.Fatalf("room %d past High with a full first slab", c.room())
	}
	if st := m.Stats(); st.InUse != 16<<10+512 || st.Peak != 16<<10+512 {
		t.Fatalf("past High: %+v", st)
	}
	// Giving back: pressure ends below Low.
	a.Reset()
	b.Reset()
	c.Reset()
	if !m.UnderPressure() {
		t.Fatal("pressure ended above Low")
	}
	for i := range rs {
		rs[i].Reset()
	}
	if st := m.Stats(); st.InUse != 0 || m.UnderPressure() || st.Peak != 16<<10+512 {
		t.Fatalf("all given back: %+v, pressure %v", st, m.UnderPressure())
	}
}
