package wire

import "net/netip"

// IP protocol numbers.
const (
	ProtocolICMP   = 1
	ProtocolTCP    = 6
	ProtocolUDP    = 17
	ProtocolICMPv6 = 58
)

// IPPacket summarises an IPv4 or IPv6 packet for demultiplexing.
type IPPacket struct {
	Version  uint8 // 4 or 6
	Src, Dst netip.Addr
	Protocol uint8 // transport protocol (after IPv6 extension headers)
	TTL      uint8 // TTL or hop limit
	Payload  []byte
	// Fragment is set for a piece of a fragmented packet: an IPv4 packet
	// with MF set or a non-zero offset, or an IPv6 packet with a fragment
	// header that is not atomic. Protocol is then the fragmented packet's
	// protocol and Payload the fragment's data, which only starts with the
	// transport header for the first fragment.
	Fragment bool
	// FragmentOffset (in bytes), MoreFragments and ID describe a
	// fragment (they are zero when Fragment is false): ID is the IPv4
	// identification or the IPv6 fragment header's identification.
	FragmentOffset uint16
	MoreFragments  bool
	ID             uint32
	// ECN is the packet's ECN field (RFC 3168 §5): the low two bits of
	// the IPv4 TOS or IPv6 traffic class byte, one of the ECN* constants.
	ECN uint8
}

// The values of the ECN field of the IP header (RFC 3168 §5).
const (
	ECNNotECT uint8 = 0 // not ECN-capable transport
	ECNECT1   uint8 = 1 // ECN-capable transport, ECT(1)
	ECNECT0   uint8 = 2 // ECN-capable transport, ECT(0)
	ECNCE     uint8 = 3 // congestion experienced
)

// ParseIP parses an IPv4 or IPv6 packet by its version nibble.
//
// For IPv4 the protocol is the header's. For IPv6 the extension headers
// (hop-by-hop, routing, fragment, destination options) are walked to find
// the transport protocol and its payload; the walk stops at any other next
// header, and "no next header" (59) gives Protocol 59 and an empty payload.
// Fragments are returned as they are, with Fragment set: reassembly, or
// dropping them, is the caller's decision.
func ParseIP(b []byte) (IPPacket, error) {
	if len(b) == 0 {
		return IPPacket{}, errIPEmpty
	}
	switch b[0] >> 4 {
	case 4:
		h, payload, err := ParseIPv4(b)
		if err != nil {
			return IPPacket{}, err
		}
		ip := IPPacket{
			Version:  4,
			Src:      h.Src,
			Dst:      h.Dst,
			Protocol: h.Protocol,
			TTL:      h.TTL,
			Payload:  payload,
			ECN:      h.TOS & 3,
		}
		if h.IsFragment() {
			ip.Fragment = true
			ip.FragmentOffset = h.FragmentOffset
			ip.MoreFragments = h.MoreFragments
			ip.ID = uint32(h.ID)
		}
		return ip, nil
	case 6:
		h, payload, err := ParseIPv6(b)
		if err != nil {
			return IPPacket{}, err
		}
		proto, payload, frag, err := walkIPv6(h.NextHeader, payload)
		if err != nil {
			return IPPacket{}, err
		}
		return IPPacket{
			Version:        6,
			Src:            h.Src,
			Dst:            h.Dst,
			Protocol:       proto,
			TTL:            h.HopLimit,
			Payload:        payload,
			Fragment:       frag.ok,
			FragmentOffset: frag.offset,
			MoreFragments:  frag.more,
			ID:             frag.id,
			ECN:            h.TrafficClass & 3,
		}, nil
	}
	return IPPacket{}, errIPVersion
}
