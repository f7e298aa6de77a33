package stack

import (
	"cmp"
	"hash/maphash"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/synack/synack/link"
	"github.com/synack/synack/tcp"
	"github.com/synack/synack/wire"
)

// tuple is a connection's 4-tuple, the demultiplexing key.
type tuple struct {
	local, remote netip.AddrPort
}

func compareAddrPort(a, b netip.AddrPort) int { return a.Compare(b) }

func compareTuple(a, b tuple) int {
	return cmp.Or(a.local.Compare(b.local), a.remote.Compare(b.remote))
}

// shardFor returns the shard that owns key.
func (s *Stack) shardFor(key tuple) *shard {
	if len(s.shards) == 1 {
		return s.shards[0]
	}
	return s.shardOf(maphash.Comparable(s.seed, key))
}

// shardOf returns the shard that owns a key whose hash under the
// stack's seed is h (the shards' tables hash with the same seed).
func (s *Stack) shardOf(h uint64) *shard { return s.shards[h%uint64(len(s.shards))] }

// shard is one event loop with the connections it owns. mu guards
// everything below it and every TCB in conns.
type shard struct {
	s    *Stack
	in   chan *inPacket // real-time mode: inbound packets for this shard
	kick chan struct{}  // real-time mode: the timer must be re-armed

	// queued counts the packets in `in` not yet processed (decremented
	// under mu once processed): a packet is processed inline only when
	// it is zero, so that it cannot overtake one already queued.
	queued atomic.Int32

	mu     sync.Mutex
	conns  connTable // conntable.go
	timers timerHeap
	epoch  time.Time // the origin of the compact times in timers and Conns (mono)
	armed  time.Time // when the loop's timer fires, or will once kicked; zero: not armed
	// timerAt is when the loop's timer is set to fire (the loop's own);
	// zero: not set.
	timerAt time.Time
	// timer is the loop's timer (real-time mode; nil in manual mode),
	// and timerLook when postponeTimer looks whether it would fire for
	// nothing: postponeWindow before timerAt.
	timer     *time.Timer
	timerLook time.Time
	// What woke the loop other than a packet (tests: timer wake-ups for
	// nothing).
	loopTimers, loopKicks atomic.Uint64

	buf []byte // the packet being built (manual mode)
	// Packets built under mu, written once it is released (unlock).
	// In real-time mode one goroutine at a time writes them (flushing),
	// in order; spare is the other half of the double buffer.
	pending  []outPacket
	spare    []outPacket
	flushing bool
	segs     shardSegments  // introspect.go
	hdr      wire.TCPHeader // the TCP header emit is building
	ipo      ipOpts         // the IP settings of the connection emitting (sockopt.go)
	// Real-time mode: the segments one DrainOutput builds for a link that
	// takes several per call (batch.go).
	batching bool
	batch    outBatch
	// The send-buffer page of the payload emit is sending (send-side
	// zero copy: tcp.Segment.Page), for emitOwn; nil otherwise.
	page *tcp.SendPage

	// The per-packet counters of Stats this shard's packets touch, on
	// cache lines of their own (Stats sums them).
	ctr shardCounters

	// TIME-WAIT records and their expiries (timewait.go).
	tw        map[twKey]tcp.TimeWait
	twq       twHeap
	reopen    bool   // the SYN being handled reopened a TIME-WAIT 4-tuple:
	reopenISS uint32 // the new connection's ISS is at least this
	dialReuse bool   // the dial being made took our TIME-WAIT's 4-tuple:
	dialISS   uint32 // its ISS is at least this (ephemeral, activeTCB)

	// The 4-tuples of the connections that reported buffer storage
	// (tcp.EventStorage), which sweepIdle looks at every bufferIdle from
	// sweepAt (zero: none). Keys, not Conns: a connection that ends is
	// not kept from the collector until the next sweep.
	holding []tuple
	sweepAt time.Time
}

type outPacket struct {
	l   link.Link
	pkt []byte
	p   *inPacket    // the pooled buffer pkt lives in; nil if none
	ho  link.Handoff // set: pkt's TCP checksum is not computed, hand it over
	// Send-side zero copy: pkt holds the headers only, and the payload
	// lies in page, of which the packet holds a reference
	// (link.PayloadHandoff).
	payload []byte
	page    *tcp.SendPage
}

func newShard(s *Stack) *shard {
	return &shard{s: s, buf: make([]byte, 0, 2048), epoch: s.clock.Now(), conns: connTable{seed: s.seed}}
}

// loop is a real-time shard's goroutine (driver.go), until done is closed.
func (sh *shard) loop(done <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	sh.mu.Lock()
	sh.timer = timer
	sh.mu.Unlock()
	for {
		select {
		case p := <-sh.in:
			sh.mu.Lock()
			now := sh.s.clock.Now()
			sh.input(p, now)
			putPacket(p)
			sh.queued.Add(-1)
			sh.drainInput(now, 63) // what else is waiting, under the same lock
			sh.runTimers(now)
			sh.rearm(timer, now)
			sh.unlockFrom(true)
		case <-timer.C:
			sh.loopTimers.Add(1)
			sh.mu.Lock()
			now := sh.s.clock.Now()
			sh.armed, sh.timerAt, sh.timerLook = time.Time{}, time.Time{}, time.Time{} // it fired
			// Segments that arrived before the timer fired go first (select
			// picks at random among ready cases): after a stall of the
			// process, the ACKs waiting here must not be taken for losses.
			sh.drainInput(now, cap(sh.in))
			sh.runTimers(now)
			sh.rearm(timer, now)
			sh.unlockFrom(true)
		case <-sh.kick:
			sh.loopKicks.Add(1)
			sh.mu.Lock()
			sh.rearm(timer, sh.s.clock.Now())
			sh.unlockFrom(true) // and writes what a user call left

		case <-done:
			return
		}
	}
}

// drainInput processes up to max packets waiting in the loop's queue
// (under mu).
func (sh *shard) drainInput(now time.Time, max int) {
	for range max {
		select {
		case p := <-sh.in:
			sh.input(p, now)
			putPacket(p)
			sh.queued.Add(-1)
		default:
			return
		}
	}
}

// rearm makes the loop's timer fire no later than the earliest live
// deadline. It resets the timer only when that deadline is earlier than
// the one armed: a timer that fires early finds nothing due and is
// re-armed then, which costs less than a reset after every batch.
func (sh *shard) rearm(timer *time.Timer, now time.Time) {
	d := sh.nextDeadline()
	if d.IsZero() {
		return // a timer still armed fires once for nothing
	}
	if !sh.timerAt.IsZero() && !d.Before(sh.timerAt) && sh.timerAt.After(now) {
		sh.armed = sh.timerAt
		return
	}
	sh.armed, sh.timerAt, sh.timerLook = d, d, d.Add(-postponeWindow)
	timer.Reset(max(d.Sub(now), 0))
}

// postponeWindow is how long before the loop's timer fires a user call
// or segment on the shard looks whether it still has to (postponeTimer).
const postponeWindow = 5 * time.Millisecond

// postponeTimer moves the loop's timer to the earliest deadline when that
// moved later than the timer (or stops it when no deadline is left),
// shortly before the timer would fire: a connection in use moves its
// timers on (a probe timeout re-armed by every segment sent, a delayed
// ACK sent with a reply, an idle sweep done in passing) and the loop's
// timer, which rearm moves only earlier, would otherwise wake the loop
// for nothing some 25 times a second. Such a wake-up, on another CPU,
// is what splits the two goroutines of a request/response exchange that
// take turns on one (BENCHMARKS.md, "Loop timers that follow the
// deadlines"). Called under mu, from the calls that settle a connection.
func (sh *shard) postponeTimer(now time.Time) {
	if sh.timer == nil {
		return
	}
	d := sh.nextDeadline()
	switch {
	case d.IsZero():
		sh.timer.Stop()
		sh.armed, sh.timerAt, sh.timerLook = time.Time{}, time.Time{}, time.Time{}
	case d.After(sh.timerAt):
		sh.armed, sh.timerAt, sh.timerLook = d, d, d.Add(-postponeWindow)
		sh.timer.Reset(max(d.Sub(now), 0))
	}
}

// kickIfEarlier wakes the loop to re-arm its timer when the earliest
// deadline is now before the one armed (after work done outside the
// loop, under mu).
func (sh *shard) kickIfEarlier() {
	if d := sh.nextDeadline(); !d.IsZero() {
		sh.s.drv.wake(sh, d)
	}
}

// unlock releases mu, then writes the packets built under it. In
// real-time mode one goroutine at a time writes a shard's packets, in the
// order they were built; one that finds another writing leaves its
// packets to it.
func (sh *shard) unlock() { sh.unlockFrom(false) }

// maxFlushRounds bounds how many times a goroutine other than the loop
// goes back for packets that others queued while it was writing; then it
// leaves the rest to the loop, so that a user call is not kept writing
// the output of a busy shard.
const maxFlushRounds = 8

// unlockFrom is unlock; loop says the caller is the shard's loop.
func (sh *shard) unlockFrom(loop bool) {
	if len(sh.pending) == 0 {
		sh.mu.Unlock()
		return
	}
	sh.s.drv.flush(sh, loop)
}

// flushOwn is unlockFrom with packets pending in real-time mode.
func (sh *shard) flushOwn(loop bool) {
	if sh.flushing {
		sh.mu.Unlock()
		return
	}
	sh.flushing = true
	for round := 0; len(sh.pending) > 0; round++ {
		if round == maxFlushRounds && !loop {
			select {
			case sh.kick <- struct{}{}: // the loop writes the rest
			default:
			}
			break
		}
		out := sh.pending
		sh.pending, sh.spare = sh.spare[:0], nil
		sh.mu.Unlock()
		for i := range out {
			sh.send(&out[i])
			out[i] = outPacket{}
		}
		sh.mu.Lock()
		sh.spare = out[:0]
	}
	sh.flushing = false
	sh.mu.Unlock()
}

// send writes one packet built by the shard and gives its buffer back
// (or away, to a stack that adopts it).
func (sh *shard) send(o *outPacket) {
	switch {
	case o.page != nil:
		// Headers and a payload in a page of a send buffer: the far
		// side's stack takes the headers' buffer and the packet's
		// reference to the page.
		ok, err := o.ho.(link.PayloadHandoff).HandOffPayload(o.pkt, o.payload, o.page)
		if !sh.handedOff(o, ok, err) {
			o.page.Release()
		}
	case o.ho != nil:
		ok, err := o.ho.HandOff(o.pkt)
		sh.handedOff(o, ok, err)
	default:
		sh.write(o.l, o.pkt)
		if o.p != nil {
			putPacket(o.p)
		}
	}
}

// handedOff counts the outcome of handing o to the far side's stack and
// gives o's buffer up: to the far side when it took the packet, back to
// the pool when not. A packet the far side no longer adopts (it stopped
// since the packet was built without its checksum) is dropped: TCP
// resends.
func (sh *shard) handedOff(o *outPacket, ok bool, err error) bool {
	if err == nil && ok {
		sh.ctr.packetsOut.Add(1)
		o.p.buf = nil
		putHolder(o.p)
		return true
	}
	sh.ctr.linkErrors.Add(1)
	putPacket(o.p)
	return false
}

// write writes pkt to l, counted in the shard's counters.
func (sh *shard) write(l link.Link, pkt []byte) {
	if err := l.WritePacket(pkt); err != nil {
		sh.ctr.linkErrors.Add(1)
		return
	}
	sh.ctr.packetsOut.Add(1)
}

// write writes pkt to l, counted in the stack's counters (a packet no
// shard wrote).
func (s *Stack) write(l link.Link, pkt []byte) {
	if err := l.WritePacket(pkt); err != nil {
		s.ctr.linkErrors.Add(1)
		return
	}
	s.ctr.packetsOut.Add(1)
}

// shardCounters are the counters of Stats that every packet touches, kept
// per shard so that shards share no cache line for them. They are atomic
// because packets are written after the shard's lock is released.
type shardCounters struct {
	_                                               [64]byte // off the cache lines of the fields before
	packetsIn, packetsOut, linkErrors, inboundDrops atomic.Uint64
	_                                               [64 - 32]byte
}

// emit builds the packet carrying seg from local to remote and sends it on
// r (under mu: in real-time mode at once, in manual mode after unlock).
func (sh *shard) emit(r *route, local, remote netip.AddrPort, seg *tcp.Segment) {
	if r == nil {
		sh.s.ctr.noRoute.Add(1)
		return
	}
	h := &sh.hdr // in the shard: a pointer handed to the driver does not make it escape
	*h = wire.TCPHeader{
		SrcPort: local.Port(),
		DstPort: remote.Port(),
		Seq:     seg.Seq,
		Ack:     seg.Ack,
		Flags:   seg.Flags,
		Window:  seg.Window,
		Urgent:  seg.Urgent,
		Options: seg.Options,
	}
	ep := wire.Endpoints{Src: local.Addr(), Dst: remote.Addr()}
	ecn := wire.ECNNotECT
	if seg.ECT {
		ecn = wire.ECNECT0 // RFC 3168 §6.1.1: new data of an ECN-capable connection
	}
	sh.countSegment(true, local, remote, seg, time.Time{})
	if seg.GSOSize != 0 {
		// A super-segment counts as the segments it joins, as Linux
		// counts a GSO packet's.
		sh.segs.out += uint64((len(seg.Payload)+int(seg.GSOSize)-1)/int(seg.GSOSize)) - 1
	}
	if sh.batching && sh.batchTCP(r, ep, ecn, h, seg.Payload, int(seg.GSOSize)) { // batch.go
		return
	}
	sh.page = seg.Page // for emitOwn: send-side zero copy
	sh.s.drv.emit(sh, r, ep, ecn, h, seg.Payload, seg.GSOSize != 0)
	sh.page = nil
}

// zeroCopyMin is the smallest payload handed to a stack that adopts
// packets by a reference to the sender's page rather than copied: below
// it the receiving engine copies the payload anyway (tcp's minKeep), and
// so does the sender, which saves the reference's round trip.
const zeroCopyMin = 4096

// emitOwn builds a packet into a pooled buffer of its own and queues it
// in pending (real-time mode). Over a link that hands buffers to a stack
// (link.Handoff: a Pipe between two stacks) the TCP checksum is left
// uncomputed, as over the kernel's loopback, and the buffer is given
// away rather than copied.
//
// A super-segment (super: DrainOutputSuper joined segments for a link that
// is a link.SuperSegmenter) goes whole to the far side's stack.
func (sh *shard) emitOwn(r *route, ep wire.Endpoints, ecn uint8, h *wire.TCPHeader, payload []byte, super bool) {
	s := sh.s
	ho, _ := r.l.(link.Handoff)
	if ho != nil && !ho.PeerAdopts() {
		ho = nil
	}
	if super && ho == nil {
		// The far side stopped adopting since the drain began: the
		// segments go as one MSS each would not; drop, TCP resends.
		s.ctr.linkErrors.Add(1)
		return
	}
	if ho != nil && sh.page != nil && len(payload) >= zeroCopyMin &&
		(super || ipHeaderLen(ep)+h.Len()+len(payload) <= s.pathMTU(r, ep.Dst)) {
		if _, ok := ho.(link.PayloadHandoff); ok {
			// Send-side zero copy: the far side's engine gets the
			// payload where it lies in our send buffer.
			p := getPacket(40 + h.Len())
			p.buf = appendTCPHeadersNoChecksum(p.buf[:0], ep, s.ttl, ecn, h, len(payload))
			sh.ipo.apply(p.buf)
			sh.page.Ref()
			s.txPageRefs.Add(1)
			sh.pending = append(sh.pending, outPacket{l: r.l, pkt: p.buf, p: p, ho: ho, payload: payload, page: sh.page})
			return
		}
	}
	if ho != nil && sh.page == nil && len(payload) >= zeroCopyMin {
		s.txCopied.Add(1)
	}
	p := getPacket(40 + h.Len() + len(payload))
	if ho != nil {
		p.buf = appendTCPPacketNoChecksum(p.buf[:0], ep, s.ttl, ecn, h, payload)
	} else {
		p.buf = wire.AppendTCPPacketECN(p.buf[:0], ep, s.ttl, ecn, h, payload)
	}
	sh.ipo.apply(p.buf) // IP_TOS, IP_TTL ... (sockopt.go)
	if !super && len(p.buf) > s.pathMTU(r, ep.Dst) {
		// Fragmented (a path MTU that fell under the connection's
		// MSS): the rare path, with full checksums.
		if ho != nil {
			p.buf = wire.AppendTCPPacketECN(p.buf[:0], ep, s.ttl, ecn, h, payload)
			sh.ipo.apply(p.buf)
		}
		s.transmit(r, ep.Dst, p.buf, &sh.pending)
		putPacket(p)
		return
	}
	sh.pending = append(sh.pending, outPacket{l: r.l, pkt: p.buf, p: p, ho: ho})
}

// ipHeaderLen is the length of the IP header of a packet between ep's
// addresses (no options).
func ipHeaderLen(ep wire.Endpoints) int {
	if ep.Src.Is4() && ep.Dst.Is4() {
		return wire.IPv4HeaderLen
	}
	return wire.IPv6HeaderLen
}

// appendTCPPacketNoChecksum is wire.AppendTCPPacketECN without the TCP
// checksum over the payload (the field holds the header's sum only): for
// a packet handed to a stack in the same process, which does not check it.
func appendTCPPacketNoChecksum(dst []byte, ep wire.Endpoints, ttl, ecn uint8, h *wire.TCPHeader, payload []byte) []byte {
	dst = appendTCPHeadersNoChecksum(dst, ep, ttl, ecn, h, len(payload))
	return append(dst, payload...)
}

// appendTCPHeadersNoChecksum is appendTCPPacketNoChecksum without the
// payload: the IP and TCP headers of a packet whose n payload bytes
// follow elsewhere (lengths count them).
func appendTCPHeadersNoChecksum(dst []byte, ep wire.Endpoints, ttl, ecn uint8, h *wire.TCPHeader, n int) []byte {
	segLen := h.Len() + n
	if ep.Src.Is4() && ep.Dst.Is4() {
		ip := wire.IPv4Header{TOS: ecn & 3, DontFragment: true, TTL: ttl, Protocol: wire.ProtocolTCP, Src: ep.Src, Dst: ep.Dst}
		dst = wire.AppendIPv4(dst, &ip, segLen)
	} else {
		ip := wire.IPv6Header{TrafficClass: ecn & 3, NextHeader: wire.ProtocolTCP, HopLimit: ttl, Src: ep.Src, Dst: ep.Dst}
		dst = wire.AppendIPv6(dst, &ip, segLen)
	}
	return wire.AppendTCP(dst, h, nil, ep)
}

// pendingQueue is where a packet built in buf waits to be written: the
// driver's choice (nil: written at once).
func (sh *shard) pendingQueue() *[]outPacket { return sh.s.drv.pendingQueue(sh) }

// settle does what follows an engine call on c that returns no events
// (user calls, a new TCB): settleEvents with the events it took.
func (sh *shard) settle(c *Conn, now time.Time) {
	sh.settleEvents(c, c.tcb.TakeEvents(), now)
}

// settleEvents does what follows every engine call on c, given the
// events the engine reported (tcp.Events): send its output, promote or
// forget it if it is a half-open connection of a listener, hand it to a
// TIME-WAIT record or forget it once it ended, re-arm its timer if its
// deadline moved and wake its waiters. It asks the engine nothing the
// events answer.
func (sh *shard) settleEvents(c *Conn, ev tcp.Events, now time.Time) {
	if ev&tcp.EventStorage != 0 {
		sh.noteHolding(c, now)
	}
	if !sh.sweepAt.IsZero() && !now.Before(sh.sweepAt) {
		sh.sweepIdle(now) // due: done here rather than by waking the loop
	}
	if !sh.timerLook.IsZero() && !now.Before(sh.timerLook) {
		sh.postponeTimer(now)
	}
	if ev&tcp.EventOutput != 0 {
		sh.drainBatched(c) // batch.go: c.tcb.DrainOutput(c.emit), a batch per link
	}
	if c.tcb.UsesFastOpen() {
		sh.fastOpenSettle(c)
	}
	if c.tw {
		c.notify() // a TIME-WAIT record stands for the connection
		return
	}
	if c.halfOpen {
		sh.settleHalfOpen(c, now)
	}
	if ev&tcp.EventTimeWait != 0 && c.tcb.State() == tcp.StateTimeWait {
		sh.toTimeWait(c, now)
		c.notify()
		return
	}
	switch {
	case ev&tcp.EventClosed != 0:
		sh.remove(c) // the output is drained: the TCB is Done
	case ev&tcp.EventDeadlineMoved != 0 && c.inTable:
		sh.schedule(c)
	}
	c.wake(ev)
}

// insert adds c to the demultiplexing table.
func (sh *shard) insert(c *Conn) {
	sh.conns.set(c)
	c.inTable = true
	sh.s.ctr.conns.Add(1)
	sh.s.mem.AddConnections(1)
}

// remove forgets c: its tuple is free again and its timers are dead.
func (sh *shard) remove(c *Conn) {
	if !c.inTable {
		return
	}
	sh.conns.delete(c)
	c.inTable = false
	c.timerAt = 0
	sh.s.retire(c)
	sh.s.ctr.conns.Add(^uint64(0))
	sh.s.mem.AddConnections(-1)
	if c.halfOpen {
		c.halfOpen = false
		c.lst.forget(c)
	}
}

// schedule makes the shard's timers agree with c's engine deadline and
// the deadline of a Read or Write blocked on it (waitDeadline).
func (sh *shard) schedule(c *Conn) {
	d := c.tcb.Deadline()
	at := sh.mono(d)
	if w := c.waitDeadline(); w != 0 && (at == 0 || w < at) {
		at, d = w, sh.wall(w)
	}
	if at == c.timerAt {
		return
	}
	c.timerAt = at
	if at == 0 {
		return
	}
	sh.timers.push(timerEntry{at: at, c: c})
	if len(sh.timers) > sh.conns.len()+sh.conns.len()/2+64 {
		sh.timers.compact()
	}
	sh.s.drv.wake(sh, d)
}

// runTimers runs the engine timers due at now. Entries re-armed at or
// before now by the engine wait for the next call, so a buggy deadline
// cannot spin here.
func (sh *shard) runTimers(now time.Time) {
	sh.expireTimeWait(now)
	if !sh.sweepAt.IsZero() && !now.Before(sh.sweepAt) {
		sh.sweepIdle(now)
	}
	var due []*Conn
	for {
		d := sh.wall(sh.timers.next())
		if d.IsZero() || d.After(now) {
			break
		}
		e := sh.timers.pop()
		e.c.timerAt = 0
		due = append(due, e.c)
	}
	for _, c := range due {
		if !c.inTable {
			continue
		}
		sh.expireWaits(c, now)
		// Its entry is gone from the heap: it goes back whether or
		// not the deadline moved.
		sh.settleEvents(c, c.tcb.HandleTimer(now)|tcp.EventDeadlineMoved, now)
	}
	if len(due) > 0 {
		sh.timers.shrink()
	}
}

// mono is t as the compact time the timers and Conns keep: nanoseconds
// since the shard's epoch (monotonic when the clock is), never 0, which
// stands for the zero time. A time that falls on the epoch itself is
// kept 1 ns earlier (it is already due).
func (sh *shard) mono(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	if d := int64(t.Sub(sh.epoch)); d != 0 {
		return d
	}
	return -1
}

// wall is the time of a compact time from mono (the zero time for 0).
func (sh *shard) wall(at int64) time.Time {
	if at == 0 {
		return time.Time{}
	}
	return sh.epoch.Add(time.Duration(at))
}

// timerEntry asks for c's timer to run at at (sh.mono). It is stale
// (lazily deleted) once c's deadline has moved or c has left the table.
// 16 bytes: every idle connection with keepalive on has one.
type timerEntry struct {
	at int64
	c  *Conn
}

func (e timerEntry) live() bool { return e.c.inTable && e.at == e.c.timerAt }

// timerHeap is a min-heap of timer entries by deadline.
type timerHeap []timerEntry

// next drops stale entries from the top and returns the earliest live
// deadline (sh.mono), or 0.
func (h *timerHeap) next() int64 {
	for len(*h) > 0 {
		if e := (*h)[0]; e.live() {
			return e.at
		}
		h.pop()
	}
	return 0
}

func (h *timerHeap) push(e timerEntry) {
	*h = append(*h, e)
	h.up(len(*h) - 1)
}

func (h *timerHeap) pop() timerEntry {
	old := *h
	e := old[0]
	n := len(old) - 1
	old[0] = old[n]
	old[n] = timerEntry{}
	*h = old[:n]
	if n > 0 {
		h.down(0)
	}
	return e
}

// compact drops every stale entry and restores the heap order. It keeps
// one entry per connection: a deadline that moves away and back (to the
// same keepalive time, say) leaves two entries that both look live, and
// keeping both could leave the heap past the bound that calls compact,
// which would then run on every push.
func (h *timerHeap) compact() {
	old := *h
	n := 0
	for _, e := range old {
		if e.live() && !e.c.timerKept {
			e.c.timerKept = true
			old[n] = e
			n++
		}
	}
	for _, e := range old[:n] {
		e.c.timerKept = false
	}
	clear(old[n:])
	*h = old[:n]
	h.shrink()
	for i := n/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

// shrink gives back the memory of a heap most of whose entries have gone
// (connections gone idle).
func (h *timerHeap) shrink() {
	if n := len(*h); cap(*h) > 4*n+256 {
		*h = append(timerHeap(nil), (*h)...)
	}
}

func (h timerHeap) less(i, j int) bool { return h[i].at < h[j].at }

func (h timerHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			return
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (h timerHeap) down(i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// Deadlines of blocked calls. A Read or Write that blocks with a
// deadline in real-time mode waits on its connection's wake-up channel
// alone: the shard's timers, which already hold the connection for its
// engine's deadline, hold the earlier of the two, and wake the call when
// its deadline passes. As package net does it (a deadline is a timer set
// when it is set, not one per wait), a blocked call arms and stops no
// runtime timer of its own (BENCHMARKS.md, "Deadlines kept by the
// shard").

// timeWait makes the shard's timers wake a call about to wait on ch (from
// c's waiters) when dl (c.rdl or c.wdl) passes, and reports whether they
// will: not without a deadline, in manual mode (ch nil: the runner waits
// for the deadline) or for a connection outside the table. Under mu.
func (sh *shard) timeWait(c *Conn, ch chan struct{}, dl int64) bool {
	if dl == 0 || ch == nil || !c.inTable {
		return false
	}
	sh.schedule(c)
	return true
}

// waitDeadline is the earliest deadline (sh.mono; 0: none) of a Read or
// Write blocked on c that is not yet woken (a broadcast leaves its
// waiters counted until they run, with no channel).
func (c *Conn) waitDeadline() int64 {
	var at int64
	if c.rdl != 0 && c.rdW.n > 0 && c.rdW.ch != nil {
		at = c.rdl
	}
	if c.wdl != 0 && c.wrW.n > 0 && c.wrW.ch != nil && (at == 0 || c.wdl < at) {
		at = c.wdl
	}
	return at
}

// expireWaits wakes the Reads and Writes blocked on c whose deadline has
// passed at now; they find it passed and return.
func (sh *shard) expireWaits(c *Conn, now time.Time) {
	n := sh.mono(now)
	if c.rdl != 0 && c.rdl <= n && c.rdW.n > 0 {
		c.rdW.broadcast()
	}
	if c.wdl != 0 && c.wdl <= n && c.wrW.n > 0 {
		c.wrW.broadcast()
	}
}

// Buffer storage of idle connections (tcp.Config.DeferReclaim).
//
// A connection's buffers take their storage (pages, a slab, the records
// of segments in flight) from process-wide pools as data comes, and the
// engine would give it back the moment a buffer drains: an idle
// connection then holds no buffer memory. But a connection that
// exchanges small messages drains its buffers after every one, and
// taking and giving back storage per message cost a tenth of a ping-pong
// round trip, and much more when the two ends ran on two CPUs and the
// pools' locks and free lists moved between them (BENCHMARKS.md,
// "Storage kept while a connection is in use"). In real-time mode the
// engine keeps it (DeferReclaim) and the shard gives it back once the
// connection is idle: every bufferIdle it looks at the connections that
// reported storage (EventStorage), and a connection whose buffers
// neither drained nor were read since the last look gives back what its
// drained buffers hold (TCB.ReclaimIdle). Storage so goes back 100 to
// 200 ms after a connection's last use; memory pressure takes it at
// once, as before.

// idleBufferLook is bufferIdle in real-time mode.
const idleBufferLook = 100 * time.Millisecond

// noteHolding adds c to the connections sweepIdle looks at.
func (sh *shard) noteHolding(c *Conn, now time.Time) {
	if sh.s.bufferIdle <= 0 {
		return
	}
	sh.holding = append(sh.holding, c.key)
	if sh.sweepAt.IsZero() {
		sh.sweepAt = now.Add(sh.s.bufferIdle)
		sh.s.drv.wake(sh, sh.sweepAt)
	}
}

// sweepIdle gives back the storage of the connections that have not used
// their buffers since the last sweep, and forgets them and those that
// ended. (A connection that took the 4-tuple of one that ended is looked
// at in its place: at worst its storage goes back early, and it reports
// EventStorage again.)
func (sh *shard) sweepIdle(now time.Time) {
	keep := sh.holding[:0]
	for _, k := range sh.holding {
		if c := sh.conns.get(k); c != nil && !c.tw && c.tcb.ReclaimIdle() {
			keep = append(keep, k)
		}
	}
	clear(sh.holding[len(keep):])
	sh.holding, sh.sweepAt = keep, time.Time{}
	if len(keep) > 0 {
		sh.sweepAt = now.Add(sh.s.bufferIdle)
	} else {
		sh.holding = nil // an idle shard holds no list (64 bytes a connection)
	}
}
