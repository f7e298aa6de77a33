package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/synack/synack/sim"
	"github.com/synack/synack/stack"
	"github.com/synack/synack/tcp"
)

// adminWorld is a simulated server with a listener, one connection with
// 10 unread bytes, and the client's end.
func adminWorld(t *testing.T) (*sim.Network, *sim.Host, *stack.Conn) {
	t.Helper()
	n := sim.New(1)
	cli := n.AddHost("client", clientAddr)
	srv := n.AddHost("server", serverAddr)
	if _, err := srv.Stack().Listen("tcp", ":80"); err != nil {
		t.Fatal(err)
	}
	c, err := cli.Stack().Dial("tcp", "198.18.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "0123456789")
	n.RunFor(100 * time.Millisecond)
	return n, srv, c
}

// TestAdminText checks the ss -tan table and the netstat -s counters the
// admin interface serves, and synack ss and synack stat, which read them.
func TestAdminText(t *testing.T) {
	_, srv, c := adminWorld(t)
	ts := httptest.NewServer(adminHandler(srv.Stack()))
	defer ts.Close()
	addr := strings.TrimPrefix(ts.URL, "http://")

	status, out, stderr := synack(t, "ss", "--admin", addr)
	if status != 0 {
		t.Fatalf("synack ss: status %d: %s", status, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	want := []string{
		"State        Recv-Q  Send-Q  Local Address:Port  Peer Address:Port  Details",
		"LISTEN       1       4096    *:80                *:*                syn-queue:0",
		"ESTABLISHED  10      0       198.18.0.2:80       " + c.LocalAddr().String() + "   rtt:2.000/1.000 rto:200 mss:1448 cwnd:14480",
	}
	if len(lines) != 3 {
		t.Fatalf("synack ss printed %d lines:\n%s", len(lines), out)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d:\n%q\nwant it to start\n%q", i, lines[i], w)
		}
	}

	status, out, stderr = synack(t, "stat", "--admin", addr)
	if status != 0 {
		t.Fatalf("synack stat: status %d: %s", status, stderr)
	}
	st := srv.Stack().Stats()
	for _, w := range []string{
		"Tcp:\n    0 active connection openings\n    1 passive connection openings\n    0 failed connection attempts\n",
		"    1 connections established\n",
		"    " + itoa(st.SegmentsIn) + " segments received\n",
		"All counters:\n",
		"    segments_in ", "    passive_opens ", "    icmp_in ", "    path_mtu_decreases ", "    udp_no_port ",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("synack stat lacks %q:\n%s", w, out)
		}
	}

	// JSON: snake_case keys, the same values.
	status, out, _ = synack(t, "stat", "--admin", addr, "--json")
	var m map[string]uint64
	if err := json.Unmarshal([]byte(out), &m); status != 0 || err != nil {
		t.Fatalf("stat --json: status %d, %v:\n%s", status, err, out)
	}
	if m["segments_in"] != st.SegmentsIn || m["passive_opens"] != 1 || m["curr_estab"] != 1 || len(m) < 45 {
		t.Errorf("stat --json: %v", m)
	}
	for k := range m {
		if k != strings.ToLower(k) || strings.Contains(k, "__") {
			t.Errorf("key %q is not snake_case", k)
		}
	}
	status, out, _ = synack(t, "ss", "--admin", addr, "--json")
	var conns []map[string]any
	if err := json.Unmarshal([]byte(out), &conns); status != 0 || err != nil || len(conns) != 2 {
		t.Fatalf("ss --json: status %d, %v:\n%s", status, err, out)
	}
	if conns[0]["kind"] != "listener" || conns[0]["local"] != "*:80" || conns[1]["state"] != "ESTABLISHED" ||
		conns[1]["recv_q"] != 10.0 || conns[1]["info"].(map[string]any)["snd_mss"] != 1448.0 {
		t.Errorf("ss --json: %v", conns)
	}

	// Nothing listening: one line, exit status 1.
	ts.Close()
	status, _, stderr = synack(t, "ss", "--admin", addr)
	if status != 1 || !strings.HasPrefix(stderr, "synack ss: nothing listens on "+addr) {
		t.Errorf("a closed admin address: status %d, %q", status, stderr)
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// TestSnakeCase pins the conversion of Stats' field names.
func TestSnakeCase(t *testing.T) {
	for in, want := range map[string]string{
		"SegmentsIn": "segments_in", "ICMPIn": "icmp_in", "PathMTUDecreases": "path_mtu_decreases",
		"UDPNoPort": "udp_no_port", "SynCookiesSent": "syn_cookies_sent", "CurrEstab": "curr_estab", "NotTCP": "not_tcp",
		"ChallengeACKs": "challenge_acks", "ChallengeACKsSuppressed": "challenge_acks_suppressed", "IPv6ParamProblems": "ipv6_param_problems",
	} {
		if got := snakeCase(in); got != want {
			t.Errorf("snakeCase(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestDumpOnSignal sends SIGUSR1 to the test process and reads the table
// that dumpOnSignal prints.
func TestDumpOnSignal(t *testing.T) {
	_, srv, _ := adminWorld(t)
	r, w := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dumpOnSignal(ctx, w, srv.Stack())
	time.Sleep(10 * time.Millisecond) // signal.Notify is in place once dumpOnSignal returns; this only spaces the test
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "State ") {
		t.Errorf("after SIGUSR1: %q, %v", line, err)
	}
	go io.Copy(io.Discard, r)
}

// TestTraceFile checks demo --trace: one JSON object per state change
// and per segment sent or received, snake_case keys.
func TestTraceFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "trace.jsonl")
	status, _, stderr := synack(t, "demo", "--trace", file)
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var states, out, in int
	for i, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, l)
		}
		switch {
		case m["event"] == "state":
			states++
		case m["event"] == "segment" && m["dir"] == "out":
			out++
		case m["event"] == "segment" && m["dir"] == "in":
			in++
		}
	}
	// The demo's ladder: 11 packets (two of them quick ACKs), each sent
	// and received, and 12 state changes (the listener's included).
	if states != 12 || out != 11 || in != 11 {
		t.Errorf("%d state lines, %d segments out, %d in; want 12, 11, 11", states, out, in)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	if want := `{"time":"2000-01-01T00:00:00Z","t":0,"host":"server","event":"state","local":"*:80","from":"CLOSED","to":"LISTEN"}`; first != want {
		t.Errorf("first line\n%s\nwant\n%s", first, want)
	}
	if !bytes.Contains(b, []byte(`"dir":"out","flags":"S","seq":1164141746,"ack":0,"win":65535,"len":0,"options":{"mss":1460,"wscale":7,"sack_permitted":true,`)) {
		t.Errorf("no SYN line in:\n%s", b)
	}
	// --trace leaves the output alone.
	_, withTrace, _ := synack(t, "demo", "--trace", file)
	_, without, _ := synack(t, "demo")
	if withTrace != without {
		t.Error("--trace changed the demo's output")
	}
}

// TestProgressLine pins the progress line and checks that it stays
// quiet off a terminal.
func TestProgressLine(t *testing.T) {
	var b bytes.Buffer
	if p := newProgress(&b, &b, "transfer", false); p != nil {
		t.Error("a progress line on a buffer")
	}
	p := &progress{w: &b, label: "transfer", refresh: time.Hour}
	s := progressState{Bytes: 3 << 20, Total: 8 << 20, Elapsed: 2 * time.Second, Retransmits: 12, State: tcp.StateEstablished, Virtual: true}
	if got, want := p.line(s), "transfer  3MiB of 8MiB (38%)  12.6Mbit/s  12 retransmitted  ESTABLISHED  2.0s virtual"; got != want {
		t.Errorf("line\n%q\nwant\n%q", got, want)
	}
	p.update(s)
	p.update(s) // within the refresh: nothing
	p.done()
	if got, want := b.String(), "\r"+p.line(s)+"\x1b[K\r\x1b[K"; got != want {
		t.Errorf("wrote %q, want %q", got, want)
	}
	// transfer, piped, prints no progress.
	_, _, stderr := synack(t, "transfer", "--bytes", "64KiB", "--delay", "1ms")
	if stderr != "" {
		t.Errorf("transfer wrote to stderr: %q", stderr)
	}
}
