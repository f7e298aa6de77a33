package tcp

import "time"

// rack is the state of RACK (RFC 8985 §5.2): the most recently sent
// segment that was delivered, and the reordering window.
type rack struct {
	xmitTS instant       // RACK.xmit_ts
	rtt    time.Duration // RACK.rtt
	minRTT time.Duration // RACK.min_RTT; 0 until the first sample
	// maxRTT is the longest round trip of a segment delivered in this
	// round of the flight and in the one before ([0] and [1]).
	maxRTT [2]time.Duration
	// marks records when RACK.xmit_ts moved on, oldest first, from
	// marksHead: what was known delivered, and since when (see
	// rackDetectLoss). It grows to the ACKs of one reordering window and
	// is then reused.
	marks         []rackMark
	marksHead     int32
	endSeq        uint32 // RACK.end_seq
	fack          uint32 // RACK.fack: highest end of a delivered segment
	dsackRound    uint32
	reoWndMult    int32
	reoWndPersist int32
	// Per ACK: the echoed timestamp, for step 2's retransmission check.
	tsecr          uint32
	hasTSecr       bool
	reorderingSeen bool
	dsackRoundOn   bool
}

// rackMark is one advance of RACK's most recently sent delivered segment.
type rackMark struct {
	xmitTS instant // its RACK.xmit_ts
	endSeq uint32  // its RACK.end_seq
	at     instant // when the ACK that delivered it arrived
}

// sentAfter is RACK_sent_after (RFC 8985 §6.2 step 2).
func sentAfter(t1 instant, seq1 uint32, t2 instant, seq2 uint32) bool {
	return t1 > t2 || (t1 == t2 && seqGT(seq1, seq2))
}

// delivered is RFC 8985 §6.2 steps 2 and 3 for one segment that was
// cumulatively or selectively acknowledged.
func (r *rack) delivered(s *txSeg, at time.Time) {
	now := instantOf(at)
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
	r.maxRTT[0] = max(r.maxRTT[0], rtt)
	if sentAfter(s.sent, s.end, r.xmitTS, r.endSeq) {
		r.rtt = rtt
		r.xmitTS, r.endSeq = s.sent, s.end
		r.mark(now)
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

// newRound starts a round of the flight for maxRTT.
func (r *rack) newRound() {
	r.maxRTT[1], r.maxRTT[0] = r.maxRTT[0], 0
}

// recentMaxRTT is the longest round trip of the last one or two rounds.
func (r *rack) recentMaxRTT() time.Duration { return max(r.maxRTT[0], r.maxRTT[1]) }

// mark records that RACK.xmit_ts moved on at now; several advances on
// one ACK make one mark.
func (r *rack) mark(now instant) {
	if n := len(r.marks); n > int(r.marksHead) && r.marks[n-1].at == now {
		r.marks[n-1].xmitTS, r.marks[n-1].endSeq = r.xmitTS, r.endSeq
		return
	}
	if r.marksHead > 0 && int(r.marksHead) >= len(r.marks)/2 {
		n := copy(r.marks, r.marks[r.marksHead:])
		r.marks, r.marksHead = r.marks[:n], 0
	}
	if r.marks == nil {
		r.marks = newRackMarks() // pooled (memory.go)
	}
	r.marks = append(r.marks, rackMark{r.xmitTS, r.endSeq, now})
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
		// RACK.reo_wnd_mult starts at 1 (0 here reads as 1): the first
		// D-SACK must make it 2, or it would widen nothing.
		r.reoWndMult = max(r.reoWndMult, 1) + 1
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
// as the classic three duplicate ACKs; Linux does the same by default
// (tcp_rack_reo_wnd), and drops only the DupThresh rule when
// net.ipv4.tcp_recovery has RACK_NO_DUPTHRESH (0x4). synack deviates from
// both: a window of min_RTT/4 is always allowed, so that reordering
// within it never causes a spurious retransmission; the cost is a loss
// repaired min_RTT/4 later. Measured (go test ./tcp/ with the zero
// window, RFC rule): TestNetPair_ReorderingWithinRACKWindow_NoSpurious
// made 15 spurious retransmissions (cubic, seed 1) instead of none, and
// TestNetPair_ReorderingBothWaysWithTailDrops 3 and 5 needless ones and
// twice the queue drops (cubic 117 instead of 56). `synack transfer
// --bytes 16MiB` over 8 loss/reordering cases × 2 seeds (--reorder 0.02;
// --reorder 0.05 --reorder-delay 3ms --delay 10ms; --reorder 0.01
// --reorder-delay 20ms; --reorder 0.05 --rate 100Mbit; --loss 0.01;
// --loss 0.02 --rate 100Mbit; --loss 0.01 --reorder 0.01 --rate 100Mbit;
// --loss 0.005 --burst 3 --rate 50Mbit): the zero window added spurious
// retransmissions in 4 of the 16 runs (2, 1, 11, 4), was faster in 2
// (25.9 → 21.0 s, 46.8 → 45.5 s) and slower in 4 (0.365 → 0.376 s,
// 50.6 → 50.8 s, 39.8 → 41.6 s, 75.6 → 76.7 s); RACK_NO_DUPTHRESH's
// rule (zero in recovery only) added 11 spurious retransmissions in one.
// Not worth it.
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
// The RFC's test, Segment.xmit_ts + RACK.rtt + RACK.reo_wnd <= now,
// takes RACK.rtt, the round trip of the most recently sent segment
// delivered, for the round trip of every segment sent before it. When a
// queue drains between the two sends (after a window reduction, or when
// the sender pauses), the earlier segment's round trip was longer by the
// queueing it met, and a segment merely held back on the path, less than
// the reordering window, would be taken for lost. So synack also asks
// one of two things more:
//
//   - that a segment sent after it have been known delivered for a
//     reordering window: on a FIFO path, a segment held back by less
//     than reo_wnd is then always delivered in time; or
//   - that it was sent longer ago than the longest round trip of the
//     last two rounds, plus the reordering window: no queue it met can
//     explain the wait (a tail loss probe's SACK, sent long after the
//     segments it shows lost, is acted on at once).
//
// With a steady queue these agree with the RFC's test (a segment's
// delivery is learned RACK.rtt after its send); with a draining one, a
// loss is found at most reo_wnd after the first evidence, as it is with
// a steady queue.
//
// It walks the segments in the order they were sent, oldest first, and
// stops at the first one sent after RACK's: the work per ACK is the
// segments it marks lost plus those still inside the reordering window,
// not the whole flight. Segments SACKed or already marked lost are not on
// that list.
func (t *TCB) rackDetectLoss(at time.Time) (lost bool, timeout time.Duration) {
	now := instantOf(at)
	r := &t.rack
	if t.tx.n == 0 {
		// Whatever is sent next is sent after every mark.
		r.marks, r.marksHead = r.marks[:0], 0
		return false, 0
	}
	if r.xmitTS.IsZero() {
		return false, 0
	}
	reo := r.reoWnd(t.srtt)
	maxRTT := r.recentMaxRTT()
	// Marks older than a reordering window but the newest of them are
	// no longer needed: that one proves more.
	for int(r.marksHead)+1 < len(r.marks) && !r.marks[r.marksHead+1].at.Add(reo).After(now) {
		r.marksHead++
	}
	mi := int(r.marksHead)
	m := &t.tx
	for sl := m.tsHead; sl >= 0; {
		s := &m.segs[sl]
		next := s.next
		if !sentAfter(r.xmitTS, r.endSeq, s.sent, s.end) {
			break
		}
		// The first mark of a segment sent after this one: the marks and
		// the walk are both in send order.
		for mi < len(r.marks) && !sentAfter(r.marks[mi].xmitTS, r.marks[mi].endSeq, s.sent, s.end) {
			mi++
		}
		remaining := s.sent.Add(r.rtt + reo).Sub(now)
		if mi < len(r.marks) {
			lag := r.marks[mi].at.Add(reo).Sub(now)
			longest := s.sent.Add(maxRTT + reo).Sub(now)
			remaining = max(remaining, min(lag, longest))
		}
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
