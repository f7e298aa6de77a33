package tcp

import (
	"slices"
	"time"
)

// Linux's send-buffer memory (Config.SendBufferOverhead), a model the
// packetdrill runner turns on for Linux scripts that set SO_SNDBUF; off
// by default, where the send buffer simply holds SendBufferSize bytes of
// data.
//
// Linux charges a socket's send queue by memory (sk_wmem_queued against
// sk_sndbuf): the queued data is held in skbs, and each skb costs its
// payload plus a fixed overhead (its truesize less its data). How many
// skbs hold the data then decides when a writer blocks and when it is
// woken, which is what Linux's scripts check (blocking/blocking-write).
// Measured on Linux 6.18 (x86-64) with packetdrill in a network
// namespace, reading sk_wmem_queued (ss -tm, skmem w) after each step
// (README, difference 9):
//
//   - each skb costs its payload plus 832 bytes (LinuxSkbOverhead);
//   - a write appends to the last unsent skb until it holds the size
//     goal (the MSS times as many segments as fit in half the largest
//     window the peer offered, and in 64 KiB less headers), and starts a
//     new skb only while the queue's memory is below sk_sndbuf
//     (sk_stream_memory_free), else it blocks: a write may thus queue
//     up to a size goal past the buffer. When the last skb reaches the
//     size goal with more to write, what the windows allow is sent;
//   - data is sent in bursts, each one skb (tcp_write_xmit grows the skb
//     from the next ones or splits it to the burst, tcp_grow_skb and
//     tso_fragment): at most min(cwnd/2, cwnd − in flight) segments
//     (tcp_cwnd_test), and at most the TSO goal, tcp_min_tso_segs or a
//     millisecond at the pacing rate (tcp_tso_autosize);
//   - an ACK frees the skbs it covers entirely; one it covers in part
//     keeps its overhead (tcp_trim_head);
//   - a writer it stopped goes on once sk_sndbuf − queued ≥ queued/2
//     (sk_stream_write_space), after the ACK's own transmissions.
//
//   - a retransmission resends an skb whole, split first to at most
//     min(cwnd − in flight, TSO goal) segments (one after a timeout:
//     __tcp_retransmit_skb); a tail loss probe's last segment is split
//     off its skb (tcp_send_loss_probe).
//
// Not modelled: Linux's merges and splits on SACK, its deferral of a
// transmission for a fuller TSO packet (tcp_tso_should_defer), MSG_EOR's
// skb ends, a FIN's skb, and a minimum RTT under 9 ms (where
// tcp_tso_autosize adds to the TSO goal).

// LinuxSkbOverhead is what Linux 6.18 (x86-64) charges each skb of a
// TCP send queue beyond its payload: a 100-byte write queues 932 bytes of
// memory (ss -tm, skmem w), two such writes sent apart 1864.
const LinuxSkbOverhead = 832

// linuxGSOMaxSize is the most payload Linux puts in one skb when writing
// (sk_gso_max_size: 64 KiB less MAX_TCP_HEADER+1, 321 bytes on x86-64):
// with an MSS of 1000 its size goal is 65 segments (measured: 75000 bytes
// written, 10000 of them sent, take 3 skbs and 75001 take 4).
const linuxGSOMaxSize = 65536 - 321

// sndMem is the model's state: the skbs the queued data is held in.
type sndMem struct {
	// ends holds the sequence number just past each skb, in order; the
	// first starts at sndBufSeq, the last ends at the end of the buffer.
	ends []uint32
	// rtxNext and rtxEnd: the skb Linux would be retransmitting whole
	// runs to rtxEnd, and synack's next retransmitted segment continues
	// it if it starts at rtxNext (sndMemResent).
	rtxNext, rtxEnd uint32
}

// sndMemFixed reports whether the model applies to a buffer of cfg: an
// overhead is set and the buffer's size is fixed, since Linux grows a
// buffer SO_SNDBUF did not fix by other rules (tcp_sndbuf_expand).
func sndMemFixed(cfg *Config) bool {
	return cfg.SendBufferOverhead > 0 && cfg.MaxSendBufferSize <= cfg.SendBufferSize
}

// sndRingSize is the ring capacity for a send buffer of size bytes under
// cfg: the model lets a write queue up to a size goal past the buffer's
// memory, so the ring has room for two more.
func sndRingSize(cfg *Config, size int) int {
	if sndMemFixed(cfg) {
		return min(size+2*linuxGSOMaxSize, maxBufferSize)
	}
	return size
}

// sndMem returns the model's state, brought up to date with the buffer,
// or nil when the model does not apply.
func (t *TCB) sndMem() *sndMem {
	if !sndMemFixed(&t.cfg) {
		return nil
	}
	o := t.opts()
	if o.sm == nil {
		o.sm = &sndMem{}
	}
	o.sm.sync(t)
	return o.sm
}

// sync drops the skbs acknowledged entirely and puts data queued without
// the model (TCP_NOTSENT_LOWAT writes) in an skb of its own.
func (sm *sndMem) sync(t *TCB) {
	if t.sndBuf.Len() == 0 {
		sm.ends = sm.ends[:0]
		return
	}
	i := 0
	for i < len(sm.ends) && seqLE(sm.ends[i], t.sndBufSeq) {
		i++
	}
	if i > 0 {
		sm.ends = append(sm.ends[:0], sm.ends[i:]...)
	}
	end := t.sndBufSeq + uint32(t.sndBuf.Len())
	if k := len(sm.ends); k == 0 || seqLT(sm.ends[k-1], end) {
		sm.ends = append(sm.ends, end)
	}
}

// charged is the memory the queue is charged: Linux's sk_wmem_queued.
func (t *TCB) sndCharged(sm *sndMem) int {
	return t.sndBuf.Len() + t.cfg.SendBufferOverhead*len(sm.ends)
}

// SendQueueMemory is the memory the send queue is charged under
// Config.SendBufferOverhead (Linux's sk_wmem_queued), or the bytes it
// holds when the model does not apply.
func (t *TCB) SendQueueMemory() int {
	if sm := t.sndMem(); sm != nil {
		return t.sndCharged(sm)
	}
	return t.sndBuf.Len()
}

// sndMemSpace is sndSpace under the model: the queue is below sk_sndbuf
// and sk_sndbuf − queued ≥ queued/2 (sk_stream_wspace ≥
// sk_stream_min_wspace).
func (t *TCB) sndMemSpace(sm *sndMem) bool {
	c, lim := t.sndCharged(sm), t.cfg.SendBufferSize
	return c < lim && lim-c >= c>>1
}

// linuxSizeGoal is how much payload Linux puts in an skb when writing
// (tcp_xmit_size_goal): whole segments up to half the largest window the
// peer offered (tcp_bound_to_half_wnd) and up to linuxGSOMaxSize, at
// least one.
func (t *TCB) linuxSizeGoal() int {
	mss := max(t.sndMSS, 1)
	goal := linuxGSOMaxSize
	cut := int(t.maxSndWnd)
	if cut > 536 {
		cut >>= 1
	}
	if cut > 0 && goal > cut {
		goal = cut
	}
	return max(goal/mss*mss, mss)
}

// sndMemWrite is Write's copy into the buffer under the model: it fills
// the last unsent skb up to the size goal, starts a new one only while
// the queue's memory is below the buffer, and sends what the windows
// allow each time the last skb is full and more is to come, as
// tcp_sendmsg_locked does. It returns how much it took.
func (t *TCB) sndMemWrite(sm *sndMem, p []byte, now time.Time) int {
	total := 0
	for total < len(p) {
		goal := t.linuxSizeGoal()
		room, fresh := 0, false
		if k := len(sm.ends); k > 0 {
			start := t.sndBufSeq
			if k > 1 {
				start = sm.ends[k-2]
			}
			if seqGE(start, t.sndNxt) {
				room = goal - int(sm.ends[k-1]-start)
			}
		}
		if room <= 0 {
			if t.sndCharged(sm) >= t.cfg.SendBufferSize {
				break
			}
			sm.ends = append(sm.ends, t.sndBufSeq+uint32(t.sndBuf.Len()))
			room, fresh = goal, true
		}
		c := min(room, len(p)-total)
		w := t.sndBuf.Write(p[total : total+c])
		sm.ends[len(sm.ends)-1] += uint32(w)
		if fresh && w == 0 {
			sm.ends = sm.ends[:len(sm.ends)-1]
		}
		total += w
		if w < c {
			break // the ring or Memory refused the rest
		}
		if c == room && total < len(p) && t.state != StateSynSent {
			t.output(now) // the skb is full: push (forced_push, tcp_push_one)
			if sm = t.sndMem(); sm == nil {
				break
			}
		}
	}
	return total
}

// memBurst follows the transmit skbs of one output pass under the model.
type memBurst struct {
	start, end  uint32 // the open burst's sequence range
	segs, limit int    // its segments, and the most it may have
	open        bool
}

// sndMemSent notes a segment of n bytes of new data from seq just queued
// (before SND.NXT moves past it): it joins the open burst if it follows
// it and the burst has room, else starts a new one, sized as
// tcp_write_xmit sizes its next skb; the burst's data becomes one skb.
func (t *TCB) sndMemSent(b *memBurst, seq uint32, n int) {
	if n <= 0 {
		return
	}
	sm := t.sndMem()
	if sm == nil {
		return
	}
	if !b.open || seq != b.end || b.segs >= b.limit {
		*b = memBurst{start: seq, end: seq, limit: t.linuxBurstSegs(), open: true}
	}
	b.end += uint32(n)
	b.segs++
	sm.cover(b.start, b.end)
}

// cover makes [a, b) one skb: the skb ends inside it go (tcp_grow_skb
// moved their data into it) and one ends at b (tso_fragment split the
// rest off).
func (sm *sndMem) cover(a, b uint32) {
	i := 0
	for i < len(sm.ends) && seqLE(sm.ends[i], a) {
		i++
	}
	j := i
	for j < len(sm.ends) && seqLT(sm.ends[j], b) {
		j++
	}
	if j < len(sm.ends) && sm.ends[j] == b {
		sm.ends = slices.Delete(sm.ends, i, j)
		return
	}
	sm.ends = slices.Replace(sm.ends, i, j, b)
}

// linuxBurstSegs is the most segments the next transmit skb holds:
// tcp_cwnd_test's quota, min(cwnd/2, cwnd − in flight) (at least one:
// synack sends past cwnd only for limited transmit and probes), and the
// TSO goal.
func (t *TCB) linuxBurstSegs() int {
	mss := max(t.sndMSS, 1)
	cwnd := t.cwnd() / mss
	inflight := (max(t.pipe(), 0) + mss - 1) / mss
	quota := min(max(cwnd>>1, 1), cwnd-inflight)
	return max(min(quota, t.linuxTSOSegs()), 1)
}

// linuxTSOSegs is tcp_tso_autosize: a millisecond (1/1024 s) of data at
// the pacing rate (twice cwnd/SRTT in slow start, 1.2 times after), at
// least Config.MinTSOSegs (tcp_min_tso_segs, default 2), at most
// linuxGSOMaxSize.
func (t *TCB) linuxTSOSegs() int {
	mss := max(t.sndMSS, 1)
	least := t.cfg.MinTSOSegs
	if least <= 0 {
		least = 2
	}
	most := max(linuxGSOMaxSize/mss, 1)
	segs := least
	if t.hasRTT && t.srtt > 0 {
		ratio := 1.2
		if t.cc.InSlowStart() {
			ratio = 2
		}
		perMs := ratio * float64(t.cwnd()) / t.srtt.Seconds() / 1024
		segs = max(int(perMs)/mss, least)
	}
	return min(segs, most)
}

// sndMemResent notes a retransmission of [s, e), before it is counted in
// flight: a segment that continues the skb being resent changes nothing;
// one at the start of an skb resends it, split to at most
// min(cwnd − in flight, TSO goal) segments first; one inside an skb is a
// tail loss probe of its last segment, split off first.
func (t *TCB) sndMemResent(s, e uint32) {
	sm := t.sndMem()
	if sm == nil || s == e {
		return
	}
	if s == sm.rtxNext && seqLT(s, sm.rtxEnd) {
		sm.rtxNext = e
		return
	}
	i := 0
	for i < len(sm.ends) && seqLE(sm.ends[i], s) {
		i++
	}
	if i == len(sm.ends) {
		return
	}
	start := t.sndBufSeq
	if i > 0 {
		start = sm.ends[i-1]
	}
	if start != s && seqGT(s, start) {
		sm.ends = slices.Insert(sm.ends, i, s)
		i++
	} else {
		mss := max(t.sndMSS, 1)
		quota := t.cwnd()/mss - (max(t.pipe(), 0)+mss-1)/mss
		segs := max(min(quota, t.linuxTSOSegs()), 1)
		if lim := s + uint32(segs*mss); seqLT(lim, sm.ends[i]) {
			sm.ends = slices.Insert(sm.ends, i, lim)
		}
	}
	sm.rtxNext, sm.rtxEnd = e, sm.ends[i]
}
