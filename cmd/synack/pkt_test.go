package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const pktPass = `0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>
+0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>
`

// TestPktRun checks the report of synack pkt run: one line per script,
// the mismatch of a failure, the closing count and the exit status.
func TestPktRun(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pass := write("pass.pkt", pktPass)
	bad := write("fail.pkt", strings.Replace(pktPass, "> S. 0:0(0) ack 1", "> S. 0:0(0) ack 2", 1))
	skip := write("skip.pkt", pktPass+"+0 `ip link set dev tun0 mtu 1280`\n")

	status, out, stderr := synack(t, "pkt", "run", pass, skip)
	if status != 0 {
		t.Fatalf("status %d, stderr %q", status, stderr)
	}
	want := "PASS " + pass + "\nSKIP " + skip + ":6: command `ip link set dev tun0 mtu 1280`: shell commands are not run\n1 passed, 0 failed, 1 skipped\n"
	if out != want {
		t.Errorf("output\n%s\nwant\n%s", out, want)
	}

	status, out, _ = synack(t, "pkt", "run", "--tolerance_usecs=1000", pass, bad)
	if status != 1 {
		t.Errorf("status %d with a failing script, want 1", status)
	}
	want = "PASS " + pass + "\n" +
		"FAIL " + bad + ":5: bad ack: expected 2, actual 1\n" +
		"    expected: 0.000 > S. 0:0(0) ack 2 <mss 1460,nop,nop,sackOK,nop,wscale 8>\n" +
		"    actual:   0.000 > S. 0:0(0) ack 1 win 65535 <mss 1460,nop,nop,sackOK,nop,wscale 8>\n" +
		"1 passed, 1 failed, 0 skipped\n"
	if out != want {
		t.Errorf("output\n%s\nwant\n%s", out, want)
	}
}

func TestPktUsage(t *testing.T) {
	for _, tt := range []struct {
		args   []string
		status int
		stdout string
		stderr string
	}{
		{[]string{"pkt"}, 2, "", "synack pkt: want a subcommand: pkt run FILE...; see 'synack pkt --help'\n"},
		{[]string{"pkt", "--help"}, 0, "Usage: synack pkt run", ""},
		{[]string{"pkt", "run", "--help"}, 0, "", "  --tolerance-usecs int\n"},
		{[]string{"pkt", "run"}, 2, "", "synack pkt run: want at least one script FILE; see 'synack pkt run --help'\n"},
		// The underscore spelling of packetdrill still works.
		{[]string{"pkt", "run", "--ip_version=ipx", "a.pkt"}, 2, "", "synack pkt run: --ip-version must be ipv4, ipv4-mapped-ipv6 or ipv6, not \"ipx\"; see 'synack pkt run --help'\n"},
		{[]string{"pkt", "run", "--ip-version=ipx", "a.pkt"}, 2, "", "synack pkt run: --ip-version must be ipv4, ipv4-mapped-ipv6 or ipv6, not \"ipx\""},
		{[]string{"pkt", "run", "--tolerance_usecs=-1", "a.pkt"}, 2, "", "synack pkt run: --tolerance-usecs must not be negative"},
		{[]string{"pkt", "frob"}, 2, "", "synack pkt: unknown subcommand \"frob\" (only \"run\"); see 'synack pkt --help'\n"},
	} {
		status, stdout, stderr := synack(t, tt.args...)
		if status != tt.status || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
			t.Errorf("synack %q: status %d, stdout %q, stderr %q", tt.args, status, stdout, stderr)
		}
	}
}
