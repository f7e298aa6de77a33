package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/synack/synack/ladder"
	"github.com/synack/synack/sim"
	"github.com/synack/synack/stack"
)

// fastOpenScenario is synack demo --scenario fast-open: the same request
// twice over TCP Fast Open (RFC 7413), the first time fetching the cookie,
// the second with the request on the SYN, drawn side by side.
var fastOpenScenario = &scenario{
	name:   "fast-open",
	notice: "the same request twice with TCP Fast Open: the first connection fetches a cookie (an empty option on the SYN, the cookie on the SYN-ACK) and sends its request after the handshake; the second sends the request on the SYN with the cookie, the server answers it with its SYN-ACK, and the reply comes one round trip sooner",
	intro: "Why can't the SYN carry data? It can, once the server knows the client: TCP Fast Open (RFC 7413). " +
		"The client dials twice with Dialer.FastOpen, the server listens with ListenConfig.FastOpen. The first SYN asks for a cookie; " +
		"the server's SYN-ACK gives one (8 bytes, a keyed hash of the client's address). The second SYN carries the cookie and the request, " +
		"and the server, having checked the cookie, hands the request to the application at once. Left: the first connection; right: the second.",
	hosts: func(sc *scene) (cli, srv []sim.HostOption) {
		return nil, []sim.HostOption{sim.HostStackOptions(func(o *stack.Options) {
			o.FastOpen = stack.FastOpenClient | stack.FastOpenServer
		})}
	},
	run:  runFastOpen,
	draw: drawSideBySide,
}

// runFastOpen plays the fast-open scenario.
func runFastOpen(sc *scene) error {
	lc := &stack.ListenConfig{Stack: sc.srv.Stack(), FastOpen: 16}
	ln, err := lc.Listen(context.Background(), "tcp", ":80")
	if err != nil {
		return err
	}
	d := &stack.Dialer{Stack: sc.cli.Stack(), FastOpen: true}
	var took [2]time.Duration
	for i := range took {
		start := sc.n.Elapsed()
		c, err := d.DialTCP(context.Background(), "tcp", netip.AddrPortFrom(serverAddr, 80).String())
		if err != nil {
			return fmt.Errorf("client: %w", err)
		}
		if _, err := io.WriteString(c, request); err != nil {
			return fmt.Errorf("client: %w", err)
		}
		s, err := ln.Accept()
		if err != nil {
			return fmt.Errorf("server: %w", err)
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
		took[i] = sc.n.Elapsed() - start
		if i == 1 && !c.FastOpenSYNData() {
			return fmt.Errorf("client: the second request did not ride on the SYN")
		}
		if err := c.Close(); err != nil {
			return fmt.Errorf("client: %w", err)
		}
		if k, err := s.Read(make([]byte, 1)); k != 0 || err != io.EOF {
			return fmt.Errorf("server: read %d bytes, %v; expected the end of the stream", k, err)
		}
		s.Close()
		sc.n.RunFor(10 * time.Millisecond)
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond)) }
	sc.note("From Dial to the whole reply: %s the first time (the handshake, then the request), %s the second (the request on the SYN): one round trip, %s, saved.",
		ms(took[0]), ms(took[1]), ms(took[0]-took[1]))
	st := sc.srv.Stack().Stats().FastOpen
	sc.note("The server answered %d cookie request and took the data of %d SYN (Stats.FastOpen).", st.CookieReqs, st.Passive)
	return nil
}

// drawSideBySide draws the scenario's connections next to each other,
// each in half the width.
func drawSideBySide(w io.Writer, sc *scene, opts ladder.Options) error {
	total := opts.Width
	if total == 0 {
		total = 2*minLadderWidth + 3
	}
	opts.Width = max(minLadderWidth, (total-3)/2)
	var cols [][]string
	for _, c := range sc.n.Conversations(sc.cli, sc.srv) {
		var b bytes.Buffer
		if err := ladder.Render(&b, "client "+c.Left.String(), "server "+c.Right.String(), c.Events, opts); err != nil {
			return err
		}
		cols = append(cols, strings.Split(strings.TrimRight(b.String(), "\n"), "\n"))
	}
	rows := 0
	for _, c := range cols {
		rows = max(rows, len(c))
	}
	sep := " │ "
	if opts.ASCII {
		sep = " | "
	}
	for r := range rows {
		var line strings.Builder
		for i, c := range cols {
			cell := ""
			if r < len(c) {
				cell = c[r]
			}
			if i < len(cols)-1 {
				cell += strings.Repeat(" ", max(0, opts.Width-utf8.RuneCountInString(cell))) + sep
			}
			line.WriteString(cell)
		}
		if _, err := fmt.Fprintln(w, strings.TrimRight(line.String(), " ")); err != nil {
			return err
		}
	}
	return nil
}
