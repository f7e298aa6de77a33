package main

import (
	"encoding/binary"
	"slices"
)

// The transfer watches the data segments on the wire, so that its counts
// do not depend on what the engine reports: segments sent and
// retransmitted (payload starting below the highest sequence number sent
// so far), and needless arrivals at the receiver (intact data segments,
// not made by --dup, carrying only bytes the receiver already had): each
// spurious retransmission makes exactly one, whether the retransmission or
// the original arrives second.

// tcpData extracts the sequence number, flags and payload length of a TCP
// segment in an IPv4 or IPv6 packet; ok is false for anything else.
func tcpData(b []byte) (seq uint32, flags byte, n int, ok bool) {
	if len(b) < 1 {
		return 0, 0, 0, false
	}
	var hdr, total int
	switch b[0] >> 4 {
	case 4:
		if len(b) < 20 || b[9] != 6 {
			return 0, 0, 0, false
		}
		hdr, total = int(b[0]&0xf)*4, int(binary.BigEndian.Uint16(b[2:]))
	case 6:
		if len(b) < 40 || b[6] != 6 {
			return 0, 0, 0, false
		}
		hdr, total = 40, 40+int(binary.BigEndian.Uint16(b[4:]))
	default:
		return 0, 0, 0, false
	}
	if total > len(b) || hdr+20 > total {
		return 0, 0, 0, false
	}
	t := b[hdr:total]
	off := int(t[12]>>4) * 4
	if off < 20 || off > len(t) {
		return 0, 0, 0, false
	}
	return binary.BigEndian.Uint32(t[4:]), t[13], len(t) - off, true
}

const flagSYN = 0x02

// seqTracker turns 32-bit sequence numbers of one direction into offsets
// into the stream (the first data byte is 0), without wrapping.
type seqTracker struct {
	haveISN bool
	isn     uint32
	ref     int64 // a recent offset, to unwrap against
}

// offset returns the stream offset of seq; ok is false before the SYN.
func (s *seqTracker) offset(seq uint32, flags byte) (int64, bool) {
	if flags&flagSYN != 0 {
		if !s.haveISN {
			s.haveISN, s.isn = true, seq
		}
		return 0, false
	}
	if !s.haveISN {
		return 0, false
	}
	d := int32(seq - (s.isn + 1 + uint32(s.ref)))
	off := s.ref + int64(d)
	s.ref = max(s.ref, off)
	return off, true
}

// sentCounter counts the sender's data segments and retransmissions.
type sentCounter struct {
	seq                   seqTracker
	max                   int64 // highest offset sent + 1
	segments, retransmits int64
}

func (c *sentCounter) packet(pkt []byte) {
	seq, flags, n, ok := tcpData(pkt)
	if !ok {
		return
	}
	off, ok := c.seq.offset(seq, flags)
	if !ok || n == 0 {
		return
	}
	c.segments++
	if off < c.max {
		c.retransmits++
	}
	c.max = max(c.max, off+int64(n))
}

// arrivalCounter counts needless arrivals at the receiver.
type arrivalCounter struct {
	seq      seqTracker
	have     spans
	needless int64
}

func (c *arrivalCounter) packet(pkt []byte) {
	seq, flags, n, ok := tcpData(pkt)
	if !ok {
		return
	}
	off, ok := c.seq.offset(seq, flags)
	if !ok || n == 0 {
		return
	}
	if c.have.covers(off, off+int64(n)) {
		c.needless++
		return
	}
	c.have.add(off, off+int64(n))
}

// spans is a set of byte offsets: everything below cum, and the sorted,
// disjoint, non-adjacent ranges in more, all above cum.
type spans struct {
	cum  int64
	more [][2]int64
}

func (s *spans) covers(lo, hi int64) bool {
	if hi <= s.cum {
		return true
	}
	i, _ := slices.BinarySearchFunc(s.more, lo, func(r [2]int64, v int64) int {
		switch {
		case r[1] < v:
			return -1
		case r[0] > v:
			return 1
		}
		return 0
	})
	// i is the first range ending at or after lo.
	return i < len(s.more) && s.more[i][0] <= lo && hi <= s.more[i][1]
}

func (s *spans) add(lo, hi int64) {
	lo = max(lo, s.cum)
	if hi <= lo {
		return
	}
	// Merge with every range that touches [lo, hi).
	i := 0
	for i < len(s.more) && s.more[i][1] < lo {
		i++
	}
	j := i
	for j < len(s.more) && s.more[j][0] <= hi {
		lo, hi = min(lo, s.more[j][0]), max(hi, s.more[j][1])
		j++
	}
	s.more = slices.Replace(s.more, i, j, [2]int64{lo, hi})
	if s.more[0][0] <= s.cum {
		s.cum = max(s.cum, s.more[0][1])
		s.more = slices.Delete(s.more, 0, 1)
	}
}
