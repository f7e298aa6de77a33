package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/synack/synack/ladder"
	"github.com/synack/synack/sim"
	"github.com/synack/synack/stack"
	"github.com/synack/synack/tcp"
	"github.com/synack/synack/wire"
)

// A scenario is one of the classic TCP cases synack demo --scenario runs
// between a client (198.18.0.1, on the left of the ladder) and a server
// (198.18.0.2, on the right) on a simulated network with a virtual clock.
// Every scenario is deterministic: the same seed prints the same ladder.
type scenario struct {
	name string
	// notice is the one line demo --list prints: what the learner
	// should notice in the ladder.
	notice string
	// intro says what happens, before the ladder.
	intro string
	// hosts returns extra options for the client's and the server's
	// host (nil: none).
	hosts func(sc *scene) (cli, srv []sim.HostOption)
	// run plays the scenario; what it notes is printed after the ladder.
	run func(sc *scene) error
	// absolute draws absolute sequence numbers.
	absolute bool
	// draw, when set, draws the ladders instead of one after the other
	// (demo_fastopen.go draws its two connections side by side).
	draw func(w io.Writer, sc *scene, opts ladder.Options) error
}

// scenarios are the scenarios in the order demo --list shows them; the
// first is the default.
var scenarios = []*scenario{
	{
		name:   "handshake",
		notice: "the three-way handshake, a request and a reply, the four-way close and the 60 s of TIME-WAIT: all ten states of RFC 9293's diagram in one ladder",
	},
	{
		name:   "lost-syn",
		notice: "the client's first SYN is lost; it resends it after its initial RTO of 1 s, and the handshake then completes as usual",
		intro:  "The network drops the client's first SYN. Nothing answers it, so the client's retransmission timer (initially 1 s, RFC 6298) fires and the SYN goes again.",
		run: func(sc *scene) error {
			sc.drop("the client's first SYN", 1, func(p *seen) bool { return p.from == sc.cli && p.seg.Flags == wire.FlagSYN })
			return sc.exchange()
		},
	},
	{
		name:   "lost-syn-ack",
		notice: "the server's SYN-ACK is lost; both ends time out and resend (the client its SYN, the server its SYN-ACK), and the duplicates are answered, not harmful",
		intro:  "The network drops the server's first SYN-ACK. The server waits in SYN-RECEIVED and the client in SYN-SENT, each for its own retransmission timer.",
		run: func(sc *scene) error {
			sc.drop("the server's first SYN-ACK", 1, func(p *seen) bool { return p.from == sc.srv && p.seg.Flags == wire.FlagSYN|wire.FlagACK })
			return sc.exchange()
		},
	},
	{
		name:   "lost-final-ack",
		notice: "the client's last ACK is lost; the server, in LAST-ACK, resends its FIN, and the client, in TIME-WAIT, answers it again: that is what TIME-WAIT is for",
		intro:  "The client closes first. The network drops the ACK of the server's FIN; the client is already in TIME-WAIT and keeps the connection's state for 2·MSL so that it can acknowledge the FIN the server will resend.",
		run: func(sc *scene) error {
			srvFIN := false
			sc.drop("the ACK of the server's FIN", 1, func(p *seen) bool {
				if p.from == sc.srv && p.seg.Flags&wire.FlagFIN != 0 {
					srvFIN = true
				}
				return srvFIN && p.from == sc.cli && p.seg.Flags == wire.FlagACK && p.seg.Len == 0
			})
			return sc.exchange()
		},
	},
	{
		name:     "old-duplicate-syn",
		notice:   "an old SYN from an earlier connection reaches the server; the client, whose SYN it is not, answers the SYN-ACK with RST, the server goes back to LISTEN: why a third segment is needed",
		intro:    "An old duplicate SYN (sequence number 1000, from a connection long gone on the same ports) is still in the network when the client opens a new connection; the client's own SYN is delayed and arrives a retransmission later (RFC 9293 §3.5, Figure 8). The server cannot tell the two SYNs apart: only the client can, when it sees a SYN-ACK that acknowledges a SYN it never sent.",
		run:      runOldDuplicateSYN,
		absolute: true,
	},
	{
		name:   "simultaneous-open",
		notice: "both ends send a SYN at the same instant; each goes SYN-SENT → SYN-RECEIVED → ESTABLISHED, and four segments make one connection (no listener)",
		intro:  "Client and server both connect to each other's port at the same virtual instant (client port 5000, server port 6000), with no listener on either side (RFC 9293 §3.5, Figure 7).",
		hosts: func(sc *scene) (cli, srv []sim.HostOption) {
			return []sim.HostOption{sc.onFirstWait()}, nil
		},
		run: runSimultaneousOpen,
	},
	{
		name:   "simultaneous-close",
		notice: "both ends close at once; their FINs cross, both pass through CLOSING (not FIN-WAIT-2) and both end in TIME-WAIT",
		intro:  "After a request and a reply, client and server call Close at the same virtual instant (RFC 9293 §3.6, Figure 13).",
		run: func(sc *scene) error {
			c, s, err := sc.connect()
			if err != nil {
				return err
			}
			if err := sc.requestReply(c, s); err != nil {
				return err
			}
			c.Close()
			s.Close()
			return nil
		},
	},
	{
		name:   "half-close",
		notice: "the client sends its request and a FIN (CloseWrite) and still receives the reply: data flows from CLOSE-WAIT to FIN-WAIT-2",
		intro:  "The client sends its request, then half-closes (CloseWrite: a FIN, \"I have nothing more to send\"). The server reads to the end of the stream, then sends its reply over the half-open connection and closes.",
		run: func(sc *scene) error {
			c, s, err := sc.connect()
			if err != nil {
				return err
			}
			if _, err := io.WriteString(c, request); err != nil {
				return err
			}
			if err := c.CloseWrite(); err != nil {
				return err
			}
			got, err := io.ReadAll(s)
			if err != nil {
				return fmt.Errorf("server: %w", err)
			}
			sc.note("The server read %d bytes, then the end of the stream, while in %v.", len(got), s.State())
			if _, err := io.WriteString(s, reply); err != nil {
				return err
			}
			s.Close()
			back, err := io.ReadAll(c)
			if err != nil {
				return fmt.Errorf("client: %w", err)
			}
			sc.note("The client, in FIN-WAIT-2 after its FIN, still read the %d-byte reply.", len(back))
			return c.Close()
		},
	},
	{
		name:   "refused",
		notice: "a SYN to a port nobody listens on is answered with RST,ACK; the client's connect fails with ECONNREFUSED at once, no retransmission",
		intro:  "The client connects to port 81, where the server has no listener (RFC 9293 §3.10.7.1).",
		run: func(sc *scene) error {
			_, err := sc.cli.Stack().Dial("tcp", netip.AddrPortFrom(serverAddr, 81).String())
			if err == nil {
				return errors.New("the connection to port 81 succeeded")
			}
			sc.note("Dial returned: %v", err)
			return nil
		},
	},
	{
		name:   "abort",
		notice: "the server closes with the request still unread; instead of a FIN it sends RST, and the client's read fails with ECONNRESET",
		intro:  "The client sends a request; the server closes its connection without reading it. Closing with unread data aborts the connection with a RST, as Linux does (RFC 9293 §3.10.4, RFC 2525 §2.17), so the client learns that its data was not read.",
		run: func(sc *scene) error {
			c, s, err := sc.connect()
			if err != nil {
				return err
			}
			if _, err := io.WriteString(c, request); err != nil {
				return err
			}
			sc.n.RunFor(10 * time.Millisecond) // the request arrives, unread
			s.Close()
			_, err = c.Read(make([]byte, 100))
			sc.note("The client's Read returned: %v", err)
			c.Close()
			return nil
		},
	},
	{
		name:   "keepalive",
		notice: "the server vanishes without a word; the idle client's keepalive probes (ACKs carrying the sequence number just below SND.UNA, which the peer must answer) go unanswered and after 3 of them the connection times out",
		intro:  "The connection is idle with keepalive on (10 s idle, then a probe every 5 s, 3 probes). Then the server's host disappears from the network: from 30 s on, nothing reaches it any more.",
		run:    runKeepalive,
	},
	{
		name:   "syn-flood",
		notice: "spoofed SYNs fill the server's SYN queue (4 here); the next SYNs, the client's included, get a SYN cookie in the SYN-ACK's sequence number, the server stays in LISTEN (no state) until the ACK brings the cookie back, and the client still connects",
		intro:  "An attacker on the client's link sends 8 SYNs from spoofed addresses (198.19.0.1 to .8) that never answer. The server's SYN queue holds 4 half-open connections; past that the server answers with SYN cookies (RFC 4987 §3.6) and keeps no state. Then the real client connects.",
		hosts: func(sc *scene) (cli, srv []sim.HostOption) {
			return nil, []sim.HostOption{sim.HostStackOptions(func(o *stack.Options) { o.SynBacklog = 4 })}
		},
		run: runSynFlood,
	},
	{
		name:   "lossy-transfer",
		notice: "two of twelve data segments are lost; the receiver's SACK blocks show the hole, the sender retransmits just the lost segments in fast recovery, with no timeout",
		intro:  "The client sends 12 segments (17376 bytes) to the server; the network drops the 3rd and the 4th. The receiver acknowledges what it has with SACK blocks (RFC 2018); the sender's loss detection (RACK, RFC 8985) resends the two missing segments.",
		run:    runLossyTransfer,
	},
	fastOpenScenario, // demo_fastopen.go
	{
		name:   "zero-window",
		notice: "the server does not read; its window shrinks to 0, the client sends zero-window probes with growing gaps, and the transfer resumes once the server reads",
		intro:  "The server's receive buffer is 4 KiB and it does not read for 10 s while the client sends 10 KiB. Once the window is 0 the client probes it (persist timer, RFC 9293 §3.8.6.1), backing off, until the server reads and opens the window again.",
		hosts: func(sc *scene) (cli, srv []sim.HostOption) {
			return nil, []sim.HostOption{sim.HostTCP(tcp.Config{ReceiveBufferSize: 4096})}
		},
		run: runZeroWindow,
	},
}

// findScenario returns the scenario called name.
func findScenario(name string) *scenario {
	for _, s := range scenarios {
		if s.name == name {
			return s
		}
	}
	return nil
}

// scenarioNames lists the scenarios' names.
func scenarioNames() string {
	var ns []string
	for _, s := range scenarios {
		ns = append(ns, s.name)
	}
	return strings.Join(ns, ", ")
}

// scene is a scenario being played.
type scene struct {
	n        *sim.Network
	cli, srv *sim.Host
	notes    []string
	// firstWait runs once, when the client first blocks (onFirstWait).
	firstWait func()
}

// note adds a line to print after the ladder.
func (sc *scene) note(format string, a ...any) {
	sc.notes = append(sc.notes, fmt.Sprintf(format, a...))
}

// seen is a packet as a scenario's filter sees it.
type seen struct {
	from *sim.Host
	seg  ladder.SegmentInfo
}

// drop drops the first count packets that match, counting them in a note.
func (sc *scene) drop(what string, count int, match func(p *seen) bool) {
	dropped := 0
	sc.n.SetFilter(func(p sim.Packet) bool {
		_, _, seg, err := ladder.ParseSegment(p.Data)
		if err != nil {
			return false
		}
		if match(&seen{from: p.From, seg: seg}) && dropped < count {
			dropped++
			return true
		}
		return false
	})
	sc.note("The network dropped %s (the arrow ending in ✗, or x with --ascii).", what)
}

// onFirstWait is a host option whose stack runs sc.firstWait, once, the
// first time one of its calls blocks: after its first segments are sent
// and before the clock moves on.
func (sc *scene) onFirstWait() sim.HostOption {
	return sim.HostStackOptions(func(o *stack.Options) {
		o.Runner = &hookRunner{Runner: o.Runner, hook: func() {
			if f := sc.firstWait; f != nil {
				sc.firstWait = nil
				f()
			}
		}}
	})
}

// hookRunner calls hook before every RunUntil.
type hookRunner struct {
	stack.Runner
	hook func()
}

func (r *hookRunner) RunUntil(cond func() bool, deadline time.Time) bool {
	r.hook()
	return r.Runner.RunUntil(cond, deadline)
}

// connect opens a connection from the client to the server's port 80.
func (sc *scene) connect() (c, s *stack.Conn, err error) {
	ln, err := sc.srv.Stack().Listen("tcp", ":80")
	if err != nil {
		return nil, nil, err
	}
	c, err = sc.cli.Stack().Dial("tcp", netip.AddrPortFrom(serverAddr, 80).String())
	if err != nil {
		return nil, nil, fmt.Errorf("client: %w", err)
	}
	s, err = ln.AcceptTCP()
	if err != nil {
		return nil, nil, fmt.Errorf("server: %w", err)
	}
	return c, s, nil
}

// requestReply sends the request and the reply.
func (sc *scene) requestReply(c, s *stack.Conn) error {
	if _, err := io.WriteString(c, request); err != nil {
		return fmt.Errorf("client: %w", err)
	}
	if err := readExactly(s, request); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	if _, err := io.WriteString(s, reply); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	if err := readExactly(c, reply); err != nil {
		return fmt.Errorf("client: %w", err)
	}
	return nil
}

// exchange is the handshake demo's story: connect, request, reply, the
// client closes, then the server.
func (sc *scene) exchange() error {
	c, s, err := sc.connect()
	if err != nil {
		return err
	}
	if err := sc.requestReply(c, s); err != nil {
		return err
	}
	if err := c.Close(); err != nil {
		return fmt.Errorf("client: %w", err)
	}
	if k, err := s.Read(make([]byte, 1)); k != 0 || err != io.EOF {
		return fmt.Errorf("server: read %d bytes, %v; expected the end of the stream", k, err)
	}
	return s.Close()
}

// closeBoth closes the client's end, then, once the server has read the
// end of the stream, the server's.
func (sc *scene) closeBoth(c, s *stack.Conn) error {
	if err := c.Close(); err != nil {
		return fmt.Errorf("client: %w", err)
	}
	if k, err := s.Read(make([]byte, 1)); k != 0 || err != io.EOF {
		return fmt.Errorf("server: read %d bytes, %v; expected the end of the stream", k, err)
	}
	return s.Close()
}

// tcpPacket builds an IPv4 packet with a TCP segment.
func tcpPacket(src, dst netip.AddrPort, flags wire.Flags, seq, ack uint32, opts wire.TCPOptions) []byte {
	h := wire.TCPHeader{SrcPort: src.Port(), DstPort: dst.Port(), Seq: seq, Ack: ack, Flags: flags, Window: 65535, Options: opts}
	return wire.AppendTCPPacket(nil, wire.Endpoints{Src: src.Addr(), Dst: dst.Addr()}, 64, &h, nil)
}

func runOldDuplicateSYN(sc *scene) error {
	local := netip.AddrPortFrom(clientAddr, 40000)
	remote := netip.AddrPortFrom(serverAddr, 80)
	ln, err := sc.srv.Stack().Listen("tcp", ":80")
	if err != nil {
		return err
	}
	// The old SYN is in the network first; the client's own first SYN
	// is delayed (dropped here: its retransmission plays its late
	// arrival).
	if err := sc.cli.Inject(tcpPacket(local, remote, wire.FlagSYN, 1000, 0, wire.TCPOptions{MSS: 1460, HasMSS: true})); err != nil {
		return err
	}
	first := true
	sc.n.SetFilter(func(p sim.Packet) bool {
		_, _, seg, err := ladder.ParseSegment(p.Data)
		if err != nil || p.From != sc.cli || seg.Flags != wire.FlagSYN || seg.Seq == 1000 || !first {
			return false
		}
		first = false
		return true
	})
	c, err := sc.cli.Stack().DialTCP(context.Background(), local, remote)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	s, err := ln.AcceptTCP()
	if err != nil {
		return err
	}
	sc.note("The old SYN's sequence number is 1000; the client's own ISN is %d, so the SYN-ACK to the old SYN acknowledges 1001, which the client never sent: it answers RST, seq 1001. (Sequence numbers are absolute in this ladder.)", c.Info().ISS)
	sc.note("The client's own SYN arrived later (a retransmission here) and made the connection: %v at both ends.", s.State())
	return sc.closeBoth(c, s)
}

func runSimultaneousOpen(sc *scene) error {
	cliEnd := netip.AddrPortFrom(clientAddr, 5000)
	srvEnd := netip.AddrPortFrom(serverAddr, 6000)
	var (
		s    *stack.Conn
		serr error
	)
	// The server's connect starts at the same instant, once the
	// client's SYN is sent and before the clock moves.
	sc.firstWait = func() {
		s, serr = sc.srv.Stack().DialTCP(context.Background(), srvEnd, cliEnd)
	}
	c, err := sc.cli.Stack().DialTCP(context.Background(), cliEnd, srvEnd)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("server: %w", serr)
	}
	if s == nil {
		return errors.New("the server never connected")
	}
	if err := sc.requestReply(c, s); err != nil {
		return err
	}
	sc.note("Both Dial calls returned a connection, and after a request and a reply the client's is %v, the server's %v.", c.State(), s.State())
	return sc.closeBoth(c, s)
}

func runKeepalive(sc *scene) error {
	c, s, err := sc.connect()
	if err != nil {
		return err
	}
	if err := c.SetKeepAliveConfig(netKeepAlive(10*time.Second, 5*time.Second, 3)); err != nil {
		return err
	}
	_ = s
	sc.n.RunFor(30 * time.Second)
	gone := sc.n.Now()
	sc.n.SetFilter(func(p sim.Packet) bool { return p.To == sc.srv || p.From == sc.srv })
	sc.note("From %.0f s on the network drops every packet to or from the server.", gone.Sub(simStart).Seconds())
	_, err = c.Read(make([]byte, 1))
	sc.note("The client's Read returned after %.0f s: %v", sc.n.Now().Sub(simStart).Seconds(), err)
	c.Close()
	return nil
}

func runSynFlood(sc *scene) error {
	ln, err := sc.srv.Stack().Listen("tcp", ":80")
	if err != nil {
		return err
	}
	remote := netip.AddrPortFrom(serverAddr, 80)
	for i := range 8 {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 19, 0, byte(1 + i)}), uint16(30000+i))
		if err := sc.cli.Inject(tcpPacket(src, remote, wire.FlagSYN, uint32(1000*(i+1)), 0, wire.TCPOptions{MSS: 1460, HasMSS: true})); err != nil {
			return err
		}
	}
	sc.n.RunFor(10 * time.Millisecond)
	c, err := sc.cli.Stack().Dial("tcp", remote.String())
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	s, err := ln.AcceptTCP()
	if err != nil {
		return err
	}
	if err := sc.requestReply(c, s); err != nil {
		return err
	}
	st := sc.srv.Stack().Stats()
	sc.note("The server answered %d SYNs with cookies (4 of the attacker's and the client's); %d cookie came back valid, the client's, and made its connection.", st.SynCookiesSent, st.SynCookiesValid)
	sc.note("Only the client's connection is drawn; the attacker's SYNs and the server's answers to 198.19.0.x went to addresses nobody owns.")
	c.Close()
	if k, err := s.Read(make([]byte, 1)); k != 0 || err != io.EOF {
		return fmt.Errorf("server: read %d bytes, %v; expected the end of the stream", k, err)
	}
	s.Close()
	// Let the half-open connections of the flood give up.
	return nil
}

func runLossyTransfer(sc *scene) error {
	c, s, err := sc.connect()
	if err != nil {
		return err
	}
	const segs = 12
	mss := c.Info().SndMSS
	data := make([]byte, segs*mss)
	for i := range data {
		data[i] = byte('a' + i%26)
	}
	n := 0
	sc.drop("the 3rd and 4th data segments", 2, func(p *seen) bool {
		if p.from != sc.cli || p.seg.Len == 0 {
			return false
		}
		n++
		return n == 3 || n == 4
	})
	if _, err := c.Write(data); err != nil {
		return err
	}
	buf := make([]byte, len(data))
	if _, err := io.ReadFull(s, buf); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	if string(buf) != string(data) {
		return errors.New("server: the data arrived damaged")
	}
	i := c.Info()
	rc := sc.cli.Stack().Stats()
	sc.note("The server received all %d bytes intact. The client retransmitted %d segments: %d in fast recovery, %d after a timeout, %d as tail loss probes.",
		len(data), i.TotalRetransmits, rc.RetransRecovery, rc.RetransTimeout, rc.RetransProbe)
	c.Close()
	if k, err := s.Read(make([]byte, 1)); k != 0 || err != io.EOF {
		return fmt.Errorf("server: read %d bytes, %v; expected the end of the stream", k, err)
	}
	return s.Close()
}

func runZeroWindow(sc *scene) error {
	c, s, err := sc.connect()
	if err != nil {
		return err
	}
	data := make([]byte, 10<<10)
	for i := range data {
		data[i] = byte('a' + i%26)
	}
	// Write what fits; the rest goes as the window opens.
	wrote := make(chan struct{})
	_ = wrote
	k, err := c.Write(data[:8<<10])
	if err != nil {
		return err
	}
	sc.n.RunFor(10 * time.Second)
	sc.note("After 10 s the server had read nothing and the client's window was %d bytes.", c.Info().SndWnd)
	buf := make([]byte, len(data))
	if _, err := io.ReadFull(s, buf[:k]); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	if _, err := c.Write(data[k:]); err != nil {
		return err
	}
	if _, err := io.ReadFull(s, buf[k:]); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	sc.note("Then the server read all %d bytes.", len(data))
	c.Close()
	if k, err := s.Read(make([]byte, 1)); k != 0 || err != io.EOF {
		return fmt.Errorf("server: read %d bytes, %v; expected the end of the stream", k, err)
	}
	return s.Close()
}

// netKeepAlive is a keepalive configuration.
func netKeepAlive(idle, interval time.Duration, count int) net.KeepAliveConfig {
	return net.KeepAliveConfig{Enable: true, Idle: idle, Interval: interval, Count: count}
}
