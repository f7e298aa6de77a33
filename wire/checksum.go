package wire

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// The Internet checksum (RFC 1071) is the one's complement of the one's
// complement sum of the data taken as big-endian 16-bit words. Because
// 2^16 ≡ 1 modulo 2^16-1, the same sum can be taken 64 bits at a time with
// the carries wrapped around, and folded down to 16 bits at the end
// (RFC 1071 §2, "parallel summation").

// Checksum returns the Internet checksum of b (RFC 1071): the value to
// store in a header whose checksum field was zero while b was summed.
func Checksum(b []byte) uint16 {
	return ^fold(sum(0, b))
}

// sum adds b to the running sum acc. b must start at an even offset of the
// data being summed; an odd final byte is padded with a zero byte.
func sum(acc uint64, b []byte) uint64 {
	var c uint64
	for len(b) >= 32 {
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[8:]), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[16:]), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[24:]), c)
		b = b[32:]
	}
	for len(b) >= 8 {
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b), c)
		b = b[8:]
	}
	if len(b) > 0 {
		var tail [8]byte
		copy(tail[:], b)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(tail[:]), c)
	}
	return add(acc, c)
}

// add returns acc+v with the carry wrapped around.
func add(acc, v uint64) uint64 {
	acc, c := bits.Add64(acc, v, 0)
	// After a carry the low 64 bits are at most 2^64-2, so adding the
	// carry back cannot carry again.
	return acc + c
}

// fold reduces a running sum to 16 bits.
func fold(acc uint64) uint16 {
	acc = (acc >> 32) + (acc & 0xffffffff)
	acc = (acc >> 32) + (acc & 0xffffffff)
	acc = (acc >> 16) + (acc & 0xffff)
	acc = (acc >> 16) + (acc & 0xffff)
	return uint16(acc)
}

// pseudoHeaderSum is the running sum of the pseudo-header a TCP (or UDP)
// checksum covers: RFC 9293 §3.1 for IPv4 (source, destination, zero,
// protocol, TCP length) and RFC 8200 §8.1 for IPv6 (source, destination,
// upper-layer packet length, zeros, next header). Both families are used
// as IPv4 only when both addresses are IPv4, as AppendTCPPacket does.
func pseudoHeaderSum(ep Endpoints, proto uint8, length int) uint64 {
	if ep.Src.Is4() && ep.Dst.Is4() {
		s, d := ep.Src.As4(), ep.Dst.As4()
		return uint64(binary.BigEndian.Uint32(s[:])) +
			uint64(binary.BigEndian.Uint32(d[:])) +
			uint64(proto) + uint64(uint16(length))
	}
	s, d := as16(ep.Src), as16(ep.Dst)
	acc := uint64(proto) + uint64(uint32(length))
	acc = add(acc, binary.BigEndian.Uint64(s[:8]))
	acc = add(acc, binary.BigEndian.Uint64(s[8:]))
	acc = add(acc, binary.BigEndian.Uint64(d[:8]))
	acc = add(acc, binary.BigEndian.Uint64(d[8:]))
	return acc
}

// as4 returns the four bytes of an IPv4 (or IPv4-mapped IPv6) address and
// zeros for anything else, where netip.Addr.As4 would panic.
func as4(a netip.Addr) [4]byte {
	if a.Is4() || a.Is4In6() {
		return a.Unmap().As4()
	}
	return [4]byte{}
}

// as16 returns the sixteen bytes of any address (IPv4 addresses mapped);
// the zero Addr gives zeros.
func as16(a netip.Addr) [16]byte {
	if !a.IsValid() {
		return [16]byte{}
	}
	return a.As16()
}
