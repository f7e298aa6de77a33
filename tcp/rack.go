package tcp

import "time"

// rack is the state of RACK (RFC 8985 §5.2): the most recently sent
// segment that was delivered, and the reordering window.
type rack struct {
	xmitTS         time.Time     // RACK.xmit_ts
	endSeq         uint32        // RACK.end_seq
	rtt            time.Duration // RACK.rtt
	fack           uint32        // RACK.fack: highest end of a delivered segment
	minRTT         time.Duration // RACK.min_RTT; 0 until the first sample
	reorderingSeen bool
	reoWndMult     int
	reoWndPersist  int
	dsackRound     uint32
	dsackRoundOn   bool
	// Per ACK: the echoed timestamp, for step 2's retransmission check.
	tsecr    uint32
	hasTSecr bool
}

// sentAfter is RACK_sent_after (RFC 8985 §6.2 step 2).
func sentAfter(t1 time.Time, seq1 uint32, t2 time.Time, seq2 uint32) bool {
	return t1.After(t2) || (t1.Equal(t2) && seqGT(seq1, seq2))
}

// delivered is RFC 8985 §6.2 steps 2 and 3 for one segment that was
// cumulatively or selectively acknowledged.
func (r *rack) delivered(s *txSeg, now time.Time) {
	rtt := now.Sub(s.sent)
	if s.flags&txRetrans != 0 {
		// "If the segment was retransmitted and the ACK is for the
		// original (TSecr older than the retransmission), or the RTT is
		// below min_RTT", the sample is ambiguous: ignore it.
		if r.hasTSecr && seqLT(r.tsecr, s.tsval) {
			return
		}
		if rtt < r.minRTT {
			return
		}
	} else if r.minRTT == 0 || rtt < r.minRTT {
		r.minRTT = max(rtt, time.Microsecond)
	}
	if sentAfter(s.sent, s.end, r.xmitTS, r.endSeq) {
		r.rtt = rtt
		r.xmitTS, r.endSeq = s.sent, s.end
	}
	// Step 3: a segment delivered below one delivered before it, that
	// was never retransmitted, was reordered.
	if seqLT(s.end, r.fack) {
		if s.flags&txRetrans == 0 {
			r.reorderingSeen = true
		}
	} else {
		r.fack = s.end
	}
}

// onDSACK is RFC 8985 §6.2 step 4: a D-SACK widens the reordering window,
// at most once per round trip, for 16 recoveries.
func (r *rack) onDSACK(sndUna, sndNxt uint32) {
	if r.dsackRoundOn && seqGE(sndUna, r.dsackRound) {
		r.dsackRoundOn = false
	}
	if !r.dsackRoundOn {
		r.dsackRoundOn = true
		r.dsackRound = sndNxt
		r.reoWndMult++
		r.reoWndPersist = 16
	}
}

// onRecoveryEnd lets the widened window decay (RFC 8985 §6.2 step 4).
func (r *rack) onRecoveryEnd() {
	if r.reoWndPersist > 0 {
		r.reoWndPersist--
		if r.reoWndPersist == 0 {
			r.reoWndMult = 1
		}
	}
}

// reoWnd is RACK.reo_wnd: min_RTT/4 times the multiplier, at most SRTT.
//
// RFC 8985 §6.2 step 4 sets it to zero before any reordering was seen
// when in recovery or with DupThresh segments SACKed, to recover as fast
// as the classic three duplicate ACKs. synack does not: a window of
// min_RTT/4 is always allowed, so that reordering within it never causes
// a spurious retransmission (the cost: a loss is repaired min_RTT/4
// later). This is Linux's RACK_NO_DUPTHRESH behaviour.
func (r *rack) reoWnd(srtt time.Duration) time.Duration {
	w := time.Duration(max(r.reoWndMult, 1)) * r.minRTT / 4
	if srtt > 0 {
		w = min(w, srtt)
	}
	return w
}

// rackDetectLoss is RFC 8985 §6.2 step 5: every segment sent before the
// most recently delivered one, by more than the reordering window, is
// lost. It returns when the next one would be (the reordering timer), or
// 0.
//
// It walks the segments in the order they were sent, oldest first, and
// stops at the first one sent after RACK's: the work per ACK is the
// segments it marks lost plus those still inside the reordering window,
// not the whole flight. Segments SACKed or already marked lost are not on
// that list.
func (t *TCB) rackDetectLoss(now time.Time) (lost bool, timeout time.Duration) {
	r := &t.rack
	if r.xmitTS.IsZero() || t.tx.n == 0 {
		return false, 0
	}
	reo := r.reoWnd(t.srtt)
	m := &t.tx
	for sl := m.tsHead; sl >= 0; {
		s := &m.segs[sl]
		next := s.next
		if !sentAfter(r.xmitTS, r.endSeq, s.sent, s.end) {
			break
		}
		remaining := s.sent.Add(r.rtt + reo).Sub(now)
		if remaining <= 0 {
			m.markLostSlot(sl)
			lost = true
		} else {
			timeout = max(timeout, remaining)
		}
		sl = next
	}
	return lost, timeout
}
