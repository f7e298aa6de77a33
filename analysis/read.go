// Package analysis turns a packet capture into TCP conversations: each
// connection's segments with the states of both ends inferred from what
// each sent and received (RFC 9293 §3.3.2), the anomalies Wireshark's TCP
// analysis reports (retransmissions, duplicate ACKs, zero windows, …),
// round-trip samples and a one-line summary. Package ladder draws the
// result; package report graphs it.
//
// A capture is taken at one point of the path, so what it shows is what
// that point saw, in the order it saw it. A state change that follows from
// receiving a segment is drawn where the receiver shows it got the segment
// (its next segment acknowledges it), or, for segments that take no
// sequence space, where the segment passes the capture point. What cannot
// be known is marked: a capture that starts mid-connection draws both ends
// "ESTABLISHED?", and the vantage point is named with the evidence for it.
package analysis

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"bytes"

	"github.com/synack/synack/pcap"
)

// Packet is one captured IP packet.
type Packet struct {
	Time time.Time
	Data []byte
	// Direction is what the capture says of the packet (Linux cooked
	// captures and pcapng flags): sent or received by the capturing host.
	Direction pcap.Direction
	// Truncated marks a packet captured shorter than it was: its payload
	// is taken as zeros up to the IP length, its checksum unverifiable.
	Truncated bool
	// Lost marks a packet that never reached its destination (known in a
	// simulation, never in a capture).
	Lost bool
	// Frame is the packet's number in its capture, from 1.
	Frame int
	// Interface is the capture's interface (pcapng) or interface index
	// (Linux cooked v2) the packet was seen on.
	Interface int
}

// ReadFile reads every IP packet of a pcap or pcapng file.
func ReadFile(name string) ([]Packet, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(f)
}

// Read reads every IP packet of a pcap or pcapng capture. A packet seen
// twice within a millisecond on two interfaces or in both directions (a
// loopback packet in a "tcpdump -i any" capture, going out and coming in;
// a packet a router forwarded) is kept once.
func Read(r io.Reader) ([]Packet, error) {
	pr, err := pcap.NewReader(r)
	if err != nil {
		return nil, err
	}
	var pkts []Packet
	for {
		p, err := pr.ReadPacket()
		if errors.Is(err, io.EOF) {
			return pkts, nil
		}
		if err != nil {
			return pkts, fmt.Errorf("packet %d: %w", len(pkts)+1, err)
		}
		data := bytes.Clone(p.Data)
		truncated := p.Truncated || ipLength(data) > len(data)
		if isTwin(pkts, p, data) {
			continue
		}
		pkts = append(pkts, Packet{Time: p.Time, Data: data, Direction: p.Direction, Truncated: truncated, Frame: p.Frame, Interface: p.Interface})
	}
}

// isTwin reports a packet seen a moment ago on another interface or in the
// other direction: the incoming copy of a loopback packet in a "-i any"
// capture, or a packet a router forwarded (its TTL and IPv4 header
// checksum changed). It is the same segment, not a retransmission.
func isTwin(prev []Packet, p pcap.Packet, data []byte) bool {
	for k := len(prev) - 1; k >= max(len(prev)-4, 0); k-- {
		q := prev[k]
		d := p.Time.Sub(q.Time)
		if d < 0 || d >= time.Millisecond {
			return false
		}
		if q.Interface == p.Interface && (q.Direction == p.Direction || q.Direction == pcap.DirUnknown || p.Direction == pcap.DirUnknown) {
			continue
		}
		if sameButHop(q.Data, data) {
			return true
		}
	}
	return false
}

// sameButHop reports whether two IP packets are equal but for what a hop
// changes: the TTL or hop limit and the IPv4 header checksum.
func sameButHop(a, b []byte) bool {
	if len(a) != len(b) || len(a) < 20 {
		return false
	}
	var skip [3]int
	switch a[0] >> 4 {
	case 4:
		skip = [3]int{8, 10, 11} // TTL, header checksum
	case 6:
		if len(a) < 40 {
			return false
		}
		skip = [3]int{7, 7, 7} // hop limit
	default:
		return false
	}
	for i := range a {
		if a[i] != b[i] && i != skip[0] && i != skip[1] && i != skip[2] {
			return false
		}
	}
	return true
}

// ipLength is the length an IP packet's header claims, or 0.
func ipLength(b []byte) int {
	if len(b) < 1 {
		return 0
	}
	switch b[0] >> 4 {
	case 4:
		if len(b) >= 4 {
			return int(binary.BigEndian.Uint16(b[2:]))
		}
	case 6:
		if len(b) >= 6 {
			return 40 + int(binary.BigEndian.Uint16(b[4:]))
		}
	}
	return 0
}
