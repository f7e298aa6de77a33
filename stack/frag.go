package stack

import (
	"cmp"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/synack/synack/wire"
)

// Fragment reassembly (RFC 791 §3.2, RFC 815, RFC 8200 §4.5) with bounded
// memory and a timeout. Overlapping fragments drop the whole datagram, as
// RFC 5722 asks for IPv6 and as Linux does for IPv4 too; exact duplicates
// are ignored. The timeout runs on the stack's clock: in manual mode
// NextDeadline and Tick include it, in real-time mode a timer does.

// Reassembly defaults.
const (
	defaultReassemblyMemory    = 4 << 20
	defaultReassemblyDatagrams = 64
	defaultReassemblyTimeout   = 30 * time.Second
)

// fragOverhead is what each held fragment costs besides its data.
const fragOverhead = 64

// fragKey identifies the datagram a fragment belongs to: RFC 791's
// (source, destination, protocol, identification), RFC 8200's (source,
// destination, identification).
type fragKey struct {
	src, dst netip.Addr
	proto    uint8 // IPv4 only
	id       uint32
}

type fragPiece struct {
	off  int
	data []byte
}

// fragDatagram is a datagram being reassembled.
type fragDatagram struct {
	key      fragKey
	first    wire.IPPacket // a fragment's summary (offset 0 once it came)
	head     []byte        // the first fragment's IP header and 8 bytes, for time exceeded
	pieces   []fragPiece   // sorted by offset, not overlapping
	total    int           // the datagram's payload length; -1 until the last fragment
	size     int           // bytes charged to the memory bound
	deadline time.Time
	seq      uint64 // creation order: ties are broken by it, for replayable runs
	dead     bool   // overlapping: later fragments are dropped until the deadline
}

// reassembler holds the datagrams being reassembled.
type reassembler struct {
	opts ReassemblyOptions

	mu    sync.Mutex
	m     map[fragKey]*fragDatagram
	mem   int
	seq   uint64
	timer *time.Timer // real-time mode
}

// add takes one fragment (ip, whose Payload is the fragment's data, and
// raw, the whole fragment) and returns the reassembled packet when this
// fragment completed it. The payload is a new buffer.
func (s *Stack) addFragment(ip wire.IPPacket, raw []byte, now time.Time) (wire.IPPacket, bool) {
	f := &s.frags
	var expired []*fragDatagram
	defer func() { s.timeExceeded(expired) }()
	f.mu.Lock()
	defer f.mu.Unlock()
	expired = f.expireLocked(s, now)

	off, n := int(ip.FragmentOffset), len(ip.Payload)
	end := off + n
	if (ip.MoreFragments && (n == 0 || n%8 != 0)) || end > wire.MaxIPPayload {
		s.ctr.fragDrops.Add(1)
		return wire.IPPacket{}, false
	}
	if ip.Version == 4 && len(raw) > 0 && end+int(raw[0]&0x0f)*4 > wire.MaxIPPayload {
		// The ping of death: an IPv4 datagram's total length, header
		// included, cannot pass 65,535 bytes (RFC 791); a fragment that
		// would take it there is dropped, as Linux does.
		s.ctr.reassemblyTooBig.Add(1)
		s.ctr.fragDrops.Add(1)
		return wire.IPPacket{}, false
	}
	key := fragKey{src: ip.Src, dst: ip.Dst, id: ip.ID}
	if ip.Version == 4 {
		key.proto = ip.Protocol
	}
	if f.m == nil {
		f.m = make(map[fragKey]*fragDatagram)
	}
	d := f.m[key]
	if d == nil {
		if len(f.m) >= f.opts.Datagrams {
			f.evictOldestLocked(s)
		}
		f.seq++
		d = &fragDatagram{key: key, total: -1, deadline: now.Add(f.opts.Timeout), first: ip, seq: f.seq}
		d.first.Payload = nil
		f.m[key] = d
		s.drv.armFragments(d.deadline, now)
	}
	if d.dead {
		s.ctr.fragDrops.Add(1)
		return wire.IPPacket{}, false
	}
	if f.mem+n+fragOverhead > f.opts.Memory {
		s.ctr.fragDrops.Add(1)
		return wire.IPPacket{}, false
	}

	// Where it goes, and whether it overlaps a piece already held.
	i, _ := slices.BinarySearchFunc(d.pieces, off, func(p fragPiece, off int) int { return p.off - off })
	overlap := false
	if i < len(d.pieces) && d.pieces[i].off == off && len(d.pieces[i].data) == n {
		return wire.IPPacket{}, false // an exact duplicate (a retransmission): ignored
	}
	if i > 0 && d.pieces[i-1].off+len(d.pieces[i-1].data) > off {
		overlap = true
	}
	if i < len(d.pieces) && d.pieces[i].off < end {
		overlap = true
	}
	switch {
	case !ip.MoreFragments && d.total >= 0 && d.total != end,
		!ip.MoreFragments && len(d.pieces) > 0 && lastEnd(d) > end,
		d.total >= 0 && end > d.total:
		overlap = true // inconsistent lengths: as bad as an overlap
	}
	if overlap {
		s.ctr.fragOverlaps.Add(1)
		f.mem -= d.size
		d.pieces, d.size, d.dead, d.head = nil, 0, true, nil
		return wire.IPPacket{}, false
	}
	d.pieces = slices.Insert(d.pieces, i, fragPiece{off: off, data: append([]byte(nil), ip.Payload...)})
	d.size += n + fragOverhead
	f.mem += n + fragOverhead
	if !ip.MoreFragments {
		d.total = end
	}
	if off == 0 {
		d.first = ip
		d.first.Payload = nil
		// The payload aliases raw, so their capacities tell where it starts.
		hlen := min(max(cap(raw)-cap(ip.Payload), 0), len(raw))
		d.head = append([]byte(nil), raw[:min(len(raw), hlen+8)]...)
	}
	if d.total < 0 {
		return wire.IPPacket{}, false
	}
	at := 0
	for _, p := range d.pieces {
		if p.off != at {
			return wire.IPPacket{}, false
		}
		at += len(p.data)
	}
	if at != d.total {
		return wire.IPPacket{}, false
	}
	// Complete.
	data := make([]byte, 0, d.total)
	for _, p := range d.pieces {
		data = append(data, p.data...)
	}
	f.removeLocked(d)
	whole, err := d.first.Reassembled(data)
	if err != nil {
		s.ctr.malformed.Add(1)
		return wire.IPPacket{}, false
	}
	s.ctr.reassembled.Add(1)
	return whole, true
}

func lastEnd(d *fragDatagram) int {
	p := d.pieces[len(d.pieces)-1]
	return p.off + len(p.data)
}

func (f *reassembler) removeLocked(d *fragDatagram) {
	f.mem -= d.size
	delete(f.m, d.key)
}

// evictOldestLocked drops the datagram closest to its deadline to make
// room for a new one.
func (f *reassembler) evictOldestLocked(s *Stack) {
	var old *fragDatagram
	for _, d := range f.m {
		if old == nil || d.deadline.Before(old.deadline) || d.deadline.Equal(old.deadline) && d.seq < old.seq {
			old = d
		}
	}
	if old != nil {
		if !old.dead {
			s.ctr.fragDrops.Add(uint64(len(old.pieces)))
		}
		f.removeLocked(old)
	}
}

// expireLocked drops the datagrams whose deadline has come and returns
// those that should be reported with a time exceeded message.
func (f *reassembler) expireLocked(s *Stack, now time.Time) []*fragDatagram {
	var out []*fragDatagram
	for _, d := range f.m {
		if now.Before(d.deadline) {
			continue
		}
		f.removeLocked(d)
		if d.dead {
			continue
		}
		s.ctr.fragTimeouts.Add(1)
		if d.head != nil && !quotesICMPError(d) {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b *fragDatagram) int { return cmp.Compare(a.seq, b.seq) })
	return out
}

// quotesICMPError reports whether d is an ICMP error, which no ICMP error
// may answer (RFC 1122 §3.2.2, RFC 4443 §2.4 (e)).
func quotesICMPError(d *fragDatagram) bool {
	if len(d.head) < 8 {
		return false
	}
	typ := d.head[len(d.head)-8]
	switch {
	case d.first.Version == 4 && d.first.Protocol == wire.ProtocolICMP:
		return wire.IsICMPv4Error(typ)
	case d.first.Version == 6 && d.first.Protocol == wire.ProtocolICMPv6:
		return wire.IsICMPv6Error(typ)
	}
	return false
}

// next returns the earliest reassembly deadline, or zero.
func (f *reassembler) next() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	var next time.Time
	for _, d := range f.m {
		if next.IsZero() || d.deadline.Before(next) {
			next = d.deadline
		}
	}
	return next
}

// expireFragments drops timed-out datagrams (Tick, or the real-time timer).
func (s *Stack) expireFragments(now time.Time) {
	s.frags.mu.Lock()
	expired := s.frags.expireLocked(s, now)
	s.frags.mu.Unlock()
	s.timeExceeded(expired)
}

// armFragTimer makes sure that a timer runs at or before at (frags.mu
// held; real-time mode, where nothing calls Tick).
func (s *Stack) armFragTimer(at, now time.Time) {
	f := &s.frags
	if f.timer != nil {
		return
	}
	var fire func()
	fire = func() {
		if s.stopped.Load() {
			return
		}
		now := s.clock.Now()
		s.expireFragments(now)
		f.mu.Lock()
		f.timer = nil
		var next time.Time
		for _, d := range f.m {
			if next.IsZero() || d.deadline.Before(next) {
				next = d.deadline
			}
		}
		if !next.IsZero() {
			f.timer = time.AfterFunc(max(next.Sub(now), time.Millisecond), fire)
		}
		f.mu.Unlock()
	}
	f.timer = time.AfterFunc(max(at.Sub(now), time.Millisecond), fire)
}

// timeExceeded sends "fragment reassembly time exceeded" for datagrams
// that timed out after their first fragment came (RFC 792, RFC 1122
// §3.3.2, RFC 8200 §4.5). No lock may be held.
func (s *Stack) timeExceeded(ds []*fragDatagram) {
	for _, d := range ds {
		typ, code := uint8(wire.ICMPv4TimeExceeded), uint8(wire.ICMPv4ReassemblyTimeExceeded)
		if d.first.Version == 6 {
			typ, code = wire.ICMPv6TimeExceeded, wire.ICMPv6ReassemblyTimeExceeded
		}
		if pkt, r := s.icmpErrorPacket(d.first.Version, d.key.dst, d.key.src, typ, code, 0, d.head); pkt != nil {
			s.transmit(r, d.key.src, pkt, nil)
		}
	}
}
