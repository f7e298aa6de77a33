package tcp

// THIS FILE IS A CONTRACT STUB: the engine helper replaces every body (and
// may move declarations into files by concern), keeping the exported names
// and signatures. Bodies panic until then.

import (
	"time"
)

// KeepAliveConfig configures TCP keepalive (RFC 1122 §4.2.3.6).
type KeepAliveConfig struct {
	Enable   bool
	Idle     time.Duration // idle time before the first probe; default 2h
	Interval time.Duration // between unanswered probes; default 75s
	Count    int           // unanswered probes before ETIMEDOUT; default 9
}

// Config holds a connection's tunables. A zero field means its default.
type Config struct {
	MSS               int           // MSS we advertise (link MTU − IP and TCP headers); default 1460
	SendBufferSize    int           // bytes; default 256 KiB
	ReceiveBufferSize int           // bytes; default 256 KiB
	MSL               time.Duration // maximum segment lifetime; TIME-WAIT lasts 2·MSL; default 30s
	InitialRTO        time.Duration // default 1s (RFC 6298)
	MinRTO            time.Duration // default 200ms
	MaxRTO            time.Duration // default 120s
	SynRetries        int           // SYN retransmissions before connect fails with ETIMEDOUT; default 6
	SynAckRetries     int           // SYN-ACK retransmissions before a half-open connection is dropped; default 5
	MaxRetries        int           // data/FIN retransmissions before ETIMEDOUT (RFC 9293 R2); default 15
	DelayedACK        time.Duration // longest an ACK is delayed; default 40ms; negative: ACK every segment at once
	NoDelay           bool          // disable Nagle's algorithm
	DisableWScale     bool          // do not offer window scaling (RFC 7323)
	DisableSACK       bool          // do not offer SACK-permitted (RFC 2018)
	DisableTimestamps bool          // do not offer timestamps (RFC 7323)
	KeepAlive         KeepAliveConfig
}

// ListenAction says what a listener should do with a segment (RFC 9293
// §3.10.7.2, "If the state is LISTEN").
type ListenAction uint8

// The outcomes of HandleListen.
const (
	ListenDrop   ListenAction = iota // ignore the segment
	ListenReset                      // send the returned RST
	ListenAccept                     // a valid SYN: create a TCB with NewPassive
)

// TCB is one connection's transmission control block.
type TCB struct {
	// OnStateChange, when set, is called on every state transition, in
	// order, including several inside one call.
	OnStateChange func(from, to State, now time.Time)
}

// Info is a snapshot of a TCB's RFC 9293 variables, for tests and tools.
type Info struct {
	State                  State
	ISS, IRS               uint32
	SndUna, SndNxt, SndWnd uint32
	RcvNxt, RcvWnd         uint32
	SndWL1, SndWL2         uint32
	SndMSS                 int // effective MSS for sending
	SndWScale, RcvWScale   uint8
	SACKPermitted          bool
	Timestamps             bool
	SRTT, RTTVar, RTO      time.Duration
	Retransmits            int
}

// HandleListen decides what a listening endpoint does with seg.
func HandleListen(seg *Segment) (ListenAction, Segment) { panic("unimplemented") }

// ResetFor returns the RST that answers seg when it reaches no connection
// (RFC 9293 §3.10.7.1): seq=SEG.ACK if ACK is set, else seq=0 and ACK with
// ack=SEG.SEQ+SEG.LEN. ok is false when seg is itself a RST.
func ResetFor(seg *Segment) (rst Segment, ok bool) { panic("unimplemented") }

// NewActive starts an active open: the TCB is in SYN-SENT with its SYN queued.
func NewActive(cfg Config, iss uint32, now time.Time) *TCB { panic("unimplemented") }

// NewPassive starts a passive open from a SYN accepted by HandleListen: the
// TCB is in SYN-RECEIVED with its SYN-ACK queued.
func NewPassive(cfg Config, iss uint32, syn *Segment, now time.Time) *TCB {
	panic("unimplemented")
}

// State returns the current state.
func (t *TCB) State() State { panic("unimplemented") }

// Info returns a snapshot of the TCB's variables.
func (t *TCB) Info() Info { panic("unimplemented") }

// Passive reports whether the TCB was created by NewPassive.
func (t *TCB) Passive() bool { panic("unimplemented") }

// HandleSegment processes one incoming segment (RFC 9293 §3.10.7).
func (t *TCB) HandleSegment(seg *Segment, now time.Time) { panic("unimplemented") }

// HandleTimer runs every timer that is due at now.
func (t *TCB) HandleTimer(now time.Time) { panic("unimplemented") }

// Deadline is when HandleTimer should next be called; zero when no timer runs.
func (t *TCB) Deadline() time.Time { panic("unimplemented") }

// DrainOutput passes each queued outgoing segment to emit, in order, and
// empties the queue. A segment's Payload is valid only during its emit call.
func (t *TCB) DrainOutput(emit func(seg *Segment)) { panic("unimplemented") }

// Write queues p for sending and returns how much fit in the send buffer.
func (t *TCB) Write(p []byte, now time.Time) (int, error) { panic("unimplemented") }

// Read copies received data into p. It returns 0, nil when nothing is
// ready, and io.EOF once the peer's FIN and all data before it are read.
func (t *TCB) Read(p []byte, now time.Time) (int, error) { panic("unimplemented") }

// Readable reports whether Read would return data, io.EOF or an error.
func (t *TCB) Readable() bool { panic("unimplemented") }

// Writable reports whether Write would accept a byte or return an error.
func (t *TCB) Writable() bool { panic("unimplemented") }

// CloseWrite queues a FIN after all queued data (half-close).
func (t *TCB) CloseWrite(now time.Time) error { panic("unimplemented") }

// CloseRead discards received data from now on.
func (t *TCB) CloseRead(now time.Time) error { panic("unimplemented") }

// Close is the user CLOSE call.
func (t *TCB) Close(now time.Time) error { panic("unimplemented") }

// Abort is the user ABORT call: send RST, enter CLOSED.
func (t *TCB) Abort(now time.Time) { panic("unimplemented") }

// Err returns the error that ended the connection, or nil.
func (t *TCB) Err() error { panic("unimplemented") }

// Done reports whether the TCB is finished: CLOSED (or returned to LISTEN)
// with nothing left to send, so its owner may forget it.
func (t *TCB) Done() bool { panic("unimplemented") }

// SetNoDelay turns Nagle's algorithm off (true) or on.
func (t *TCB) SetNoDelay(noDelay bool) { panic("unimplemented") }

// SetKeepAlive changes the keepalive settings.
func (t *TCB) SetKeepAlive(ka KeepAliveConfig, now time.Time) { panic("unimplemented") }
