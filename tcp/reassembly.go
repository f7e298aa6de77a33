package tcp

// maxOOORanges bounds how many separate out-of-order ranges are kept.
const maxOOORanges = 4

// reassembly tracks out-of-order data held in the receive ring past
// RCV.NXT: a few disjoint, sorted sequence ranges [start, end).
type reassembly struct {
	n int
	r [maxOOORanges]struct{ start, end uint32 }
}

func (a *reassembly) reset() { a.n = 0 }

// insert records [start, end), merging with neighbours. It reports false
// (the data is not kept) when the ranges are full.
func (a *reassembly) insert(start, end uint32) bool {
	// Find the first range that ends at or after start.
	i := 0
	for i < a.n && seqLT(a.r[i].end, start) {
		i++
	}
	// Merge every range that overlaps or touches [start, end).
	j := i
	for j < a.n && seqLE(a.r[j].start, end) {
		if seqLT(a.r[j].start, start) {
			start = a.r[j].start
		}
		if seqGT(a.r[j].end, end) {
			end = a.r[j].end
		}
		j++
	}
	if j == i {
		// No overlap: insert a new range at i.
		if a.n == maxOOORanges {
			return false
		}
		copy(a.r[i+1:a.n+1], a.r[i:a.n])
		a.n++
	} else if j > i+1 {
		// Ranges i..j-1 collapse into i.
		copy(a.r[i+1:], a.r[j:a.n])
		a.n -= j - i - 1
	}
	a.r[i].start, a.r[i].end = start, end
	return true
}

// take removes the ranges that RCV.NXT has reached. When the first range
// starts at or before rcvNxt and ends after it, it returns that end.
func (a *reassembly) take(rcvNxt uint32) (end uint32, ok bool) {
	for a.n > 0 && seqLE(a.r[0].start, rcvNxt) {
		if seqGT(a.r[0].end, rcvNxt) {
			end, ok = a.r[0].end, true
			rcvNxt = end
		}
		copy(a.r[:], a.r[1:a.n])
		a.n--
	}
	return end, ok
}
