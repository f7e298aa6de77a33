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

// Read reads every IP packet of a pcap or pcapng capture. The copies of a
// loopback packet that "tcpdump -i any" records twice (once going out,
// once coming in) are kept once.
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
		if n := len(pkts); n > 0 && isLoopbackTwin(pkts[n-1], p, data) {
			continue
		}
		pkts = append(pkts, Packet{Time: p.Time, Data: data, Direction: p.Direction, Truncated: truncated, Frame: p.Frame})
	}
}

// isLoopbackTwin reports a packet that repeats the previous one within a
// millisecond in the other direction: the incoming copy of a loopback
// packet in a "-i any" capture.
func isLoopbackTwin(prev Packet, p pcap.Packet, data []byte) bool {
	if prev.Direction == pcap.DirUnknown || p.Direction == pcap.DirUnknown || prev.Direction == p.Direction {
		return false
	}
	d := p.Time.Sub(prev.Time)
	return d >= 0 && d < time.Millisecond && bytes.Equal(prev.Data, data)
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
