package tcp

import "time"

// txSeg is one transmitted segment that SND.UNA has not yet passed: the
// sender's scoreboard (RFC 6675) and RACK's per-segment record (RFC 8985
// §5.2) in one.
type txSeg struct {
	start, end uint32    // [start, end) in sequence space, FIN included
	sent       time.Time // time of the last (re)transmission
	tsval      uint32    // TSval of the last (re)transmission
	flags      txFlags
}

type txFlags uint8

const (
	txSACKed  txFlags = 1 << iota // selectively acknowledged
	txLost                        // marked lost and not yet retransmitted
	txRetrans                     // the last transmission was a retransmission
)

func (s *txSeg) len() uint32 { return s.end - s.start }

// txMap is a ring of txSeg in sequence order. It grows while the flight
// grows and is then reused, so the steady path does not allocate. It keeps
// the byte counts the pipe estimate needs (RFC 6675 §4).
type txMap struct {
	segs        []txSeg
	head, n     int
	sackedBytes uint32
	lostBytes   uint32
}

func (m *txMap) at(i int) *txSeg { return &m.segs[(m.head+i)%len(m.segs)] }

func (m *txMap) reset() { m.head, m.n, m.sackedBytes, m.lostBytes = 0, 0, 0, 0 }

// push records a new segment [start, end) sent at now.
func (m *txMap) push(start, end uint32, now time.Time, tsval uint32) {
	if m.n == len(m.segs) {
		grown := make([]txSeg, max(2*len(m.segs), 16))
		for i := range m.n {
			grown[i] = *m.at(i)
		}
		m.segs, m.head = grown, 0
	}
	*m.at(m.n) = txSeg{start: start, end: end, sent: now, tsval: tsval}
	m.n++
}

// setFlag and clearFlag keep the byte counts in step with the flags.
func (m *txMap) setFlag(s *txSeg, f txFlags) {
	if s.flags&f != 0 {
		return
	}
	s.flags |= f
	m.count(f, int64(s.len()))
}

func (m *txMap) clearFlag(s *txSeg, f txFlags) {
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
		s := m.at(0)
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
		m.clearFlag(s, txSACKed)
		m.clearFlag(s, txLost)
		m.head = (m.head + 1) % len(m.segs)
		m.n--
	}
	m.head = 0
}

// sack marks the segments inside [start, end) as selectively
// acknowledged, telling rk (when not nil) of each newly marked one. It
// returns the bytes newly marked.
func (m *txMap) sack(start, end uint32, rk *rack, now time.Time) (n uint32) {
	for i := range m.n {
		s := m.at(i)
		if seqGE(s.start, end) {
			return
		}
		if s.flags&txSACKed != 0 || seqLT(s.start, start) || seqGT(s.end, end) {
			continue
		}
		m.clearFlag(s, txLost)
		m.setFlag(s, txSACKed)
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
	for i := range m.n {
		if m.at(i).flags&txLost != 0 {
			return i
		}
	}
	return -1
}

// markLost marks s lost unless it was SACKed.
func (m *txMap) markLost(s *txSeg) {
	if s.flags&(txSACKed|txLost) == 0 {
		m.setFlag(s, txLost)
	}
}

// truncate forgets every segment at or past seq (SND.NXT moved back).
func (m *txMap) truncate(seq uint32) {
	for m.n > 0 {
		s := m.at(m.n - 1)
		if seqLT(s.start, seq) {
			return
		}
		m.clearFlag(s, txSACKed)
		m.clearFlag(s, txLost)
		m.n--
	}
}
