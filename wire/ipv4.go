package wire

import (
	"encoding/binary"
	"net/netip"
)

// IPv4HeaderLen is the length of an IPv4 header without options.
const IPv4HeaderLen = 20

// IPv4 header flag bits, in the 16-bit flags+offset word.
const (
	ipv4DontFragment  = 0x4000
	ipv4MoreFragments = 0x2000
	ipv4OffsetMask    = 0x1fff
)

// IPv4Header is the validated value of an IPv4 header (RFC 791).
type IPv4Header struct {
	TOS            uint8
	TotalLength    uint16 // as parsed; AppendIPv4 computes its own
	ID             uint16
	DontFragment   bool
	MoreFragments  bool
	FragmentOffset uint16 // in bytes (a multiple of 8)
	TTL            uint8
	Protocol       uint8
	Checksum       uint16 // as parsed; AppendIPv4 computes its own
	Src, Dst       netip.Addr
	Options        []byte // raw options, if any (aliases the parsed buffer)
}

// IsFragment reports whether the packet is a fragment of a larger one
// (more fragments follow, or it does not start at offset 0).
func (h *IPv4Header) IsFragment() bool {
	return h.MoreFragments || h.FragmentOffset != 0
}

// ParseIPv4 validates an IPv4 header and returns it with the payload
// (trimmed to the total length).
//
// It checks, in order, that b holds 20 bytes, the version is 4, the header
// length is at least 5 words and within b, the total length covers the
// header and is within b, and that the header checksum is right. Bytes of b
// beyond the total length (link-layer padding) are ignored. The options are
// returned raw, aliasing b. The reserved flag bit is ignored.
func ParseIPv4(b []byte) (IPv4Header, []byte, error) {
	if len(b) < IPv4HeaderLen {
		return IPv4Header{}, nil, errIPv4Short
	}
	if b[0]>>4 != 4 {
		return IPv4Header{}, nil, errIPv4Version
	}
	hlen := int(b[0]&0x0f) * 4
	if hlen < IPv4HeaderLen {
		return IPv4Header{}, nil, errIPv4IHL
	}
	if hlen > len(b) {
		return IPv4Header{}, nil, errIPv4HeaderLen
	}
	total := int(binary.BigEndian.Uint16(b[2:]))
	if total < hlen {
		return IPv4Header{}, nil, errIPv4TotalShort
	}
	if total > len(b) {
		return IPv4Header{}, nil, errIPv4TotalLong
	}
	if fold(sum(0, b[:hlen])) != 0xffff {
		return IPv4Header{}, nil, errIPv4Checksum
	}
	frag := binary.BigEndian.Uint16(b[6:])
	h := IPv4Header{
		TOS:            b[1],
		TotalLength:    uint16(total),
		ID:             binary.BigEndian.Uint16(b[4:]),
		DontFragment:   frag&ipv4DontFragment != 0,
		MoreFragments:  frag&ipv4MoreFragments != 0,
		FragmentOffset: (frag & ipv4OffsetMask) * 8,
		TTL:            b[8],
		Protocol:       b[9],
		Checksum:       binary.BigEndian.Uint16(b[10:]),
		Src:            netip.AddrFrom4([4]byte(b[12:16])),
		Dst:            netip.AddrFrom4([4]byte(b[16:20])),
	}
	if hlen > IPv4HeaderLen {
		h.Options = b[IPv4HeaderLen:hlen:hlen]
	}
	return h, b[hlen:total], nil
}

// Len is the length AppendIPv4 writes for h: 20 bytes plus the options
// padded to a multiple of 4 and cut at 40.
func (h *IPv4Header) Len() int {
	return IPv4HeaderLen + ipv4OptionsLen(h)
}

func ipv4OptionsLen(h *IPv4Header) int {
	return min((len(h.Options)+3)&^3, 40)
}

// AppendIPv4 appends h, for a payload of payloadLen bytes, to dst.
//
// It computes the header length, total length and header checksum itself,
// ignoring h.TotalLength and h.Checksum. Options are padded with
// end-of-options bytes to a multiple of 4; more than 40 bytes of options
// (the most the header length field can describe) are cut at 40. The total
// length is written modulo 2^16: the caller keeps packets within 65535
// bytes. Src and Dst must be IPv4 (or IPv4-mapped) addresses; anything else
// is written as 0.0.0.0. FragmentOffset is rounded down to a multiple of 8.
func AppendIPv4(dst []byte, h *IPv4Header, payloadLen int) []byte {
	optLen := ipv4OptionsLen(h)
	hlen := IPv4HeaderLen + optLen
	start := len(dst)
	dst = append(dst, make([]byte, hlen)...)
	b := dst[start:]
	b[0] = 4<<4 | uint8(hlen/4)
	b[1] = h.TOS
	binary.BigEndian.PutUint16(b[2:], uint16(hlen+payloadLen))
	binary.BigEndian.PutUint16(b[4:], h.ID)
	frag := (h.FragmentOffset / 8) & ipv4OffsetMask
	if h.DontFragment {
		frag |= ipv4DontFragment
	}
	if h.MoreFragments {
		frag |= ipv4MoreFragments
	}
	binary.BigEndian.PutUint16(b[6:], frag)
	b[8] = h.TTL
	b[9] = h.Protocol
	s, d := as4(h.Src), as4(h.Dst)
	copy(b[12:16], s[:])
	copy(b[16:20], d[:])
	copy(b[IPv4HeaderLen:hlen], h.Options) // the rest stays 0 (EOL)
	binary.BigEndian.PutUint16(b[10:], Checksum(b))
	return dst
}
