package sim

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/synack/synack/pcap"
)

func TestRunForAndIdle(t *testing.T) {
	n := ForTest(t, 7)
	n.AddHost("lonely", clientAddr)
	n.Run() // nothing to do: the clock stays put
	if got := n.Elapsed(); got != 0 {
		t.Errorf("Run on an idle network moved the clock to %v", got)
	}
	n.RunFor(1500 * time.Millisecond)
	if got := n.Elapsed(); got != 1500*time.Millisecond {
		t.Errorf("after RunFor(1.5s) the clock reads %v", got)
	}
	if n.Seed() != 7 && os.Getenv(SeedEnv) == "" {
		t.Errorf("Seed() = %d, want 7", n.Seed())
	}
}

// TestRunawayGuard stops a run that handles too many events.
func TestRunawayGuard(t *testing.T) {
	n := New(8, WithMaxEvents(3))
	cli := n.AddHost("client", clientAddr)
	_, err := cli.Stack().Dial("tcp", nowhere.String()+":80")
	if err == nil {
		t.Fatal("Dial succeeded")
	}
	if !errors.Is(n.Err(), ErrRunaway) {
		t.Fatalf("Err() = %v, want ErrRunaway", n.Err())
	}
	if n.RunUntil(func() bool { return false }, time.Time{}) {
		t.Error("a stopped network ran again")
	}
}

func TestAddHostPanicsOnDuplicate(t *testing.T) {
	n := New(9)
	n.AddHost("a", clientAddr)
	defer func() {
		if recover() == nil {
			t.Error("no panic for a duplicate address")
		}
	}()
	n.AddHost("b", clientAddr)
}

// TestLadderAndPcap draws the ladder of two connections between the same
// hosts and checks the capture holds every packet.
func TestLadderAndPcap(t *testing.T) {
	n, cli, srv, ln := pair(t, 10)
	var buf bytes.Buffer
	w, err := pcap.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	n.SetPcap(w)
	for range 2 {
		c, err := cli.Stack().Dial("tcp", "198.18.0.2:80")
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if _, err := s.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("read: %v", err)
		}
		s.Close()
	}
	n.Run()

	convs := n.Conversations(cli, srv)
	if len(convs) != 2 {
		t.Fatalf("%d conversations, want 2", len(convs))
	}
	for i, c := range convs {
		if c.Right != netip.AddrPortFrom(serverAddr, 80) || c.Left.Addr() != clientAddr {
			t.Errorf("conversation %d is %v-%v", i, c.Left, c.Right)
		}
	}
	var lad strings.Builder
	if err := n.Ladder(&lad, cli, srv); err != nil {
		t.Fatal(err)
	}
	out := lad.String()
	if got := strings.Count(out, "ISN "); got != 4 {
		t.Errorf("the ladders show %d ISNs, want 4:\n%s", got, out)
	}
	// The listener's LISTEN shows in both ladders.
	if got := strings.Count(out, "CLOSED → LISTEN"); got != 2 {
		t.Errorf("CLOSED → LISTEN appears %d times, want 2:\n%s", got, out)
	}

	r, err := pcap.NewReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var trace []Record
	for _, rec := range n.Trace() {
		if rec.Kind == RecordPacket {
			trace = append(trace, rec)
		}
	}
	for i := 0; ; i++ {
		ts, pkt, err := r.Next()
		if err == io.EOF {
			if i != len(trace) {
				t.Errorf("the capture holds %d packets, the trace %d", i, len(trace))
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if i >= len(trace) || !ts.Equal(trace[i].Time) || !bytes.Equal(pkt, trace[i].Packet.Data) {
			t.Fatalf("captured packet %d differs from the trace", i)
		}
	}

	if tshark, err := exec.LookPath("tshark"); err == nil {
		path := filepath.Join(t.TempDir(), "sim.pcap")
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(tshark, "-r", path, "-o", "tcp.check_checksum:TRUE", "-q", "-z", "expert,warn").Output()
		if err != nil {
			t.Fatalf("tshark: %v", err)
		}
		if s := string(out); strings.Contains(s, "Warning") || strings.Contains(s, "Error") {
			t.Errorf("tshark reports problems:\n%s", s)
		}
	}
}

// fakeTB records what ForTest's cleanup does.
type fakeTB struct {
	testing.TB
	failed   bool
	logs     []string
	cleanups []func()
}

func (f *fakeTB) Helper()                    {}
func (f *fakeTB) Cleanup(fn func())          { f.cleanups = append(f.cleanups, fn) }
func (f *fakeTB) Failed() bool               { return f.failed }
func (f *fakeTB) Errorf(string, ...any)      { f.failed = true }
func (f *fakeTB) Logf(s string, args ...any) { f.logs = append(f.logs, s) }

func TestForTestLogsLadderOnFailure(t *testing.T) {
	t.Setenv(SeedEnv, "77")
	f := &fakeTB{TB: t}
	n := ForTest(f, 1)
	if n.Seed() != 77 {
		t.Errorf("seed %d, want 77 from $%s", n.Seed(), SeedEnv)
	}
	cli := n.AddHost("client", clientAddr)
	n.AddHost("server", serverAddr)
	cli.Stack().Dial("tcp", "198.18.0.2:80")
	f.failed = true
	for _, fn := range f.cleanups {
		fn()
	}
	if len(f.logs) != 1 || !strings.Contains(f.logs[0], "seed") {
		t.Fatalf("logs %q", f.logs)
	}
}

// TestIPv6 runs a handshake and close between two IPv6 hosts.
func TestIPv6(t *testing.T) {
	n := ForTest(t, 11)
	cli := n.AddHost("client", netip.MustParseAddr("2001:db8::1"))
	srv := n.AddHost("server", netip.MustParseAddr("2001:db8::2"))
	ln, err := srv.Stack().Listen("tcp", "[::]:80")
	if err != nil {
		t.Fatal(err)
	}
	c, err := cli.Stack().Dial("tcp", "[2001:db8::2]:80")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := s.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read: %v", err)
	}
	s.Close()
	n.Run()
	expectLines(t, "packets", packets(n), []string{
		"0s client>server S seq 0 len 0",
		"1ms server>client S. seq 0 ack 1 len 0",
		"2ms client>server . seq 1 ack 1 len 0",
		"3ms client>server F. seq 1 ack 1 len 0",
		"4ms server>client . seq 1 ack 2 len 0",
		"4ms server>client F. seq 1 ack 2 len 0",
		"5ms client>server . seq 2 ack 2 len 0",
	})
	if convs := n.Conversations(cli, srv); len(convs) != 1 || len(convs[0].Events) != 7+12 {
		t.Errorf("conversations %+v", convs)
	}
}
