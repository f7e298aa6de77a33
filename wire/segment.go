package wire

import (
	"encoding/binary"
	"errors"
)

// TCPHeaderLen is the length of a TCP header without options.
const TCPHeaderLen = 20

// ParseTCP validates a TCP header (lengths and options, not the checksum)
// and returns it with the payload.
//
// It checks that b holds 20 bytes and that the data offset is at least 5
// words and within b, then parses the options with ParseTCPOptions. The
// reserved bits and the AE bit (RFC 9768) are ignored. The payload aliases b.
//
// A malformed option gives an error wrapping ErrMalformed and
// ErrBadOption, returned with the header (holding the options before the
// malformed one) and the payload: a receiver may process the segment all
// the same, as Linux does. Every other error comes with zero values.
func ParseTCP(b []byte) (TCPHeader, []byte, error) {
	if len(b) < TCPHeaderLen {
		return TCPHeader{}, nil, errTCPShort
	}
	off := int(b[12]>>4) * 4
	if off < TCPHeaderLen {
		return TCPHeader{}, nil, errTCPDataOffset
	}
	if off > len(b) {
		return TCPHeader{}, nil, errTCPDataLong
	}
	opts, err := ParseTCPOptions(b[TCPHeaderLen:off])
	if err != nil && !errors.Is(err, ErrBadOption) {
		return TCPHeader{}, nil, err
	}
	h := TCPHeader{
		SrcPort:  binary.BigEndian.Uint16(b[0:]),
		DstPort:  binary.BigEndian.Uint16(b[2:]),
		Seq:      binary.BigEndian.Uint32(b[4:]),
		Ack:      binary.BigEndian.Uint32(b[8:]),
		Flags:    Flags(b[13]),
		Window:   binary.BigEndian.Uint16(b[14:]),
		Checksum: binary.BigEndian.Uint16(b[16:]),
		Urgent:   binary.BigEndian.Uint16(b[18:]),
		Options:  opts,
	}
	return h, b[off:], err
}

// Len is the length of the header AppendTCP writes for h: 20 bytes plus
// h.Options.Len().
func (h *TCPHeader) Len() int {
	return TCPHeaderLen + h.Options.Len()
}

// AppendTCP appends the TCP header h and payload to dst, with the checksum
// computed over the pseudo-header of ep.
//
// The options are encoded by AppendTCPOptions and the data offset derived
// from them; h.Checksum is ignored. The pseudo-header is IPv4 when both
// addresses of ep are IPv4 and IPv6 otherwise, as in AppendTCPPacket.
// It does not allocate when dst has room for h.Len()+len(payload) bytes.
func AppendTCP(dst []byte, h *TCPHeader, payload []byte, ep Endpoints) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, TCPHeaderLen)...)
	dst = AppendTCPOptions(dst, &h.Options)
	return finishTCP(dst, start, h, payload, ep)
}

// AppendTCPWithOptions is AppendTCP with the options area given as raw
// bytes (see AppendTCPOptionList) instead of h.Options, for writing
// layouts AppendTCPOptions would not. opts is padded with EOL bytes to a
// multiple of 4 and cut at 40 bytes; it is not validated.
func AppendTCPWithOptions(dst []byte, h *TCPHeader, opts []byte, payload []byte, ep Endpoints) []byte {
	opts = opts[:min(len(opts), MaxOptionsLen)]
	start := len(dst)
	dst = append(dst, make([]byte, TCPHeaderLen)...)
	dst = append(dst, opts...)
	dst = append(dst, make([]byte, -len(opts)&3)...)
	return finishTCP(dst, start, h, payload, ep)
}

// finishTCP fills in the fixed header at dst[start:], whose options have
// been written after it, appends the payload and sets the checksum.
func finishTCP(dst []byte, start int, h *TCPHeader, payload []byte, ep Endpoints) []byte {
	hlen := len(dst) - start
	dst = append(dst, payload...)
	b := dst[start:]
	binary.BigEndian.PutUint16(b[0:], h.SrcPort)
	binary.BigEndian.PutUint16(b[2:], h.DstPort)
	binary.BigEndian.PutUint32(b[4:], h.Seq)
	binary.BigEndian.PutUint32(b[8:], h.Ack)
	b[12] = uint8(hlen/4) << 4
	b[13] = uint8(h.Flags)
	binary.BigEndian.PutUint16(b[14:], h.Window)
	binary.BigEndian.PutUint16(b[16:], 0)
	binary.BigEndian.PutUint16(b[18:], h.Urgent)
	binary.BigEndian.PutUint16(b[16:], ^fold(sum(pseudoHeaderSum(ep, ProtocolTCP, len(b)), b)))
	return dst
}

// TCPChecksumValid reports whether seg (header and payload) has a correct
// checksum for the pseudo-header of ep.
func TCPChecksumValid(ep Endpoints, seg []byte) bool {
	return fold(sum(pseudoHeaderSum(ep, ProtocolTCP, len(seg)), seg)) == 0xffff
}
