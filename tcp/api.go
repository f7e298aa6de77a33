// Package tcp is synack's TCP engine: one TCB (transmission control block)
// per connection, holding the RFC 9293 variables and driven only by what the
// caller hands it — incoming segments, user calls and the current time.
//
// The engine is sans-I/O. It has no goroutines, reads no clock and touches
// no socket. Every method takes "now"; segments to send are queued inside the
// TCB and taken with DrainOutput; Deadline says when the engine next wants
// HandleTimer to be called. What a call changed comes back as Events
// (events.go): HandleSegment and HandleTimer return them, TakeEvents gives
// them after the user calls, so that the owner wakes readers and writers
// and re-arms its timer only when something moved. The same engine
// therefore runs under the real clock (package stack) and under a virtual
// clock (package sim), and every run under the virtual clock replays
// exactly.
//
// Reliability: the sender keeps a record of every segment in flight
// (txmap.go), which is both RFC 6675's SACK scoreboard and RACK's
// per-segment send times. Losses are found by RACK-TLP (RFC 8985, the
// default, with SACK), by RFC 6675's DupThresh rule (Config.DisableRACK),
// or by three duplicate ACKs and NewReno partial ACKs (RFC 6582, without
// SACK). Fast recovery with SACK sends by Proportional Rate Reduction
// (RFC 6937, prr.go; Config.DisablePRR). A timeout marks everything
// unSACKed lost and retransmits from SND.UNA as the window reopens; on a
// connection without timestamps F-RTO (RFC 5682, frto.go) first resends
// one segment and new data, to tell a delay spike from a loss.
// Retransmissions proved unnecessary by a D-SACK (RFC 2883), a timestamp
// (RFC 3522) or F-RTO are counted and their window reduction undone. The
// congestion window comes from a cc.Controller (package tcp/cc): CUBIC by
// default, or NewReno.
//
// A TCB is not safe for concurrent use; its owner serialises calls.
package tcp

import "github.com/synack/synack/wire"

// State is a connection state of the RFC 9293 state diagram (§3.3.2).
type State uint8

// The eleven states of RFC 9293.
const (
	StateClosed State = iota
	StateListen
	StateSynSent
	StateSynReceived
	StateEstablished
	StateFinWait1
	StateFinWait2
	StateCloseWait
	StateClosing
	StateLastAck
	StateTimeWait
)

var stateNames = [...]string{
	StateClosed:      "CLOSED",
	StateListen:      "LISTEN",
	StateSynSent:     "SYN-SENT",
	StateSynReceived: "SYN-RECEIVED",
	StateEstablished: "ESTABLISHED",
	StateFinWait1:    "FIN-WAIT-1",
	StateFinWait2:    "FIN-WAIT-2",
	StateCloseWait:   "CLOSE-WAIT",
	StateClosing:     "CLOSING",
	StateLastAck:     "LAST-ACK",
	StateTimeWait:    "TIME-WAIT",
}

// String returns the state's name as RFC 9293 spells it, e.g. "SYN-SENT".
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "State(" + itoa(int(s)) + ")"
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// Segment is the engine's view of one TCP segment: the header fields that
// matter to a connection plus the payload. Ports and addresses are the
// caller's business (package stack demultiplexes on them).
//
// ECN (RFC 3168) lives partly in the IP header, which the engine does not
// see. The owner (package stack) maps it: on arrival it sets CE when the
// IP header's ECN field is CE (11); on sending it puts ECT(0) (10) in the
// IP header when ECT is set, and Not-ECT (00) otherwise.
type Segment struct {
	Seq, Ack uint32
	Flags    wire.Flags
	Window   uint16 // the raw 16-bit field; the engine applies window scaling
	Urgent   uint16
	Options  wire.TCPOptions
	Payload  []byte
	CE       bool // incoming: the IP header carried Congestion Experienced
	ECT      bool // outgoing: send with ECT(0) in the IP header
	// GSOSize, outgoing from DrainOutputSuper: when not 0, the segment
	// joins segments of GSOSize payload bytes (the last may be shorter)
	// that a link may split (GSO) or a peer take whole.
	GSOSize uint16
	// Owner, incoming: when not nil, Payload lives in a buffer that
	// Owner lets the engine keep past the call instead of copying the
	// payload (zero-copy receive, rcvqueue.go): the engine calls
	// Owner.Retain if it keeps it, and Owner.Release once it is done.
	Owner PayloadOwner
	// Page, outgoing from DrainOutput: when not nil, Payload lies in
	// this page of the send buffer, which the emitter may keep past its
	// emit call without copying the payload by taking a reference
	// (Page.Ref) that it gives back (Page.Release) once done with it:
	// until then the page's bytes do not change (send-side zero copy,
	// sndpages.go).
	Page *SendPage
}

// Len is the segment's length in sequence space: payload bytes plus one
// for SYN and one for FIN (RFC 9293 §3.4, SEG.LEN).
func (s *Segment) Len() uint32 {
	n := uint32(len(s.Payload))
	if s.Flags&wire.FlagSYN != 0 {
		n++
	}
	if s.Flags&wire.FlagFIN != 0 {
		n++
	}
	return n
}
