package wire

import (
	"encoding/binary"
	"net/netip"
)

// Quote is what an ICMP error message quotes of the packet that caused
// it: its IP header and the start of its payload (RFC 792 asks for at
// least 8 bytes, enough for the ports; RFC 4443 §2.4 for as much as fits
// in the minimum MTU).
type Quote struct {
	Version  uint8 // 4 or 6
	Src, Dst netip.Addr
	Protocol uint8 // transport protocol (after IPv6 extension headers)
	// Transport is the quoted start of the transport header and its data,
	// cut at the quoted packet's length; nil when the quoted packet is a
	// fragment other than the first, which holds no transport header.
	Transport []byte
}

// ParseQuote parses the packet an ICMP error quotes (the error's Body).
//
// It is lenient where ParseIP is strict, because a quote is usually cut
// short: the quoted length may run past the end of b, and the IPv4 header
// checksum is not checked. It still requires a whole IP header, IPv6
// extension headers within b, and a known version.
func ParseQuote(b []byte) (Quote, error) {
	if len(b) == 0 {
		return Quote{}, errQuoteShort
	}
	switch b[0] >> 4 {
	case 4:
		if len(b) < IPv4HeaderLen {
			return Quote{}, errQuoteShort
		}
		hlen := int(b[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(b[2:]))
		if hlen < IPv4HeaderLen || hlen > len(b) || total < hlen {
			return Quote{}, errQuoteHeader
		}
		q := Quote{
			Version:  4,
			Protocol: b[9],
			Src:      netip.AddrFrom4([4]byte(b[12:16])),
			Dst:      netip.AddrFrom4([4]byte(b[16:20])),
		}
		if binary.BigEndian.Uint16(b[6:])&ipv4OffsetMask == 0 {
			q.Transport = b[hlen:min(total, len(b))]
		}
		return q, nil
	case 6:
		if len(b) < IPv6HeaderLen {
			return Quote{}, errQuoteShort
		}
		p := b[IPv6HeaderLen:]
		if plen := int(binary.BigEndian.Uint16(b[4:])); plen < len(p) {
			p = p[:plen]
		}
		proto, p, frag, err := walkIPv6(b[6], p)
		if err != nil {
			return Quote{}, errQuoteHeader
		}
		q := Quote{
			Version:  6,
			Protocol: proto,
			Src:      netip.AddrFrom16([16]byte(b[8:24])),
			Dst:      netip.AddrFrom16([16]byte(b[24:40])),
		}
		if !frag.ok || frag.offset == 0 {
			q.Transport = p
		}
		return q, nil
	}
	return Quote{}, errQuoteHeader
}

// Ports returns the source and destination ports of a quoted TCP or UDP
// header (its first four bytes); ok is false when fewer are quoted.
func (q *Quote) Ports() (src, dst uint16, ok bool) {
	if len(q.Transport) < 4 {
		return 0, 0, false
	}
	return binary.BigEndian.Uint16(q.Transport), binary.BigEndian.Uint16(q.Transport[2:]), true
}

// TCPSeq returns the sequence number of a quoted TCP header; ok is false
// when fewer than 8 bytes are quoted.
func (q *Quote) TCPSeq() (seq uint32, ok bool) {
	if len(q.Transport) < 8 {
		return 0, false
	}
	return binary.BigEndian.Uint32(q.Transport[4:]), true
}
