package wire

import (
	"encoding/binary"
	"net/netip"
)

// IPv6HeaderLen is the length of the IPv6 fixed header.
const IPv6HeaderLen = 40

// IPv6 extension header and "no next header" numbers (RFC 8200 §4).
const (
	ProtocolHopByHop    = 0
	ProtocolRouting     = 43
	ProtocolFragment    = 44
	ProtocolNoNext      = 59
	ProtocolDestOptions = 60
)

// IPv6Header is the validated value of an IPv6 fixed header (RFC 8200).
type IPv6Header struct {
	TrafficClass  uint8
	FlowLabel     uint32
	PayloadLength uint16 // as parsed; AppendIPv6 computes its own
	NextHeader    uint8
	HopLimit      uint8
	Src, Dst      netip.Addr
}

// ParseIPv6 validates an IPv6 fixed header and returns it with the payload.
//
// It checks that b holds 40 bytes, the version is 6 and the payload length
// is within b; the payload is trimmed to the payload length. Jumbograms
// (RFC 2675) are not supported: a payload length of 0 means no payload.
// Extension headers are left in the payload; ParseIP walks them.
func ParseIPv6(b []byte) (IPv6Header, []byte, error) {
	if len(b) < IPv6HeaderLen {
		return IPv6Header{}, nil, errIPv6Short
	}
	if b[0]>>4 != 6 {
		return IPv6Header{}, nil, errIPv6Version
	}
	plen := int(binary.BigEndian.Uint16(b[4:]))
	if plen > len(b)-IPv6HeaderLen {
		return IPv6Header{}, nil, errIPv6PayloadLong
	}
	vtf := binary.BigEndian.Uint32(b)
	h := IPv6Header{
		TrafficClass:  uint8(vtf >> 20),
		FlowLabel:     vtf & 0xfffff,
		PayloadLength: uint16(plen),
		NextHeader:    b[6],
		HopLimit:      b[7],
		Src:           netip.AddrFrom16([16]byte(b[8:24])),
		Dst:           netip.AddrFrom16([16]byte(b[24:40])),
	}
	return h, b[IPv6HeaderLen : IPv6HeaderLen+plen], nil
}

// AppendIPv6 appends h, for a payload of payloadLen bytes, to dst.
//
// It computes the payload length itself (modulo 2^16: the caller keeps
// payloads within 65535 bytes), ignoring h.PayloadLength. The flow label is
// cut to its 20 bits. IPv4 addresses are written IPv4-mapped.
func AppendIPv6(dst []byte, h *IPv6Header, payloadLen int) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, IPv6HeaderLen)...)
	b := dst[start:]
	binary.BigEndian.PutUint32(b, 6<<28|uint32(h.TrafficClass)<<20|h.FlowLabel&0xfffff)
	binary.BigEndian.PutUint16(b[4:], uint16(payloadLen))
	b[6] = h.NextHeader
	b[7] = h.HopLimit
	s, d := as16(h.Src), as16(h.Dst)
	copy(b[8:24], s[:])
	copy(b[24:40], d[:])
	return dst
}

// walkIPv6 follows the extension header chain that starts with next in p
// (RFC 8200 §4.1) and returns the upper-layer protocol and its payload.
// It stops at the first header that is not hop-by-hop, routing, fragment or
// destination options. After a fragment header of a real fragment (offset
// or M flag set) it stops too, reporting the fragment header's next header
// and frag true: what follows is a piece of a packet, not a header chain.
// "No next header" (59) gives an empty payload.
func walkIPv6(next uint8, p []byte) (proto uint8, payload []byte, frag ipv6Frag, err error) {
	for first := true; ; first = false {
		switch next {
		case ProtocolHopByHop, ProtocolRouting, ProtocolDestOptions:
			if next == ProtocolHopByHop && !first {
				return 0, nil, ipv6Frag{}, errIPv6HopByHop
			}
			if len(p) < 8 {
				return 0, nil, ipv6Frag{}, errIPv6ExtShort
			}
			n := (int(p[1]) + 1) * 8
			if n > len(p) {
				return 0, nil, ipv6Frag{}, errIPv6ExtShort
			}
			next, p = p[0], p[n:]
		case ProtocolFragment:
			if len(p) < 8 {
				return 0, nil, ipv6Frag{}, errIPv6ExtShort
			}
			offM := binary.BigEndian.Uint16(p[2:])
			id := binary.BigEndian.Uint32(p[4:])
			next, p = p[0], p[8:]
			// An atomic fragment (offset 0, M clear; RFC 6946) is a whole
			// packet: keep walking.
			if offM&^0x6 != 0 {
				return next, p, ipv6Frag{ok: true, offset: offM &^ 7, more: offM&1 != 0, id: id}, nil
			}
		case ProtocolNoNext:
			return next, p[:0], ipv6Frag{}, nil
		default:
			return next, p, ipv6Frag{}, nil
		}
	}
}

// ipv6Frag is what a fragment header says about a real fragment.
type ipv6Frag struct {
	ok     bool
	offset uint16 // in bytes
	more   bool
	id     uint32
}

// Codes of the ICMPv6 Parameter Problem message (RFC 4443 §3.4).
const (
	ICMPv6ErroneousHeader        = 0 // erroneous header field encountered
	ICMPv6UnrecognizedNextHeader = 1 // unrecognized Next Header type encountered
)

// IPv6ParamProblem walks the extension headers of the IPv6 packet b as
// its destination does (RFC 8200 §4) and reports the first thing RFC 8200
// answers with a discard and an ICMPv6 Parameter Problem, with the code
// and the pointer (an offset into b) to send:
//
//   - a routing header whose Segments Left is not zero: the node would
//     have to route the packet on, and a host implements no routing type
//     (§4.4: code 0, the pointer at the Routing Type field);
//   - a Next Header value that is not an extension header and that known
//     rejects (§4: code 1, the pointer at that Next Header field).
//
// The walk stops, with found false, at "no next header", at the fragment
// header of a real fragment (what follows it is not a header chain) and at
// anything truncated or malformed, which ParseIP rejects.
func IPv6ParamProblem(b []byte, known func(proto uint8) bool) (code uint8, pointer uint32, found bool) {
	if len(b) < IPv6HeaderLen || b[0]>>4 != 6 {
		return 0, 0, false
	}
	if end := IPv6HeaderLen + int(binary.BigEndian.Uint16(b[4:])); end <= len(b) {
		b = b[:end]
	}
	next, at, off := b[6], 6, IPv6HeaderLen // at: where next was named
	for {
		switch next {
		case ProtocolHopByHop, ProtocolDestOptions, ProtocolRouting:
			if off+8 > len(b) {
				return 0, 0, false
			}
			if next == ProtocolRouting && b[off+3] != 0 {
				return ICMPv6ErroneousHeader, uint32(off + 2), true
			}
			next, at, off = b[off], off, off+(int(b[off+1])+1)*8
		case ProtocolFragment:
			if off+8 > len(b) || binary.BigEndian.Uint16(b[off+2:])&^0x6 != 0 {
				return 0, 0, false
			}
			next, at, off = b[off], off, off+8
		case ProtocolNoNext:
			return 0, 0, false
		default:
			if known(next) {
				return 0, 0, false
			}
			return ICMPv6UnrecognizedNextHeader, uint32(at), true
		}
	}
}
