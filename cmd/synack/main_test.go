package main

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/demo.golden")

// synack runs the command line in-process.
func synack(t *testing.T, args ...string) (status int, stdout, stderr string) {
	t.Helper()
	var out, errOut strings.Builder
	status = run(args, &out, &errOut)
	return status, out.String(), errOut.String()
}

func TestUsage(t *testing.T) {
	tests := []struct {
		args       []string
		status     int
		stdout     string // a substring of stdout, if set
		stderr     string // a substring of stderr, if set
		emptyStdio bool
	}{
		{args: nil, status: 2, stderr: "Usage:"},
		{args: []string{"--help"}, status: 0, stdout: "Commands:"},
		{args: []string{"help"}, status: 0, stdout: "demo"},
		{args: []string{"frobnicate"}, status: 2, stderr: `unknown command "frobnicate"`},
		{args: []string{"demo", "--help"}, status: 0, stderr: "Usage: synack demo"},
		{args: []string{"demo", "--nope"}, status: 2, stderr: "synack demo: unknown flag --nope; see 'synack demo --help'\n"},
		{args: []string{"frobnicate"}, status: 2, stderr: "synack: unknown command \"frobnicate\"; see 'synack --help'\n"},
		{args: []string{"version"}, status: 0, stdout: "synack "},
		{args: []string{"--version"}, status: 0, stdout: "synack "},
		{args: []string{"version", "x"}, status: 2, stderr: "synack version: unexpected argument \"x\"; see 'synack version --help'\n"},
		{args: []string{"demo", "extra"}, status: 2, stderr: "unexpected argument"},
		{args: []string{"demo", "--delay", "0s"}, status: 2, stderr: "--delay must be positive"},
		{args: []string{"ladder", "--help"}, status: 0, stderr: "Usage: synack ladder"},
		{args: []string{"ladder"}, status: 2, stderr: "synack ladder: usage: synack ladder [flags] FILE.pcap; see 'synack ladder --help'\n"},
		{args: []string{"ladder", "/nonexistent.pcap"}, status: 1, stderr: "no such file"},
	}
	for _, tt := range tests {
		status, stdout, stderr := synack(t, tt.args...)
		if status != tt.status || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
			t.Errorf("synack %q: status %d, stdout %q, stderr %q; want status %d with %q / %q",
				tt.args, status, stdout, stderr, tt.status, tt.stdout, tt.stderr)
		}
	}
}

// TestDemoStates checks that every state of the connection appears, in
// the order the textbook draws them.
func TestDemoStates(t *testing.T) {
	status, out, stderr := synack(t, "demo")
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	order := []string{
		"CLOSED → LISTEN",
		"CLOSED → SYN-SENT",
		"LISTEN → SYN-RECEIVED",
		"SYN-SENT → ESTABLISHED",
		"SYN-RECEIVED → ESTABLISHED",
		"ESTABLISHED → FIN-WAIT-1",
		"ESTABLISHED → CLOSE-WAIT",
		"CLOSE-WAIT → LAST-ACK",
		"FIN-WAIT-1 → FIN-WAIT-2",
		"FIN-WAIT-2 → TIME-WAIT",
		"LAST-ACK → CLOSED",
		"TIME-WAIT → CLOSED",
		"the client connection is CLOSED, the server connection CLOSED, and the listener still LISTEN",
	}
	rest := out
	for _, s := range order {
		i := strings.Index(rest, s)
		if i < 0 {
			t.Fatalf("%q missing, or out of order, in:\n%s", s, out)
		}
		rest = rest[i+len(s):]
	}
}

// TestDemoGolden pins the demo's whole output for the default seed (the
// README shows it); go test -update rewrites it.
func TestDemoGolden(t *testing.T) {
	_, out, _ := synack(t, "demo")
	golden := filepath.Join("testdata", "demo.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Errorf("the demo's output differs from %s (go test -update rewrites it):\n%s", golden, out)
	}
}

// TestDemoDeterministic runs the demo twice per seed.
func TestDemoDeterministic(t *testing.T) {
	_, a, _ := synack(t, "demo", "--seed", "7", "--ascii")
	_, b, _ := synack(t, "demo", "--seed", "7", "--ascii")
	_, c, _ := synack(t, "demo", "--seed", "8", "--ascii")
	if a != b {
		t.Errorf("two runs with seed 7 differ:\n%s\n%s", a, b)
	}
	if a == c {
		t.Error("seeds 7 and 8 print the same output")
	}
	if strings.ContainsAny(a, "─▶◀→") {
		t.Errorf("--ascii output has non-ASCII arrows:\n%s", a)
	}
}

// TestDemoPcap checks the capture of the demo with tshark: the handshake
// and the four-way close, good checksums, nothing tshark finds wrong; then
// synack ladder draws the same segments from it.
func TestDemoPcap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "demo.pcap")
	status, demoOut, stderr := synack(t, "demo", "--pcap", path)
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}

	status, ladderOut, stderr := synack(t, "ladder", path)
	if status != 0 {
		t.Fatalf("synack ladder: status %d: %s", status, stderr)
	}
	// Every arrow of the capture's ladder is in the demo's.
	arrows := 0
	for _, line := range strings.Split(ladderOut, "\n") {
		i := strings.IndexAny(line, "─◀")
		if i < 0 || strings.Contains(line, "→") {
			continue
		}
		arrows++
		// The arrows' lengths differ with the width of the time column.
		label := strings.Trim(strings.TrimSpace(line[i:]), "─◀▶")
		if !strings.Contains(demoOut, label) {
			t.Errorf("the capture's segment %q is not in the demo's ladder", label)
		}
	}
	// 11: the handshake, request and reply each with its quick ACK (the
	// first data of a connection is acknowledged at once, as on Linux),
	// and the close.
	if arrows != 11 {
		t.Errorf("synack ladder drew %d arrows, want 11:\n%s", arrows, ladderOut)
	}

	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark is not on PATH; skipping the capture check")
	}
	tsharkOut := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(tshark, append([]string{"-r", path, "-o", "tcp.check_checksum:TRUE"}, args...)...)
		var errOut strings.Builder
		cmd.Stderr = &errOut
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("tshark %q: %v\n%s", args, err, errOut.String())
		}
		return string(out)
	}
	flags := strings.Fields(tsharkOut("-T", "fields", "-e", "tcp.flags", "-e", "tcp.checksum.status", "-e", "_ws.malformed"))
	// Pairs of (flags, checksum status 1 = good).
	var got []string
	for i := 0; i+1 < len(flags); i += 2 {
		if flags[i+1] != "1" {
			t.Errorf("packet %d: checksum status %q, want 1 (good)", i/2+1, flags[i+1])
		}
		got = append(got, flags[i])
	}
	names := map[string]string{"0x0002": "SYN", "0x0012": "SYN-ACK", "0x0010": "ACK", "0x0011": "FIN", "0x0018": "PSH-ACK"}
	for i, f := range got {
		if n, ok := names[f]; ok {
			got[i] = n
		}
	}
	if len(got) != 11 {
		t.Fatalf("tshark read %d packets, want 11: %q", len(got), got)
	}
	if h, want := strings.Join(got[:3], " "), "SYN SYN-ACK ACK"; h != want {
		t.Errorf("the capture opens with %s, want %s", h, want)
	}
	if c, want := strings.Join(got[len(got)-4:], " "), "FIN ACK FIN ACK"; c != want {
		t.Errorf("the capture closes with %s, want %s", c, want)
	}
	expert := tsharkOut("-q", "-z", "expert")
	for _, bad := range []string{"Warning", "Error", "Malformed"} {
		if strings.Contains(expert, bad) {
			t.Errorf("tshark's expert info has a %s:\n%s", bad, expert)
		}
	}
}
