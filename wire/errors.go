package wire

import (
	"errors"
	"fmt"
)

// ErrChecksum is wrapped by errors that report a bad checksum.
var ErrChecksum = errors.New("bad checksum")

// ErrNotTCP is wrapped by the error ParseTCPPacket returns for a well-formed
// IP packet that does not carry TCP.
var ErrNotTCP = errors.New("not a TCP packet")

// ErrFragment is wrapped by the error ParseTCPPacket returns for an IP
// fragment: reassembly is the caller's business (package stack does it).
var ErrFragment = errors.New("IP fragment")

// ErrBadOption is wrapped, with ErrMalformed, by the errors of a malformed
// TCP option. ParseTCPOptions and ParseTCP return what they parsed
// before that option along with such an error, so that a receiver may
// keep the segment and ignore the rest of its options, as Linux does.
var ErrBadOption = errors.New("malformed TCP option")

// The errors below are made once so that rejecting a packet does not
// allocate: a flood of junk must not turn into a flood of garbage.
var (
	errIPv4Short       = malformed("ipv4: shorter than 20 bytes")
	errIPv4Version     = malformed("ipv4: version is not 4")
	errIPv4IHL         = malformed("ipv4: header length below 5 words")
	errIPv4HeaderLen   = malformed("ipv4: header length past the end of the packet")
	errIPv4TotalShort  = malformed("ipv4: total length shorter than the header")
	errIPv4TotalLong   = malformed("ipv4: total length past the end of the packet")
	errIPv4Checksum    = fmt.Errorf("wire: ipv4: header %w", ErrChecksum)
	errIPv6Short       = malformed("ipv6: shorter than 40 bytes")
	errIPv6Version     = malformed("ipv6: version is not 6")
	errIPv6PayloadLong = malformed("ipv6: payload length past the end of the packet")
	errIPv6ExtShort    = malformed("ipv6: extension header runs past the end of the packet")
	errIPv6HopByHop    = malformed("ipv6: hop-by-hop options header not first")
	errIPVersion       = malformed("ip: version is neither 4 nor 6")
	errIPEmpty         = malformed("ip: empty packet")
	errTCPShort        = malformed("tcp: shorter than 20 bytes")
	errTCPDataOffset   = malformed("tcp: data offset below 5 words")
	errTCPDataLong     = malformed("tcp: data offset past the end of the segment")
	errTCPChecksum     = fmt.Errorf("wire: tcp: %w", ErrChecksum)
	errNotTCP          = fmt.Errorf("wire: %w", ErrNotTCP)
	errFragment        = fmt.Errorf("wire: %w", ErrFragment)
	errOptTruncated    = badOption("tcp option: length byte missing")
	errOptLenShort     = badOption("tcp option: length below 2")
	errOptPastEnd      = badOption("tcp option: runs past the end of the options")
	errOptMSS          = badOption("tcp option: mss length is not 4")
	errOptWindowScale  = badOption("tcp option: wscale length is not 3")
	errOptSACKPerm     = badOption("tcp option: sackOK length is not 2")
	errOptSACK         = badOption("tcp option: sack length is not 2+8n with n in 1..4")
	errOptTimestamps   = badOption("tcp option: timestamps length is not 10")
	errICMPShort       = malformed("icmp: shorter than 8 bytes")
	errICMPChecksum    = fmt.Errorf("wire: icmp: %w", ErrChecksum)
	errICMPv6Checksum  = fmt.Errorf("wire: icmpv6: %w", ErrChecksum)
	errQuoteShort      = malformed("icmp quote: shorter than an IP header")
	errQuoteHeader     = malformed("icmp quote: bad IP header")
	errUDPShort        = malformed("udp: shorter than 8 bytes")
	errUDPLength       = malformed("udp: length below 8")
	errUDPLong         = malformed("udp: length past the end of the packet")
	errUDPChecksum     = fmt.Errorf("wire: udp: %w", ErrChecksum)
	errUDPZeroChecksum = fmt.Errorf("wire: udp: zero checksum over IPv6: %w", ErrChecksum)
	errFragmentMTU     = malformed("fragment: MTU leaves no room for 8 bytes of data")
	errFragmentAgain   = malformed("ipv6: cannot fragment a fragment")
	errFragmentNested  = malformed("ipv6: fragment header inside a reassembled packet")
)

func malformed(what string) error {
	return fmt.Errorf("wire: %s: %w", what, ErrMalformed)
}

func badOption(what string) error {
	return fmt.Errorf("wire: %s: %w: %w", what, ErrBadOption, ErrMalformed)
}
