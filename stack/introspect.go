package stack

import (
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	"github.com/synack/synack/tcp"
	"github.com/synack/synack/wire"
)

// Live introspection: what ss -tan and netstat -s show of the kernel's
// TCP, for a synack stack. Connections lists every connection and
// listener; the TCP totals of Stats count segments, resets,
// retransmissions by cause and the connections that failed or were reset;
// Options.SegmentTrace sees every TCP segment in and out.

// EntryKind says what a ConnEntry describes.
type EntryKind uint8

// The kinds of ConnEntry.
const (
	EntryConnection EntryKind = iota // a connection (any state but LISTEN)
	EntryListener                    // a listener
	EntryTimeWait                    // a TIME-WAIT record without a full connection
)

// String names the kind.
func (k EntryKind) String() string {
	switch k {
	case EntryListener:
		return "listener"
	case EntryTimeWait:
		return "time-wait"
	}
	return "connection"
}

// ConnEntry is one line of Stack.Connections.
type ConnEntry struct {
	Kind          EntryKind
	Local, Remote netip.AddrPort // Remote is invalid for a listener; Local's address too for a wildcard one
	State         tcp.State
	// RecvQ and SendQ are ss's columns: for a connection the bytes
	// received and not yet read and the bytes written and not yet
	// acknowledged; for a listener the connections waiting in its
	// accept queue and its backlog.
	RecvQ, SendQ int
	// SynQueue is, for a listener, its half-open connections; HalfOpen
	// marks a connection still in its listener's SYN queue.
	SynQueue int
	HalfOpen bool
	// Info is the connection's TCB snapshot (zero for a listener).
	Info tcp.Info
}

// Connections returns a snapshot of every listener and connection of
// the stack (TIME-WAIT ones included), listeners first, each group sorted
// by local then remote address. Each connection is read under its
// shard's lock, so the snapshot is consistent per connection, not across
// them.
func (s *Stack) Connections() []ConnEntry {
	var out []ConnEntry
	s.mu.RLock()
	ls := make([]*Listener, 0, len(s.listeners))
	for _, l := range s.listeners {
		ls = append(ls, l)
	}
	s.mu.RUnlock()
	slices.SortFunc(ls, func(a, b *Listener) int { return compareAddrPort(a.key, b.key) })
	for _, l := range ls {
		l.mu.Lock()
		e := ConnEntry{Kind: EntryListener, Local: l.key, State: tcp.StateListen,
			RecvQ: len(l.queue), SendQ: l.backlog, SynQueue: len(l.half)}
		closed := l.closed
		l.mu.Unlock()
		if !closed {
			out = append(out, e)
		}
	}
	nl := len(out)
	for _, sh := range s.shards {
		sh.mu.Lock()
		for c := range sh.conns.all() {
			e := ConnEntry{Kind: EntryConnection, Local: c.key.local, Remote: c.key.remote,
				HalfOpen: c.halfOpen, Info: c.tcb.Info()}
			e.State = e.Info.State
			e.RecvQ, e.SendQ = c.tcb.Queued()
			if e.State == tcp.StateTimeWait {
				e.Kind = EntryTimeWait
			}
			out = append(out, e)
		}
		for k := range sh.tw { // TIME-WAIT records (timewait.go)
			t := k.tuple()
			out = append(out, ConnEntry{Kind: EntryTimeWait, Local: t.local, Remote: t.remote, State: tcp.StateTimeWait,
				Info: tcp.Info{State: tcp.StateTimeWait}})
		}
		sh.mu.Unlock()
	}
	slices.SortFunc(out[nl:], func(a, b ConnEntry) int {
		return compareTuple(tuple{a.Local, a.Remote}, tuple{b.Local, b.Remote})
	})
	return out
}

// tcpTotals are the live, atomic TCP totals of Stats (see Stats) that
// are not counted per shard.
type tcpTotals struct {
	attemptFails, estabResets atomic.Uint64
	// Retransmissions of connections no longer in the table; Stats
	// adds those of the live ones.
	rtxTimeout, rtxRecovery, rtxProbe atomic.Uint64
}

// shardSegments are a shard's segment counts, guarded by its mutex (so
// that the data path touches no shared cache line for them).
type shardSegments struct {
	in, out, rstIn, rstOut uint64
}

// countSegment counts one TCP segment in or out and shows it to
// Options.SegmentTrace (sh.mu held).
func (sh *shard) countSegment(out bool, local, remote netip.AddrPort, seg *tcp.Segment, now time.Time) {
	c := &sh.segs
	rst := seg.Flags&wire.FlagRST != 0
	if out {
		c.out++
		if rst {
			c.rstOut++
		}
	} else {
		c.in++
		if rst {
			c.rstIn++
		}
	}
	if s := sh.s; s.segTrace != nil {
		if now.IsZero() {
			now = s.clock.Now()
		}
		s.segTrace(SegmentEvent{Time: now, Out: out, Local: local, Remote: remote,
			Seq: seg.Seq, Ack: seg.Ack, Flags: seg.Flags, Window: seg.Window, Len: len(seg.Payload), Options: seg.Options})
	}
}

// countTransition counts the state changes netstat -s reports: failed
// connection attempts and resets of established connections.
func (s *Stack) countTransition(from, to tcp.State) {
	switch {
	case (from == tcp.StateSynSent || from == tcp.StateSynReceived) && (to == tcp.StateClosed || to == tcp.StateListen):
		s.ctr.tcp.attemptFails.Add(1)
	case (from == tcp.StateEstablished || from == tcp.StateCloseWait) && to == tcp.StateClosed:
		s.ctr.tcp.estabResets.Add(1)
	}
}

// retire adds a connection's retransmissions to the totals as it leaves
// the table (sh.mu held).
func (s *Stack) retire(c *Conn) {
	rc := c.tcb.RetransmitCauses()
	s.ctr.tcp.rtxTimeout.Add(uint64(rc.Timeout))
	s.ctr.tcp.rtxRecovery.Add(uint64(rc.Recovery))
	s.ctr.tcp.rtxProbe.Add(uint64(rc.Probe))
}

// tcpStats fills in the TCP totals of st: the counters, plus the
// retransmissions and states of the connections in the table.
func (s *Stack) tcpStats(st *Stats) {
	t := &s.ctr.tcp
	st.AttemptFails, st.EstabResets = t.attemptFails.Load(), t.estabResets.Load()
	st.RetransTimeout, st.RetransRecovery, st.RetransProbe = t.rtxTimeout.Load(), t.rtxRecovery.Load(), t.rtxProbe.Load()
	for _, sh := range s.shards {
		sh.mu.Lock()
		st.SegmentsIn += sh.segs.in
		st.SegmentsOut += sh.segs.out
		st.ResetsIn += sh.segs.rstIn
		st.ResetsOut += sh.segs.rstOut
		for c := range sh.conns.all() {
			rc := c.tcb.RetransmitCauses()
			st.RetransTimeout += uint64(rc.Timeout)
			st.RetransRecovery += uint64(rc.Recovery)
			st.RetransProbe += uint64(rc.Probe)
			switch c.tcb.State() {
			case tcp.StateEstablished, tcp.StateCloseWait:
				st.CurrEstab++
			}
		}
		sh.mu.Unlock()
	}
	st.Retransmits = st.RetransTimeout + st.RetransRecovery + st.RetransProbe
}

// SegmentEvent is one TCP segment the stack received or sent, reported
// to Options.SegmentTrace. Received segments are reported once they are
// valid (checksum, header) and before they reach their connection or
// listener; sent ones as they are handed to the link.
type SegmentEvent struct {
	Time          time.Time
	Out           bool           // sent by the stack; false: received
	Local, Remote netip.AddrPort // the stack's end and the peer's
	Seq, Ack      uint32
	Flags         wire.Flags
	Window        uint16 // the raw header field (not scaled)
	Len           int    // payload bytes
	Options       wire.TCPOptions
}
