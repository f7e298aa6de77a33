package stack

import (
	"net/netip"
	"testing"
)

// TestEphemeralPorts checks RFC 6056 Algorithm 3: a keyed hash of the
// addresses gives each destination its own offset into 49152–65535, and
// one counter walks the range, so consecutive connections to one place get
// consecutive ports and another destination starts somewhere else.
func TestEphemeralPorts(t *testing.T) {
	s := New(Options{Secret: []byte("fixed")})
	defer s.Close()
	src := netip.MustParseAddr("198.18.0.1")
	web := netip.MustParseAddrPort("198.18.0.2:80")
	dns := netip.MustParseAddrPort("198.18.0.3:53")

	pick := func(dst netip.AddrPort) uint16 {
		t.Helper()
		key, sh := s.ephemeral(src, dst)
		if sh == nil {
			t.Fatal("no port")
		}
		sh.mu.Unlock()
		if key.local.Addr() != src || key.remote != dst {
			t.Fatalf("tuple %v → %v, want %v → %v", key.local, key.remote, src, dst)
		}
		return key.local.Port()
	}
	want := func(dst netip.AddrPort, counter uint32) uint16 {
		offset := s.hash(src, dst, netip.AddrPort{})
		return uint16(ephemeralMin + (offset+counter)%ephemeralCount)
	}

	for i, tc := range []struct {
		dst     netip.AddrPort
		counter uint32
	}{{web, 0}, {web, 1}, {dns, 2}, {web, 3}} {
		if got, w := pick(tc.dst), want(tc.dst, tc.counter); got != w {
			t.Errorf("pick %d to %v: port %d, want %d", i, tc.dst, got, w)
		}
	}
	if want(web, 0) == want(dns, 0) {
		t.Errorf("both destinations start at %d: the offset ignores the address", want(web, 0))
	}
	// Another secret, another offset: ports are not predictable off-path.
	other := New(Options{Secret: []byte("other")})
	defer other.Close()
	if s.hash(src, web, netip.AddrPort{}) == other.hash(src, web, netip.AddrPort{}) {
		t.Error("the offset ignores the secret")
	}
}
