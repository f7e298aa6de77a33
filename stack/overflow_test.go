package stack

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/synack/synack/clock"
	"github.com/synack/synack/link"
	"github.com/synack/synack/tcp"
)

// manualPairOpts is manualPair with each stack's own Options (their
// clock, runner and randomness are set here).
func manualPairOpts(t *testing.T, copts, sopts Options) (cl, sv *Stack, r *stepRunner) {
	t.Helper()
	r = &stepRunner{clk: clock.NewVirtual()}
	copts.Clock, copts.Runner, copts.Rand = r.clk, r, rand.NewChaCha8([32]byte{1})
	sopts.Clock, sopts.Runner, sopts.Rand = r.clk, r, rand.NewChaCha8([32]byte{2})
	cl, sv = New(copts), New(sopts)
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

// A handshake that completes when the accept queue is full is not reset
// (Linux's default, tcp_abort_on_overflow=0): its final ACK and any data
// after it are ignored, the connection stays half-open, and it completes
// once Accept has made room, when the next segment of the peer arrives:
// the retransmission of its data (200 ms, the minimum RTO) or, if it sent
// none, its answer to the retransmitted SYN-ACK (1 s). In virtual time,
// so every count is exact.
func TestAcceptQueueOverflow(t *testing.T) {
	for _, tc := range []struct {
		name  string
		data  string
		after time.Duration
		drops uint64
	}{
		{"client sends data", "hello", 200 * time.Millisecond, 2},
		{"client waits", "", time.Second, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var trace []string
			cl, sv, r := manualPairOpts(t, Options{}, Options{Trace: func(e TraceEvent) {
				if e.Remote.Port() != 0 {
					trace = append(trace, e.To.String())
				}
			}})
			start := r.clk.Now()
			ln, err := sv.ListenBacklog("tcp", ":80", 2)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			for range 2 {
				c, err := cl.Dial("tcp", "198.18.0.2:80")
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
			}
			// The third: the client completes its handshake, the
			// server does not.
			c, err := cl.Dial("tcp", "198.18.0.2:80")
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if tc.data != "" {
				if _, err := c.Write([]byte(tc.data)); err != nil {
					t.Fatal(err)
				}
			}
			st := sv.Stats()
			if ln.Pending() != 2 || st.AcceptQueueDrops != tc.drops || st.Connections != 3 || st.ResetsSent != 0 {
				t.Fatalf("Pending %d, AcceptQueueDrops %d, Connections %d, ResetsSent %d; want 2, %d, 3, 0",
					ln.Pending(), st.AcceptQueueDrops, st.Connections, st.ResetsSent, tc.drops)
			}
			if ci := c.Info(); ci.State != tcp.StateEstablished {
				t.Fatalf("client %v; want ESTABLISHED", ci.State)
			}
			// Accept makes room; the third connection completes on the
			// peer's next segment.
			var got []*Conn
			for range 3 {
				s, err := ln.AcceptTCP()
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				got = append(got, s)
			}
			if d := r.clk.Now().Sub(start); d != tc.after {
				t.Errorf("third connection accepted after %v; want %v", d, tc.after)
			}
			s := got[2]
			if s.RemoteAddr().String() != c.LocalAddr().String() {
				t.Fatalf("third accepted connection is from %v; want %v", s.RemoteAddr(), c.LocalAddr())
			}
			if tc.data != "" {
				buf := make([]byte, len(tc.data))
				if _, err := io.ReadFull(s, buf); err != nil || string(buf) != tc.data {
					t.Fatalf("server read %q, %v; want %q", buf, err, tc.data)
				}
			}
			if _, err := s.Write([]byte("world")); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 5)
			if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "world" {
				t.Fatalf("client read %q, %v; want \"world\"", buf, err)
			}
			if st := sv.Stats(); st.AcceptQueueDrops != tc.drops || st.ResetsSent != 0 || st.PassiveOpens != 3 {
				t.Errorf("AcceptQueueDrops %d, ResetsSent %d, PassiveOpens %d; want %d, 0, 3",
					st.AcceptQueueDrops, st.ResetsSent, st.PassiveOpens, tc.drops)
			}
			want := "[SYN-RECEIVED ESTABLISHED SYN-RECEIVED ESTABLISHED SYN-RECEIVED ESTABLISHED]"
			if got := fmt.Sprint(trace); got != want {
				t.Errorf("server trace %s; want %s", got, want)
			}
		})
	}
}

// With cookies always on, no half-open connection exists: a cookie ACK
// that finds the accept queue full is ignored, and the peer's data, which
// carries the cookie again, makes the connection once there is room.
func TestSynCookieAcceptQueueFull(t *testing.T) {
	var trace []string
	cl, sv, r := manualPairOpts(t, Options{}, Options{SynCookies: SynCookiesAlways, Trace: func(e TraceEvent) {
		if e.Remote.Port() != 0 {
			trace = append(trace, e.To.String())
		}
	}})
	start := r.clk.Now()
	ln, err := sv.ListenBacklog("tcp", ":80", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c1, err := cl.Dial("tcp", "198.18.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	c2, err := cl.Dial("tcp", "198.18.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := c2.Write([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	st := sv.Stats()
	if st.SynCookiesSent != 2 || st.SynCookiesValid != 3 || st.AcceptQueueDrops != 2 || st.Connections != 1 || st.PassiveOpens != 1 {
		t.Fatalf("SynCookiesSent %d, Valid %d, AcceptQueueDrops %d, Connections %d, PassiveOpens %d; want 2, 3, 2, 1, 1",
			st.SynCookiesSent, st.SynCookiesValid, st.AcceptQueueDrops, st.Connections, st.PassiveOpens)
	}
	var s *Conn
	for range 2 {
		s, err = ln.AcceptTCP()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
	}
	buf := make([]byte, 2)
	if _, err := io.ReadFull(s, buf); err != nil || string(buf) != "hi" || s.RemoteAddr().String() != c2.LocalAddr().String() {
		t.Fatalf("second connection from %v read %q, %v; want %v, \"hi\"", s.RemoteAddr(), buf, err, c2.LocalAddr())
	}
	if d := r.clk.Now().Sub(start); d != 200*time.Millisecond {
		t.Errorf("second connection accepted after %v; want 200ms (the data's retransmission)", d)
	}
	st = sv.Stats()
	if st.SynCookiesValid != 4 || st.SynCookiesInvalid != 0 || st.PassiveOpens != 2 || st.ResetsSent != 0 {
		t.Errorf("SynCookiesValid %d, Invalid %d, PassiveOpens %d, ResetsSent %d; want 4, 0, 2, 0",
			st.SynCookiesValid, st.SynCookiesInvalid, st.PassiveOpens, st.ResetsSent)
	}
	want := "[SYN-RECEIVED ESTABLISHED SYN-RECEIVED ESTABLISHED]"
	if got := fmt.Sprint(trace); got != want {
		t.Errorf("server trace %s; want %s", got, want)
	}
}
