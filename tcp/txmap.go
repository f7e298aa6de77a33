package tcp

import (
	"cmp"
	"slices"
	"time"
)

// txSeg is one transmitted segment that SND.UNA has not yet passed: the
// sender's scoreboard (RFC 6675) and RACK's per-segment record (RFC 8985
// §5.2) in one.
type txSeg struct {
	start, end uint32  // [start, end) in sequence space, FIN included
	sent       instant // time of the last (re)transmission
	tsval      uint32  // TSval of the last (re)transmission
	flags      txFlags
	// prev and next link the segment into the map's send-time list (slots
	// in segs, -1 for none) while it is neither SACKed nor marked lost.
	prev, next int32
}

type txFlags uint8

const (
	txSACKed  txFlags = 1 << iota // selectively acknowledged
	txLost                        // marked lost and not yet retransmitted
	txRetrans                     // the last transmission was a retransmission
	txTimed                       // on the send-time list
)

func (s *txSeg) len() uint32 { return s.end - s.start }

// txMap is a ring of txSeg in sequence order. It grows while the flight
// grows and is then reused, so the steady path does not allocate. It keeps
// the byte counts the pipe estimate needs (RFC 6675 §4).
//
// The segments that may still be found lost by RACK (neither SACKed nor
// already marked lost) are also linked in the order they were last sent,
// oldest first, so that RACK's loss detection looks only at the segments
// sent before the most recently delivered one and stops at the first sent
// after it (RFC 8985 §6.2, "the sender can keep the segments in a list
// sorted by transmission time").
type txMap struct {
	segs        []txSeg
	n           int   // segments recorded
	head        int32 // slot of the first
	sackedBytes uint32
	lostBytes   uint32
	// tsHead and tsTail are the oldest and newest sent of the send-time
	// list (slots, -1 when empty).
	tsHead, tsTail int32
	// lostHint is at or below the start of every segment marked lost, so
	// that firstLost need not look below it.
	lostHint uint32
}

// slot is where the i-th segment (in sequence order) lives in segs.
func (m *txMap) slot(i int) int32 { return int32((int(m.head) + i) % len(m.segs)) }

func (m *txMap) at(i int) *txSeg { return &m.segs[m.slot(i)] }

func (m *txMap) reset() {
	m.head, m.n, m.sackedBytes, m.lostBytes = 0, 0, 0, 0
	m.tsHead, m.tsTail = -1, -1
}

// push records a new segment [start, end) sent at now.
func (m *txMap) push(start, end uint32, now time.Time, tsval uint32) {
	if m.n == 0 {
		m.tsHead, m.tsTail = -1, -1
	}
	if m.n == len(m.segs) {
		m.grow()
	}
	sl := m.slot(m.n)
	m.segs[sl] = txSeg{start: start, end: end, sent: instantOf(now), tsval: tsval}
	m.n++
	m.link(sl)
}

// grow doubles the ring, keeping the send-time links.
func (m *txMap) grow() {
	old := len(m.segs)
	grown := newTxSegs(max(2*old, txSegsMin))
	moved := func(sl int32) int32 {
		if sl < 0 {
			return -1
		}
		return int32((int(sl) - int(m.head) + old) % old)
	}
	for i := range m.n {
		s := *m.at(i)
		s.prev, s.next = moved(s.prev), moved(s.next)
		grown[i] = s
	}
	m.tsHead, m.tsTail = moved(m.tsHead), moved(m.tsTail)
	m.segs, m.head = grown, 0
}

// link appends the segment in slot sl to the send-time list: it was the
// last one sent.
func (m *txMap) link(sl int32) {
	s := &m.segs[sl]
	s.flags |= txTimed
	s.prev, s.next = m.tsTail, -1
	if m.tsTail >= 0 {
		m.segs[m.tsTail].next = sl
	} else {
		m.tsHead = sl
	}
	m.tsTail = sl
}

// unlink takes the segment in slot sl off the send-time list.
func (m *txMap) unlink(sl int32) {
	s := &m.segs[sl]
	if s.flags&txTimed == 0 {
		return
	}
	s.flags &^= txTimed
	if s.prev >= 0 {
		m.segs[s.prev].next = s.next
	} else {
		m.tsHead = s.next
	}
	if s.next >= 0 {
		m.segs[s.next].prev = s.prev
	} else {
		m.tsTail = s.prev
	}
	s.prev, s.next = -1, -1
}

// setFlag and clearFlag keep the byte counts in step with the flags; a
// segment SACKed or marked lost leaves the send-time list.
func (m *txMap) setFlag(sl int32, f txFlags) {
	s := &m.segs[sl]
	if s.flags&f != 0 {
		return
	}
	s.flags |= f
	m.count(f, int64(s.len()))
	if f&(txSACKed|txLost) != 0 {
		m.unlink(sl)
	}
}

func (m *txMap) clearFlag(sl int32, f txFlags) {
	s := &m.segs[sl]
	if s.flags&f == 0 {
		return
	}
	s.flags &^= f
	m.count(f, -int64(s.len()))
}

func (m *txMap) count(f txFlags, d int64) {
	switch f {
	case txSACKed:
		m.sackedBytes = uint32(int64(m.sackedBytes) + d)
	case txLost:
		m.lostBytes = uint32(int64(m.lostBytes) + d)
	}
}

// ackTo drops what the cumulative ACK una covers, telling rk (when not
// nil) of each segment newly delivered by it.
func (m *txMap) ackTo(una uint32, rk *rack, now time.Time) {
	for m.n > 0 {
		sl := m.slot(0)
		s := &m.segs[sl]
		if seqLE(una, s.start) {
			return
		}
		if seqLT(una, s.end) {
			// Partly acknowledged: keep the rest.
			cut := int64(una - s.start)
			if s.flags&txSACKed == 0 && rk != nil {
				rk.delivered(s, now)
			}
			if s.flags&txSACKed != 0 {
				m.count(txSACKed, -cut)
			}
			if s.flags&txLost != 0 {
				m.count(txLost, -cut)
			}
			s.start = una
			return
		}
		if s.flags&txSACKed == 0 && rk != nil {
			rk.delivered(s, now)
		}
		m.clearFlag(sl, txSACKed)
		m.clearFlag(sl, txLost)
		m.unlink(sl)
		m.head = int32((int(m.head) + 1) % len(m.segs))
		m.n--
	}
	m.head = 0
	m.tsHead, m.tsTail = -1, -1
}

// search is the index of the first segment that ends after seq (m.n if
// none): the segments are in sequence order and do not overlap.
func (m *txMap) search(seq uint32) int {
	lo, hi := 0, m.n
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if seqGT(m.at(mid).end, seq) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// sack marks the segments inside [start, end) as selectively
// acknowledged, telling rk (when not nil) of each newly marked one. It
// returns the bytes newly marked.
func (m *txMap) sack(start, end uint32, rk *rack, now time.Time) (n uint32) {
	for i := m.search(start); i < m.n; i++ {
		sl := m.slot(i)
		s := &m.segs[sl]
		if seqGE(s.start, end) {
			return
		}
		if s.flags&txSACKed != 0 || seqLT(s.start, start) || seqGT(s.end, end) {
			continue
		}
		m.clearFlag(sl, txLost)
		m.setFlag(sl, txSACKed)
		n += s.len()
		if rk != nil {
			rk.delivered(s, now)
		}
	}
	return n
}

// firstLost is the index of the first segment marked lost, or -1.
func (m *txMap) firstLost() int {
	if m.lostBytes == 0 {
		return -1
	}
	for i := m.search(m.lostHint); i < m.n; i++ {
		if s := m.at(i); s.flags&txLost != 0 {
			m.lostHint = s.start
			return i
		}
	}
	return -1
}

// markLost marks the i-th segment lost unless it was SACKed.
func (m *txMap) markLost(i int) { m.markLostSlot(m.slot(i)) }

func (m *txMap) markLostSlot(sl int32) {
	s := &m.segs[sl]
	if s.flags&(txSACKed|txLost) != 0 {
		return
	}
	if m.lostBytes == 0 || seqLT(s.start, m.lostHint) {
		m.lostHint = s.start
	}
	m.setFlag(sl, txLost)
}

// resent records that the i-th segment went out again at now: it is no
// longer lost, and it is the last one sent.
func (m *txMap) resent(i int, now time.Time, tsval uint32) {
	sl := m.slot(i)
	s := &m.segs[sl]
	m.clearFlag(sl, txLost)
	s.flags |= txRetrans
	s.sent, s.tsval = instantOf(now), tsval
	m.unlink(sl)
	m.link(sl)
}

// clearLost forgets every lost mark (an undo) and puts the segments back
// on the send-time list where their send times place them.
func (m *txMap) clearLost() {
	if m.lostBytes == 0 {
		return
	}
	for i := range m.n {
		m.clearFlag(m.slot(i), txLost)
	}
	m.relink()
}

// relink rebuilds the send-time list from every segment neither SACKed
// nor lost, by send time and then sequence. It runs only on an undo; its
// sort space is shared through relinkPool rather than kept by every
// connection.
func (m *txMap) relink() {
	buf := relinkPool.get()
	if buf == nil {
		buf = new([]int32)
	}
	order := (*buf)[:0]
	for i := range m.n {
		sl := m.slot(i)
		s := &m.segs[sl]
		s.flags &^= txTimed
		if s.flags&(txSACKed|txLost) == 0 {
			order = append(order, int32(i))
		}
	}
	slices.SortStableFunc(order, func(a, b int32) int {
		return cmp.Compare(m.at(int(a)).sent, m.at(int(b)).sent)
	})
	m.tsHead, m.tsTail = -1, -1
	for _, i := range order {
		m.link(m.slot(int(i)))
	}
	if cap(order) <= 4096 {
		*buf = order
		relinkPool.put(buf)
	}
}

// relinkPool holds relink's sort space.
var relinkPool = freeList[[]int32]{max: 16}

// truncate forgets every segment at or past seq (SND.NXT moved back).
func (m *txMap) truncate(seq uint32) {
	for m.n > 0 {
		sl := m.slot(m.n - 1)
		if seqLT(m.segs[sl].start, seq) {
			return
		}
		m.clearFlag(sl, txSACKed)
		m.clearFlag(sl, txLost)
		m.unlink(sl)
		m.n--
	}
}
