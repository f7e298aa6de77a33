// Package ladder draws ladder diagrams of one TCP connection: time runs
// down the page, the two endpoints stand in the left and right columns with
// their states, and each segment is an arrow between them, in the manner of
// the textbook figures of the three-way handshake and the four-way close.
//
//	   ms  client 198.18.0.1:49152                        server 198.18.0.2:80
//	       ISN 1000                                                  ISN 5000
//	0.000  CLOSED → SYN-SENT
//	0.000  SYN-SENT     ──S seq 0 win 65535 len 0 <mss 1460>──────▶ LISTEN
//
// Sequence and acknowledgment numbers are printed relative to each side's
// initial sequence number, as tcpdump prints them.
package ladder

import (
	"time"

	"github.com/synack/synack/tcp"
	"github.com/synack/synack/wire"
)

// Kind says what an Event records.
type Kind uint8

// The kinds of Event.
const (
	Segment Kind = iota // a segment sent by Side
	State               // a state change of Side
)

// Side is one end of the ladder.
type Side uint8

// The two sides.
const (
	Left Side = iota
	Right
)

// Other returns the opposite side.
func (s Side) Other() Side { return 1 - s&1 }

// String returns "left" or "right".
func (s Side) String() string {
	if s == Left {
		return "left"
	}
	return "right"
}

// SegmentInfo is what a ladder shows of a segment.
type SegmentInfo struct {
	Flags       wire.Flags
	Seq, Ack    uint32
	Window      uint16 // the raw header field
	Len         int    // payload bytes
	Options     wire.TCPOptions
	BadChecksum bool // the segment's checksum was wrong
}

// Event is one row of a ladder: a segment sent by Side, or a state change
// of Side.
type Event struct {
	Time time.Time
	Kind Kind
	Side Side // the sender of a segment, the owner of a state change

	Seg  SegmentInfo // for a Segment
	Lost bool        // for a Segment: it never reached the other side

	From, To tcp.State // for a State change
}
