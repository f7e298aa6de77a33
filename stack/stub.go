// Package stack is synack's network stack: it owns links and addresses,
// demultiplexes TCP segments to connections and listeners, runs the TCP
// engines (package tcp) on a few event loops, and gives Go programs the
// familiar net.Conn / net.Listener face (Dial, Listen, *Conn).
package stack

// THIS FILE IS A CONTRACT STUB: the stack helper replaces the bodies (and
// may move declarations into files by concern), keeping the exported names
// and signatures. Bodies panic until then.

import (
	"context"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/synack/synack/clock"
	"github.com/synack/synack/link"
	"github.com/synack/synack/tcp"
)

// Runner drives a stack that has no event loops of its own (manual mode),
// as package sim does. A blocking call on such a stack (Dial, Accept, Read,
// Write, Close with linger) calls RunUntil in the caller's goroutine.
type Runner interface {
	// RunUntil advances the world — delivers packets, runs timers, moves
	// the virtual clock — until cond() returns true (RunUntil returns
	// true), or until deadline passes or nothing is left to happen
	// (false). A zero deadline means no limit.
	RunUntil(cond func() bool, deadline time.Time) bool
}

// Options configures a Stack. The zero value is a working real-time stack.
type Options struct {
	Clock      clock.Clock      // default clock.Real{}
	Runner     Runner           // nil: the stack runs its own event loops; non-nil: manual mode
	Loops      int              // event loops in real-time mode; default min(4, GOMAXPROCS)
	TCP        tcp.Config       // defaults for every connection
	Secret     []byte           // key for ISNs (RFC 6528) and ephemeral ports (RFC 6056); default random
	Rand       io.Reader        // randomness (default crypto/rand); a simulation passes a seeded one
	Backlog    int              // default accept-queue length when Listen is given none; default 128
	SynBacklog int              // default SYN-queue (half-open) length; default 256
	Trace      func(TraceEvent) // called on every connection state change, if set
}

// TraceEvent reports one state change of a connection or listener.
type TraceEvent struct {
	Time     time.Time
	Local    netip.AddrPort
	Remote   netip.AddrPort // invalid for a listener
	From, To tcp.State
}

// Stats are the stack's counters.
type Stats struct {
	PacketsIn, PacketsOut uint64
	Malformed             uint64 // packets dropped as malformed (bad header, length, option)
	BadChecksum           uint64
	NoRoute               uint64
	ResetsSent            uint64 // RSTs sent for segments that reached no connection
	ActiveOpens           uint64
	PassiveOpens          uint64
	SynQueueDrops         uint64 // SYNs dropped because the SYN queue was full
	AcceptQueueDrops      uint64 // handshakes dropped because the accept queue was full
	Connections           uint64 // connections currently known (all states)
}

// Stack is a userspace TCP/IP stack.
type Stack struct{}

// New returns a stack with no links.
func New(opts Options) *Stack { panic("unimplemented") }

// AddLink attaches l with the given addresses; their prefixes are on-link
// routes, and the first link added is also the default route.
func (s *Stack) AddLink(l link.Link, addrs ...netip.Prefix) error { panic("unimplemented") }

// Dial connects to address ("host:port", host an IP literal) over network "tcp", "tcp4" or "tcp6".
func (s *Stack) Dial(network, address string) (*Conn, error) { panic("unimplemented") }

// DialContext is Dial with a context that can cancel or time out the connect.
func (s *Stack) DialContext(ctx context.Context, network, address string) (*Conn, error) {
	panic("unimplemented")
}

// Listen listens on address (":port" or "ip:port").
func (s *Stack) Listen(network, address string) (*Listener, error) { panic("unimplemented") }

// Stats returns a snapshot of the counters.
func (s *Stack) Stats() Stats { panic("unimplemented") }

// Close aborts every connection, closes every listener and stops the loops.
func (s *Stack) Close() error { panic("unimplemented") }

// NextDeadline returns the earliest timer of any connection (manual mode);
// zero when none is set.
func (s *Stack) NextDeadline() time.Time { panic("unimplemented") }

// Tick runs every timer due at the clock's current time (manual mode).
func (s *Stack) Tick() { panic("unimplemented") }

// Conn is a TCP connection; it implements net.Conn and the methods of
// *net.TCPConn.
type Conn struct{}

var _ net.Conn = (*Conn)(nil)

// Read implements net.Conn.
func (c *Conn) Read(b []byte) (int, error) { panic("unimplemented") }

// Write implements net.Conn.
func (c *Conn) Write(b []byte) (int, error) { panic("unimplemented") }

// Close implements net.Conn.
func (c *Conn) Close() error { panic("unimplemented") }

// LocalAddr implements net.Conn; it returns a *net.TCPAddr.
func (c *Conn) LocalAddr() net.Addr { panic("unimplemented") }

// RemoteAddr implements net.Conn; it returns a *net.TCPAddr.
func (c *Conn) RemoteAddr() net.Addr { panic("unimplemented") }

// SetDeadline implements net.Conn.
func (c *Conn) SetDeadline(t time.Time) error { panic("unimplemented") }

// SetReadDeadline implements net.Conn.
func (c *Conn) SetReadDeadline(t time.Time) error { panic("unimplemented") }

// SetWriteDeadline implements net.Conn.
func (c *Conn) SetWriteDeadline(t time.Time) error { panic("unimplemented") }

// Listener is a TCP listener; it implements net.Listener.
type Listener struct{}

var _ net.Listener = (*Listener)(nil)

// Accept implements net.Listener; the net.Conn is a *Conn.
func (l *Listener) Accept() (net.Conn, error) { panic("unimplemented") }

// Close implements net.Listener.
func (l *Listener) Close() error { panic("unimplemented") }

// Addr implements net.Listener.
func (l *Listener) Addr() net.Addr { panic("unimplemented") }
