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
	"strconv"
	"strings"
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

	// What the analysis of a capture adds (package analysis); the zero
	// values draw the segment as it is.

	// Unverified: the checksum could not be checked, because the capture
	// saw the packet before the sender's NIC filled it in (checksum
	// offload: a partial checksum) or holds only its first bytes.
	Unverified bool
	// WindowScale is the shift to apply to Window to show it in bytes;
	// -1 when it cannot be known (the capture missed the handshake).
	WindowScale int8
	Anomalies   Anomaly
	DupAck      int    // n of "duplicate ACK #n", with DupACK
	Note        string // plain words on a RST: "connection refused", …
}

// Anomaly is a set of the things TCP analysis (Wireshark's, and ours)
// finds remarkable about a segment.
type Anomaly uint32

// The anomalies, in the order String lists them.
const (
	Retransmission         Anomaly = 1 << iota // data sent again after a timeout or for no visible reason
	FastRetransmission                         // data sent again after duplicate ACKs
	SpuriousRetransmission                     // sent again although already received (acked, or reported by a D-SACK)
	OutOfOrder                                 // sent below the highest sequence number, soon after it, first time seen
	PreviousLost                               // a gap before it: a segment the capture did not see
	AckedUnseen                                // acknowledges data the capture did not see
	DupACK                                     // duplicate ACK (DupAck says which)
	DSACK                                      // carries a D-SACK block: data received twice
	ZeroWindow                                 // advertises a zero window
	ZeroWindowProbe                            // one byte into a zero window
	WindowFull                                 // fills the receiver's advertised window
	WindowUpdate                               // a pure ACK that only changes the window
	KeepAlive                                  // a keep-alive probe (seq one below the next)
	KeepAliveACK                               // the answer to a keep-alive
	ChallengeACK                               // RFC 5961 challenge ACK, answering a SYN or RST it does not accept
)

var anomalyNames = [...]string{
	"retransmission", "fast retransmission", "spurious retransmission", "out of order",
	"previous segment not captured", "ACKs data not captured", "dup ACK", "D-SACK: received twice",
	"zero window", "zero-window probe", "window full", "window update", "keep-alive",
	"keep-alive ACK", "challenge ACK",
}

// Words returns the anomalies in plain words; dup is the number of a
// duplicate ACK.
func (a Anomaly) Words(dup int) []string {
	var w []string
	for i, name := range anomalyNames {
		if a&(1<<i) == 0 {
			continue
		}
		// A spurious or fast retransmission is not also "retransmission".
		if Anomaly(1<<i) == Retransmission && a&(FastRetransmission|SpuriousRetransmission) != 0 {
			continue
		}
		if Anomaly(1<<i) == DupACK && dup > 0 {
			name += " #" + strconv.Itoa(dup)
		}
		w = append(w, name)
	}
	return w
}

// String lists the anomalies, separated by commas.
func (a Anomaly) String() string { return strings.Join(a.Words(0), ", ") }

// Event is one row of a ladder: a segment sent by Side, or a state change
// of Side.
type Event struct {
	Time time.Time
	Kind Kind
	Side Side // the sender of a segment, the owner of a state change

	Seg  SegmentInfo // for a Segment
	Lost bool        // for a Segment: it never reached the other side

	From, To tcp.State // for a State change
	// Guess marks a state inferred without evidence (To is drawn
	// "ESTABLISHED?"). A State event with From == To says which state a
	// side is in, without a change.
	Guess bool
}
