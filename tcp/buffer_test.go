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
