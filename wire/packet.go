package wire

// AppendTCPPacket appends a whole IP packet (IPv4 or IPv6 by ep's address
// family) carrying the TCP segment h+payload, with the ECN field Not-ECT.
func AppendTCPPacket(dst []byte, ep Endpoints, ttl uint8, h *TCPHeader, payload []byte) []byte {
	return AppendTCPPacketECN(dst, ep, ttl, ECNNotECT, h, payload)
}

// AppendTCPPacketECN is AppendTCPPacket with the IP header's ECN field set
// to ecn (one of the ECN* constants; only its low two bits are used).
func AppendTCPPacketECN(dst []byte, ep Endpoints, ttl, ecn uint8, h *TCPHeader, payload []byte) []byte {
	segLen := h.Len() + len(payload)
	if ep.Src.Is4() && ep.Dst.Is4() {
		ip := IPv4Header{
			TOS:          ecn & 3,
			DontFragment: true,
			TTL:          ttl,
			Protocol:     ProtocolTCP,
			Src:          ep.Src,
			Dst:          ep.Dst,
		}
		dst = AppendIPv4(dst, &ip, segLen)
	} else {
		ip := IPv6Header{
			TrafficClass: ecn & 3,
			NextHeader:   ProtocolTCP,
			HopLimit:     ttl,
			Src:          ep.Src,
			Dst:          ep.Dst,
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
