package wire

// THIS FILE IS A CONTRACT STUB: the wire helper replaces the bodies (and
// may move declarations into files by concern), keeping the exported names
// and signatures. Bodies panic until then.

import (
	"errors"
	"net/netip"
)

// ErrChecksum is wrapped by errors that report a bad checksum.
var ErrChecksum = errors.New("bad checksum")

// IP protocol numbers.
const (
	ProtocolICMP   = 1
	ProtocolTCP    = 6
	ProtocolUDP    = 17
	ProtocolICMPv6 = 58
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

// IPv6Header is the validated value of an IPv6 fixed header (RFC 8200).
type IPv6Header struct {
	TrafficClass  uint8
	FlowLabel     uint32
	PayloadLength uint16 // as parsed; AppendIPv6 computes its own
	NextHeader    uint8
	HopLimit      uint8
	Src, Dst      netip.Addr
}

// IPPacket summarises an IPv4 or IPv6 packet for demultiplexing.
type IPPacket struct {
	Version  uint8 // 4 or 6
	Src, Dst netip.Addr
	Protocol uint8 // transport protocol (after IPv6 extension headers)
	TTL      uint8 // TTL or hop limit
	Payload  []byte
}

// ParseIPv4 validates an IPv4 header and returns it with the payload
// (trimmed to the total length).
func ParseIPv4(b []byte) (IPv4Header, []byte, error) { panic("unimplemented") }

// AppendIPv4 appends h, for a payload of payloadLen bytes, to dst.
func AppendIPv4(dst []byte, h *IPv4Header, payloadLen int) []byte { panic("unimplemented") }

// ParseIPv6 validates an IPv6 fixed header and returns it with the payload.
func ParseIPv6(b []byte) (IPv6Header, []byte, error) { panic("unimplemented") }

// AppendIPv6 appends h, for a payload of payloadLen bytes, to dst.
func AppendIPv6(dst []byte, h *IPv6Header, payloadLen int) []byte { panic("unimplemented") }

// ParseIP parses an IPv4 or IPv6 packet by its version nibble.
func ParseIP(b []byte) (IPPacket, error) { panic("unimplemented") }

// ParseTCP validates a TCP header (lengths and options, not the checksum)
// and returns it with the payload.
func ParseTCP(b []byte) (TCPHeader, []byte, error) { panic("unimplemented") }

// ParseTCPOptions validates and decodes a TCP options area.
func ParseTCPOptions(b []byte) (TCPOptions, error) { panic("unimplemented") }

// AppendTCPOptions appends the encoding of o, padded to 4 bytes, in the
// order Linux uses (mss, sackOK, TS, nop, wscale on a SYN).
func AppendTCPOptions(dst []byte, o *TCPOptions) []byte { panic("unimplemented") }

// Len is the encoded length of o, padded to a multiple of 4.
func (o *TCPOptions) Len() int { panic("unimplemented") }

// AppendTCP appends the TCP header h and payload to dst, with the checksum
// computed over the pseudo-header of ep.
func AppendTCP(dst []byte, h *TCPHeader, payload []byte, ep Endpoints) []byte {
	panic("unimplemented")
}

// TCPChecksumValid reports whether seg (header and payload) has a correct
// checksum for the pseudo-header of ep.
func TCPChecksumValid(ep Endpoints, seg []byte) bool { panic("unimplemented") }

// AppendTCPPacket appends a whole IP packet (IPv4 or IPv6 by ep's address
// family) carrying the TCP segment h+payload.
func AppendTCPPacket(dst []byte, ep Endpoints, ttl uint8, h *TCPHeader, payload []byte) []byte {
	panic("unimplemented")
}

// ParseTCPPacket parses an IP packet carrying TCP, checks the TCP
// checksum (an error wrapping ErrChecksum if wrong), and returns its parts.
func ParseTCPPacket(b []byte) (IPPacket, TCPHeader, []byte, error) {
	panic("unimplemented")
}

// String formats f as tcpdump does: "S", "S.", ".", "F.", "R", "P." …
func (f Flags) String() string { panic("unimplemented") }

// String formats o as tcpdump does: "mss 1460,sackOK,TS val 1 ecr 0,wscale 7".
func (o TCPOptions) String() string { panic("unimplemented") }
