package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	"github.com/synack/synack/ladder"
	"github.com/synack/synack/pcap"
	"github.com/synack/synack/sim"
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
	seed  int64
	delay time.Duration
	pcap  string
	ascii bool
	width int
}

func runDemo(args []string, stdout, stderr io.Writer) int {
	var o demoOptions
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Int64Var(&o.seed, "seed", 1, "seed of the simulation's randomness (ports, ISNs)")
	fs.DurationVar(&o.delay, "delay", time.Millisecond, "one-way delay of the simulated link")
	fs.StringVar(&o.pcap, "pcap", "", "also write the packets to this pcap `file`")
	fs.BoolVar(&o.ascii, "ascii", false, "draw with plain ASCII")
	fs.IntVar(&o.width, "width", 0, "width of the ladder in columns (default 110)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: synack demo [flags]")
		fmt.Fprintln(fs.Output())
		fmt.Fprintln(fs.Output(), "Runs one TCP connection between a client (198.18.0.1) and a server")
		fmt.Fprintln(fs.Output(), "(198.18.0.2:80) on a simulated network with a virtual clock: handshake,")
		fmt.Fprintln(fs.Output(), "request, reply, close, TIME-WAIT. Prints its ladder diagram; the same")
		fmt.Fprintln(fs.Output(), "seed always prints the same output.")
		fmt.Fprintln(fs.Output())
		fs.PrintDefaults()
	}
	if status, done := parse(fs, args); done {
		return status
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "synack demo: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	if o.delay <= 0 {
		fmt.Fprintln(stderr, "synack demo: --delay must be positive")
		return 2
	}
	if err := demo(stdout, o); err != nil {
		fmt.Fprintf(stderr, "synack demo: %v\n", err)
		return 1
	}
	return 0
}

// demo runs the demo and writes its report to w.
func demo(w io.Writer, o demoOptions) (err error) {
	n := sim.New(o.seed, sim.WithDelay(o.delay))
	var capture bytes.Buffer
	if o.pcap != "" {
		pw, err := pcap.NewWriter(&capture)
		if err != nil {
			return err
		}
		n.SetPcap(pw)
	}
	cli := n.AddHost("client", clientAddr)
	srv := n.AddHost("server", serverAddr)

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

	if o.pcap != "" {
		if err := os.WriteFile(o.pcap, capture.Bytes(), 0o644); err != nil {
			return err
		}
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
