package stack

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// The table agrees with a Go map through a random run of inserts,
// replacements and deletes that grows it to thousands of entries and
// shrinks it back to none, with keys that collide on their ports.
func TestConnTableAgainstMap(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	key := func() tuple {
		return tuple{
			local:  netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(rnd.IntN(3))}), uint16(rnd.IntN(64))),
			remote: netip.AddrPortFrom(netip.AddrFrom16([16]byte{0xfd, 15: byte(rnd.IntN(64))}), 80),
		}
	}
	var tab connTable
	want := map[tuple]*Conn{}
	check := func(step int) {
		t.Helper()
		if tab.len() != len(want) {
			t.Fatalf("step %d: len %d, want %d", step, tab.len(), len(want))
		}
		n := 0
		for c := range tab.all() {
			if want[c.key] != c {
				t.Fatalf("step %d: all yields %v, not in the map", step, c.key)
			}
			n++
		}
		if n != len(want) {
			t.Fatalf("step %d: all yields %d, want %d", step, n, len(want))
		}
		for k, c := range want {
			if got := tab.get(k); got != c {
				t.Fatalf("step %d: get(%v) = %p, want %p", step, k, got, c)
			}
		}
	}
	for step := range 30000 {
		k := key()
		switch grow := step < 15000; {
		case rnd.IntN(4) != 0 && grow || rnd.IntN(4) == 0 && !grow:
			c := &Conn{key: k} // a new connection, or one in place of another
			tab.set(c)
			want[k] = c
		default:
			if c := want[k]; c != nil {
				tab.delete(&Conn{key: k}) // not the one in the table: nothing happens
				tab.delete(c)
				delete(want, k)
			}
		}
		if tab.get(k) != want[k] {
			t.Fatalf("step %d: get(%v) = %p, want %p", step, k, tab.get(k), want[k])
		}
		if step%997 == 0 {
			check(step)
		}
	}
	for k, c := range want {
		tab.delete(c)
		delete(want, k)
	}
	check(-1)
	if len(tab.conns) != minConnTable {
		t.Fatalf("an empty table keeps %d slots, want its first %d", len(tab.conns), minConnTable)
	}
}
