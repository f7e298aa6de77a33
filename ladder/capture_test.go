package ladder_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/synack/synack/analysis"
	"github.com/synack/synack/ladder"
	"github.com/synack/synack/report"
	"github.com/synack/synack/tcp"
)

var update = flag.Bool("update", false, "rewrite the golden ladders of testdata/*.pcap*")

// drawCapture draws every conversation of a capture as synack ladder does.
func drawCapture(t *testing.T, file string, width int) ([]analysis.Conversation, string) {
	t.Helper()
	pkts, err := analysis.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	convs, _ := analysis.Analyze(pkts)
	var b strings.Builder
	for i, c := range convs {
		if i > 0 {
			b.WriteString("\n")
		}
		for _, l := range report.Heading(&c, width) {
			b.WriteString(l + "\n")
		}
		if err := ladder.Render(&b, c.Left.String(), c.Right.String(), c.Events, ladder.Options{Width: width}); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "ended: %s\n", c.Ended)
	}
	return convs, b.String()
}

// transitions lists a side's state changes as "FROM→TO" (and "STATE?" for
// a state assumed without a change).
func transitions(c *analysis.Conversation, s ladder.Side) []string {
	var out []string
	for _, ev := range c.Events {
		if ev.Kind != ladder.State || ev.Side != s {
			continue
		}
		switch {
		case ev.From == ev.To && ev.Guess:
			out = append(out, ev.To.String()+"?")
		case ev.From == ev.To:
			out = append(out, ev.To.String())
		default:
			out = append(out, ev.From.String()+"→"+ev.To.String())
		}
	}
	return out
}

// countAnomaly counts the segments of side s marked with a.
func countAnomaly(c *analysis.Conversation, s ladder.Side, a ladder.Anomaly) int {
	n := 0
	for _, sg := range c.Segments {
		if sg.Side == s && sg.Seg.Anomalies&a != 0 {
			n++
		}
	}
	return n
}

// The states each side of each capture goes through, as the kernels at
// both ends went through them (tcp_set_state), and what else each test
// checks. The captures are made by testdata/make-captures.sh.
var captureTests = []struct {
	file        string
	convs       int
	left, right [][]string // per conversation
	check       func(t *testing.T, convs []analysis.Conversation)
}{
	{
		file: "http-veth.pcap", convs: 1,
		// The client closes first: TIME-WAIT on the client.
		left:  [][]string{{"CLOSED→SYN-SENT", "SYN-SENT→ESTABLISHED", "ESTABLISHED→FIN-WAIT-1", "FIN-WAIT-1→FIN-WAIT-2", "FIN-WAIT-2→TIME-WAIT"}},
		right: [][]string{{"LISTEN→SYN-RECEIVED", "SYN-RECEIVED→ESTABLISHED", "ESTABLISHED→CLOSE-WAIT", "CLOSE-WAIT→LAST-ACK", "LAST-ACK→CLOSED"}},
	},
	{file: "http-veth.pcapng", convs: 1,
		left:  [][]string{{"CLOSED→SYN-SENT", "SYN-SENT→ESTABLISHED", "ESTABLISHED→FIN-WAIT-1", "FIN-WAIT-1→FIN-WAIT-2", "FIN-WAIT-2→TIME-WAIT"}},
		right: [][]string{{"LISTEN→SYN-RECEIVED", "SYN-RECEIVED→ESTABLISHED", "ESTABLISHED→CLOSE-WAIT", "CLOSE-WAIT→LAST-ACK", "LAST-ACK→CLOSED"}},
	},
	{
		// The same fetch seen by the server with -i any (cooked v2).
		file: "http-any.pcap", convs: 1,
		left:  [][]string{{"CLOSED→SYN-SENT", "SYN-SENT→ESTABLISHED", "ESTABLISHED→FIN-WAIT-1", "FIN-WAIT-1→FIN-WAIT-2", "FIN-WAIT-2→TIME-WAIT"}},
		right: [][]string{{"LISTEN→SYN-RECEIVED", "SYN-RECEIVED→ESTABLISHED", "ESTABLISHED→CLOSE-WAIT", "CLOSE-WAIT→LAST-ACK", "LAST-ACK→CLOSED"}},
		check: func(t *testing.T, convs []analysis.Conversation) {
			if v := convs[0].Vantage; !strings.Contains(v, "198.18.10.2") || !strings.Contains(v, "outgoing") {
				t.Errorf("vantage %q; the capture was taken on the server, 198.18.10.2, and says so", v)
			}
		},
	},
	{
		file: "refused.pcapng", convs: 1,
		left:  [][]string{{"CLOSED→SYN-SENT", "SYN-SENT→CLOSED"}},
		right: [][]string{{"CLOSED"}},
		check: func(t *testing.T, convs []analysis.Conversation) {
			last := convs[0].Segments[len(convs[0].Segments)-1]
			if last.Seg.Note != "connection refused" {
				t.Errorf("RST note %q, want \"connection refused\"", last.Seg.Note)
			}
		},
	},
	{
		// The client shuts down its side first and keeps reading.
		file: "halfclose-lo.pcap", convs: 1,
		left:  [][]string{{"CLOSED→SYN-SENT", "SYN-SENT→ESTABLISHED", "ESTABLISHED→FIN-WAIT-1", "FIN-WAIT-1→FIN-WAIT-2", "FIN-WAIT-2→TIME-WAIT"}},
		right: [][]string{{"LISTEN→SYN-RECEIVED", "SYN-RECEIVED→ESTABLISHED", "ESTABLISHED→CLOSE-WAIT", "CLOSE-WAIT→LAST-ACK", "LAST-ACK→CLOSED"}},
		check: func(t *testing.T, convs []analysis.Conversation) {
			// The server sends its reply while in CLOSE-WAIT.
			var state tcp.State
			for _, ev := range convs[0].Events {
				if ev.Kind == ladder.State && ev.Side == ladder.Right {
					state = ev.To
				}
				if ev.Kind == ladder.Segment && ev.Side == ladder.Right && ev.Seg.Len > 0 {
					if state != tcp.StateCloseWait {
						t.Errorf("server sent data in %v, want CLOSE-WAIT", state)
					}
					return
				}
			}
			t.Error("the server sent no data")
		},
	},
	{
		// Both FINs cross: both ends go through CLOSING to TIME-WAIT.
		file: "simclose-veth.pcap", convs: 1,
		left:  [][]string{{"CLOSED→SYN-SENT", "SYN-SENT→ESTABLISHED", "ESTABLISHED→FIN-WAIT-1", "FIN-WAIT-1→CLOSING", "CLOSING→TIME-WAIT"}},
		right: [][]string{{"LISTEN→SYN-RECEIVED", "SYN-RECEIVED→ESTABLISHED", "ESTABLISHED→FIN-WAIT-1", "FIN-WAIT-1→CLOSING", "CLOSING→TIME-WAIT"}},
	},
	{
		// The capture starts after the handshake; the server closes.
		file: "midstream-any.pcapng", convs: 1,
		left:  [][]string{{"ESTABLISHED?", "ESTABLISHED→CLOSE-WAIT", "CLOSE-WAIT→LAST-ACK", "LAST-ACK→CLOSED"}},
		right: [][]string{{"ESTABLISHED?", "ESTABLISHED→FIN-WAIT-1", "FIN-WAIT-1→FIN-WAIT-2", "FIN-WAIT-2→TIME-WAIT"}},
		check: func(t *testing.T, convs []analysis.Conversation) {
			if !convs[0].MidStream {
				t.Error("MidStream not set")
			}
		},
	},
	{
		// Two fetches from local port 40000: the second SYN finds the
		// server's end in TIME-WAIT and starts a new conversation.
		file: "reuse-veth.pcapng", convs: 2,
		left: [][]string{
			{"CLOSED→SYN-SENT", "SYN-SENT→ESTABLISHED", "ESTABLISHED→CLOSE-WAIT", "CLOSE-WAIT→LAST-ACK", "LAST-ACK→CLOSED"},
			{"CLOSED→SYN-SENT", "SYN-SENT→ESTABLISHED", "ESTABLISHED→CLOSE-WAIT", "CLOSE-WAIT→LAST-ACK", "LAST-ACK→CLOSED"},
		},
		right: [][]string{
			{"LISTEN→SYN-RECEIVED", "SYN-RECEIVED→ESTABLISHED", "ESTABLISHED→FIN-WAIT-1", "FIN-WAIT-1→FIN-WAIT-2", "FIN-WAIT-2→TIME-WAIT"},
			{"LISTEN→SYN-RECEIVED", "SYN-RECEIVED→ESTABLISHED", "ESTABLISHED→FIN-WAIT-1", "FIN-WAIT-1→FIN-WAIT-2", "FIN-WAIT-2→TIME-WAIT"},
		},
		check: func(t *testing.T, convs []analysis.Conversation) {
			if convs[0].Left != convs[1].Left || convs[0].Right != convs[1].Right {
				t.Errorf("4-tuples differ: %v-%v and %v-%v", convs[0].Left, convs[0].Right, convs[1].Left, convs[1].Right)
			}
		},
	},
	{
		// Keep-alives from the client while the server says nothing, then
		// the server closes. Linux cooked v1.
		file: "keepalive-any.pcap", convs: 1,
		left:  [][]string{{"CLOSED→SYN-SENT", "SYN-SENT→ESTABLISHED", "ESTABLISHED→CLOSE-WAIT", "CLOSE-WAIT→LAST-ACK", "LAST-ACK→CLOSED"}},
		right: [][]string{{"LISTEN→SYN-RECEIVED", "SYN-RECEIVED→ESTABLISHED", "ESTABLISHED→FIN-WAIT-1", "FIN-WAIT-1→FIN-WAIT-2", "FIN-WAIT-2→TIME-WAIT"}},
		check: func(t *testing.T, convs []analysis.Conversation) {
			if n := countAnomaly(&convs[0], ladder.Left, ladder.KeepAlive); n < 2 {
				t.Errorf("%d keep-alives, want at least 2", n)
			}
			if n := countAnomaly(&convs[0], ladder.Right, ladder.KeepAliveACK); n < 1 {
				t.Errorf("%d keep-alive ACKs, want at least 1", n)
			}
		},
	},
	{
		// A receiver that does not read: window full, zero window, the
		// sender's probes, the window update.
		file: "zerowin-veth.pcap", convs: 1,
		left:  [][]string{{"CLOSED→SYN-SENT", "SYN-SENT→ESTABLISHED", "ESTABLISHED→FIN-WAIT-1", "FIN-WAIT-1→FIN-WAIT-2", "FIN-WAIT-2→TIME-WAIT"}},
		right: [][]string{{"LISTEN→SYN-RECEIVED", "SYN-RECEIVED→ESTABLISHED", "ESTABLISHED→CLOSE-WAIT", "CLOSE-WAIT→LAST-ACK", "LAST-ACK→CLOSED"}},
		check: func(t *testing.T, convs []analysis.Conversation) {
			c := &convs[0]
			for _, a := range []ladder.Anomaly{ladder.WindowFull, ladder.KeepAlive} {
				if countAnomaly(c, ladder.Left, a) == 0 {
					t.Errorf("no %v from the client", a)
				}
			}
			for _, a := range []ladder.Anomaly{ladder.ZeroWindow, ladder.WindowUpdate} {
				if countAnomaly(c, ladder.Right, a) == 0 {
					t.Errorf("no %v from the server", a)
				}
			}
		},
	},
	{
		// 300 kB through a rate limit that drops: the capture, after the
		// drops, shows gaps, duplicate ACKs and retransmissions.
		file: "lossy-veth.pcap", convs: 1,
		left:  [][]string{{"CLOSED→SYN-SENT", "SYN-SENT→ESTABLISHED", "ESTABLISHED→FIN-WAIT-1", "FIN-WAIT-1→FIN-WAIT-2", "FIN-WAIT-2→TIME-WAIT"}},
		right: [][]string{{"LISTEN→SYN-RECEIVED", "SYN-RECEIVED→ESTABLISHED", "ESTABLISHED→CLOSE-WAIT", "CLOSE-WAIT→LAST-ACK", "LAST-ACK→CLOSED"}},
		check: func(t *testing.T, convs []analysis.Conversation) {
			c := &convs[0]
			if c.Bytes[1] != 300000+207-7 && c.Bytes[1] < 300000 {
				t.Errorf("server sent %d bytes, want over 300000", c.Bytes[1])
			}
			for _, a := range []ladder.Anomaly{ladder.Retransmission, ladder.FastRetransmission, ladder.PreviousLost} {
				if countAnomaly(c, ladder.Right, a) == 0 {
					t.Errorf("no %v from the server", a)
				}
			}
			if countAnomaly(c, ladder.Left, ladder.DupACK) == 0 {
				t.Error("no duplicate ACKs from the client")
			}
		},
	},
}

// TestCaptureLadders draws the ladder of each capture of the kernel's TCP
// and checks both ends' states, the golden ladder and the width.
func TestCaptureLadders(t *testing.T) {
	for _, tt := range captureTests {
		t.Run(tt.file, func(t *testing.T) {
			file := filepath.Join("testdata", tt.file)
			convs, got := drawCapture(t, file, 100)
			if len(convs) != tt.convs {
				t.Fatalf("%d conversations, want %d", len(convs), tt.convs)
			}
			for i := range convs {
				for s, want := range [2][]string{tt.left[i], tt.right[i]} {
					if g := transitions(&convs[i], ladder.Side(s)); strings.Join(g, " ") != strings.Join(want, " ") {
						t.Errorf("conversation %d, %v side:\n got %v\nwant %v", i, ladder.Side(s), g, want)
					}
				}
			}
			if tt.check != nil {
				tt.check(t, convs)
			}
			for i, l := range strings.Split(got, "\n") {
				if n := utf8.RuneCountInString(l); n > 100 {
					t.Errorf("line %d is %d columns wide: %q", i+1, n, l)
				}
				if strings.Contains(l, "\x1b") {
					t.Errorf("line %d has an escape sequence: %q", i+1, l)
				}
			}
			golden := file + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("ladder differs from %s:\n%s", golden, got)
			}
		})
	}
}
