package tcp

import (
	"net/netip"
	"testing"
	"time"
)

func TestISN(t *testing.T) {
	secret := []byte("secret")
	l := netip.MustParseAddrPort("198.18.0.1:40000")
	r := netip.MustParseAddrPort("198.18.0.2:80")
	a := ISN(secret, l, r, t0)
	if b := ISN(secret, l, r, t0); a != b {
		t.Fatalf("not deterministic: %d, %d", a, b)
	}
	// The clock part advances one per 4 µs.
	if b := ISN(secret, l, r, t0.Add(4*time.Millisecond)); b-a != 1000 {
		t.Fatalf("after 4 ms: +%d, want +1000", b-a)
	}
	// Another tuple or secret gives another sequence space.
	r2 := netip.MustParseAddrPort("198.18.0.2:81")
	if ISN(secret, l, r2, t0) == a || ISN([]byte("other"), l, r, t0) == a {
		t.Fatal("ISN ignores the tuple or the secret")
	}
}
