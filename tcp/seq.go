package tcp

// Sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4): a < b when the
// signed distance from a to b is positive.

func seqLT(a, b uint32) bool { return int32(a-b) < 0 }
func seqLE(a, b uint32) bool { return int32(a-b) <= 0 }
func seqGT(a, b uint32) bool { return int32(a-b) > 0 }
func seqGE(a, b uint32) bool { return int32(a-b) >= 0 }

// seqInRange reports lo <= x < hi.
func seqInRange(x, lo, hi uint32) bool { return seqLE(lo, x) && seqLT(x, hi) }

func minInt(a, b int) int {
	if a < b {
		return a
	}
	return b
}

func min32(a, b uint32) uint32 {
	if seqLT(a, b) {
		return a
	}
	return b
}
