package wire

import (
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"
)

// unhex decodes space-separated hex bytes, as a capture is usually shown.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex in test: %v", err)
	}
	return b
}

// refChecksum is RFC 1071 done the slow, obvious way: 16-bit words summed
// into a 32-bit accumulator, carries folded at the end. Tests compare the
// fast version against it.
func refChecksum(parts ...[]byte) uint16 {
	var all []byte
	for _, p := range parts {
		all = append(all, p...)
	}
	if len(all)%2 == 1 {
		all = append(all, 0)
	}
	var s uint32
	for i := 0; i < len(all); i += 2 {
		s += uint32(all[i])<<8 | uint32(all[i+1])
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

var (
	addrA4 = netip.MustParseAddr("198.18.0.1")
	addrB4 = netip.MustParseAddr("198.18.0.2")
	addrA6 = netip.MustParseAddr("2001:db8::1")
	addrB6 = netip.MustParseAddr("2001:db8::2")
)
