package tun

import (
	"bytes"
	"testing"

	"github.com/synack/synack/wire"
)

// partialHeader turns a packet the stack built without its TCP checksum
// (the field garbled here) into what the kernel takes: the field holds
// the pseudo-header's sum and the header says NEEDS_CSUM, so completing
// it (completeCsum, as the kernel would) gives the right checksum; with a
// segment size shorter than the payload it is one GSO super-segment,
// which splits (splitGSO, as the kernel's GSO would) into segments of
// that size with valid checksums, consecutive sequence numbers, PSH on
// the last only.
func TestPartialHeader(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		src, dst, l4off, typ := src4, dst4, 20, uint8(gsoTCPv4)
		if v6 {
			src, dst, l4off, typ = src6, dst6, 40, gsoTCPv6
		}
		payload := pattern(3*1460+100, 3)
		pkt := tcpPacket(src, dst, 7000, wire.FlagACK|wire.FlagPSH, 9, payload)
		pkt[l4off+tcpCsum] ^= 0x5a
		h, ok := partialHeader(pkt, 1460)
		hdrLen := l4off + 32 // timestamps
		want := vnetHdr{flags: vnetNeedsCsum, gsoType: typ, hdrLen: uint16(hdrLen), gsoSize: 1460, csumStart: uint16(l4off), csumOffset: tcpCsum}
		if !ok || h != want {
			t.Fatalf("v6 %v: partialHeader = %v, %v; want %v, true", v6, h, ok, want)
		}
		var got []byte
		var seqs []uint32
		var flags []wire.Flags
		if _, err := splitGSO(h, pkt, nil, true, func(seg []byte) {
			th, p := checkTCP(t, seg)
			got = append(got, p...)
			seqs = append(seqs, th.Seq)
			flags = append(flags, th.Flags)
		}); err != nil {
			t.Fatal(err)
		}
		wantSeqs := []uint32{7000, 7000 + 1460, 7000 + 2920, 7000 + 4380}
		wantFlags := []wire.Flags{wire.FlagACK, wire.FlagACK, wire.FlagACK, wire.FlagACK | wire.FlagPSH}
		if !bytes.Equal(got, payload) || !equal(seqs, wantSeqs) || !equal(flags, wantFlags) {
			t.Errorf("v6 %v: split into seqs %v flags %v (%d bytes); want %v %v (%d)", v6, seqs, flags, len(got), wantSeqs, wantFlags, len(payload))
		}

		// One segment (no segment size, or not shorter than the payload):
		// NEEDS_CSUM only.
		one := tcpPacket(src, dst, 100, wire.FlagACK, 1, pattern(1000, 5))
		one[l4off+tcpCsum] ^= 0x33
		for _, size := range []int{0, 1000} {
			h, ok := partialHeader(one, size)
			want := vnetHdr{flags: vnetNeedsCsum, hdrLen: uint16(hdrLen), csumStart: uint16(l4off), csumOffset: tcpCsum}
			if !ok || h != want {
				t.Fatalf("v6 %v size %d: partialHeader = %v, %v; want %v, true", v6, size, h, ok, want)
			}
			c := append([]byte(nil), one...)
			if err := completeCsum(h, c); err != nil {
				t.Fatal(err)
			}
			checkTCP(t, c)
		}
	}
	udp := tcpPacket(src4, dst4, 1, wire.FlagACK, 1, []byte("x"))
	udp[ipv4Proto] = protoUDP
	if _, ok := partialHeader(udp, 0); ok {
		t.Error("partialHeader took a packet that is not TCP")
	}
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
