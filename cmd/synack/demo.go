package main

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	"github.com/synack/synack/analysis"
	"github.com/synack/synack/ladder"
	"github.com/synack/synack/pcap"
	"github.com/synack/synack/report"
	"github.com/synack/synack/sim"
	"github.com/synack/synack/stack"
	"github.com/synack/synack/tcp"
)

// The demo's cast.
var (
	clientAddr = netip.MustParseAddr("198.18.0.1")
	serverAddr = netip.MustParseAddr("198.18.0.2")
)

const (
	request = "GET / HTTP/1.0\r\n\r\n"
	reply   = "HTTP/1.0 200 OK\r\nContent-Length: 6\r\n\r\nhello\n"
)

// demoOptions are the flags of synack demo.
type demoOptions struct {
	seed     int64
	delay    time.Duration
	pcap     string
	ascii    bool
	width    int
	scenario string
	list     bool
	svg      string
	html     string
	trace    traceFlag
	tw       *traceWriter
}

func runDemo(args []string, stdout, stderr io.Writer) int {
	var o demoOptions
	fs := newFlags("demo", stderr)
	fs.StringVar(&o.scenario, "scenario", "handshake", "the `NAME` of the scenario to run (--list names them)")
	fs.BoolVar(&o.list, "list", false, "list the scenarios, each with what to notice in its ladder")
	fs.Int64Var(&o.seed, "seed", 1, "seed of the simulation's randomness (ports, ISNs)")
	fs.DurationVar(&o.delay, "delay", time.Millisecond, "one-way delay of the simulated link")
	fs.StringVar(&o.pcap, "pcap", "", "also write the packets to this pcap `FILE`")
	fs.StringVar(&o.svg, "svg", "", "also draw the ladder as SVG in this `FILE`")
	fs.StringVar(&o.html, "html", "", "also write the ladder as an HTML page to this `FILE`")
	fs.BoolVar(&o.ascii, "ascii", false, "draw with plain ASCII")
	fs.IntVar(&o.width, "width", 0, "width of the ladder in columns (default 110)")
	o.trace.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: synack demo [--scenario NAME | --list] [flags]")
		fmt.Fprintln(fs.Output())
		fmt.Fprintln(fs.Output(), "Runs a TCP scenario between a client (198.18.0.1) and a server")
		fmt.Fprintln(fs.Output(), "(198.18.0.2) on a simulated network with a virtual clock and prints its")
		fmt.Fprintln(fs.Output(), "ladder diagram. The default, handshake, is one connection: handshake,")
		fmt.Fprintln(fs.Output(), "request, reply, close, TIME-WAIT. The same seed always prints the same")
		fmt.Fprintln(fs.Output(), "output. Scenarios: "+scenarioNames()+".")
		fmt.Fprintln(fs.Output())
		fs.PrintDefaults()
	}
	if status, done := parse(fs, args); done {
		return status
	}
	if fs.NArg() > 0 {
		return badUsage(stderr, "demo", "unexpected argument %q", fs.Arg(0))
	}
	if o.list {
		for _, s := range scenarios {
			fmt.Fprintf(stdout, "%-19s %s\n", s.name, s.notice)
		}
		return 0
	}
	sc := findScenario(o.scenario)
	switch {
	case sc == nil:
		return badUsage(stderr, "demo", "no scenario %q (synack demo --list names them)", o.scenario)
	case o.delay <= 0:
		return badUsage(stderr, "demo", "--delay must be positive")
	case o.delay > time.Minute:
		return badUsage(stderr, "demo", "--delay must be at most 1m")
	case o.width < 0 || (o.width > 0 && o.width < minLadderWidth):
		return badUsage(stderr, "demo", "--width must be at least %d", minLadderWidth)
	}
	tw, err := o.trace.open(simStart)
	if err != nil {
		fmt.Fprintf(stderr, "synack demo: %v\n", err)
		return 1
	}
	o.tw = tw
	if sc.run == nil {
		err = demo(stdout, o)
	} else {
		err = playScenario(stdout, o, sc)
	}
	if cerr := tw.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintf(stderr, "synack demo: %v\n", err)
		return 1
	}
	return 0
}

// minLadderWidth is the narrowest --width the ladder is drawn in.
const minLadderWidth = 60

// traceHost returns the host options that send a host's events to
// --trace (none without it).
func (o *demoOptions) traceHost(name string) []sim.HostOption {
	if o.tw == nil {
		return nil
	}
	return []sim.HostOption{sim.HostStackOptions(func(so *stack.Options) { o.tw.hook(name, so) })}
}

// playScenario runs a scenario other than handshake and writes its report.
func playScenario(w io.Writer, o demoOptions, s *scenario) error {
	n := sim.New(o.seed, sim.WithDelay(o.delay))
	var capture bytes.Buffer
	if o.pcap != "" || o.svg != "" || o.html != "" {
		pw, err := pcap.NewWriter(&capture)
		if err != nil {
			return err
		}
		n.SetPcap(pw)
	}
	sc := &scene{n: n}
	var cliOpts, srvOpts []sim.HostOption
	if s.hosts != nil {
		cliOpts, srvOpts = s.hosts(sc)
	}
	sc.cli = n.AddHost("client", clientAddr, append(cliOpts, o.traceHost("client")...)...)
	sc.srv = n.AddHost("server", serverAddr, append(srvOpts, o.traceHost("server")...)...)
	if err := s.run(sc); err != nil {
		return err
	}
	n.Run()
	if err := n.Err(); err != nil {
		return err
	}
	if err := writeOutputs(o, o.scenario, capture.Bytes()); err != nil {
		return err
	}
	fmt.Fprintf(w, "synack demo --scenario %s: client %v and server %v on a simulated network (one-way delay %v, seed %d)\n",
		s.name, clientAddr, serverAddr, o.delay, o.seed)
	for _, l := range wrapText(s.intro, 100) {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintln(w)
	draw := n.LadderOpts
	if s.draw != nil {
		draw = func(w io.Writer, _, _ *sim.Host, opts ladder.Options) error { return s.draw(w, sc, opts) }
	}
	if err := draw(w, sc.cli, sc.srv, ladder.Options{ASCII: o.ascii, Width: o.width, Absolute: s.absolute}); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, note := range sc.notes {
		for _, l := range wrapText(note, 100) {
			fmt.Fprintln(w, l)
		}
	}
	fmt.Fprintf(w, "After %.3f s of virtual time and %d packets.\n", n.Elapsed().Seconds(), n.Stats().Sent)
	for _, l := range wrapText("What to notice: "+s.notice+".", 100) {
		fmt.Fprintln(w, l)
	}
	if o.pcap != "" {
		fmt.Fprintf(w, "The packets are in %s.\n", o.pcap)
	}
	return nil
}

// writeOutputs writes the --pcap, --svg and --html files of a demo. The
// SVG ladder and the HTML report are drawn from the run's own capture, as
// synack ladder draws any capture.
func writeOutputs(o demoOptions, name string, capture []byte) error {
	if o.pcap != "" {
		if err := os.WriteFile(o.pcap, capture, 0o644); err != nil {
			return err
		}
	}
	if o.svg == "" && o.html == "" {
		return nil
	}
	pkts, err := analysis.Read(bytes.NewReader(capture))
	if err != nil {
		return fmt.Errorf("reading the run's capture: %w", err)
	}
	convs, _ := analysis.Analyze(pkts)
	caps := []report.Capture{{Name: "synack demo --scenario " + name, Conversations: convs}}
	draw := ladder.Options{Width: 100}
	if o.svg != "" {
		if err := writeFileWith(o.svg, func(w io.Writer) error { return report.LaddersSVG(w, caps, draw) }); err != nil {
			return err
		}
	}
	if o.html != "" {
		return writeFileWith(o.html, func(w io.Writer) error {
			return report.HTML(w, report.Report{Title: caps[0].Name, Captures: caps}, draw)
		})
	}
	return nil
}

// demo runs the demo and writes its report to w.
func demo(w io.Writer, o demoOptions) (err error) {
	n := sim.New(o.seed, sim.WithDelay(o.delay))
	var capture bytes.Buffer
	if o.pcap != "" || o.svg != "" || o.html != "" {
		pw, err := pcap.NewWriter(&capture)
		if err != nil {
			return err
		}
		n.SetPcap(pw)
	}
	cli := n.AddHost("client", clientAddr, o.traceHost("client")...)
	srv := n.AddHost("server", serverAddr, o.traceHost("server")...)

	ln, err := srv.Stack().Listen("tcp", ":80")
	if err != nil {
		return err
	}
	c, err := cli.Stack().Dial("tcp", netip.AddrPortFrom(serverAddr, 80).String())
	if err != nil {
		return err
	}
	if _, err := io.WriteString(c, request); err != nil {
		return fmt.Errorf("client: %w", err)
	}
	s, err := ln.Accept()
	if err != nil {
		return err
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
	if err := c.Close(); err != nil {
		return fmt.Errorf("client: %w", err)
	}
	if k, err := s.Read(make([]byte, 1)); k != 0 || err != io.EOF {
		return fmt.Errorf("server: read %d bytes, %v; expected the end of the stream", k, err)
	}
	if err := s.Close(); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	n.Run()
	if err := n.Err(); err != nil {
		return err
	}

	if err := writeOutputs(o, o.scenario, capture.Bytes()); err != nil {
		return err
	}

	fmt.Fprintf(w, "synack demo: client %v and server %v:80 on a simulated network (one-way delay %v, seed %d)\n",
		clientAddr, serverAddr, o.delay, o.seed)
	fmt.Fprintf(w, "The client sends an HTTP request (%d bytes), the server a reply (%d bytes); the client closes, then the server.\n\n",
		len(request), len(reply))
	if err := n.LadderOpts(w, cli, srv, ladder.Options{ASCII: o.ascii, Width: o.width}); err != nil {
		return err
	}

	state := func(h *sim.Host, local, remote netip.AddrPort) tcp.State {
		st, _ := n.LastState(h, local, remote)
		return st
	}
	clientEnd := netip.MustParseAddrPort(c.LocalAddr().String())
	serverEnd := netip.AddrPortFrom(serverAddr, 80)
	fmt.Fprintf(w, "\nAfter %.3f s of virtual time and %d packets the client connection is %v, the server connection %v, and the listener still %v.\n",
		n.Elapsed().Seconds(), n.Stats().Sent,
		state(cli, clientEnd, serverEnd), state(srv, serverEnd, clientEnd), state(srv, serverEnd, netip.AddrPort{}))
	if o.pcap != "" {
		fmt.Fprintf(w, "The packets are in %s.\n", o.pcap)
	}
	return nil
}

// readExactly reads len(want) bytes from r and checks they are want.
func readExactly(r io.Reader, want string) error {
	buf := make([]byte, len(want))
	if _, err := io.ReadFull(r, buf); err != nil {
		return err
	}
	if string(buf) != want {
		return fmt.Errorf("read %q, expected %q", buf, want)
	}
	return nil
}
