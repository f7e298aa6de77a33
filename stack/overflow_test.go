package stack

import (
	"context"
	"fmt"
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

// While the accept queue is full, a SYN is dropped: no SYN-ACK, no
// cookie (Linux's ListenOverflows). The client's SYN retransmissions (0 s,
// 1 s, 3 s) all meet the full queue, so its Dial with a 3.5 s timeout
// fails; once Accept has made room the next client gets in at once. In
// virtual time, so every count is exact.
func TestListenOverflowDropsSYN(t *testing.T) {
	for _, mode := range []SynCookieMode{SynCookiesAuto, SynCookiesAlways} {
		t.Run(fmt.Sprint(mode), func(t *testing.T) {
			cl, sv, r := manualPairOpts(t, Options{}, Options{SynCookies: mode})
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
			before := sv.Stats()
			start := r.clk.Now()
			ctx := virtualDeadline{context.Background(), r.clk, start.Add(3500 * time.Millisecond)}
			if c, err := cl.DialContext(ctx, "tcp", "198.18.0.2:80"); err == nil {
				c.Close()
				t.Fatal("second Dial succeeded while the accept queue was full")
			}
			st := sv.Stats()
			if st.ListenOverflows != 3 || st.ListenDrops != 3 || st.SynCookiesSent != before.SynCookiesSent ||
				st.PassiveOpens != 1 || st.Connections != 1 || st.PacketsOut != before.PacketsOut {
				t.Fatalf("ListenOverflows %d, ListenDrops %d, SynCookiesSent %d (before %d), PassiveOpens %d, Connections %d, PacketsOut %d (before %d); want 3, 3, unchanged, 1, 1, unchanged",
					st.ListenOverflows, st.ListenDrops, st.SynCookiesSent, before.SynCookiesSent, st.PassiveOpens, st.Connections, st.PacketsOut, before.PacketsOut)
			}
			s1, err := ln.AcceptTCP()
			if err != nil {
				t.Fatal(err)
			}
			defer s1.Close()
			start = r.clk.Now()
			c3, err := cl.Dial("tcp", "198.18.0.2:80")
			if err != nil {
				t.Fatal(err)
			}
			defer c3.Close()
			s3, err := ln.AcceptTCP()
			if err != nil {
				t.Fatal(err)
			}
			defer s3.Close()
			if d := r.clk.Now().Sub(start); d != 0 || s3.RemoteAddr().String() != c3.LocalAddr().String() {
				t.Errorf("third connection from %v accepted after %v; want %v at once", s3.RemoteAddr(), d, c3.LocalAddr())
			}
		})
	}
}

// A slow acceptor and many idle clients (which never send, so a lost
// handshake would never be noticed): every connection a client holds is
// eventually accepted. The clients come several times as fast as the
// acceptor takes them, so the accept queue is full most of the time. Before
// listeners dropped SYNs while the accept queue was full, the SYNs were
// answered, the handshakes' final ACKs ignored, the SYN queue filled with
// them, SYN cookies went out, and cookie ACKs that met the full queue were
// dropped: their clients were never accepted.
func TestSlowAcceptorIdleClients(t *testing.T) {
	const n = 200
	// The clients resend a dropped SYN every 100 ms at most.
	copts := Options{TCP: tcp.Config{InitialRTO: 50 * time.Millisecond, MinRTO: 20 * time.Millisecond,
		MaxRTO: 100 * time.Millisecond, SynRetries: 100}}
	cl, sv := pair(t, copts, Options{SynBacklog: 64})
	ln, err := sv.ListenBacklog("tcp", ":80", 4)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type res struct {
		c   *Conn
		err error
	}
	accepted := make(chan string, n)
	go func() { // the slow acceptor
		defer close(accepted)
		ln.SetDeadline(time.Now().Add(20 * time.Second))
		for range n {
			time.Sleep(3 * time.Millisecond)
			s, err := ln.AcceptTCP()
			if err != nil {
				t.Errorf("Accept: %v (stats %+v)", err, sv.Stats())
				return
			}
			defer s.Close()
			accepted <- s.RemoteAddr().String()
		}
	}()
	dialed := make(chan res, n)
	for range n {
		time.Sleep(500 * time.Microsecond) // paced: faster than the acceptor
		go func() {
			c, err := cl.Dial("tcp", "198.18.0.2:80")
			dialed <- res{c, err}
		}()
	}
	clients := map[string]bool{}
	for range n {
		r := <-dialed
		if r.err != nil {
			t.Fatal(r.err)
		}
		defer r.c.Close()
		clients[r.c.LocalAddr().String()] = true
	}
	got := 0
	for a := range accepted {
		if !clients[a] {
			t.Fatalf("accepted %v, which no client holds", a)
		}
		got++
	}
	if got != n {
		t.Fatalf("accepted %d of %d connections", got, n)
	}
	st := sv.Stats()
	if st.PassiveOpens != n || st.ListenOverflows == 0 {
		t.Errorf("PassiveOpens %d, ListenOverflows %d; want %d, > 0", st.PassiveOpens, st.ListenOverflows, n)
	}
	t.Logf("ListenOverflows %d, SynCookiesSent %d, SynCookiesValid %d", st.ListenOverflows, st.SynCookiesSent, st.SynCookiesValid)
}

// virtualDeadline is a context whose deadline is in virtual time (manual
// mode): it never expires by itself, but a blocking call stops waiting
// for the world at its deadline.
type virtualDeadline struct {
	context.Context
	clk *clock.Virtual
	dl  time.Time
}

func (c virtualDeadline) Deadline() (time.Time, bool) { return c.dl, true }

func (c virtualDeadline) Err() error {
	if c.clk.Now().Before(c.dl) {
		return nil
	}
	return context.DeadlineExceeded
}
