// Package pkt reads scripts written in the packetdrill language: a list of
// timed events, each a packet the test injects (<) or expects (>), a system
// call with its expected result, a shell command or a Python code block.
//
// Parse turns a script into a *Script; (*Script).String writes it back in
// canonical form. Run (and RunFile) runs a script against a fresh synack
// stack under a virtual clock, the runner playing the remote peer: it
// injects the '<' packets, checks the '>' packets and performs the system
// calls through a small emulation of the BSD sockets API.
package pkt

import "time"

// Pos is a position in a script: 1-based line and column (in bytes).
type Pos struct {
	Line int
	Col  int
}

// Script is a whole parsed script.
type Script struct {
	// Options are the leading --name=value lines.
	Options []Option
	// Init is the back-quoted command that may come, without a time,
	// before the first event; nil when absent.
	Init *Command
	// Events are the timed events in script order.
	Events []Event
	// Cleanup is the back-quoted command that may come, without a time,
	// after the last event; nil when absent.
	Cleanup *Command
}

// Option is one leading --name[=value] line.
type Option struct {
	Pos
	Name string // without the leading "--"
	// Value is the text after '=' (or after a blank on the same line),
	// exactly as written, quotes included; "" when HasValue is false.
	Value    string
	HasValue bool
}

// TimeKind says how the start time of an event is written.
type TimeKind uint8

// Time kinds.
const (
	// TimeAbsolute: "0.100", seconds since the start of the script.
	TimeAbsolute TimeKind = iota + 1
	// TimeRelative: "+0.1", seconds after the previous event.
	TimeRelative
	// TimeAny: "*", at any time (outbound packets only in packetdrill).
	TimeAny
)

// TimeSpan says whether an event time has a second part.
type TimeSpan uint8

// Time spans.
const (
	// SpanNone: a single instant.
	SpanNone TimeSpan = iota
	// SpanRange: "0.1~0.2" or "+0~+0.1": the event may happen anywhere
	// in [Start, End]; both ends have the event's Kind.
	SpanRange
	// SpanBlocking: "+0...0.5 read(...)": a system call that starts at
	// Start and blocks until End. End is written without a sign and is
	// counted from the same origin as Start: in "+0.1...0.2 read()" after
	// an event at t, the call starts at t+0.1 and returns at t+0.2.
	SpanBlocking
)

// Time is when an event happens.
type Time struct {
	Kind  TimeKind
	Span  TimeSpan
	Start time.Duration
	End   time.Duration // meaningful when Span != SpanNone
}

// Event is one timed line of a script.
type Event struct {
	Pos
	Time   Time
	Action Action
}

// Action is what an event does: one of *Packet, *UDPPacket, *ICMPPacket,
// *Syscall, *Command or *Code.
type Action interface {
	actionPos() Pos
}

func (p *Packet) actionPos() Pos     { return p.Pos }
func (p *UDPPacket) actionPos() Pos  { return p.Pos }
func (p *ICMPPacket) actionPos() Pos { return p.Pos }
func (s *Syscall) actionPos() Pos    { return s.Pos }
func (c *Command) actionPos() Pos    { return c.Pos }
func (c *Code) actionPos() Pos       { return c.Pos }

// Direction is the way a packet travels, seen from the stack under test.
type Direction uint8

// Directions.
const (
	// Inbound ("<"): the script injects the packet into the stack.
	Inbound Direction = iota + 1
	// Outbound (">"): the script expects the stack to send the packet.
	Outbound
)

// ECN is an ECN codepoint check or setting written as "[ect0]" and so on.
type ECN uint8

// ECN values.
const (
	ECNUnset ECN = iota // not written
	ECNNone             // noecn: Not-ECT
	ECNECT0             // ect0
	ECNECT1             // ect1
	ECNECT01            // ect01: either ECT(0) or ECT(1) (outbound only)
	ECNCE               // ce
)

// IPInfo is the optional "[...]" (or "(...)") IP-level part of a packet line.
type IPInfo struct {
	ECN       ECN
	TOS       *uint8  // "tos 0x10"
	FlowLabel *uint32 // "flowlabel 0x12345" (IPv6)
	TTL       *uint8  // "ttl 64" (hop limit in IPv6)
}

// IsZero reports whether nothing was written.
func (ip IPInfo) IsZero() bool {
	return ip.ECN == ECNUnset && ip.TOS == nil && ip.FlowLabel == nil && ip.TTL == nil
}

// TCPFlags is a set of TCP header flags.
type TCPFlags uint16

// TCP flags, with the letter packetdrill uses for each.
const (
	FlagFIN TCPFlags = 1 << iota // F
	FlagSYN                      // S
	FlagRST                      // R
	FlagPSH                      // P
	FlagACK                      // .
	FlagURG                      // U
	FlagECE                      // E
	FlagCWR                      // W
	FlagAE                       // A (AccECN)
)

// Ports is the optional "src>dst" port pair of a packet line.
type Ports struct {
	Src, Dst uint16
}

// Packet is a TCP packet line:
//
//	< [ect0] P. 1:1001(1000) ack 1 win 257 <nop,nop,TS val 1 ecr 2>
type Packet struct {
	Pos
	Dir   Direction
	IP    IPInfo
	Ports *Ports
	Flags TCPFlags
	// ACE is the AccECN counter written as a digit among the flags
	// ("P.5"); nil when absent.
	ACE *uint8
	// Seq is the first sequence number. When SeqOnly is false the line
	// had "seq:end(len)" and End == Seq+Len; when true only "seq" was
	// written and End == Seq, Len == 0.
	Seq     uint32
	End     uint32
	Len     uint32
	SeqOnly bool
	Ack     *uint32
	Win     *uint16
	Urg     *uint16
	// Options are the TCP options; nil when no "<...>" list was written
	// (packetdrill then expects no options).
	Options []TCPOption
	// AnyOptions is true for "<...>": any options (outbound only).
	AnyOptions bool
}

// OptionKind names a TCP option.
type OptionKind uint8

// TCP option kinds.
const (
	OptNOP         OptionKind = iota + 1 // nop
	OptEOL                               // eol
	OptMSS                               // mss N
	OptWScale                            // wscale N, or wscale * (Wildcard)
	OptSACKOK                            // sackOK
	OptSACK                              // sack L:R L:R ...
	OptTimestamp                         // TS val X ecr Y
	OptMD5                               // md5 [hex]
	OptFastOpen                          // FO [cookie]
	OptFastOpenExp                       // FOEXP [cookie]
	// OptUnsupported is an option this package does not model; Text
	// holds what was written.
	OptUnsupported
)

// SACKBlock is one "left:right" range of a SACK option.
type SACKBlock struct {
	Left, Right uint32
}

// TCPOption is one entry of a TCP option list. Which fields are used
// depends on Kind.
type TCPOption struct {
	Pos
	Kind     OptionKind
	Value    uint32      // MSS size or window-scale shift
	Wildcard bool        // "wscale *": any shift
	Blocks   []SACKBlock // SACK
	TSVal    uint32      // timestamp value
	TSEcr    uint32      // timestamp echo reply
	Cookie   string      // FO/FOEXP cookie or MD5 digest as written: hex, or a --define name
	Text     string      // OptUnsupported: the option as written
}

// UDPPacket is a UDP packet line: "< udp (100)" or "> udp 53>1024 (20)".
type UDPPacket struct {
	Pos
	Dir   Direction
	IP    IPInfo
	Ports *Ports
	Len   uint32 // payload bytes
}

// EchoedProto is the protocol of the packet quoted inside an ICMP error.
type EchoedProto uint8

// Quoted-packet protocols.
const (
	EchoedTCP EchoedProto = iota + 1 // "[seq:end(len)]"
	EchoedUDP                        // "[udp (len)]"
	EchoedRaw                        // "[raw (len)]"
)

// ICMPEchoed is the "[...]" description of the packet an ICMP error quotes.
type ICMPEchoed struct {
	Proto EchoedProto
	Seq   uint32 // TCP only
	End   uint32 // TCP only
	Len   uint32 // payload bytes
}

// ICMPPacket is an ICMP packet line:
//
//	< icmp unreachable frag_needed mtu 1200 [1:1461(1460)]
type ICMPPacket struct {
	Pos
	Dir    Direction
	IP     IPInfo
	Type   string // e.g. "unreachable"
	Code   string // e.g. "frag_needed"; "" when absent
	MTU    *uint32
	ID     *uint16
	Echoed *ICMPEchoed
}

// Syscall is a system call line:
//
//	read(4, ..., 1000) = -1 EAGAIN (Resource temporarily unavailable)
type Syscall struct {
	Pos
	Name string
	Args []Expr
	Ret  Expr
	// Errno is the expected errno name ("EAGAIN"), "" when absent;
	// ErrnoText is the text in parentheses after it.
	Errno     string
	ErrnoText string
	// Note is a further parenthesised comment after the result (or after
	// the errno text); "" when absent.
	Note string
}

// Command is a back-quoted shell command; Text is what lies between the
// back quotes, as written.
type Command struct {
	Pos
	Text string
}

// Code is a "%{ ... }%" Python block; Text is its content with the blanks
// and tabs at both ends removed.
type Code struct {
	Pos
	Text string
}

// Expr is a system-call argument or result: one of *IntExpr, *WordExpr,
// *StringExpr, *EllipsisExpr, *BinaryExpr, *AssignExpr, *ListExpr,
// *StructExpr, *CallExpr or *AddrExpr.
type Expr interface {
	exprPos() Pos
}

func (e *IntExpr) exprPos() Pos      { return e.Pos }
func (e *WordExpr) exprPos() Pos     { return e.Pos }
func (e *StringExpr) exprPos() Pos   { return e.Pos }
func (e *EllipsisExpr) exprPos() Pos { return e.Pos }
func (e *BinaryExpr) exprPos() Pos   { return e.Pos }
func (e *AssignExpr) exprPos() Pos   { return e.Pos }
func (e *ListExpr) exprPos() Pos     { return e.Pos }
func (e *StructExpr) exprPos() Pos   { return e.Pos }
func (e *CallExpr) exprPos() Pos     { return e.Pos }
func (e *AddrExpr) exprPos() Pos     { return e.Pos }

// ExprPos returns the position where e starts.
func ExprPos(e Expr) Pos { return e.exprPos() }

// ActionPos returns the position where a starts.
func ActionPos(a Action) Pos { return a.actionPos() }

// IntExpr is an integer: "3", "-1" or "0xffffffff" (Hex). Hex literals
// larger than the int64 range keep their bits (Value is negative).
type IntExpr struct {
	Pos
	Value int64
	Hex   bool
}

// WordExpr is a bare word: a symbolic constant such as AF_INET or
// SOCK_STREAM, or a name defined with --define.
type WordExpr struct {
	Pos
	Name string
}

// StringExpr is a double-quoted string. Value is the text between the
// quotes as written (escape sequences are not interpreted). Ellipsis marks
// the form "text"... (the data starts with text).
type StringExpr struct {
	Pos
	Value    string
	Ellipsis bool
}

// EllipsisExpr is "...": any value (or a value the runner supplies).
type EllipsisExpr struct {
	Pos
}

// BinaryExpr is "X | Y" (Op is "|"), as in POLLIN|POLLOUT.
type BinaryExpr struct {
	Pos
	Op string
	X  Expr
	Y  Expr
}

// AssignExpr is "name=value" inside a structure, as in events=POLLIN or
// msg_iov(1)=[...]. Name is a *WordExpr or a *CallExpr.
type AssignExpr struct {
	Pos
	Name  Expr
	Value Expr
}

// ListExpr is an array "[a, b]" (also the pointer-to-int form "[1]").
type ListExpr struct {
	Pos
	Elems []Expr
}

// StructExpr is a structure "{a, b}" such as {fd=4, events=POLLIN}.
type StructExpr struct {
	Pos
	Elems []Expr
}

// CallExpr is a function-like form inside an argument: htons(8080),
// inet_addr("192.0.2.1"), msg_iov(1).
type CallExpr struct {
	Pos
	Func string
	Args []Expr
}

// AddrExpr is "&x", an address-of form.
type AddrExpr struct {
	Pos
	X Expr
}
