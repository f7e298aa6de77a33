package stack

import (
	"cmp"
	"hash/maphash"
	"net/netip"
	"sync"
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
	return s.shards[maphash.Comparable(s.seed, key)%uint64(len(s.shards))]
}

// shard is one event loop with the connections it owns. mu guards
// everything below it and every TCB in conns.
type shard struct {
	s    *Stack
	in   chan *inPacket // real-time mode: inbound packets for this shard
	kick chan struct{}  // real-time mode: the timer must be re-armed

	mu     sync.Mutex
	conns  connTable // conntable.go
	timers timerHeap
	epoch  time.Time // the origin of the compact times in timers and Conns (mono)
	armed  time.Time // when the loop's timer fires; zero: not armed
	buf    []byte    // the packet being built
	// Manual mode: packets built under mu, written once it is released.
	pending []outPacket
	segs    shardSegments // introspect.go

	// TIME-WAIT records and their expiries (timewait.go).
	tw        map[twKey]tcp.TimeWait
	twq       twHeap
	reopen    bool   // the SYN being handled reopened a TIME-WAIT 4-tuple:
	reopenISS uint32 // the new connection's ISS is at least this
}

type outPacket struct {
	l   link.Link
	pkt []byte
}

func newShard(s *Stack, qlen int) *shard {
	sh := &shard{s: s, buf: make([]byte, 0, 2048), epoch: s.clock.Now()}
	if s.runner == nil {
		sh.in = make(chan *inPacket, qlen)
		sh.kick = make(chan struct{}, 1)
	}
	return sh
}

// loop is a real-time shard's goroutine.
func (sh *shard) loop() {
	defer sh.s.loops.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case p := <-sh.in:
			sh.mu.Lock()
			now := sh.s.clock.Now()
			sh.input(p, now)
			putPacket(p)
			// Take what else is waiting under the same lock, a bounded batch.
			for range 63 {
				select {
				case p = <-sh.in:
				default:
					p = nil
				}
				if p == nil {
					break
				}
				sh.input(p, now)
				putPacket(p)
			}
			sh.runTimers(now)
			sh.rearm(timer, now)
			sh.mu.Unlock()
		case <-timer.C:
			sh.mu.Lock()
			now := sh.s.clock.Now()
			sh.runTimers(now)
			sh.rearm(timer, now)
			sh.mu.Unlock()
		case <-sh.kick:
			sh.mu.Lock()
			sh.rearm(timer, sh.s.clock.Now())
			sh.mu.Unlock()
		case <-sh.s.stop:
			return
		}
	}
}

// rearm sets the loop's timer to the earliest live deadline.
func (sh *shard) rearm(timer *time.Timer, now time.Time) {
	d := sh.nextDeadline()
	sh.armed = d
	if d.IsZero() {
		timer.Stop()
		return
	}
	timer.Reset(max(d.Sub(now), 0))
}

// unlock releases mu; in manual mode it then writes the packets built
// under it.
func (sh *shard) unlock() {
	if len(sh.pending) == 0 {
		sh.mu.Unlock()
		return
	}
	out := sh.pending
	sh.pending = nil
	sh.mu.Unlock()
	for _, p := range out {
		sh.s.write(p.l, p.pkt)
	}
}

func (s *Stack) write(l link.Link, pkt []byte) {
	if err := l.WritePacket(pkt); err != nil {
		s.ctr.linkErrors.Add(1)
		return
	}
	s.ctr.packetsOut.Add(1)
}

// emit builds the packet carrying seg from local to remote and sends it on
// r (under mu: in real-time mode at once, in manual mode after unlock).
func (sh *shard) emit(r *route, local, remote netip.AddrPort, seg *tcp.Segment) {
	if r == nil {
		sh.s.ctr.noRoute.Add(1)
		return
	}
	h := wire.TCPHeader{
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
	sh.buf = wire.AppendTCPPacketECN(sh.buf[:0], ep, sh.s.ttl, ecn, &h, seg.Payload)
	sh.s.transmit(r, ep.Dst, sh.buf, sh.pendingQueue())
}

// pendingQueue is where packets built under mu wait in manual mode; nil
// in real-time mode, where they are written at once.
func (sh *shard) pendingQueue() *[]outPacket {
	if sh.s.runner != nil {
		return &sh.pending
	}
	return nil
}

// settle does what follows every engine call on c: send its output,
// promote or forget it if it is a half-open connection of a listener,
// forget it if it is done, re-arm its timer and wake its waiters.
func (sh *shard) settle(c *Conn, now time.Time) {
	c.tcb.DrainOutput(c.emit)
	if c.tw {
		c.notify() // a TIME-WAIT record stands for the connection
		return
	}
	if c.halfOpen {
		sh.settleHalfOpen(c, now)
	}
	if c.tcb.State() == tcp.StateTimeWait {
		sh.toTimeWait(c, now)
		c.notify()
		return
	}
	if c.tcb.Done() {
		sh.remove(c)
	} else {
		sh.schedule(c)
	}
	c.notify()
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

// schedule makes the shard's timers agree with c's engine deadline.
func (sh *shard) schedule(c *Conn) {
	d := c.tcb.Deadline()
	at := sh.mono(d)
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
	if sh.kick != nil && (sh.armed.IsZero() || d.Before(sh.armed)) {
		sh.armed = d
		select {
		case sh.kick <- struct{}{}:
		default:
		}
	}
}

// runTimers runs the engine timers due at now. Entries re-armed at or
// before now by the engine wait for the next call, so a buggy deadline
// cannot spin here.
func (sh *shard) runTimers(now time.Time) {
	sh.expireTimeWait(now)
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
		c.tcb.HandleTimer(now)
		sh.settle(c, now)
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
