package tcp

import (
	"encoding/binary"
	"math/bits"
)

// sipHash24 is SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast
// short-input PRF", 2012): a keyed 64-bit pseudo-random function, fast on
// the short inputs a SYN cookie hashes (45 bytes) and strong enough that
// a peer who sees many outputs cannot forge one for another input. k0 and
// k1 are the key's two halves, read little-endian.
func sipHash24(k0, k1 uint64, msg []byte) uint64 {
	s := sipState{
		v0: k0 ^ 0x736f6d6570736575, // "somepseu"
		v1: k1 ^ 0x646f72616e646f6d, // "dorandom"
		v2: k0 ^ 0x6c7967656e657261, // "lygenera"
		v3: k1 ^ 0x7465646279746573, // "tedbytes"
	}
	n := len(msg)
	for len(msg) >= 8 {
		s.compress(binary.LittleEndian.Uint64(msg))
		msg = msg[8:]
	}
	// The last word: the remaining bytes, little-endian, with the
	// message length (mod 256) in its top byte.
	last := uint64(n) << 56
	for i, b := range msg {
		last |= uint64(b) << (8 * i)
	}
	s.compress(last)
	s.v2 ^= 0xff
	for range 4 {
		s.round()
	}
	return s.v0 ^ s.v1 ^ s.v2 ^ s.v3
}

// sipState is SipHash's internal state of four 64-bit words.
type sipState struct{ v0, v1, v2, v3 uint64 }

// compress mixes one message word in with two rounds (the "2" of 2-4).
func (s *sipState) compress(m uint64) {
	s.v3 ^= m
	s.round()
	s.round()
	s.v0 ^= m
}

// round is one SipRound: additions, rotations and XORs.
func (s *sipState) round() {
	s.v0 += s.v1
	s.v1 = bits.RotateLeft64(s.v1, 13) ^ s.v0
	s.v0 = bits.RotateLeft64(s.v0, 32)
	s.v2 += s.v3
	s.v3 = bits.RotateLeft64(s.v3, 16) ^ s.v2
	s.v0 += s.v3
	s.v3 = bits.RotateLeft64(s.v3, 21) ^ s.v0
	s.v2 += s.v1
	s.v1 = bits.RotateLeft64(s.v1, 17) ^ s.v2
	s.v2 = bits.RotateLeft64(s.v2, 32)
}
