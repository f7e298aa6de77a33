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
//   - The send buffer follows the congestion window: once the application
//     has filled it, the next acknowledgment lets it grow to twice the
//     congestion window (one window in flight, one queued behind it), at
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
	markSeq  uint32        // window-based sample: RCV.NXT to reach
	lastTSEc uint32        // TSecr of the last timestamp sample
	space    int32         // bytes read in the last round trip that grew
}

// rcvRTTMeasure takes a receiver round-trip sample from an in-window
// segment carrying n bytes of data. With timestamps, a full-sized segment
// echoing one of our TSvals gives now − TSecr (smoothed by 1/8, as for
// SRTT). Without, the time it takes RCV.NXT to pass the right edge of the
// window offered when the previous sample ended is an upper bound of the
// round trip, and the smallest such bound is kept.
func (t *TCB) rcvRTTMeasure(seg *Segment, n int, now time.Time) {
	r := &t.rtune
	if t.cfg.MaxReceiveBufferSize <= t.rcvBuf.size {
		return
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
	if r.rtt == 0 || time.Duration(ns-r.periodAt) < r.rtt {
		return
	}
	if copied, space := int(min(r.copied, maxBufferSize)), int(r.space); copied > space {
		target := 2*copied + 16*t.cfg.MSS
		if space > 0 {
			// The rate grew (a sender in slow start doubles it every
			// round trip): leave room for it to grow as much again. A
			// sender cannot more than double its rate in a round trip;
			// a bigger jump is the measurement's granularity (reads
			// and round trips do not line up), and is not trusted.
			target += 2 * target * min(copied-space, space) / space
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
	want := 2 * max(t.cwnd(), 10*t.sndMSS)
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
