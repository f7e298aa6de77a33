package wire

import "testing"

func TestIPv6ParamProblem(t *testing.T) {
	known := func(p uint8) bool { return p == ProtocolTCP || p == ProtocolUDP }
	mk := func(first uint8, ext ...byte) []byte {
		h := IPv6Header{NextHeader: first, HopLimit: 64, Src: addrA6, Dst: addrB6}
		payload := append(ext, make([]byte, 8)...) // a UDP header's room
		return append(AppendIPv6(nil, &h, len(payload)), payload...)
	}
	for _, tc := range []struct {
		name    string
		pkt     []byte
		found   bool
		code    uint8
		pointer uint32
	}{
		{"plain UDP", mk(ProtocolUDP), false, 0, 0},
		{"unknown first", mk(253), true, ICMPv6UnrecognizedNextHeader, 6},
		{"routing, segments left 0", mk(ProtocolRouting, ProtocolUDP, 0, 0, 0, 0, 0, 0, 0), false, 0, 0},
		{"routing, segments left 2", mk(ProtocolRouting, ProtocolUDP, 0, 0, 2, 0, 0, 0, 0), true, ICMPv6ErroneousHeader, 42},
		{"hop-by-hop then unknown", mk(ProtocolHopByHop, 99, 0, 1, 4, 0, 0, 0, 0), true, ICMPv6UnrecognizedNextHeader, 40},
		{"atomic fragment then unknown", mk(ProtocolFragment, 99, 0, 0, 0, 0, 0, 0, 1), true, ICMPv6UnrecognizedNextHeader, 40},
		{"real fragment", mk(ProtocolFragment, 99, 0, 0, 1, 0, 0, 0, 1), false, 0, 0},
		{"no next header", mk(ProtocolNoNext), false, 0, 0},
	} {
		code, ptr, found := IPv6ParamProblem(tc.pkt, known)
		if found != tc.found || code != tc.code || ptr != tc.pointer {
			t.Errorf("%s: %d, %d, %v; want %d, %d, %v", tc.name, code, ptr, found, tc.code, tc.pointer, tc.found)
		}
		// Every truncation is safe.
		for n := range len(tc.pkt) {
			IPv6ParamProblem(tc.pkt[:n], known)
		}
	}
}
