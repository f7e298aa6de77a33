package analysis

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/synack/synack/ladder"
	"github.com/synack/synack/tcp"
	"github.com/synack/synack/wire"
)

// Conversation is one TCP connection found in a capture.
type Conversation struct {
	// Stream numbers the conversations from 0 in the order they begin,
	// as tshark's tcp.stream does.
	Stream int
	// Left is the end that opened the connection (sent the SYN); when the
	// capture missed the handshake, the end with the higher port (the
	// client's ephemeral port, most likely).
	Left, Right netip.AddrPort
	// Events are the segments and both ends' inferred state changes, in
	// the order a ladder draws them.
	Events []ladder.Event
	// Segments are the segments alone, in capture order, with what
	// graphs need.
	Segments []Segment
	// RTT holds round-trip samples: a data segment (first transmission)
	// and the first ACK that covers it.
	RTT []RTTSample

	MidStream bool // the capture began after the handshake
	// Vantage says where the capture was probably taken, and why.
	Vantage string
	// Unverified counts, for each side, the segments whose checksum the
	// capture could not check (offload, or a short snapshot length).
	Unverified [2]int
	// Bytes counts each side's payload bytes, each byte once.
	Bytes [2]int64
	// Retransmissions counts each side's retransmitted segments.
	Retransmissions [2]int
	// Final is each side's last inferred state; FinalKnown is false for a
	// side whose state never became known.
	Final      [2]tcp.State
	FinalKnown [2]bool
	// Ended says in plain words how the connection ended.
	Ended string
}

// Segment is one segment of a conversation.
type Segment struct {
	Time time.Time
	Side ladder.Side // the sender
	Seg  ladder.SegmentInfo
	// Window is the advertised window in bytes, or -1 when the scale is
	// unknown.
	Window int64
	// Frame is the segment's frame number in the capture.
	Frame int
}

// RTTSample is one round-trip measurement of data sent by Side.
type RTTSample struct {
	Time time.Time // when the ACK passed
	Side ladder.Side
	RTT  time.Duration
}

// Start is the earliest time of the conversation's segments (a capture's
// timestamps need not grow).
func (c *Conversation) Start() time.Time {
	t := c.Segments[0].Time
	for _, s := range c.Segments {
		if s.Time.Before(t) {
			t = s.Time
		}
	}
	return t
}

// End is the latest time of the conversation's segments.
func (c *Conversation) End() time.Time {
	t := c.Segments[0].Time
	for _, s := range c.Segments {
		if s.Time.After(t) {
			t = s.Time
		}
	}
	return t
}

// parsed is one TCP segment of the capture.
type parsed struct {
	pkt      Packet
	src, dst netip.AddrPort
	seg      ladder.SegmentInfo
	partial  bool // checksum unverifiable: offload (partial) or truncated
}

// Analyze sorts the TCP segments of pkts into conversations and analyses
// each. Packets that are not TCP, or malformed, are skipped and counted.
func Analyze(pkts []Packet) (convs []Conversation, skipped int) {
	type key struct{ a, b netip.AddrPort }
	type open struct {
		i       int
		isn     [2]uint32
		synSeen [2]bool
		fin     [2]bool
		rst     bool
		left    netip.AddrPort
	}
	var (
		groups [][]parsed
		byKey  = map[key]*open{}
		lefts  []netip.AddrPort
	)
	for _, p := range pkts {
		ps, err := parse(p)
		if err != nil {
			skipped++
			continue
		}
		k := key{ps.src, ps.dst}
		if ps.dst.Addr().Less(ps.src.Addr()) || (ps.dst.Addr() == ps.src.Addr() && ps.dst.Port() < ps.src.Port()) {
			k = key{ps.dst, ps.src}
		}
		o := byKey[k]
		syn := ps.seg.Flags&wire.FlagSYN != 0 && ps.seg.Flags&wire.FlagACK == 0
		if o != nil && syn {
			side := 0
			if ps.src != o.left {
				side = 1
			}
			closed := o.rst || (o.fin[0] && o.fin[1])
			if closed && !(o.synSeen[side] && o.isn[side] == ps.seg.Seq) {
				o = nil // a new connection on a used 4-tuple
			}
		}
		if o == nil {
			o = &open{i: len(groups), left: ps.src}
			switch {
			case ps.seg.Flags&(wire.FlagSYN|wire.FlagACK) == wire.FlagSYN|wire.FlagACK:
				o.left = ps.dst // the SYN was not captured
			case ps.seg.Flags&wire.FlagSYN == 0 && ps.src.Port() < ps.dst.Port():
				// The handshake was not captured: take the end with
				// the lower port for the server, on the right.
				o.left = ps.dst
			}
			byKey[k] = o
			groups = append(groups, nil)
			lefts = append(lefts, o.left)
		}
		side := 0
		if ps.src != o.left {
			side = 1
		}
		if ps.seg.Flags&wire.FlagSYN != 0 && !o.synSeen[side] {
			o.synSeen[side], o.isn[side] = true, ps.seg.Seq
		}
		if ps.seg.Flags&wire.FlagFIN != 0 {
			o.fin[side] = true
		}
		if ps.seg.Flags&wire.FlagRST != 0 {
			o.rst = true
		}
		groups[o.i] = append(groups[o.i], ps)
	}
	for i, g := range groups {
		convs = append(convs, analyze(i, lefts[i], g))
	}
	return convs, skipped
}

// parse reads the TCP segment of a packet.
func parse(p Packet) (parsed, error) {
	if full := ipLength(p.Data); full > len(p.Data) && full <= 1<<16+40 {
		// Cut by the snapshot length: zero-filled to the length the IP
		// header gives, so that the TCP header and length are right.
		p.Data = append(append(make([]byte, 0, full), p.Data...), make([]byte, full-len(p.Data))...)
		p.Truncated = true
	}
	src, dst, seg, err := ladder.ParseSegment(p.Data)
	if err != nil {
		return parsed{}, err
	}
	ps := parsed{pkt: p, src: src, dst: dst, seg: seg}
	if seg.BadChecksum && (p.Truncated || partialChecksum(p.Data)) {
		ps.seg.BadChecksum, ps.seg.Unverified, ps.partial = false, true, true
	}
	return ps, nil
}

// partialChecksum reports a TCP checksum field that holds only the sum of
// the pseudo-header: what Linux leaves for the NIC to complete
// (CHECKSUM_PARTIAL), and what a capture on the sending host sees.
func partialChecksum(pkt []byte) bool {
	ip, err := wire.ParseIP(pkt)
	if err != nil || len(ip.Payload) < wire.TCPHeaderLen {
		return false
	}
	var acc uint64
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			acc += uint64(binary.BigEndian.Uint16(b[i:]))
		}
	}
	if ip.Src.Is4() {
		s, d := ip.Src.As4(), ip.Dst.As4()
		add(s[:])
		add(d[:])
	} else {
		s, d := ip.Src.As16(), ip.Dst.As16()
		add(s[:])
		add(d[:])
	}
	n := len(ip.Payload)
	acc += uint64(wire.ProtocolTCP) + uint64(n&0xffff) + uint64(n>>16)
	for acc > 0xffff {
		acc = acc>>16 + acc&0xffff
	}
	field := binary.BigEndian.Uint16(ip.Payload[16:])
	return field == uint16(acc) || (field == 0 && acc == 0xffff) || (field == 0xffff && acc == 0)
}

// seq arithmetic (RFC 9293 §3.4).
func seqLT(a, b uint32) bool { return int32(a-b) < 0 }
func seqLE(a, b uint32) bool { return int32(a-b) <= 0 }
func seqGT(a, b uint32) bool { return int32(a-b) > 0 }
