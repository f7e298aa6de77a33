package sim

import (
	"net/netip"
	"slices"

	"github.com/synack/synack/ladder"
)

// Conversations sorts the trace between a and b into one ladder per TCP
// connection, a on the left, in the order the connections began. A nil b
// stands for every address no host owns (packets that went nowhere). Each
// ladder holds the connection's segments and the state changes of both
// ends, and those of a listener on the same port: its last change before
// the connection began and any while it lasted.
func (n *Network) Conversations(a, b *Host) []ladder.Conversation {
	n.mu.Lock()
	trace := n.trace[:len(n.trace):len(n.trace)]
	owned := make(map[addrKey]bool, len(n.byAddr))
	for k := range n.byAddr {
		owned[k] = true
	}
	n.mu.Unlock()
	isPeer := func(addr netip.Addr) bool {
		if b == nil {
			return !owned[keyOf(addr)]
		}
		return keyOf(addr) == keyOf(b.addr)
	}
	if a == nil || a == b {
		return nil
	}
	isA := func(addr netip.Addr) bool { return keyOf(addr) == keyOf(a.addr) }

	type indexed struct {
		i  int
		ev ladder.Event
	}
	type conv struct {
		c          ladder.Conversation
		evs        []indexed
		first, end int // record indexes of the first and last events
	}
	type key struct{ l, r netip.AddrPort }
	type listenerEvent struct {
		i    int
		side ladder.Side
		rec  Record
	}
	var (
		convs     []*conv
		byKey     = map[key]*conv{}
		listeners []listenerEvent
	)
	add := func(k key, i int, ev ladder.Event) {
		c := byKey[k]
		if c == nil {
			c = &conv{c: ladder.Conversation{Left: k.l, Right: k.r}, first: i}
			byKey[k] = c
			convs = append(convs, c)
		}
		c.evs = append(c.evs, indexed{i, ev})
		c.end = i
	}

	for i, r := range trace {
		switch r.Kind {
		case RecordPacket:
			src, dst, seg, err := ladder.ParseSegment(r.Packet.Data)
			if err != nil {
				continue
			}
			src, dst = unmap(src), unmap(dst)
			ev := ladder.Event{Time: r.Time, Kind: ladder.Segment, Seg: seg, Lost: r.Drop != DropNone}
			switch {
			case isA(src.Addr()) && isPeer(dst.Addr()):
				ev.Side = ladder.Left
				add(key{src, dst}, i, ev)
			case isA(dst.Addr()) && isPeer(src.Addr()):
				ev.Side = ladder.Right
				add(key{dst, src}, i, ev)
			}
		case RecordState:
			s := r.State
			local, remote := unmap(s.Local), unmap(s.Remote)
			ev := ladder.Event{Time: r.Time, Kind: ladder.State, From: s.From, To: s.To}
			switch {
			case !s.Remote.IsValid():
				if r.Host == a {
					listeners = append(listeners, listenerEvent{i, ladder.Left, r})
				} else if r.Host == b {
					listeners = append(listeners, listenerEvent{i, ladder.Right, r})
				}
			case r.Host == a && isPeer(remote.Addr()):
				ev.Side = ladder.Left
				add(key{local, remote}, i, ev)
			case r.Host == b && b != nil && isA(remote.Addr()):
				ev.Side = ladder.Right
				add(key{remote, local}, i, ev)
			}
		}
	}

	out := make([]ladder.Conversation, 0, len(convs))
	for _, c := range convs {
		// The listener's last change before the connection, and those
		// during it.
		var before [2]*listenerEvent
		for j := range listeners {
			le := &listeners[j]
			end := c.c.Left
			if le.side == ladder.Right {
				end = c.c.Right
			}
			if !listensOn(unmap(le.rec.State.Local), end) {
				continue
			}
			ev := ladder.Event{Time: le.rec.Time, Kind: ladder.State, Side: le.side, From: le.rec.State.From, To: le.rec.State.To}
			switch {
			case le.i < c.first:
				before[le.side] = le
			case le.i <= c.end:
				c.evs = append(c.evs, indexed{le.i, ev})
			}
		}
		for _, le := range before {
			if le != nil {
				ev := ladder.Event{Time: le.rec.Time, Kind: ladder.State, Side: le.side, From: le.rec.State.From, To: le.rec.State.To}
				c.evs = append(c.evs, indexed{le.i, ev})
			}
		}
		slices.SortStableFunc(c.evs, func(x, y indexed) int { return x.i - y.i })
		for _, e := range c.evs {
			c.c.Events = append(c.c.Events, e.ev)
		}
		out = append(out, c.c)
	}
	return out
}

// listensOn reports whether a listener bound to l takes connections to end.
func listensOn(l, end netip.AddrPort) bool {
	if l.Port() != end.Port() {
		return false
	}
	return !l.Addr().IsValid() || l.Addr().IsUnspecified() || l.Addr() == end.Addr()
}

func unmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port())
}
