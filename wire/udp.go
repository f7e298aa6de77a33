package wire

import "encoding/binary"

// UDPHeaderLen is the length of a UDP header.
const UDPHeaderLen = 8

// UDPHeader is the validated value of a UDP header (RFC 768).
type UDPHeader struct {
	SrcPort, DstPort uint16
	Length           uint16 // as parsed; AppendUDP computes its own
	Checksum         uint16 // as parsed; AppendUDP computes its own
}

// ParseUDP validates a UDP datagram (header and data, the whole IP
// payload) sent between the addresses of ep and returns its header and
// data.
//
// It checks that b holds 8 bytes, that the length field covers the header
// and is within b (bytes past it are ignored) and the checksum over the
// pseudo-header. A zero checksum means "none" over IPv4 (RFC 768) and is
// an error wrapping ErrChecksum over IPv6, where the checksum is mandatory
// (RFC 8200 §8.1). The data aliases b.
func ParseUDP(b []byte, ep Endpoints) (UDPHeader, []byte, error) {
	if len(b) < UDPHeaderLen {
		return UDPHeader{}, nil, errUDPShort
	}
	n := int(binary.BigEndian.Uint16(b[4:]))
	if n < UDPHeaderLen {
		return UDPHeader{}, nil, errUDPLength
	}
	if n > len(b) {
		return UDPHeader{}, nil, errUDPLong
	}
	b = b[:n]
	h := UDPHeader{
		SrcPort:  binary.BigEndian.Uint16(b),
		DstPort:  binary.BigEndian.Uint16(b[2:]),
		Length:   uint16(n),
		Checksum: binary.BigEndian.Uint16(b[6:]),
	}
	v4 := ep.Src.Is4() && ep.Dst.Is4()
	switch {
	case h.Checksum == 0 && v4:
	case h.Checksum == 0:
		return UDPHeader{}, nil, errUDPZeroChecksum
	case fold(sum(pseudoHeaderSum(ep, ProtocolUDP, n), b)) != 0xffff:
		return UDPHeader{}, nil, errUDPChecksum
	}
	return h, b[UDPHeaderLen:], nil
}

// AppendUDP appends the UDP header h and payload to dst, with the length
// and the checksum over the pseudo-header of ep computed (a checksum that
// comes out 0 is sent as 0xffff, RFC 768). h.Length and h.Checksum are
// ignored. The length is written modulo 2^16: the caller keeps datagrams
// within 65535 bytes.
func AppendUDP(dst []byte, h *UDPHeader, payload []byte, ep Endpoints) []byte {
	start := len(dst)
	var hdr [UDPHeaderLen]byte
	binary.BigEndian.PutUint16(hdr[0:], h.SrcPort)
	binary.BigEndian.PutUint16(hdr[2:], h.DstPort)
	binary.BigEndian.PutUint16(hdr[4:], uint16(UDPHeaderLen+len(payload)))
	dst = append(dst, hdr[:]...)
	dst = append(dst, payload...)
	b := dst[start:]
	c := ^fold(sum(pseudoHeaderSum(ep, ProtocolUDP, len(b)), b))
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(b[6:], c)
	return dst
}
