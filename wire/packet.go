package wire

// AppendTCPPacket appends a whole IP packet (IPv4 or IPv6 by ep's address
// family) carrying the TCP segment h+payload.
//
// The packet is IPv4, with DF set and ID 0, when both addresses of ep are
// IPv4, and IPv6 (traffic class and flow label 0) otherwise, IPv4 addresses
// then being written IPv4-mapped. ttl is the TTL or hop limit. It does not
// allocate when dst has room for the packet.
func AppendTCPPacket(dst []byte, ep Endpoints, ttl uint8, h *TCPHeader, payload []byte) []byte {
	segLen := h.Len() + len(payload)
	if ep.Src.Is4() && ep.Dst.Is4() {
		ip := IPv4Header{
			DontFragment: true,
			TTL:          ttl,
			Protocol:     ProtocolTCP,
			Src:          ep.Src,
			Dst:          ep.Dst,
		}
		dst = AppendIPv4(dst, &ip, segLen)
	} else {
		ip := IPv6Header{
			NextHeader: ProtocolTCP,
			HopLimit:   ttl,
			Src:        ep.Src,
			Dst:        ep.Dst,
		}
		dst = AppendIPv6(dst, &ip, segLen)
	}
	return AppendTCP(dst, h, payload, ep)
}

// ParseTCPPacket parses an IP packet carrying TCP, checks the TCP
// checksum (an error wrapping ErrChecksum if wrong), and returns its parts.
//
// Besides the errors of ParseIP and ParseTCP (wrapping ErrMalformed), it
// returns an error wrapping ErrNotTCP for a packet of another protocol and
// one wrapping ErrFragment for a fragment. The checksum is checked after
// the 20-byte minimum length and before the options are parsed. On error
// the other results are zero. The payload aliases b.
//
// For IPv6 the pseudo-header uses the fixed header's destination even
// when a routing header names another final destination (RFC 8200 §8.1):
// synack neither sends nor expects routing headers.
func ParseTCPPacket(b []byte) (IPPacket, TCPHeader, []byte, error) {
	ip, err := ParseIP(b)
	if err != nil {
		return IPPacket{}, TCPHeader{}, nil, err
	}
	if ip.Protocol != ProtocolTCP {
		return IPPacket{}, TCPHeader{}, nil, errNotTCP
	}
	if ip.Fragment {
		return IPPacket{}, TCPHeader{}, nil, errFragment
	}
	if len(ip.Payload) < TCPHeaderLen {
		return IPPacket{}, TCPHeader{}, nil, errTCPShort
	}
	if !TCPChecksumValid(Endpoints{Src: ip.Src, Dst: ip.Dst}, ip.Payload) {
		return IPPacket{}, TCPHeader{}, nil, errTCPChecksum
	}
	h, payload, err := ParseTCP(ip.Payload)
	if err != nil {
		return IPPacket{}, TCPHeader{}, nil, err
	}
	return ip, h, payload, nil
}
