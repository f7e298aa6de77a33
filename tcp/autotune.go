package tcp

import "time"

// Buffer auto-tuning. A buffer left at its default size grows with the
// connection, up to Config.MaxReceiveBufferSize or MaxSendBufferSize:
//
//   - The receive buffer follows the application (dynamic right-sizing):
//     once per receiver round trip it compares what the application read
//     in that round trip with the round trip before. When the rate grew,
//     the buffer becomes twice the bytes read per round trip plus sixteen
//     segments, and twice as much again as the rate grew (at most
//     doubled), so that the window stays ahead of a sender in slow start.
//     An application that does not read never makes it grow.
//   - The receiver's round trip comes from the timestamps, whose clock
//     ticks every millisecond: a path shorter than that (two stacks in one
//     process, a TUN to the local kernel) reads as a millisecond, and a
//     window sized for it holds megabytes whose pages leave the CPUs'
//     caches between the write that fills them and the read that empties
//     them. So the receiver also times its round trip to the nanosecond
//     (fine samples: the handshake, and each ACK that moves the window's
//     right edge on, to the data it lets through), and on a path whose
//     fine samples stay under a millisecond sizes the buffer by their
//     smallest in each measuring period (rcvFine). Reads are bursts (a
//     128 KiB read of waiting data takes a few µs), so there the rate is
//     taken over at least fineSpan and reckoned per round trip, the
//     buffer at most doubles per period, and the room beyond twice the
//     rate is sixteen segments but at most fineSlack.
//   - The send buffer follows the congestion window: once the application
//     has filled it, the next acknowledgment lets it grow to twice the
//     congestion window, or twice the largest window the peer offered if
//     that is smaller (one window in flight, one queued behind it), at
//     least doubling, so that it grows in few steps while the window
//     grows a little with every ACK.
//
// Under memory pressure (Config.Memory, memory.go) neither grows: the
// growth refused is counted.
//
// A buffer's size is the most it may hold, what the window offered
// follows; its storage (memory.go) is taken as data arrives and given
// back when it drains. Sizes grow and never shrink. A buffer given a size (Config, SetReceiveBufferSize,
// SetSendBufferSize) keeps it, as SO_RCVBUF and SO_SNDBUF fix it on
// Linux.

// rcvTune is the receiver's state for dynamic right-sizing.
// Times are monoNano nanoseconds (0: none), to keep the TCB small.
type rcvTune struct {
	rtt      time.Duration // the receiver's round-trip estimate; 0: none yet
	markAt   int64         // when markSeq was set; 0: no sample running
	periodAt int64         // start of the current measuring period
	copied   int64         // bytes read since periodAt
	// markSeq is RCV.NXT to reach for the window-based sample (without
	// timestamps). With them, markSeq and markAt time a fine sample: the
	// right edge offered before the ACK that moved it on, and when.
	markSeq  uint32
	lastTSEc uint32 // TSecr of the last timestamp sample
	space    int32  // bytes read in the last round trip that grew
	// The fine round trip, in fineUnit (rcvFine): the estimate, which
	// follows the smallest sample of each measuring period, and that of
	// this period so far (0: none).
	fine, fineNow uint16
}

// Fine receiver round trips (rcvFine).
const (
	fineUnit = 16 * time.Nanosecond
	// fineMax: a sample this long or longer is left to the timestamps.
	fineMax = time.Millisecond
	// fineSpan is the shortest measuring period on a fine round trip.
	fineSpan = time.Millisecond
	// fineSlack bounds the sixteen segments of room on a fine round trip:
	// at an MSS of 64 KiB they are a megabyte.
	fineSlack = 256 << 10
)

// rcvEdgeOffered notes, with timestamps, that a segment offers the right
// edge edge where the furthest offered so far was old. When the sender
// had used that window up (less than a segment of it left) and this ACK
// moves the edge on, it starts a fine sample (unless one runs), which
// data beyond old ends (rcvRTTMeasure): the sender could send none before
// the ACK reached it, and was waiting for it, so the time between is a
// round trip. (A sender that had not used the window up was held back by
// something else, its congestion window or its application, and the time
// would measure that.)
func (t *TCB) rcvEdgeOffered(old, edge uint32, now time.Time) {
	r := &t.rtune
	if !t.tsOK || r.markAt != 0 || !seqGT(edge, old) || old-t.rcvNxt >= uint32(t.sndMSS) ||
		t.cfg.MaxReceiveBufferSize <= t.rcvBuf.size {
		return
	}
	r.markSeq, r.markAt = old, monoNano(now)
}

// rcvFineSample takes a fine round-trip sample d: from rcvEdgeOffered's
// ACK to the data it let through, or of a timed segment (our SYN or
// SYN-ACK; data without timestamps).
func (t *TCB) rcvFineSample(d time.Duration) {
	r := &t.rtune
	if d >= fineMax {
		return
	}
	f := uint16(max(d/fineUnit, 1))
	if r.fineNow == 0 || f < r.fineNow {
		r.fineNow = f
	}
	if r.fine == 0 {
		r.fine = f // the first: the handshake's
	}
}

// rcvFine returns the round trip to size the receive buffer by, and
// whether it is the fine one: it is while the fine samples are under a
// millisecond and under half the timestamps' estimate (which reads any
// round trip shorter than a millisecond as one, and more when a stale
// echo came in).
func (t *TCB) rcvFine() (time.Duration, bool) {
	r := &t.rtune
	if f := time.Duration(r.fine) * fineUnit; f > 0 && (r.rtt == 0 || f < r.rtt/2) {
		return f, true
	}
	return r.rtt, false
}

// rcvRTTMeasure takes a receiver round-trip sample from an in-window
// segment carrying n bytes of data up to end (and ends a fine sample,
// rcvEdgeOffered, when they reach past its edge). With timestamps, a full-sized segment
// echoing one of our TSvals gives now − TSecr (smoothed by 1/8, as for
// SRTT). Without, the time it takes RCV.NXT to pass the right edge of the
// window offered when the previous sample ended is an upper bound of the
// round trip, and the smallest such bound is kept.
func (t *TCB) rcvRTTMeasure(seg *Segment, end uint32, n int, now time.Time) {
	r := &t.rtune
	if t.cfg.MaxReceiveBufferSize <= t.rcvBuf.size {
		return
	}
	if t.tsOK && r.markAt != 0 && seqGT(end, r.markSeq) {
		t.rcvFineSample(time.Duration(monoNano(now) - r.markAt))
		r.markAt = 0
	}
	if t.tsOK && seg.Options.HasTimestamps && seg.Options.TSEcr != 0 {
		if n < t.sndMSS || seg.Options.TSEcr == r.lastTSEc {
			return
		}
		r.lastTSEc = seg.Options.TSEcr
		d, ok := t.tsRTT(seg, now)
		if !ok {
			return
		}
		s := max(d, time.Millisecond)
		if r.rtt == 0 {
			r.rtt = s
		} else {
			r.rtt += (s - r.rtt) / 8
		}
		return
	}
	if t.tsOK {
		return // markSeq and markAt time fine samples
	}
	if r.markAt != 0 {
		if seqLT(t.rcvNxt, r.markSeq) {
			return
		}
		s := max(time.Duration(monoNano(now)-r.markAt), time.Millisecond)
		if r.rtt == 0 || s < r.rtt {
			r.rtt = s
		}
	}
	r.markSeq, r.markAt = t.rcvNxt+t.rcvWnd, monoNano(now)
}

// rcvSpaceAdjust counts n bytes read by the application and, once a
// receiver round trip has passed, grows the receive buffer to keep up
// with the rate at which the application reads.
func (t *TCB) rcvSpaceAdjust(n int, now time.Time) {
	r := &t.rtune
	if t.cfg.MaxReceiveBufferSize <= t.rcvBuf.size {
		return
	}
	r.copied += int64(n)
	ns := monoNano(now)
	if r.periodAt == 0 {
		r.periodAt = ns
		return
	}
	rtt, fine := t.rcvFine()
	el := time.Duration(ns - r.periodAt)
	if rtt == 0 || el < rtt || fine && el < fineSpan {
		return
	}
	if r.fineNow != 0 {
		// The next period's round trip: this one's smallest sample, or
		// twice the last if that is less (one stalled period, with a
		// single sample, does not make it jump).
		r.fine, r.fineNow = min(r.fineNow, 2*r.fine), 0
	}
	c := r.copied
	if fine {
		c = int64(float64(c) * float64(rtt) / float64(el)) // per round trip
	}
	if copied, space := int(min(c, maxBufferSize)), int(r.space); copied > space {
		target, room := 2*copied, 16*t.cfg.MSS
		if fine {
			room = min(room, fineSlack)
		} else {
			target += room
		}
		if space > 0 {
			// The rate grew (a sender in slow start doubles it every
			// round trip): leave room for it to grow as much again. A
			// sender cannot more than double its rate in a round trip;
			// a bigger jump is the measurement's granularity (reads
			// and round trips do not line up), and is not trusted.
			target += 2 * target * min(copied-space, space) / space
		}
		if fine {
			// The room does not grow with the rate, and a period of
			// many round trips may not more than double the buffer.
			target = min(target+room, 2*t.rcvBuf.size)
		}
		r.space = int32(copied)
		if size := min(target, t.cfg.MaxReceiveBufferSize); size > t.rcvBuf.size {
			if t.cfg.Memory.UnderPressure() {
				t.cfg.Memory.refuseGrowth()
			} else {
				t.rcvBuf.resize(size)
				t.windowUpdate(now)
			}
		}
	}
	r.copied, r.periodAt = 0, ns
}

// sndBufExpand grows the send buffer to twice the congestion window after
// an acknowledgment, when the application has filled the buffer. It
// first gives back the memory of drained buffers (reclaim).
func (t *TCB) sndBufExpand() {
	t.reclaim()
	if !t.sndFull || t.cfg.MaxSendBufferSize <= t.sndBuf.size {
		return
	}
	t.sndFull = false
	// Twice what may be in flight: the congestion window, or the peer's
	// window if that is smaller (a congestion window grown past what the
	// peer takes, on a lossless path, would only hold unsent data).
	want := 2 * max(min(t.cwnd(), int(t.maxSndWnd)), 10*t.sndMSS)
	if want > t.sndBuf.size && t.cfg.Memory.UnderPressure() {
		t.cfg.Memory.refuseGrowth()
		return
	}
	if want > t.sndBuf.size {
		// At least doubling: the window grows a little with every ACK,
		// the size in few steps (the pages, sndpages.go, are taken as
		// data comes, whatever the size).
		t.sndBuf.resize(min(max(want, 2*t.sndBuf.size), t.cfg.MaxSendBufferSize))
	}
}

// SetReceiveBufferSize fixes the receive buffer at n bytes and ends its
// auto-tuning (SO_RCVBUF). The buffer never drops below what it holds
// plus the window already offered, since a window once offered is not
// withdrawn (RFC 9293 §3.8.6.2.2); the window offered from now on
// follows the new size.
func (t *TCB) SetReceiveBufferSize(n int, now time.Time) {
	n = min(max(n, t.rcvBuf.Len()+int(t.rcvWnd), 1), maxBufferSize)
	t.rcvBuf.resize(n)
	t.cfg.ReceiveBufferSize, t.cfg.MaxReceiveBufferSize = n, n
	t.windowUpdate(now)
}

// SetSendBufferSize fixes the send buffer at n bytes and ends its
// auto-tuning (SO_SNDBUF). It never drops below the bytes it holds.
func (t *TCB) SetSendBufferSize(n int) {
	n = min(max(n, t.sndBuf.Len(), 1), maxBufferSize)
	t.cfg.SendBufferSize, t.cfg.MaxSendBufferSize = n, n
	t.sndBuf.resize(sndRingSize(&t.cfg, n)) // sndmem.go
}

// ReceiveBufferSize is the receive buffer's current size.
func (t *TCB) ReceiveBufferSize() int { return t.rcvBuf.size }

// SendBufferSize is the send buffer's current size (under
// Config.SendBufferOverhead, the memory it may be charged, sndmem.go).
func (t *TCB) SendBufferSize() int {
	if sndMemFixed(&t.cfg) {
		return t.cfg.SendBufferSize
	}
	return t.sndBuf.size
}
