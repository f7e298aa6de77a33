package sim

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"time"

	"github.com/synack/synack/clock"
	"github.com/synack/synack/ladder"
	"github.com/synack/synack/stack"
	"github.com/synack/synack/tcp"
)

// Packet is an IP packet as it leaves a host.
type Packet struct {
	Time time.Time // when it was sent
	From *Host     // the sender
	To   *Host     // the host owning the destination address; nil if none
	Data []byte    // the whole IP packet; do not modify
}

// RecordKind says what a Record holds.
type RecordKind uint8

// The kinds of Record.
const (
	RecordPacket RecordKind = iota // a packet sent by Host
	RecordState                    // a state change on Host
)

// Drop says why a packet was not delivered.
type Drop uint8

// Reasons a packet is dropped.
const (
	DropNone    Drop = iota // delivered (or on its way)
	DropFilter              // the filter dropped it
	DropLoss                // random or bursty loss
	DropNoRoute             // no host owns the destination address
	DropQueue               // tail drop at a rate limiter's queue (impairment)
	DropTooBig              // larger than the path's MTU (impairment)
)

// String names the reason.
func (d Drop) String() string {
	switch d {
	case DropNone:
		return "none"
	case DropFilter:
		return "filtered"
	case DropLoss:
		return "lost"
	case DropNoRoute:
		return "no route"
	case DropQueue:
		return "queue full"
	case DropTooBig:
		return "too big"
	}
	return fmt.Sprintf("Drop(%d)", uint8(d))
}

// Record is one entry of a network's trace.
type Record struct {
	Kind   RecordKind
	Time   time.Time
	Host   *Host            // the sender of a packet, the owner of a state change
	Packet Packet           // for RecordPacket
	Drop   Drop             // for RecordPacket
	State  stack.TraceEvent // for RecordState
}

// String formats the record on one line, the packet's bytes in hex.
func (r Record) String() string {
	t := r.Time.Sub(clock.Epoch)
	if r.Kind == RecordState {
		ev := r.State
		remote := "-"
		if ev.Remote.IsValid() {
			remote = ev.Remote.String()
		}
		return fmt.Sprintf("%v state %s %s %s %v -> %v", t, r.Host, endpoint(ev.Local), remote, ev.From, ev.To)
	}
	to := "-"
	if r.Packet.To != nil {
		to = r.Packet.To.name
	}
	s := fmt.Sprintf("%v packet %s > %s %s", t, r.Host, to, hex.EncodeToString(r.Packet.Data))
	if r.Drop != DropNone {
		s += " dropped: " + r.Drop.String()
	}
	return s
}

// endpoint formats an address and port, ":80" for a port on any address.
func endpoint(ap netip.AddrPort) string {
	if !ap.Addr().IsValid() {
		return ":" + strconv.Itoa(int(ap.Port()))
	}
	return ap.String()
}

// LastState returns the state h's connection from local to remote was last
// reported in, or, when remote is the zero AddrPort, that of h's listener on
// local's port; ok is false if the trace has no such state change.
func (n *Network) LastState(h *Host, local, remote netip.AddrPort) (s tcp.State, ok bool) {
	local, remote = unmap(local), unmap(remote)
	for _, r := range n.Trace() {
		if r.Kind != RecordState || r.Host != h {
			continue
		}
		ev := r.State
		switch {
		case remote.IsValid() && unmap(ev.Local) == local && unmap(ev.Remote) == remote,
			!remote.IsValid() && !ev.Remote.IsValid() && listensOn(unmap(ev.Local), local):
			s, ok = ev.To, true
		}
	}
	return s, ok
}

func (n *Network) recordState(h *Host, ev stack.TraceEvent) {
	n.mu.Lock()
	n.trace = append(n.trace, Record{Kind: RecordState, Time: ev.Time, Host: h, State: ev})
	n.mu.Unlock()
}

// Trace returns a copy of the records so far, in the order they happened.
func (n *Network) Trace() []Record {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]Record(nil), n.trace...)
}

// WriteTrace writes the trace, one Record per line.
func (n *Network) WriteTrace(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for _, r := range n.Trace() {
		bw.WriteString(r.String())
		bw.WriteByte('\n')
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("sim: writing trace: %w", err)
	}
	return nil
}

// Ladder draws the ladder diagram of every TCP connection between a (on
// the left) and b, in the order the connections began.
func (n *Network) Ladder(w io.Writer, a, b *Host) error {
	return n.LadderOpts(w, a, b, ladder.Options{})
}

// LadderOpts is Ladder with drawing options.
func (n *Network) LadderOpts(w io.Writer, a, b *Host, opts ladder.Options) error {
	for i, c := range n.Conversations(a, b) {
		if i > 0 {
			if _, err := io.WriteString(w, "\n"); err != nil {
				return fmt.Errorf("sim: %w", err)
			}
		}
		left := a.name + " " + c.Left.String()
		right := c.Right.String()
		if b != nil {
			right = b.name + " " + right
		}
		if err := ladder.Render(w, left, right, c.Events, opts); err != nil {
			return fmt.Errorf("sim: %w", err)
		}
	}
	return nil
}
