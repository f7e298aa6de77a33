package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/synack/synack/ladder"
	"github.com/synack/synack/pcap"
)

func runLadder(args []string, stdout, stderr io.Writer) int {
	var opts ladder.Options
	fs := flag.NewFlagSet("ladder", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&opts.ASCII, "ascii", false, "draw with plain ASCII")
	fs.IntVar(&opts.Width, "width", 0, "width of the ladder in columns (default 110)")
	fs.BoolVar(&opts.Absolute, "absolute", false, "print absolute sequence numbers")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: synack ladder [flags] FILE.pcap")
		fmt.Fprintln(fs.Output())
		fmt.Fprintln(fs.Output(), "Draws the ladder diagram of every TCP connection in a classic pcap file")
		fmt.Fprintln(fs.Output(), "(raw IP or Ethernet), the first sender of each on the left.")
		fmt.Fprintln(fs.Output())
		fs.PrintDefaults()
	}
	if status, done := parse(fs, args); done {
		return status
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	if err := drawCapture(stdout, fs.Arg(0), opts); err != nil {
		fmt.Fprintf(stderr, "synack ladder: %v\n", err)
		return 1
	}
	return 0
}

// drawCapture draws the ladders of the capture in file.
func drawCapture(w io.Writer, file string, opts ladder.Options) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := pcap.NewReader(f)
	if err != nil {
		return err
	}
	var pkts []ladder.Packet
	for {
		ts, pkt, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		pkts = append(pkts, ladder.Packet{Time: ts, Data: append([]byte(nil), pkt...)})
	}
	convs, skipped := ladder.FromPackets(pkts)
	for i, c := range convs {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if err := ladder.Render(w, c.Left.String(), c.Right.String(), c.Events, opts); err != nil {
			return err
		}
	}
	if len(convs) == 0 {
		fmt.Fprintln(w, "no TCP segments")
	}
	if skipped > 0 {
		fmt.Fprintf(w, "(%d packets that are not TCP, or malformed, skipped)\n", skipped)
	}
	return nil
}
