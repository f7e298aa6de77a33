package tcp

// reassembly tracks out-of-order data held in the receive ring past
// RCV.NXT as disjoint, sorted sequence ranges [start, end). The number of
// ranges is bounded only by the receive buffer (the caller stores only
// what fits); the slice grows when needed and is reused afterwards.
type reassembly struct {
	r []seqRange
}

func (a *reassembly) reset() { a.r = a.r[:0] }

// empty reports whether no out-of-order data is held.
func (a *reassembly) empty() bool { return len(a.r) == 0 }

// insert records [start, end), merging with neighbours. It reports
// whether every byte of it was already held (a duplicate).
func (a *reassembly) insert(start, end uint32) (dup bool) {
	// Find the first range that ends at or after start.
	i := 0
	for i < len(a.r) && seqLT(a.r[i].end, start) {
		i++
	}
	if i < len(a.r) && seqLE(a.r[i].start, start) && seqGE(a.r[i].end, end) {
		return true
	}
	// Merge every range that overlaps or touches [start, end).
	j := i
	for j < len(a.r) && seqLE(a.r[j].start, end) {
		if seqLT(a.r[j].start, start) {
			start = a.r[j].start
		}
		if seqGT(a.r[j].end, end) {
			end = a.r[j].end
		}
		j++
	}
	switch {
	case j == i:
		// No overlap: insert a new range at i.
		a.r = append(a.r, seqRange{})
		copy(a.r[i+1:], a.r[i:len(a.r)-1])
	case j > i+1:
		// Ranges i..j-1 collapse into i.
		a.r = append(a.r[:i+1], a.r[j:]...)
	}
	a.r[i] = seqRange{start, end}
	return false
}

// take removes the ranges that RCV.NXT has reached. When the first range
// starts at or before rcvNxt and ends after it, it returns that end.
func (a *reassembly) take(rcvNxt uint32) (end uint32, ok bool) {
	k := 0
	for k < len(a.r) && seqLE(a.r[k].start, rcvNxt) {
		if seqGT(a.r[k].end, rcvNxt) {
			end, ok = a.r[k].end, true
			rcvNxt = end
		}
		k++
	}
	if k > 0 {
		n := copy(a.r, a.r[k:])
		a.r = a.r[:n]
	}
	return end, ok
}

// find returns the range holding seq.
func (a *reassembly) find(seq uint32) (seqRange, bool) {
	for _, r := range a.r {
		if seqInRange(seq, r.start, r.end) {
			return r, true
		}
	}
	return seqRange{}, false
}

// overlap returns the first held range's part inside [start, end): bytes
// of a new segment that were already held (RFC 2883 §4 reports them in a
// D-SACK block).
func (a *reassembly) overlap(start, end uint32) (seqRange, bool) {
	for _, r := range a.r {
		if seqGE(r.start, end) {
			break
		}
		if seqGT(r.end, start) {
			lo, hi := r.start, r.end
			if seqLT(lo, start) {
				lo = start
			}
			if seqGT(hi, end) {
				hi = end
			}
			return seqRange{lo, hi}, true
		}
	}
	return seqRange{}, false
}
