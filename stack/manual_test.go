package stack

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/synack/synack/clock"
	"github.com/synack/synack/link"
	"github.com/synack/synack/tcp"
)

// stepRunner is a minimal Runner: packets travel synchronously over Pipes,
// so running the world means jumping the virtual clock from timer to timer.
type stepRunner struct {
	clk    *clock.Virtual
	stacks []*Stack
}

func (r *stepRunner) RunUntil(cond func() bool, deadline time.Time) bool {
	for {
		if cond() {
			return true
		}
		var next time.Time
		for _, s := range r.stacks {
			if d := s.NextDeadline(); !d.IsZero() && (next.IsZero() || d.Before(next)) {
				next = d
			}
		}
		if !deadline.IsZero() && (next.IsZero() || next.After(deadline)) {
			r.clk.Set(deadline)
			for _, s := range r.stacks {
				s.Tick()
			}
			return cond()
		}
		if next.IsZero() {
			return false
		}
		r.clk.Set(next)
		for _, s := range r.stacks {
			s.Tick()
		}
	}
}

// manualPair returns two manual-mode stacks over a Pipe, driven by one
// stepRunner and a virtual clock, with seeded randomness.
func manualPair(t *testing.T, seed uint64, cfg tcp.Config, trace func(TraceEvent)) (cl, sv *Stack, r *stepRunner) {
	t.Helper()
	r = &stepRunner{clk: clock.NewVirtual()}
	rnd := func(n uint64) io.Reader { return rand.NewChaCha8([32]byte{byte(seed), byte(n)}) }
	cl = New(Options{Clock: r.clk, Runner: r, Rand: rnd(1), TCP: cfg, Trace: trace})
	sv = New(Options{Clock: r.clk, Runner: r, Rand: rnd(2), TCP: cfg, Trace: trace})
	r.stacks = []*Stack{cl, sv}
	a, b := link.Pipe(1500)
	if err := cl.AddLink(a, netip.PrefixFrom(clientAddr, 24)); err != nil {
		t.Fatal(err)
	}
	if err := sv.AddLink(b, netip.PrefixFrom(serverAddr, 24)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cl.Close()
		sv.Close()
	})
	return cl, sv, r
}

// manualConnected opens a listener on the server's port 80 and returns a
// client Conn and the server Conn it reached, in manual mode (one
// goroutine runs both ends). The listener stays open until the stacks
// close.
func manualConnected(t *testing.T, cl, sv *Stack) (c, s *Conn) {
	t.Helper()
	ln, err := sv.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	if c, err = cl.Dial("tcp", "198.18.0.2:80"); err != nil {
		t.Fatal(err)
	}
	if s, err = ln.AcceptTCP(); err != nil {
		t.Fatal(err)
	}
	return c, s
}

// manualSession runs a whole connection in one goroutine and returns its
// trace.
func manualSession(t *testing.T, seed uint64) []string {
	var log traceLog
	cl, sv, r := manualPair(t, seed, tcp.Config{}, log.add)
	ln, err := sv.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	c, err := cl.Dial("tcp", "198.18.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	// Less than the buffers hold, so that this one goroutine can write
	// it all before reading.
	msg := bytes.Repeat([]byte("manual "), 10000)
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(s)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("read %d bytes, %v; want %d", len(got), err, len(msg))
	}
	s.SetReadDeadline(r.clk.Now().Add(time.Second))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("client read after the server's close: %d, %v", n, err)
	}
	// A read deadline on a quiet connection moves the virtual clock.
	c2, err := cl.Dial("tcp", "198.18.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	start := r.clk.Now()
	c2.SetReadDeadline(start.Add(3 * time.Second))
	if _, err := c2.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read with a deadline: %v", err)
	}
	if d := r.clk.Now().Sub(start); d != 3*time.Second {
		t.Errorf("virtual time passed = %v; want 3s", d)
	}
	// A write the peer never drains stops at the write deadline, with
	// the buffers full and zero-window probes running.
	c2.SetWriteDeadline(r.clk.Now().Add(10 * time.Second))
	if n, err := c2.Write(make([]byte, 2<<20)); !errors.Is(err, os.ErrDeadlineExceeded) || n == 0 {
		t.Fatalf("write into a full window: %d, %v", n, err)
	}
	c2.SetLinger(0)
	c2.Close()
	ln.Close()
	return log.lines()
}

func TestManualMode(t *testing.T) {
	a := manualSession(t, 1)
	b := manualSession(t, 1)
	if !slices.Equal(a, b) {
		t.Errorf("two runs with the same seed differ:\n%q\n%q", a, b)
	}
	if len(a) < 10 {
		t.Errorf("trace too short: %q", a)
	}
}

func TestManualConnectTimeout(t *testing.T) {
	r := &stepRunner{clk: clock.NewVirtual()}
	s := New(Options{Clock: r.clk, Runner: r, TCP: tcp.Config{SynRetries: 3}})
	defer s.Close()
	r.stacks = []*Stack{s}
	if err := s.AddLink(blackHole(1500), netip.MustParsePrefix("198.18.0.1/24")); err != nil {
		t.Fatal(err)
	}
	start := r.clk.Now()
	_, err := s.Dial("tcp", "198.18.0.9:80")
	if !errors.Is(err, syscall.ETIMEDOUT) {
		t.Fatalf("dial: %v; want ETIMEDOUT", err)
	}
	// 1s + 2s + 4s + 8s of exponential backoff.
	if d := r.clk.Now().Sub(start); d != 15*time.Second {
		t.Errorf("connect gave up after %v; want 15s", d)
	}
	if st := s.Stats(); st.PacketsOut != 4 || st.Connections != 0 {
		t.Errorf("PacketsOut = %d, Connections = %d; want 4, 0", st.PacketsOut, st.Connections)
	}
}
