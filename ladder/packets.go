package ladder

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/synack/synack/wire"
)

// Packet is one captured IP packet.
type Packet struct {
	Time time.Time
	Data []byte
	Lost bool // the packet never reached its destination
}

// Conversation is the ladder of one TCP connection found among packets:
// Left is the endpoint that sent its first packet (normally the SYN).
type Conversation struct {
	Left, Right netip.AddrPort
	Events      []Event
}

// ParseSegment reads the endpoints and the segment of an IP packet carrying
// TCP. A segment whose checksum is wrong is still returned, with
// BadChecksum set.
func ParseSegment(pkt []byte) (src, dst netip.AddrPort, seg SegmentInfo, err error) {
	ip, h, payload, err := wire.ParseTCPPacket(pkt)
	bad := false
	if errors.Is(err, wire.ErrChecksum) {
		// Parse the layers one by one to show what the segment says.
		ip, err = wire.ParseIP(pkt)
		if err == nil && (ip.Protocol != wire.ProtocolTCP || ip.Fragment) {
			err = fmt.Errorf("ladder: not a whole TCP segment: %w", wire.ErrNotTCP)
		}
		if err == nil {
			h, payload, err = wire.ParseTCP(ip.Payload)
		}
		bad = true
	}
	if err != nil {
		return netip.AddrPort{}, netip.AddrPort{}, SegmentInfo{}, fmt.Errorf("ladder: %w", err)
	}
	seg = SegmentInfo{
		Flags:       h.Flags,
		Seq:         h.Seq,
		Ack:         h.Ack,
		Window:      h.Window,
		Len:         len(payload),
		Options:     h.Options,
		BadChecksum: bad,
	}
	return netip.AddrPortFrom(ip.Src, h.SrcPort), netip.AddrPortFrom(ip.Dst, h.DstPort), seg, nil
}

// FromPackets sorts the TCP segments among pkts by connection and returns
// one Conversation per connection, in the order their first packets
// appear. Packets that are not valid TCP are skipped and counted.
func FromPackets(pkts []Packet) (convs []Conversation, skipped int) {
	type key struct{ a, b netip.AddrPort }
	index := map[key]int{}
	for _, p := range pkts {
		src, dst, seg, err := ParseSegment(p.Data)
		if err != nil {
			skipped++
			continue
		}
		side := Left
		i, ok := index[key{src, dst}]
		if !ok {
			if i, ok = index[key{dst, src}]; ok {
				side = Right
			}
		}
		if !ok {
			i = len(convs)
			index[key{src, dst}] = i
			convs = append(convs, Conversation{Left: src, Right: dst})
		}
		convs[i].Events = append(convs[i].Events, Event{Time: p.Time, Kind: Segment, Side: side, Seg: seg, Lost: p.Lost})
	}
	return convs, skipped
}
