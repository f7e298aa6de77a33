package tun

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/synack/synack/wire"
)

// Segmentation offload in software: splitting the TCP and UDP super-segments
// the kernel hands over (TSO/USO) into packets of one MSS, completing the
// partial checksums it leaves (NEEDS_CSUM), and joining runs of consecutive
// TCP segments the stack writes into one super-segment the kernel takes
// whole (GSO).

// Offsets of the fields rewritten per segment.
const (
	ipv4TotalLen = 2
	ipv4ID       = 4
	ipv4Frag     = 6
	ipv4Proto    = 9
	ipv4Csum     = 10
	ipv6PayLen   = 4
	ipv6Next     = 6
	tcpSeq       = 4
	tcpDataOff   = 12
	tcpFlags     = 13
	tcpCsum      = 16
	udpLen       = 4
	udpCsum      = 6
)

// TCP flags the segmentation treats specially.
const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpPSH = 0x08
	tcpACK = 0x10
	tcpURG = 0x20
	tcpCWR = 0x80
)

const (
	protoTCP = 6
	protoUDP = 17
)

// maxIPLen is the largest IP packet a super-segment may be: IPv4's total
// length field (IPv6's payload length would allow 40 more bytes; both are
// kept to the same bound).
const maxIPLen = 65535

// maxGSOSegs bounds the packets one super-segment joins (and so the
// iovecs of its write, well under the kernel's 1024).
const maxGSOSegs = 256

var (
	errGSOShort   = errors.New("tun: super-segment too short for its headers")
	errGSOVersion = errors.New("tun: super-segment is neither IPv4 nor IPv6")
	errGSOProto   = errors.New("tun: super-segment's protocol does not match its GSO type")
	errGSOSize    = errors.New("tun: super-segment with a zero segment size")
	errGSOLen     = errors.New("tun: super-segment's IP length disagrees with its size")
	errGSOType    = errors.New("tun: unsupported GSO type")
	errCsumStart  = errors.New("tun: checksum start or offset outside the packet")
)

// csumSum is the one's-complement sum of b (not complemented). b must
// start at an even offset of what is being summed.
func csumSum(b []byte) uint16 { return ^wire.Checksum(b) }

// csumAdd adds two one's-complement sums.
func csumAdd(a, b uint16) uint16 {
	s := uint32(a) + uint32(b)
	return uint16(s + s>>16)
}

// pseudoSum is the sum of the pseudo-header of a transport packet of
// l4len bytes and protocol proto carried by the IP packet pkt (version
// known to be 4 or 6 and its header present).
func pseudoSum(pkt []byte, proto uint8, l4len int) uint16 {
	var s uint16
	if pkt[0]>>4 == 4 {
		s = csumSum(pkt[12:20])
	} else {
		s = csumSum(pkt[8:40])
	}
	return csumAdd(csumAdd(s, uint16(proto)), uint16(l4len))
}

// ipHeader says where pkt's transport header starts and which protocol it
// is, for a super-segment: IPv4 without fragmentation, or IPv6 whose fixed
// header is followed directly by the transport header (Linux's TCP and
// UDP send no extension headers of their own).
func ipHeader(pkt []byte) (l4off int, proto uint8, err error) {
	if len(pkt) < 1 {
		return 0, 0, errGSOShort
	}
	switch pkt[0] >> 4 {
	case 4:
		if len(pkt) < 20 {
			return 0, 0, errGSOShort
		}
		ihl := int(pkt[0]&0x0f) * 4
		if ihl < 20 || ihl > len(pkt) {
			return 0, 0, errGSOShort
		}
		if binary.BigEndian.Uint16(pkt[ipv4Frag:])&0x3fff != 0 {
			return 0, 0, fmt.Errorf("tun: super-segment is an IPv4 fragment: %w", errGSOProto)
		}
		if int(binary.BigEndian.Uint16(pkt[ipv4TotalLen:])) != len(pkt) {
			return 0, 0, errGSOLen
		}
		return ihl, pkt[ipv4Proto], nil
	case 6:
		if len(pkt) < 40 {
			return 0, 0, errGSOShort
		}
		if int(binary.BigEndian.Uint16(pkt[ipv6PayLen:]))+40 != len(pkt) {
			return 0, 0, errGSOLen
		}
		return 40, pkt[ipv6Next], nil
	}
	return 0, 0, errGSOVersion
}

// isTCP reports whether the IP packet pkt carries TCP (directly after the
// fixed header, for IPv6).
func isTCP(pkt []byte) bool {
	switch {
	case len(pkt) >= 20 && pkt[0]>>4 == 4:
		return pkt[ipv4Proto] == protoTCP
	case len(pkt) >= 40 && pkt[0]>>4 == 6:
		return pkt[ipv6Next] == protoTCP
	}
	return false
}

// setIPLen writes the length of an IP packet of n bytes into its header
// hdr (and, for IPv4, the identification id and the header checksum).
func setIPLen(hdr []byte, l4off, n int, id uint16) {
	if hdr[0]>>4 == 4 {
		binary.BigEndian.PutUint16(hdr[ipv4TotalLen:], uint16(n))
		binary.BigEndian.PutUint16(hdr[ipv4ID:], id)
		hdr[ipv4Csum], hdr[ipv4Csum+1] = 0, 0
		binary.BigEndian.PutUint16(hdr[ipv4Csum:], wire.Checksum(hdr[:l4off]))
		return
	}
	binary.BigEndian.PutUint16(hdr[ipv6PayLen:], uint16(n-40))
}

// completeCsum finishes the partial checksum of pkt that h leaves to be
// computed (NEEDS_CSUM): the field at csum_start+csum_offset holds the
// pseudo-header's sum, so the complemented sum from csum_start to the end
// is the checksum, and goes there. A UDP checksum that comes out zero is
// sent as all ones (zero means "none").
func completeCsum(h vnetHdr, pkt []byte) error {
	start, at := int(h.csumStart), int(h.csumStart)+int(h.csumOffset)
	if start >= len(pkt) || at+2 > len(pkt) {
		return errCsumStart
	}
	c := wire.Checksum(pkt[start:])
	if c == 0 && h.csumOffset == udpCsum {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(pkt[at:], c)
	return nil
}

// splitGSO cuts the super-segment pkt that h describes (GSO TCPV4, TCPV6
// or UDP_L4) into packets of at most h.gsoSize bytes of payload, each with
// its own IP length and identification, TCP sequence number and flags (FIN
// and PSH on the last only, CWR on the first only) or UDP length, and,
// when csum is set, complete IP and transport checksums (otherwise the
// transport checksum is left as it is). Each packet is built in scratch
// (grown if needed, and returned for reuse) and passed to fn, which must
// not keep it. pkt is not modified. A malformed super-segment is reported
// before fn sees any of it.
func splitGSO(h vnetHdr, pkt, scratch []byte, csum bool, fn func([]byte)) ([]byte, error) {
	l4off, proto, err := ipHeader(pkt)
	if err != nil {
		return scratch, err
	}
	var hdrLen int
	switch h.gsoType &^ gsoECN {
	case gsoTCPv4, gsoTCPv6:
		want := 4
		if h.gsoType&^gsoECN == gsoTCPv6 {
			want = 6
		}
		if int(pkt[0]>>4) != want || proto != protoTCP {
			return scratch, errGSOProto
		}
		if len(pkt) < l4off+20 {
			return scratch, errGSOShort
		}
		hdrLen = l4off + int(pkt[l4off+tcpDataOff]>>4)*4
		if hdrLen < l4off+20 || hdrLen > len(pkt) {
			return scratch, errGSOShort
		}
	case gsoUDPL4:
		if proto != protoUDP {
			return scratch, errGSOProto
		}
		hdrLen = l4off + 8
		if hdrLen > len(pkt) {
			return scratch, errGSOShort
		}
	default:
		return scratch, fmt.Errorf("%w %#x", errGSOType, h.gsoType)
	}
	mss := int(h.gsoSize)
	if mss == 0 {
		return scratch, errGSOSize
	}
	if cap(scratch) < hdrLen+mss {
		scratch = make([]byte, 0, hdrLen+mss)
	}
	payload := pkt[hdrLen:]
	var id uint16
	if pkt[0]>>4 == 4 {
		id = binary.BigEndian.Uint16(pkt[ipv4ID:])
	}
	var seq uint32
	var flags byte
	if proto == protoTCP {
		seq = binary.BigEndian.Uint32(pkt[l4off+tcpSeq:])
		flags = pkt[l4off+tcpFlags]
	}
	for i := 0; i == 0 || len(payload) > 0; i++ {
		n := min(mss, len(payload))
		seg := append(append(scratch[:0], pkt[:hdrLen]...), payload[:n]...)
		payload = payload[n:]
		last := len(payload) == 0
		setIPLen(seg, l4off, len(seg), id+uint16(i))
		l4 := seg[l4off:]
		if proto == protoTCP {
			binary.BigEndian.PutUint32(l4[tcpSeq:], seq+uint32(i*mss))
			f := flags
			if !last {
				f &^= tcpFIN | tcpPSH
			}
			if i > 0 {
				f &^= tcpCWR
			}
			l4[tcpFlags] = f
			if csum {
				l4[tcpCsum], l4[tcpCsum+1] = 0, 0
				s := csumAdd(pseudoSum(seg, protoTCP, len(l4)), csumSum(l4))
				binary.BigEndian.PutUint16(l4[tcpCsum:], ^s)
			}
		} else {
			binary.BigEndian.PutUint16(l4[udpLen:], uint16(len(l4)))
			if csum {
				l4[udpCsum], l4[udpCsum+1] = 0, 0
				c := ^csumAdd(pseudoSum(seg, protoUDP, len(l4)), csumSum(l4))
				if c == 0 {
					c = 0xffff
				}
				binary.BigEndian.PutUint16(l4[udpCsum:], c)
			}
		}
		fn(seg)
		scratch = seg
	}
	return scratch, nil
}

// tcpInfo is what coalescing needs of one outgoing TCP packet.
type tcpInfo struct {
	l4off, hdrLen int
	seq           uint32
	flags         byte
}

// parseTCPOut reads pkt as a TCP packet the stack built that may start
// or join a super-segment: IPv4 (not a fragment) or IPv6 with TCP directly
// after the fixed header, lengths consistent, carrying data, and no flag
// but ACK, PSH and ECE (a CWR segment goes alone: CWR belongs on the first
// piece of a segmentation only, and the header written here never sets
// the GSO type's ECN bit).
func parseTCPOut(pkt []byte) (tcpInfo, bool) {
	l4off, proto, err := ipHeader(pkt)
	if err != nil || proto != protoTCP || len(pkt) < l4off+20 {
		return tcpInfo{}, false
	}
	hdrLen := l4off + int(pkt[l4off+tcpDataOff]>>4)*4
	flags := pkt[l4off+tcpFlags]
	if hdrLen < l4off+20 || hdrLen >= len(pkt) ||
		flags&tcpACK == 0 || flags&(tcpSYN|tcpFIN|tcpRST|tcpURG|tcpCWR) != 0 {
		return tcpInfo{}, false
	}
	return tcpInfo{l4off: l4off, hdrLen: hdrLen, seq: binary.BigEndian.Uint32(pkt[l4off+tcpSeq:]), flags: flags}, true
}

// sameHeaders reports whether a and b's headers (hdrLen bytes, the
// transport header at l4off) agree in everything but what segmentation
// rewrites: the IP length, identification and checksum, the sequence
// number, PSH and the TCP checksum.
func sameHeaders(a, b []byte, l4off, hdrLen int) bool {
	if a[0]>>4 == 4 {
		if string(a[:ipv4TotalLen]) != string(b[:ipv4TotalLen]) ||
			string(a[ipv4Frag:ipv4Csum]) != string(b[ipv4Frag:ipv4Csum]) ||
			string(a[ipv4Csum+2:l4off]) != string(b[ipv4Csum+2:l4off]) {
			return false
		}
	} else if string(a[:ipv6PayLen]) != string(b[:ipv6PayLen]) ||
		string(a[ipv6PayLen+2:l4off]) != string(b[ipv6PayLen+2:l4off]) {
		return false
	}
	ta, tb := a[l4off:hdrLen], b[l4off:hdrLen]
	return string(ta[:tcpSeq]) == string(tb[:tcpSeq]) &&
		string(ta[tcpSeq+4:tcpFlags]) == string(tb[tcpSeq+4:tcpFlags]) &&
		ta[tcpFlags]&^tcpPSH == tb[tcpFlags]&^tcpPSH &&
		string(ta[tcpFlags+1:tcpCsum]) == string(tb[tcpFlags+1:tcpCsum]) &&
		string(ta[tcpCsum+2:]) == string(tb[tcpCsum+2:])
}

// gsoRun returns how many packets from the start of pkts can travel as
// one TCP super-segment (at least 1), and the first one's parse: packets
// of one flow with identical headers but for what segmentation rewrites,
// consecutive sequence numbers, every payload but the last exactly as
// long as the first and the last no longer, PSH only on the last, at most
// maxIPLen bytes in all.
func gsoRun(pkts [][]byte) (int, tcpInfo) {
	p0 := pkts[0]
	t0, ok := parseTCPOut(p0)
	if !ok || t0.flags&tcpPSH != 0 {
		return 1, t0
	}
	size := len(p0) - t0.hdrLen
	total := len(p0)
	next := t0.seq + uint32(size)
	n := 1
	for _, p := range pkts[1:min(len(pkts), maxGSOSegs)] {
		if len(p) <= t0.hdrLen || len(p)-t0.hdrLen > size || total+len(p)-t0.hdrLen > maxIPLen {
			break
		}
		if p[0] != p0[0] || !sameHeaders(p0, p, t0.l4off, t0.hdrLen) ||
			binary.BigEndian.Uint32(p[t0.l4off+tcpSeq:]) != next {
			break
		}
		// The IP length must say what the packet is (sameHeaders skips it).
		if l4off, proto, err := ipHeader(p); err != nil || l4off != t0.l4off || proto != protoTCP {
			break
		}
		n++
		total += len(p) - t0.hdrLen
		next += uint32(len(p) - t0.hdrLen)
		if len(p)-t0.hdrLen < size || p[t0.l4off+tcpFlags]&tcpPSH != 0 {
			break
		}
	}
	return n, t0
}

// appendGSOHeader appends to dst the virtio-net header and the IP and TCP
// headers of the super-segment joining pkts (a run gsoRun accepted, of
// more than one packet, t0 its first packet's parse): the payloads of
// pkts, in order, follow them on the wire. The IP length covers the whole,
// PSH is the last packet's, and the TCP checksum field holds the
// pseudo-header's sum for the kernel to complete (NEEDS_CSUM).
func appendGSOHeader(dst []byte, pkts [][]byte, t0 tcpInfo) []byte {
	p0 := pkts[0]
	total := t0.hdrLen
	for _, p := range pkts {
		total += len(p) - t0.hdrLen
	}
	h := vnetHdr{
		flags:      vnetNeedsCsum,
		gsoType:    gsoTCPv4,
		hdrLen:     uint16(t0.hdrLen),
		gsoSize:    uint16(len(p0) - t0.hdrLen),
		csumStart:  uint16(t0.l4off),
		csumOffset: tcpCsum,
	}
	if p0[0]>>4 == 6 {
		h.gsoType = gsoTCPv6
	}
	start := len(dst)
	dst = append(dst, make([]byte, vnetHdrLen)...)
	h.encode(dst[start:])
	hs := len(dst)
	dst = append(dst, p0[:t0.hdrLen]...)
	hdr := dst[hs:]
	var id uint16
	if p0[0]>>4 == 4 {
		id = binary.BigEndian.Uint16(p0[ipv4ID:])
	}
	setIPLen(hdr, t0.l4off, total, id)
	l4 := hdr[t0.l4off:]
	l4[tcpFlags] |= pkts[len(pkts)-1][t0.l4off+tcpFlags] & tcpPSH
	binary.BigEndian.PutUint16(l4[tcpCsum:], pseudoSum(hdr, protoTCP, total-t0.l4off))
	return dst
}

// partialHeader prepares the TCP packet pkt, whose checksum the stack left
// to offload, for a device with offloads: it writes the pseudo-header's
// sum into pkt's checksum field and returns the virtio-net header telling
// the kernel to complete it (NEEDS_CSUM) and, when segSize > 0 and the
// payload is longer, to treat pkt as a super-segment of segments of
// segSize payload bytes (GSO TCPV4 or TCPV6). It reports false, leaving
// pkt alone, for a packet that is not TCP over IPv4 or IPv6 as a stack
// writes it.
func partialHeader(pkt []byte, segSize int) (vnetHdr, bool) {
	l4off, proto, err := ipHeader(pkt)
	if err != nil || proto != protoTCP || len(pkt) < l4off+20 {
		return vnetHdr{}, false
	}
	hdrLen := l4off + int(pkt[l4off+tcpDataOff]>>4)*4
	if hdrLen < l4off+20 || hdrLen > len(pkt) {
		return vnetHdr{}, false
	}
	binary.BigEndian.PutUint16(pkt[l4off+tcpCsum:], pseudoSum(pkt, protoTCP, len(pkt)-l4off))
	h := vnetHdr{flags: vnetNeedsCsum, hdrLen: uint16(hdrLen), csumStart: uint16(l4off), csumOffset: tcpCsum}
	if segSize > 0 && len(pkt)-hdrLen > segSize {
		h.gsoType, h.gsoSize = gsoTCPv4, uint16(segSize)
		if pkt[0]>>4 == 6 {
			h.gsoType = gsoTCPv6
		}
	}
	return h, true
}
