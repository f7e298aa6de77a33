package stack

import (
	"net/netip"
	"time"

	"github.com/synack/synack/tcp"
)

// TIME-WAIT. When a connection enters TIME-WAIT its shard forgets the
// TCB: the connection leaves the demultiplexing table and a compact
// record (tcp.TimeWait, about 40 bytes) takes its place in tw, keyed by
// a compact form of the 4-tuple, with its expiry in a heap. The record
// answers the segments of its 4-tuple (re-ACKs a retransmitted FIN,
// ignores RSTs, lets a newer SYN reopen the 4-tuple) until 2·MSL has
// passed; then the trace reports TIME-WAIT → CLOSED and the record goes.
// A *Conn the application still holds keeps its frozen TCB, so that Read
// returns what was left unread; its State reports TIME-WAIT while the
// record lives, CLOSED after.

// twKey is a 4-tuple in 36 bytes (a tuple of netip.AddrPort takes 64).
type twKey struct {
	la, ra [16]byte
	lp, rp uint16
}

func twKeyOf(k tuple) twKey {
	return twKey{la: k.local.Addr().As16(), ra: k.remote.Addr().As16(), lp: k.local.Port(), rp: k.remote.Port()}
}

func (k twKey) tuple() tuple {
	return tuple{
		local:  netip.AddrPortFrom(netip.AddrFrom16(k.la).Unmap(), k.lp),
		remote: netip.AddrPortFrom(netip.AddrFrom16(k.ra).Unmap(), k.rp),
	}
}

// twTimer is a record's expiry in the shard's heap; it is stale once the
// record has gone or its expiry has moved (restarted by a FIN).
type twTimer struct {
	at  int64 // sh.mono of the expiry (monotonic when the clock is)
	key twKey
}

// twHeap is a min-heap of TIME-WAIT expiries.
type twHeap []twTimer

func (h *twHeap) push(e twTimer) {
	*h = append(*h, e)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if s[p].at <= s[i].at {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *twHeap) pop() twTimer {
	s := *h
	e := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	for i := 0; ; {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && s[r].at < s[l].at {
			m = r
		}
		if s[i].at <= s[m].at {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	if n == 0 && cap(s) > 1024 {
		s = nil // every record has gone: give the heap's memory back
	}
	*h = s
	return e
}

// live reports whether e is the expiry of a record still in tw.
func (sh *shard) twLive(e twTimer) bool {
	tw, ok := sh.tw[e.key]
	return ok && sh.mono(tw.Expiry()) == e.at
}

// twNext drops stale entries and returns the earliest expiry, or zero.
func (sh *shard) twNext() time.Time {
	for len(sh.twq) > 0 {
		if e := sh.twq[0]; sh.twLive(e) {
			return sh.wall(e.at)
		}
		sh.twq.pop()
	}
	return time.Time{}
}

// nextDeadline is the earliest timer of the shard: a connection's or a
// TIME-WAIT record's.
func (sh *shard) nextDeadline() time.Time {
	d := sh.wall(sh.timers.next())
	if t := sh.twNext(); !t.IsZero() && (d.IsZero() || t.Before(d)) {
		d = t
	}
	if t := sh.sweepAt; !t.IsZero() && (d.IsZero() || t.Before(d)) {
		d = t
	}
	return d
}

// toTimeWait replaces c, which has entered TIME-WAIT, by a record.
func (sh *shard) toTimeWait(c *Conn, now time.Time) {
	rec, ok := c.tcb.TimeWait()
	if !ok || !c.inTable {
		return
	}
	sh.conns.delete(c)
	c.inTable = false
	c.timerAt = 0
	sh.s.retire(c) // its retransmissions stay in the totals
	c.tw = true
	c.tcb.OnStateChange = nil // the record reports the end of TIME-WAIT
	k := twKeyOf(c.key)
	if sh.tw == nil {
		sh.tw = make(map[twKey]tcp.TimeWait)
	}
	sh.tw[k] = rec
	sh.s.ctr.timeWait.Add(1) // Connections still counts it
	sh.s.mem.AddConnections(-1)
	sh.twArm(k, rec)
}

// twArm puts rec's expiry in the heap and wakes the loop if it is the
// earliest timer.
func (sh *shard) twArm(k twKey, rec tcp.TimeWait) {
	at := rec.Expiry()
	sh.twq.push(twTimer{at: sh.mono(at), key: k})
	sh.s.drv.wake(sh, at)
}

// twForget drops the record of k (its expiry, or a SYN reopening the
// 4-tuple) and reports TIME-WAIT → CLOSED.
func (sh *shard) twForget(k twKey, now time.Time) {
	delete(sh.tw, k)
	if len(sh.tw) == 0 {
		sh.tw = nil // a map never shrinks: let a drained one go
	}
	sh.s.ctr.timeWait.Add(-1)
	sh.s.ctr.conns.Add(^uint64(0))
	if sh.s.trace != nil {
		t := k.tuple()
		sh.s.report(t.local, t.remote, tcp.StateTimeWait, tcp.StateClosed, now)
	}
}

// expireTimeWait forgets the records whose 2·MSL has passed at now.
func (sh *shard) expireTimeWait(now time.Time) {
	n := sh.mono(now)
	for len(sh.twq) > 0 && sh.twq[0].at <= n {
		e := sh.twq.pop()
		if sh.twLive(e) {
			sh.twForget(e.key, sh.wall(e.at))
		}
	}
}

// timeWaitInput hands seg to the TIME-WAIT record of key, if there is
// one. It reports whether the segment was consumed; when it was not and
// there was a record, the record is gone (a SYN reopens the 4-tuple) and
// sh.reopen is set for passiveISN.
func (sh *shard) timeWaitInput(key tuple, seg *tcp.Segment, now time.Time) bool {
	if sh.tw == nil {
		return false
	}
	k := twKeyOf(key)
	rec, ok := sh.tw[k]
	if !ok {
		return false
	}
	old := rec.Expiry()
	v, reply := rec.HandleSegment(seg, now)
	switch v {
	case tcp.TimeWaitReopen:
		sh.reopen, sh.reopenISS = true, rec.NextISS()
		sh.twForget(k, now)
		return false
	case tcp.TimeWaitAck:
		sh.emit(sh.s.routes.Load().lookup(key.remote.Addr()), key.local, key.remote, &reply)
	}
	sh.tw[k] = rec
	if !rec.Expiry().Equal(old) {
		sh.twArm(k, rec)
	}
	return true
}

// inTimeWait reports whether key has a TIME-WAIT record.
func (sh *shard) inTimeWait(key tuple) bool {
	if sh.tw == nil {
		return false
	}
	_, ok := sh.tw[twKeyOf(key)]
	return ok
}

// reuseTimeWait forgets the TIME-WAIT record of key if a dial may take
// its 4-tuple at now (tcp.TimeWait.ReusableForDial), and sets dialISS
// past what the old connection sent (sh.mu held).
func (sh *shard) reuseTimeWait(key tuple, now time.Time) bool {
	if sh.tw == nil {
		return false
	}
	k := twKeyOf(key)
	rec, ok := sh.tw[k]
	if !ok || !rec.ReusableForDial(now) {
		return false
	}
	sh.dialISS, sh.dialReuse = rec.NextISS(), true
	sh.twForget(k, now)
	return true
}

// tupleFree reports whether a new connection may take key: no
// connection and no TIME-WAIT record has it.
func (sh *shard) tupleFree(key tuple) bool {
	return sh.conns.get(key) == nil && !sh.inTimeWait(key)
}

// dropTimeWait forgets every record without reporting (Stack.Close).
func (sh *shard) dropTimeWait() {
	n := int64(len(sh.tw))
	sh.s.ctr.timeWait.Add(-n)
	sh.s.ctr.conns.Add(^uint64(n - 1))
	sh.tw, sh.twq = nil, nil
}

// engineState is the state of c's connection: its TCB's, or, once the
// TCB has given way to a TIME-WAIT record, TIME-WAIT while the record
// lives and CLOSED after (sh.mu held).
func (c *Conn) engineState() tcp.State {
	if c.tw && !c.sh.inTimeWait(c.key) {
		return tcp.StateClosed
	}
	return c.tcb.State()
}

// passiveISN is the initial sequence number of a connection a listener
// opens for key: RFC 6528's, or, when the SYN reopened a TIME-WAIT
// 4-tuple, at least past what the old connection sent.
func (sh *shard) passiveISN(key tuple, now time.Time) uint32 {
	isn := sh.s.isn(key.local, key.remote, now)
	if sh.reopen && int32(isn-sh.reopenISS) < 0 {
		isn = sh.reopenISS
	}
	return isn
}
