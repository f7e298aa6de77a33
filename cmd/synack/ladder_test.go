package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// ladderTransitions extracts the state changes of a ladder drawn as text:
// "FROM → TO" lines, on the left side when the text follows the time
// column, on the right when it is pushed there.
func ladderTransitions(out string) (left, right []string) {
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, " → ") || strings.ContainsAny(line, "─▶◀") {
			continue
		}
		// "  6.000  FIN-WAIT-2 → TIME-WAIT" or "  1.000          LISTEN → SYN-RECEIVED"
		f := strings.Fields(line)
		if len(f) != 4 {
			continue
		}
		text := f[1] + "→" + f[3]
		after := line[strings.Index(line, f[0])+len(f[0]):]
		if strings.HasPrefix(after, "  ") && !strings.HasPrefix(after, "   ") {
			left = append(left, text)
		} else {
			right = append(right, text)
		}
	}
	return left, right
}

// TestLadderDemoSameStates runs the live demo with --pcap and draws the
// capture: both ends go through the same states as the live ladder shows,
// but for the two no packet reveals (the listener opening, and TIME-WAIT's
// end two MSL later).
func TestLadderDemoSameStates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.pcap")
	status, live, stderr := synack(t, "demo", "--pcap", path)
	if status != 0 {
		t.Fatalf("demo: status %d: %s", status, stderr)
	}
	status, fromCapture, stderr := synack(t, "ladder", path)
	if status != 0 {
		t.Fatalf("ladder: status %d: %s", status, stderr)
	}
	unseen := map[string]bool{"CLOSED→LISTEN": true, "TIME-WAIT→CLOSED": true}
	drop := func(l []string) []string {
		var out []string
		for _, s := range l {
			if !unseen[s] {
				out = append(out, s)
			}
		}
		return out
	}
	ll, lr := ladderTransitions(live)
	cl, cr := ladderTransitions(fromCapture)
	ll, lr = drop(ll), drop(lr)
	if len(ll) != 5 || len(lr) != 5 {
		t.Fatalf("the live ladder has %d and %d state changes, want 5 and 5:\n%s", len(ll), len(lr), live)
	}
	if strings.Join(cl, " ") != strings.Join(ll, " ") {
		t.Errorf("client states from the capture %v, live %v", cl, ll)
	}
	if strings.Join(cr, " ") != strings.Join(lr, " ") {
		t.Errorf("server states from the capture %v, live %v", cr, lr)
	}
}

// TestLadderCommand covers the flags: summary, stream selection, width,
// no colour when not on a terminal, SVG and HTML files.
func TestLadderCommand(t *testing.T) {
	capture := filepath.Join("..", "..", "ladder", "testdata", "reuse-veth.pcapng")
	status, out, stderr := synack(t, "ladder", "--summary", capture)
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "0  198.18.10.1:40000 → 198.18.10.2:8081") ||
		!strings.HasPrefix(lines[1], "1  198.18.10.1:40000 → 198.18.10.2:8081") || !strings.Contains(lines[1], "closed, 198.18.10.2:8081 first") {
		t.Errorf("summary:\n%s", out)
	}

	dir := t.TempDir()
	svg, html := filepath.Join(dir, "l.svg"), filepath.Join(dir, "r.html")
	status, out, stderr = synack(t, "ladder", capture, "--stream", "1", "--width", "80", "--svg", svg, "--html", html)
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	if !strings.Contains(out, "stream 1:") || strings.Contains(out, "stream 0:") {
		t.Errorf("--stream 1 drew:\n%s", out)
	}
	for i, l := range strings.Split(out, "\n") {
		if n := utf8.RuneCountInString(l); n > 80 {
			t.Errorf("line %d is %d columns wide", i+1, n)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Error("colour codes written to a pipe")
	}
	for _, f := range []string{svg, html} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "<svg") {
			t.Errorf("%s holds no SVG", f)
		}
	}

	status, out, _ = synack(t, "ladder", "--conn", "198.18.10.2:8081,198.18.10.1:40000", "--summary", capture)
	if status != 0 || strings.Count(out, "\n") != 2 {
		t.Errorf("--conn: status %d:\n%s", status, out)
	}
	for _, bad := range [][]string{{"--conn", "nonsense", capture}, {"--width", "20", capture}} {
		if status, _, stderr := synack(t, append([]string{"ladder"}, bad...)...); status != 2 || strings.Count(stderr, "\n") != 1 {
			t.Errorf("ladder %q: status %d, stderr %q; want 2 and one line", bad, status, stderr)
		}
	}
}

// TestTransferReport writes the report of a short lossy transfer: one
// self-contained file with the engine's graphs and the packets'.
func TestTransferReport(t *testing.T) {
	file := filepath.Join(t.TempDir(), "t.html")
	status, _, stderr := synack(t, "transfer", "--bytes", "300KB", "--loss", "2%", "--report", file)
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, want := range []string{"<!DOCTYPE html>", "congestion window and slow-start threshold", "ssthresh",
		"smoothed RTT and retransmission timeout", "ESTABLISHED", "time-sequence: 198.18.0.1:", "retransmitted segments"} {
		if !strings.Contains(page, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	for _, bad := range []string{"<script src", "<link", "url(http", "@import"} {
		if strings.Contains(page, bad) {
			t.Errorf("the report is not self-contained: %q", bad)
		}
	}
	if status, _, stderr := synack(t, "transfer", "--realtime", "--report", file); status != 2 || !strings.Contains(stderr, "--report") {
		t.Errorf("--report with --realtime: status %d, %q", status, stderr)
	}
}
