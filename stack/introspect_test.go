package stack_test

import (
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/synack/synack/ladder"
	"github.com/synack/synack/sim"
	"github.com/synack/synack/stack"
	"github.com/synack/synack/tcp"
	"github.com/synack/synack/wire"
)

var (
	cliAddr = netip.MustParseAddr("198.18.0.1")
	srvAddr = netip.MustParseAddr("198.18.0.2")
)

// packetsOf counts the TCP segments h sent and those delivered to it,
// from the simulator's own trace (not from the stack's counters).
func packetsOf(n *sim.Network, h *sim.Host) (sent, delivered, rstSent, rstDelivered uint64) {
	for _, r := range n.Trace() {
		if r.Kind != sim.RecordPacket {
			continue
		}
		_, _, seg, err := ladder.ParseSegment(r.Packet.Data)
		if err != nil {
			continue
		}
		rst := seg.Flags&wire.FlagRST != 0
		if r.Host == h {
			sent++
			if rst {
				rstSent++
			}
		}
		if r.Packet.To == h && r.Drop == sim.DropNone {
			delivered++
			if rst {
				rstDelivered++
			}
		}
	}
	return
}

// TestConnections follows one connection through Stack.Connections: the
// listener with its queues, the connection's Recv-Q and Send-Q, and its
// TIME-WAIT.
func TestConnections(t *testing.T) {
	n := sim.New(1)
	cli := n.AddHost("client", cliAddr)
	srv := n.AddHost("server", srvAddr)
	ln, err := srv.Stack().Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	got := srv.Stack().Connections()
	if len(got) != 1 || got[0].Kind != stack.EntryListener || got[0].State != tcp.StateListen ||
		got[0].Local != netip.AddrPortFrom(netip.Addr{}, 80) || got[0].RecvQ != 0 || got[0].SendQ != 128 || got[0].Remote.IsValid() {
		t.Fatalf("a listener: %+v", got)
	}
	c, err := cli.Stack().Dial("tcp", "198.18.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	n.RunFor(10 * time.Millisecond) // the handshake's last ACK arrives
	got = srv.Stack().Connections()
	if len(got) != 2 || got[0].Kind != stack.EntryListener || got[0].RecvQ != 1 ||
		got[1].Kind != stack.EntryConnection || got[1].State != tcp.StateEstablished ||
		got[1].Local != netip.AddrPortFrom(srvAddr, 80) || got[1].Remote != c.LocalAddrPort() {
		t.Fatalf("an unaccepted connection: %+v", got)
	}
	s, err := ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, "0123456789"); err != nil {
		t.Fatal(err)
	}
	// Before the data leaves the client's buffer is acknowledged, its
	// Send-Q holds it.
	if e := cli.Stack().Connections()[0]; e.SendQ != 10 || e.RecvQ != 0 || e.Info.State != tcp.StateEstablished {
		t.Errorf("client just after Write: %+v", e)
	}
	n.RunFor(100 * time.Millisecond)
	if e := srv.Stack().Connections()[1]; e.RecvQ != 10 || e.SendQ != 0 {
		t.Errorf("server with 10 unread bytes: Recv-Q %d, Send-Q %d", e.RecvQ, e.SendQ)
	}
	if e := cli.Stack().Connections()[0]; e.SendQ != 0 {
		t.Errorf("client once acknowledged: Send-Q %d", e.SendQ)
	}
	c.Close()
	io.ReadAll(s)
	s.Close()
	n.RunFor(time.Second)
	got = cli.Stack().Connections()
	if len(got) != 1 || got[0].Kind != stack.EntryTimeWait || got[0].State != tcp.StateTimeWait {
		t.Errorf("client after closing first: %+v", got)
	}
	if got := srv.Stack().Connections(); len(got) != 1 || got[0].Kind != stack.EntryListener {
		t.Errorf("server after closing second: %+v", got)
	}
	ln.Close()
	n.Run()
	if got := srv.Stack().Connections(); len(got) != 0 {
		t.Errorf("server with nothing left: %+v", got)
	}
}

// TestTCPTotals checks the netstat -s counters of Stats against the
// simulator's own count of the packets, for an exchange, a refused
// connection and an aborted one.
func TestTCPTotals(t *testing.T) {
	n := sim.New(1)
	var segs []stack.SegmentEvent
	cli := n.AddHost("client", cliAddr, sim.HostStackOptions(func(o *stack.Options) {
		o.SegmentTrace = func(ev stack.SegmentEvent) { segs = append(segs, ev) }
	}))
	srv := n.AddHost("server", srvAddr)
	ln, err := srv.Stack().Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	c, err := cli.Stack().Dial("tcp", "198.18.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "request")
	s.Read(make([]byte, 100))
	if st := srv.Stack().Stats(); st.CurrEstab != 1 || st.PassiveOpens != 1 {
		t.Errorf("server: %d established, %d passive opens", st.CurrEstab, st.PassiveOpens)
	}
	// A refused connection: RST from the server, a failed attempt.
	if _, err := cli.Stack().Dial("tcp", "198.18.0.2:81"); err == nil {
		t.Fatal("dial to port 81 succeeded")
	}
	// An abort: the server closes with unread data, a RST.
	io.WriteString(c, "unread")
	n.RunFor(100 * time.Millisecond) // past the delayed ACK that Nagle waits for
	s.Close()
	c.Read(make([]byte, 1))
	c.Close()
	n.Run()

	cs, ss := cli.Stack().Stats(), srv.Stack().Stats()
	for _, h := range []struct {
		name string
		h    *sim.Host
		st   stack.Stats
	}{{"client", cli, cs}, {"server", srv, ss}} {
		sent, delivered, rstSent, rstDelivered := packetsOf(n, h.h)
		if h.st.SegmentsOut != sent || h.st.SegmentsIn != delivered || h.st.ResetsOut != rstSent || h.st.ResetsIn != rstDelivered {
			t.Errorf("%s: segments in %d out %d, resets in %d out %d; the network counted in %d out %d, resets in %d out %d",
				h.name, h.st.SegmentsIn, h.st.SegmentsOut, h.st.ResetsIn, h.st.ResetsOut, delivered, sent, rstDelivered, rstSent)
		}
	}
	if cs.ActiveOpens != 2 || cs.AttemptFails != 1 || cs.EstabResets != 1 || cs.ResetsIn != 2 || cs.CurrEstab != 0 {
		t.Errorf("client: %d active opens, %d failed, %d reset, %d RSTs in, %d established; want 2, 1, 1, 2, 0",
			cs.ActiveOpens, cs.AttemptFails, cs.EstabResets, cs.ResetsIn, cs.CurrEstab)
	}
	if ss.PassiveOpens != 1 || ss.EstabResets != 1 || ss.ResetsOut != 2 || ss.ResetsSent != 1 || ss.AttemptFails != 0 {
		t.Errorf("server: %d passive opens, %d reset, %d RSTs out (%d for no connection), %d failed; want 1, 1, 2, 1, 0",
			ss.PassiveOpens, ss.EstabResets, ss.ResetsOut, ss.ResetsSent, ss.AttemptFails)
	}
	// The segment trace saw what the counters counted, the SYN first.
	if uint64(len(segs)) != cs.SegmentsIn+cs.SegmentsOut {
		t.Errorf("%d traced segments, %d counted", len(segs), cs.SegmentsIn+cs.SegmentsOut)
	}
	if e := segs[0]; !e.Out || e.Flags != wire.FlagSYN || e.Remote != netip.AddrPortFrom(srvAddr, 80) || e.Len != 0 || !e.Options.HasMSS || e.Time.Sub(n.Clock().Now()) > 0 {
		t.Errorf("first traced segment: %+v", e)
	}
	if e := segs[1]; e.Out || e.Flags != wire.FlagSYN|wire.FlagACK || e.Local != c.LocalAddrPort() {
		t.Errorf("second traced segment: %+v", e)
	}
}

// TestRetransmitCauses drops data segments and checks the totals by
// cause: a hole in the middle is repaired in fast recovery; a whole
// flight lost first by a tail loss probe, then after a timeout.
func TestRetransmitCauses(t *testing.T) {
	for _, tt := range []struct {
		name                     string
		drop                     func(k int) bool // k: the data segment's number, from 1
		timeout, recovery, probe uint64
	}{
		{"hole", func(k int) bool { return k == 3 }, 0, 1, 0},
		// The probe goes first (RFC 8985 §7), then the timeout.
		{"blackout", func(k int) bool { return k <= 10 }, 9, 0, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := sim.New(1)
			cli := n.AddHost("client", cliAddr)
			srv := n.AddHost("server", srvAddr)
			ln, _ := srv.Stack().Listen("tcp", ":80")
			c, err := cli.Stack().Dial("tcp", "198.18.0.2:80")
			if err != nil {
				t.Fatal(err)
			}
			s, _ := ln.AcceptTCP()
			k := 0
			n.SetFilter(func(p sim.Packet) bool {
				_, _, seg, err := ladder.ParseSegment(p.Data)
				if err != nil || p.From != cli || seg.Len == 0 {
					return false
				}
				k++
				return tt.drop(k)
			})
			data := strings.Repeat("x", 10*c.Info().SndMSS)
			io.WriteString(c, data)
			if b, err := io.ReadAll(io.LimitReader(s, int64(len(data)))); err != nil || len(b) != len(data) {
				t.Fatalf("read %d, %v", len(b), err)
			}
			st := cli.Stack().Stats()
			if st.RetransTimeout != tt.timeout || st.RetransRecovery != tt.recovery || st.RetransProbe != tt.probe ||
				st.Retransmits != uint64(c.Info().TotalRetransmits) {
				t.Errorf("retransmissions: timeout %d, recovery %d, probe %d (total %d, the engine's %d); want %d, %d, %d",
					st.RetransTimeout, st.RetransRecovery, st.RetransProbe, st.Retransmits, c.Info().TotalRetransmits,
					tt.timeout, tt.recovery, tt.probe)
			}
			// The totals survive the connection.
			c.Close()
			s.Close()
			n.Run()
			if st2 := cli.Stack().Stats(); st2.Retransmits != st.Retransmits || st2.RetransTimeout != st.RetransTimeout {
				t.Errorf("after the connection ended: %d retransmissions, %d by timeout; before %d, %d",
					st2.Retransmits, st2.RetransTimeout, st.Retransmits, st.RetransTimeout)
			}
		})
	}
}
