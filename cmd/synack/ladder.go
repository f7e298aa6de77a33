package main

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"

	"github.com/synack/synack/analysis"
	"github.com/synack/synack/ladder"
	"github.com/synack/synack/report"
)

// ladderOptions are the flags of synack ladder.
type ladderOptions struct {
	draw    ladder.Options
	stream  int
	tuple   string
	summary bool
	svg     string
	html    string
}

func runLadder(args []string, stdout, stderr io.Writer) int {
	o := ladderOptions{stream: -1}
	fs := newFlags("ladder", stderr)
	fs.BoolVar(&o.draw.ASCII, "ascii", false, "draw with plain ASCII")
	fs.IntVar(&o.draw.Width, "width", 100, "width of the ladder in `columns`")
	fs.BoolVar(&o.draw.Absolute, "absolute", false, "print absolute sequence numbers")
	fs.IntVar(&o.stream, "stream", -1, "draw only conversation `N` (as numbered by --summary and tshark's tcp.stream)")
	fs.StringVar(&o.tuple, "conn", "", "draw only the conversations between these two endpoints (`ADDR:PORT,ADDR:PORT`; either order)")
	fs.BoolVar(&o.summary, "summary", false, "print one line per conversation instead of ladders")
	fs.StringVar(&o.svg, "svg", "", "also write the ladders as an SVG `file`")
	fs.StringVar(&o.html, "html", "", "also write a self-contained HTML report (ladders, time-sequence, throughput and RTT graphs) to `file`")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: synack ladder [flags] FILE...")
		fmt.Fprintln(fs.Output())
		fmt.Fprintln(fs.Output(), "Draws the ladder diagram of every TCP connection in pcap or pcapng captures")
		fmt.Fprintln(fs.Output(), "(Ethernet, VLAN, Linux cooked v1/v2, raw IP, loopback; IPv4 and IPv6):")
		fmt.Fprintln(fs.Output(), "the opener on the left, both ends' states inferred from what each sent and")
		fmt.Fprintln(fs.Output(), "received, anomalies named as Wireshark's TCP analysis does.")
		fmt.Fprintln(fs.Output())
		fs.PrintDefaults()
	}
	if status, done := parse(fs, args); done {
		return status
	}
	// Flags may come after the files too.
	var files []string
	for fs.NArg() > 0 {
		files = append(files, fs.Arg(0))
		out, usage := fs.Output(), fs.Usage
		fs.SetOutput(io.Discard)
		fs.Usage = func() {}
		err := fs.Parse(fs.Args()[1:])
		fs.SetOutput(out)
		fs.Usage = usage
		if err != nil {
			return badUsage(stderr, "ladder", "%s", explainFlagErr(err))
		}
	}
	if len(files) == 0 {
		fs.Usage() // one line: what is missing, and where to look
		return 2
	}
	if o.draw.Width < 60 {
		return badUsage(stderr, "ladder", "--width %d is too narrow (at least 60)", o.draw.Width)
	}
	var filter [2]netip.AddrPort
	if o.tuple != "" {
		a, b, ok := strings.Cut(o.tuple, ",")
		var err1, err2 error
		filter[0], err1 = netip.ParseAddrPort(strings.TrimSpace(a))
		filter[1], err2 = netip.ParseAddrPort(strings.TrimSpace(b))
		if !ok || err1 != nil || err2 != nil {
			return badUsage(stderr, "ladder", "--conn %q: want ADDR:PORT,ADDR:PORT (IPv6 as [ADDR]:PORT)", o.tuple)
		}
	}
	o.draw.Color = colorTerminal(stdout)
	var all []report.Capture
	for _, file := range files {
		pkts, err := analysis.ReadFile(file)
		if err != nil {
			fmt.Fprintf(stderr, "synack ladder: %s: %v\n", file, err)
			return 1
		}
		convs, skipped := analysis.Analyze(pkts)
		var sel []analysis.Conversation
		for _, c := range convs {
			if o.stream >= 0 && c.Stream != o.stream {
				continue
			}
			if o.tuple != "" && !((c.Left == filter[0] && c.Right == filter[1]) || (c.Left == filter[1] && c.Right == filter[0])) {
				continue
			}
			sel = append(sel, c)
		}
		if len(files) > 1 {
			fmt.Fprintf(stdout, "== %s\n", file)
		}
		if err := printConversations(stdout, sel, len(convs), skipped, o); err != nil {
			fmt.Fprintf(stderr, "synack ladder: %v\n", err)
			return 1
		}
		all = append(all, report.Capture{Name: file, Conversations: sel})
	}
	if o.svg != "" {
		if err := writeFileWith(o.svg, func(w io.Writer) error { return report.LaddersSVG(w, all, o.draw) }); err != nil {
			fmt.Fprintf(stderr, "synack ladder: %v\n", err)
			return 1
		}
	}
	if o.html != "" {
		if err := writeFileWith(o.html, func(w io.Writer) error {
			return report.HTML(w, report.Report{Title: "synack ladder " + strings.Join(files, " "), Captures: all}, o.draw)
		}); err != nil {
			fmt.Fprintf(stderr, "synack ladder: %v\n", err)
			return 1
		}
	}
	return 0
}

// printConversations writes the ladders, or the summary lines, of convs.
func printConversations(w io.Writer, convs []analysis.Conversation, total, skipped int, o ladderOptions) error {
	if total == 0 {
		fmt.Fprintln(w, "no TCP segments")
	} else if len(convs) == 0 {
		fmt.Fprintf(w, "none of the %d conversations matches\n", total)
	}
	for i, c := range convs {
		if o.summary {
			fmt.Fprintln(w, report.SummaryLine(&c))
			continue
		}
		if i > 0 {
			fmt.Fprintln(w)
		}
		for _, l := range report.Heading(&c, o.draw.Width) {
			fmt.Fprintln(w, l)
		}
		if err := ladder.Render(w, c.Left.String(), c.Right.String(), c.Events, o.draw); err != nil {
			return err
		}
		fmt.Fprintf(w, "ended: %s\n", c.Ended)
	}
	if skipped > 0 {
		fmt.Fprintf(w, "(%d packets that are not TCP, or malformed, skipped)\n", skipped)
	}
	return nil
}

// writeFileWith creates file and writes it with f.
func writeFileWith(file string, f func(io.Writer) error) error {
	out, err := os.Create(file)
	if err != nil {
		return err
	}
	if err := f(out); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// colorTerminal reports whether w is a terminal that takes colour
// (NO_COLOR unset, TERM not "dumb").
func colorTerminal(w io.Writer) bool {
	return isTerminal(w) && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
}
