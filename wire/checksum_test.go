package wire

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

func TestChecksumRFC1071Example(t *testing.T) {
	// RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
	b := []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}
	if got := Checksum(b); got != ^uint16(0xddf2) {
		t.Fatalf("Checksum = %#04x, want %#04x", got, ^uint16(0xddf2))
	}
}

func TestChecksumMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 2000)
	for i := range 3000 {
		n := i % len(buf)
		b := buf[:n]
		switch i % 3 {
		case 0:
			for j := range b {
				b[j] = byte(rng.Uint32())
			}
		case 1: // all ones stresses the carries
			for j := range b {
				b[j] = 0xff
			}
		case 2:
			for j := range b {
				b[j] = 0
			}
		}
		if got, want := Checksum(b), refChecksum(b); got != want {
			t.Fatalf("len %d pattern %d: Checksum = %#04x, want %#04x", n, i%3, got, want)
		}
	}
}

func TestPseudoHeaderSum(t *testing.T) {
	seg := []byte("0123456789abcdefghijklmnopq") // odd length on purpose
	v4 := Endpoints{Src: addrA4, Dst: addrB4}
	s, d := addrA4.As4(), addrB4.As4()
	ph4 := append(append(append([]byte{}, s[:]...), d[:]...), 0, 6, 0, byte(len(seg)))
	if got, want := ^fold(sum(pseudoHeaderSum(v4, ProtocolTCP, len(seg)), seg)), refChecksum(ph4, seg); got != want {
		t.Errorf("IPv4 pseudo-header checksum = %#04x, want %#04x", got, want)
	}
	v6 := Endpoints{Src: addrA6, Dst: addrB6}
	s6, d6 := addrA6.As16(), addrB6.As16()
	ph6 := append(append(append([]byte{}, s6[:]...), d6[:]...), 0, 0, 0, byte(len(seg)), 0, 0, 0, 6)
	if got, want := ^fold(sum(pseudoHeaderSum(v6, ProtocolTCP, len(seg)), seg)), refChecksum(ph6, seg); got != want {
		t.Errorf("IPv6 pseudo-header checksum = %#04x, want %#04x", got, want)
	}
	// Mixed or invalid endpoints must not panic; they use the IPv6 form.
	for _, ep := range []Endpoints{{}, {Src: addrA4, Dst: addrB6}, {Src: addrA6}} {
		_ = pseudoHeaderSum(ep, ProtocolTCP, 10)
		_ = TCPChecksumValid(ep, seg)
	}
	mapped := Endpoints{Src: netip.AddrFrom16(addrA4.As16()), Dst: addrB4}
	_ = AppendTCPPacket(nil, mapped, 64, &TCPHeader{}, nil)
}
