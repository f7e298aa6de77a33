package tcp

import (
	"bytes"
	"testing"
)

// view gives the bytes from an offset as they lie in the ring: one piece,
// or two when they wrap around its end.
func TestRingView(t *testing.T) {
	r := newRing(1 << 20)
	defer r.release()
	data := make([]byte, 3000)
	for i := range data {
		data[i] = byte(i)
	}
	if n := r.Write(data); n != len(data) {
		t.Fatalf("Write = %d", n)
	}
	r.Discard(2000)
	capacity := r.capacity()
	fill := make([]byte, capacity-1000-10) // the free space but 10 bytes: the data wraps
	for i := range fill {
		fill[i] = byte(i * 7)
	}
	if n := r.Write(fill); n != len(fill) {
		t.Fatalf("Write = %d; want %d", n, len(fill))
	}
	want := append(append([]byte(nil), data[2000:]...), fill...)
	splits := 0
	for off := 0; off+300 <= len(want); off += 97 {
		a, b := r.view(off, 300)
		if len(b) > 0 {
			splits++
		}
		if got := append(append([]byte(nil), a...), b...); !bytes.Equal(got, want[off:off+300]) {
			t.Fatalf("view(%d, 300): wrong bytes (pieces %d+%d)", off, len(a), len(b))
		}
	}
	if splits == 0 {
		t.Fatal("no view wrapped around the ring's end; the test does not test that")
	}
	if _, b := r.view(0, 500); len(b) != 0 {
		t.Errorf("view(0, 500) split in two; want one piece")
	}
}
