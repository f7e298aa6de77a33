package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// ladderLines returns the time-stamped lines of an --ascii ladder with the
// arrows' shafts and the columns' padding squeezed out: "1000.000
// SYN-SENT S seq 0 win 65535 len 0 > LISTEN" is a segment from the left
// that arrived ("x" in place of ">": lost), "... < S. seq ..." one from
// the right, "1.000 LISTEN -> SYN-RECEIVED" a state change.
func ladderLines(out string) []string {
	shaft := regexp.MustCompile(`-{2,}`)
	space := regexp.MustCompile(`\s+`)
	stamp := regexp.MustCompile(`^\d+\.\d{3} `)
	var ls []string
	for _, l := range strings.Split(out, "\n") {
		l = shaft.ReplaceAllString(l, " ")
		l = strings.ReplaceAll(strings.ReplaceAll(l, "<-", "< "), "x-", "x ")
		l = strings.TrimSpace(space.ReplaceAllString(l, " "))
		// The timestamps options make the lines long; they are checked
		// by the engine's tests, not here.
		l = regexp.MustCompile(` <TS val \d+ ecr \d+>`).ReplaceAllString(l, "")
		if stamp.MatchString(l) {
			ls = append(ls, l)
		}
	}
	return ls
}

// TestScenarios runs every scenario twice: both runs must print the same
// thing, and the ladder must hold, in this order, the lines that make the
// scenario what it is.
func TestScenarios(t *testing.T) {
	want := map[string][]string{
		"handshake": {
			"0.000 SYN-SENT S seq 0 win 65535 len 0 > LISTEN",
			"1.000 SYN-SENT < S. seq 0 ack 1 win 65535 len 0 SYN-RECEIVED",
			"6.000 FIN-WAIT-2 -> TIME-WAIT",
			"60006.000 TIME-WAIT -> CLOSED",
		},
		"lost-syn": {
			"0.000 SYN-SENT S seq 0 win 65535 len 0 x LISTEN",
			"1000.000 SYN-SENT S seq 0 win 65535 len 0 > LISTEN",
			"1001.000 LISTEN -> SYN-RECEIVED",
			"1002.000 SYN-SENT -> ESTABLISHED",
		},
		"lost-syn-ack": {
			"1.000 LISTEN -> SYN-RECEIVED",
			"1.000 SYN-SENT x S. seq 0 ack 1 win 65535 len 0 SYN-RECEIVED",
			"1000.000 SYN-SENT S seq 0 win 65535 len 0 > SYN-RECEIVED",
			"1001.000 SYN-SENT < S. seq 0 ack 1 win 65535 len 0 SYN-RECEIVED",
			"1002.000 SYN-SENT -> ESTABLISHED",
			"1003.000 SYN-RECEIVED -> ESTABLISHED",
		},
		"lost-final-ack": {
			"7.000 FIN-WAIT-2 -> TIME-WAIT",
			"7.000 TIME-WAIT . seq 20 ack 46 win 2047 len 0 x LAST-ACK",
			"206.000 TIME-WAIT < F. seq 45 ack 20 win 2047 len 0 LAST-ACK",
			"207.000 TIME-WAIT . seq 20 ack 46 win 2048 len 0 > LAST-ACK",
			"208.000 LAST-ACK -> CLOSED",
			"60207.000 TIME-WAIT -> CLOSED",
		},
		"old-duplicate-syn": {
			"0.000 CLOSED S seq 1000 win 65535 len 0 <mss 1460> > LISTEN",
			"0.000 CLOSED -> SYN-SENT",
			"1.000 LISTEN -> SYN-RECEIVED",
			"ack 1001 win 65535 len 0 <mss 1460> SYN-RECEIVED",
			"2.000 SYN-SENT R seq 1001 win 0 len 0 > SYN-RECEIVED",
			"3.000 SYN-RECEIVED -> LISTEN",
			"1001.000 LISTEN -> SYN-RECEIVED",
			"1002.000 SYN-SENT -> ESTABLISHED",
			"1003.000 SYN-RECEIVED -> ESTABLISHED",
		},
		"simultaneous-open": {
			"0.000 SYN-SENT S seq 0 win 65535 len 0 > CLOSED",
			"0.000 CLOSED -> SYN-SENT",
			"0.000 SYN-SENT < S seq 0 win 65535 len 0 SYN-SENT",
			"1.000 SYN-SENT -> SYN-RECEIVED",
			"1.000 SYN-SENT < S. seq 0 ack 1 win 65535 len 0 SYN-RECEIVED",
			"1.000 SYN-SENT -> SYN-RECEIVED",
			"1.000 SYN-RECEIVED S. seq 0 ack 1 win 65535 len 0 > SYN-RECEIVED",
			"2.000 SYN-RECEIVED -> ESTABLISHED",
			"2.000 SYN-RECEIVED -> ESTABLISHED",
		},
		"simultaneous-close": {
			"5.000 FIN-WAIT-1 F. seq 19 ack 45 win 2047 len 0 > ESTABLISHED",
			"5.000 FIN-WAIT-1 < F. seq 45 ack 19 win 2047 len 0 FIN-WAIT-1",
			"6.000 FIN-WAIT-1 -> CLOSING",
			"6.000 FIN-WAIT-1 -> CLOSING",
			"7.000 CLOSING -> TIME-WAIT",
			"7.000 CLOSING -> TIME-WAIT",
			"60007.000 TIME-WAIT -> CLOSED",
			"60007.000 TIME-WAIT -> CLOSED",
		},
		"half-close": {
			"3.000 FIN-WAIT-1 F. seq 19 ack 1 win 2048 len 0 > ESTABLISHED",
			"4.000 ESTABLISHED -> CLOSE-WAIT",
			"4.000 FIN-WAIT-1 < P. seq 1 ack 20 win 2047 len 44 CLOSE-WAIT",
			"4.000 FIN-WAIT-1 < F. seq 45 ack 20 win 2047 len 0 LAST-ACK",
			"5.000 FIN-WAIT-2 -> TIME-WAIT",
		},
		"refused": {
			"0.000 SYN-SENT S seq 0 win 65535 len 0 <mss 1460,sackOK,TS val 60795334 ecr 0,wscale 7> >",
			"1.000 SYN-SENT < R. seq 0 ack 1 win 0 len 0",
			"2.000 SYN-SENT -> CLOSED",
		},
		"abort": {
			"3.000 ESTABLISHED P. seq 1 ack 1 win 2048 len 18 > ESTABLISHED",
			"13.000 ESTABLISHED -> CLOSED",
			"13.000 ESTABLISHED < R. seq 1 ack 19 win 2047 len 0 CLOSED",
			"14.000 ESTABLISHED -> CLOSED",
		},
		"keepalive": {
			"10003.000 ESTABLISHED . seq 0 ack 1 win 2048 len 0 > ESTABLISHED",
			"10004.000 ESTABLISHED < . seq 1 ack 1 win 2048 len 0 ESTABLISHED",
			"30007.000 ESTABLISHED . seq 0 ack 1 win 2048 len 0 x ESTABLISHED",
			"35007.000 ESTABLISHED . seq 0 ack 1 win 2048 len 0 x ESTABLISHED",
			"40007.000 ESTABLISHED . seq 0 ack 1 win 2048 len 0 x ESTABLISHED",
			"45007.000 ESTABLISHED -> CLOSED",
		},
		"syn-flood": {
			"10.000 SYN-SENT S seq 0 win 65535 len 0 > LISTEN",
			// A cookie SYN-ACK: the server keeps no state, still LISTEN.
			"11.000 SYN-SENT < S. seq 0 ack 1 win 65535 len 0 LISTEN",
			"12.000 ESTABLISHED . seq 1 ack 1 win 2048 len 0 > LISTEN",
			"13.000 LISTEN -> SYN-RECEIVED",
			"13.000 SYN-RECEIVED -> ESTABLISHED",
		},
		"lossy-transfer": {
			"3.000 ESTABLISHED . seq 2897 ack 1 win 2048 len 1448 x ESTABLISHED",
			"3.000 ESTABLISHED . seq 4345 ack 1 win 2048 len 1448 x ESTABLISHED",
			"3.000 ESTABLISHED . seq 13033 ack 1 win 2048 len 1448 > ESTABLISHED",
			"4.000 ESTABLISHED < . seq 1 ack 2897 win 2025 len 0 ESTABLISHED",
			"5.500 ESTABLISHED . seq 2897 ack 1 win 2048 len 1448 > ESTABLISHED",
			"7.000 ESTABLISHED . seq 4345 ack 1 win 2048 len 1448 > ESTABLISHED",
			"8.000 ESTABLISHED < . seq 1 ack 17377 win 1946 len 0 ESTABLISHED",
		},
		"zero-window": {
			"46.000 ESTABLISHED < . seq 1 ack 4097 win 0 len 0 ESTABLISHED",
			"247.000 ESTABLISHED . seq 4097 ack 1 win 2048 len 1 > ESTABLISHED",
			"647.000 ESTABLISHED . seq 4097 ack 1 win 2048 len 1 > ESTABLISHED",
			"1447.000 ESTABLISHED . seq 4097 ack 1 win 2048 len 1 > ESTABLISHED",
			"3047.000 ESTABLISHED . seq 4097 ack 1 win 2048 len 1 > ESTABLISHED",
			"6247.000 ESTABLISHED . seq 4097 ack 1 win 2048 len 1 > ESTABLISHED",
			"10003.000 ESTABLISHED < . seq 1 ack 4097 win 4096 len 0 ESTABLISHED",
			"10004.000 ESTABLISHED . seq 4097 ack 1 win 2048 len 1448 > ESTABLISHED",
		},
		// Side by side: the first connection on the left, the second
		// (request on the SYN, answered before the handshake ends) on
		// the right.
		"fast-open": {
			"0.000 SYN-SENT S seq 0 win 65535 > LISTEN | 15.000 SYN-SENT S seq 0 win 65535 > LISTEN",
			"1.000 SYN-SENT < S. seq 0 ack 1 win SYN-RECEIVED",
			"2.000 SYN-SENT -> ESTABLISHED | 16.000 SYN-SENT < P. seq 1 ack 19 SYN-RECEIVED",
			"2.000 ESTABLISHED P. seq 1 ack 1 win > SYN-RECEIVED",
		},
	}
	// What each scenario says after its ladder.
	notes := map[string]string{
		"refused":        "connect: connection refused",
		"abort":          "read: connection reset by peer",
		"keepalive":      "The client's Read returned after 45 s: read tcp 198.18.0.1:50105->198.18.0.2:80: read: connection timed out",
		"syn-flood":      "The server answered 5 SYNs with cookies (4 of the attacker's and the client's); 1 cookie came back valid",
		"lossy-transfer": "The client retransmitted 2 segments: 2 in fast recovery, 0 after a timeout, 0 as tail loss probes.",
		"zero-window":    "After 10 s the server had read nothing and the client's window was 0 bytes.",
		"half-close":     "The server read 18 bytes, then the end of the stream, while in CLOSE-WAIT.",
		"fast-open":      "4.000 ms the first time (the handshake, then the request), 2.000 ms the second (the request on the SYN): one round trip, 2.000 ms, saved.",
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			status, out, stderr := synack(t, "demo", "--scenario", sc.name, "--ascii")
			if status != 0 {
				t.Fatalf("status %d: %s", status, stderr)
			}
			if _, again, _ := synack(t, "demo", "--scenario", sc.name, "--ascii"); again != out {
				t.Errorf("two runs differ:\n%s\n%s", out, again)
			}
			lines := ladderLines(out)
			i := 0
			for _, w := range want[sc.name] {
				for i < len(lines) && !strings.Contains(lines[i], w) {
					i++
				}
				if i == len(lines) {
					t.Fatalf("%q missing, or out of order, in:\n%s", w, strings.Join(lines, "\n"))
				}
				i++
			}
			if len(want[sc.name]) == 0 {
				t.Errorf("no expectations for scenario %s", sc.name)
			}
			if n := notes[sc.name]; !strings.Contains(strings.Join(strings.Fields(out), " "), n) {
				t.Errorf("the report lacks %q:\n%s", n, out)
			}
			// The receiver's ACKs of the data above the hole carry one
			// SACK block each (whether the ladder draws it absolute or
			// relative).
			if n := len(regexp.MustCompile(`sack 1 \{\d+:\d+\}`).FindAllString(out, -1)); sc.name == "lossy-transfer" && n != 9 {
				t.Errorf("%d ACKs with a SACK block, want 9:\n%s", n, out)
			}
			// --pcap writes the same run, which synack ladder reads back
			// with as many segments as the ladder drew.
			file := filepath.Join(t.TempDir(), sc.name+".pcap")
			status, withPcap, _ := synack(t, "demo", "--scenario", sc.name, "--ascii", "--pcap", file)
			if status != 0 || !strings.HasPrefix(withPcap, out[:len(out)-1]) {
				t.Errorf("--pcap: status %d or another run:\n%s", status, withPcap)
			}
			status, fromPcap, stderr := synack(t, "ladder", "--ascii", file)
			arrows := regexp.MustCompile(`(?m)^ *\d+\.\d{3} .* seq \d+ .*win \d+ len \d+`)
			if status != 0 || len(arrows.FindAllString(fromPcap, -1)) < len(arrows.FindAllString(out, -1)) {
				t.Errorf("synack ladder of the capture: status %d, %d segments, the demo drew %d: %s\n%s",
					status, len(arrows.FindAllString(fromPcap, -1)), len(arrows.FindAllString(out, -1)), stderr, fromPcap)
			}
			if sc.run != nil && !strings.Contains(out, "What to notice: ") {
				t.Errorf("no \"What to notice\" line:\n%s", out)
			}
		})
	}
}

// TestScenarioList checks demo --list: one line per scenario, handshake
// first, each with its name and what to notice.
func TestScenarioList(t *testing.T) {
	status, out, _ := synack(t, "demo", "--list")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if status != 0 || len(lines) != 15 || !strings.HasPrefix(lines[0], "handshake ") {
		t.Fatalf("status %d, %d lines:\n%s", status, len(lines), out)
	}
	for i, sc := range scenarios {
		if f := strings.Fields(lines[i]); f[0] != sc.name || len(f) < 8 {
			t.Errorf("line %d: %q", i, lines[i])
		}
	}
	for _, name := range []string{"handshake", "lost-syn", "lost-syn-ack", "lost-final-ack", "old-duplicate-syn", "simultaneous-open",
		"simultaneous-close", "half-close", "refused", "abort", "keepalive", "syn-flood", "lossy-transfer", "zero-window"} {
		if findScenario(name) == nil {
			t.Errorf("no scenario %s", name)
		}
	}
	if status, _, stderr := synack(t, "demo", "--scenario", "nope"); status != 2 ||
		stderr != "synack demo: no scenario \"nope\" (synack demo --list names them); see 'synack demo --help'\n" {
		t.Errorf("unknown scenario: status %d, %q", status, stderr)
	}
}

// demo --svg and --html draw the scenario from its own capture: the SVG is
// XML with both ends' states, the HTML page holds the same ladder.
func TestScenarioSVGAndHTML(t *testing.T) {
	dir := t.TempDir()
	svg, page := filepath.Join(dir, "half-close.svg"), filepath.Join(dir, "half-close.html")
	if status, _, stderr := synack(t, "demo", "--scenario", "half-close", "--svg", svg, "--html", page); status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	b, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		if _, err := d.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("the SVG is not XML: %v", err)
		}
	}
	h, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"FIN-WAIT-2", "CLOSE-WAIT", "LAST-ACK", "TIME-WAIT"} {
		if !bytes.Contains(b, []byte(want)) || !bytes.Contains(h, []byte(want)) {
			t.Errorf("%s missing from the SVG or the HTML page", want)
		}
	}
	if !bytes.Contains(h, []byte("<svg")) {
		t.Error("the HTML page has no inline SVG")
	}
}
