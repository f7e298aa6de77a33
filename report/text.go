// Package report draws what package analysis finds in a capture, and what
// synack's engine reports of its own connections, as SVG graphs and as one
// self-contained HTML page: ladders, tcptrace-style time-sequence graphs
// (sequence numbers against time with the ACK and receive-window lines,
// SACK blocks and retransmissions marked), throughput and round-trip time;
// and for synack's connections cwnd, ssthresh, RTT, RTO and state over
// time. Nothing in the output fetches anything from the network: the SVG,
// CSS and the little JavaScript are inline.
package report

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/synack/synack/analysis"
)

// Capture is the conversations of one capture file.
type Capture struct {
	Name          string
	Conversations []analysis.Conversation
}

// Heading returns the lines printed above a conversation's ladder: its
// number and endpoints, where the capture was taken, and what could not
// be checked; no line is wider than width columns (0: no limit).
func Heading(c *analysis.Conversation, width int) []string {
	var out []string
	for _, l := range heading(c) {
		out = append(out, wrapWords(l, width)...)
	}
	return out
}

// wrapWords breaks s at spaces into lines of at most width columns,
// indenting the continuations by two.
func wrapWords(s string, width int) []string {
	if width <= 0 || utf8.RuneCountInString(s) <= width {
		return []string{s}
	}
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		switch {
		case line == "":
			line = w
		case utf8.RuneCountInString(line)+1+utf8.RuneCountInString(w) <= width:
			line += " " + w
		default:
			lines = append(lines, line)
			line = "  " + w
		}
	}
	return append(lines, line)
}

func heading(c *analysis.Conversation) []string {
	l := []string{fmt.Sprintf("stream %d: %v ⇄ %v, %d segments over %s", c.Stream, c.Left, c.Right, len(c.Segments), Duration(c.End().Sub(c.Start())))}
	l = append(l, "seen "+c.Vantage)
	if c.MidStream {
		l = append(l, "the capture began mid-connection: states marked ? are assumed, windows are unscaled (×?)")
	}
	if c.Unverified[0]+c.Unverified[1] > 0 {
		l = append(l, fmt.Sprintf("checksums unverified (offload, or a short snapshot): %d sent by the left end, %d by the right",
			c.Unverified[0], c.Unverified[1]))
	}
	return l
}

// SummaryLine is one line about a conversation: endpoints, duration,
// bytes each way, retransmissions and how it ended.
func SummaryLine(c *analysis.Conversation) string {
	return fmt.Sprintf("%d  %v → %v  %s  →%s ←%s  retransmitted %d/%d  %s",
		c.Stream, c.Left, c.Right, Duration(c.End().Sub(c.Start())),
		Bytes(c.Bytes[0]), Bytes(c.Bytes[1]), c.Retransmissions[0], c.Retransmissions[1], c.Ended)
}

// Duration prints d in a unit that suits it: "850 µs", "12.3 ms", "4.56 s".
func Duration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return strconv.FormatInt(d.Microseconds(), 10) + " µs"
	case d < time.Second:
		return strconv.FormatFloat(float64(d)/1e6, 'f', 3, 64) + " ms"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) + " s"
}

// Bytes prints n bytes as "512 B", "1.4 kB", "3.2 MB".
func Bytes(n int64) string {
	switch {
	case n < 1000:
		return strconv.FormatInt(n, 10) + " B"
	case n < 1e6:
		return strconv.FormatFloat(float64(n)/1e3, 'f', 1, 64) + " kB"
	}
	return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + " MB"
}
