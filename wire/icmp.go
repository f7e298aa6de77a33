package wire

import "encoding/binary"

// ICMPHeaderLen is the length of an ICMP or ICMPv6 header: type, code,
// checksum and the 32-bit word whose meaning depends on the type.
const ICMPHeaderLen = 8

// ICMPv4 message types (RFC 792).
const (
	ICMPv4EchoReply        = 0
	ICMPv4DestUnreachable  = 3
	ICMPv4EchoRequest      = 8
	ICMPv4TimeExceeded     = 11
	ICMPv4ParameterProblem = 12
)

// ICMPv4 destination unreachable codes (RFC 792, RFC 1122 §3.2.2.1,
// RFC 1812 §5.2.7.1).
const (
	ICMPv4NetUnreachable          = 0
	ICMPv4HostUnreachable         = 1
	ICMPv4ProtocolUnreachable     = 2
	ICMPv4PortUnreachable         = 3
	ICMPv4FragmentationNeeded     = 4 // the next-hop MTU is in the low 16 bits of Rest (RFC 1191)
	ICMPv4SourceRouteFailed       = 5
	ICMPv4NetUnknown              = 6
	ICMPv4HostUnknown             = 7
	ICMPv4HostIsolated            = 8
	ICMPv4NetProhibited           = 9
	ICMPv4HostProhibited          = 10
	ICMPv4NetUnreachableForTOS    = 11
	ICMPv4HostUnreachableForTOS   = 12
	ICMPv4AdminProhibited         = 13
	ICMPv4HostPrecedenceViolation = 14
	ICMPv4PrecedenceCutoff        = 15
)

// ICMPv4 time exceeded codes (RFC 792).
const (
	ICMPv4TTLExceeded            = 0
	ICMPv4ReassemblyTimeExceeded = 1
)

// ICMPv6 message types (RFC 4443).
const (
	ICMPv6DestUnreachable  = 1
	ICMPv6PacketTooBig     = 2 // the MTU is Rest
	ICMPv6TimeExceeded     = 3
	ICMPv6ParameterProblem = 4
	ICMPv6EchoRequest      = 128
	ICMPv6EchoReply        = 129
)

// ICMPv6 destination unreachable codes (RFC 4443 §3.1).
const (
	ICMPv6NoRoute            = 0
	ICMPv6AdminProhibited    = 1
	ICMPv6BeyondScope        = 2
	ICMPv6AddressUnreachable = 3
	ICMPv6PortUnreachable    = 4
	ICMPv6SourcePolicy       = 5
	ICMPv6RejectRoute        = 6
)

// ICMPv6 time exceeded codes (RFC 4443 §3.3).
const (
	ICMPv6HopLimitExceeded       = 0
	ICMPv6ReassemblyTimeExceeded = 1
)

// ICMPMessage is the validated value of an ICMP (RFC 792) or ICMPv6
// (RFC 4443) message. The two share a layout; only the checksum differs
// (ICMPv6 covers a pseudo-header).
type ICMPMessage struct {
	Type, Code uint8
	Checksum   uint16 // as parsed; the Append functions compute their own
	// Rest is the header's second 32-bit word. Echo messages hold the
	// identifier in its high 16 bits and the sequence number in its low
	// 16 (see NewICMPEcho); an IPv4 fragmentation-needed message the
	// next-hop MTU in its low 16 bits; an ICMPv6 packet-too-big message
	// the MTU; parameter problem messages the pointer; most errors zero.
	Rest uint32
	// Body is the echo data, or for an error the quoted packet (see
	// ParseQuote). It aliases the parsed buffer.
	Body []byte
}

// NewICMPEcho returns an echo request or reply (typ) with the given
// identifier, sequence number and data.
func NewICMPEcho(typ uint8, id, seq uint16, data []byte) ICMPMessage {
	return ICMPMessage{Type: typ, Rest: uint32(id)<<16 | uint32(seq), Body: data}
}

// EchoID is the identifier of an echo message (the high half of Rest).
func (m *ICMPMessage) EchoID() uint16 { return uint16(m.Rest >> 16) }

// EchoSeq is the sequence number of an echo message (the low half of Rest).
func (m *ICMPMessage) EchoSeq() uint16 { return uint16(m.Rest) }

// IsICMPv4Error reports whether an ICMPv4 message of type typ is an error
// message, one that quotes the packet that caused it.
func IsICMPv4Error(typ uint8) bool {
	switch typ {
	case ICMPv4DestUnreachable, 4 /* source quench */, 5 /* redirect */, ICMPv4TimeExceeded, ICMPv4ParameterProblem:
		return true
	}
	return false
}

// IsICMPv6Error reports whether an ICMPv6 message of type typ is an error
// message: types 0 to 127 (RFC 4443 §2.1).
func IsICMPv6Error(typ uint8) bool { return typ < 128 }

// ParseICMPv4 validates an ICMPv4 message (the whole IP payload): at
// least 8 bytes and a correct checksum.
func ParseICMPv4(b []byte) (ICMPMessage, error) {
	if len(b) < ICMPHeaderLen {
		return ICMPMessage{}, errICMPShort
	}
	if fold(sum(0, b)) != 0xffff {
		return ICMPMessage{}, errICMPChecksum
	}
	return parseICMP(b), nil
}

// ParseICMPv6 validates an ICMPv6 message (the upper-layer payload) sent
// between the addresses of ep: at least 8 bytes and a correct checksum
// over the pseudo-header (RFC 4443 §2.3).
func ParseICMPv6(b []byte, ep Endpoints) (ICMPMessage, error) {
	if len(b) < ICMPHeaderLen {
		return ICMPMessage{}, errICMPShort
	}
	if fold(sum(pseudoHeaderSum6(ep, ProtocolICMPv6, len(b)), b)) != 0xffff {
		return ICMPMessage{}, errICMPv6Checksum
	}
	return parseICMP(b), nil
}

func parseICMP(b []byte) ICMPMessage {
	return ICMPMessage{
		Type:     b[0],
		Code:     b[1],
		Checksum: binary.BigEndian.Uint16(b[2:]),
		Rest:     binary.BigEndian.Uint32(b[4:]),
		Body:     b[ICMPHeaderLen:],
	}
}

// AppendICMPv4 appends the ICMPv4 message m, checksum computed, to dst.
func AppendICMPv4(dst []byte, m *ICMPMessage) []byte {
	start := len(dst)
	dst = appendICMP(dst, m)
	b := dst[start:]
	binary.BigEndian.PutUint16(b[2:], Checksum(b))
	return dst
}

// AppendICMPv6 appends the ICMPv6 message m to dst, with the checksum
// over the pseudo-header of ep (always the IPv6 form, IPv4 addresses
// mapped).
func AppendICMPv6(dst []byte, m *ICMPMessage, ep Endpoints) []byte {
	start := len(dst)
	dst = appendICMP(dst, m)
	b := dst[start:]
	binary.BigEndian.PutUint16(b[2:], ^fold(sum(pseudoHeaderSum6(ep, ProtocolICMPv6, len(b)), b)))
	return dst
}

func appendICMP(dst []byte, m *ICMPMessage) []byte {
	var h [ICMPHeaderLen]byte
	h[0], h[1] = m.Type, m.Code
	binary.BigEndian.PutUint32(h[4:], m.Rest)
	dst = append(dst, h[:]...)
	return append(dst, m.Body...)
}

// pseudoHeaderSum6 is the IPv6 pseudo-header sum whatever the family of
// ep's addresses: ICMPv6 has no IPv4 form.
func pseudoHeaderSum6(ep Endpoints, proto uint8, length int) uint64 {
	s, d := as16(ep.Src), as16(ep.Dst)
	acc := uint64(proto) + uint64(uint32(length))
	acc = add(acc, binary.BigEndian.Uint64(s[:8]))
	acc = add(acc, binary.BigEndian.Uint64(s[8:]))
	acc = add(acc, binary.BigEndian.Uint64(d[:8]))
	acc = add(acc, binary.BigEndian.Uint64(d[8:]))
	return acc
}
