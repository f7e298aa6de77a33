package stack

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/synack/synack/clock"
	"github.com/synack/synack/tcp"
)

// A Dialer's Timeout counts on the stack's clock: in manual mode the
// virtual one, so a dial into a black hole gives up after exactly the
// timeout of virtual time, with "i/o timeout".
func TestDialerTimeoutVirtualClock(t *testing.T) {
	r := &stepRunner{clk: clock.NewVirtual()}
	s := New(Options{Clock: r.clk, Runner: r})
	defer s.Close()
	r.stacks = []*Stack{s}
	if err := s.AddLink(blackHole(1500), netip.MustParsePrefix("198.18.0.1/24")); err != nil {
		t.Fatal(err)
	}
	start := r.clk.Now()
	_, err := (&Dialer{Stack: s, Timeout: 2500 * time.Millisecond}).Dial("tcp", "198.18.0.9:80")
	if !errors.Is(err, os.ErrDeadlineExceeded) || err.Error() != "dial tcp 198.18.0.9:80: i/o timeout" {
		t.Fatalf("dial: %v; want i/o timeout", err)
	}
	if d := r.clk.Now().Sub(start); d != 2500*time.Millisecond {
		t.Errorf("gave up after %v of virtual time; want 2.5s", d)
	}
	if n := s.Stats().Connections; n != 0 {
		t.Errorf("%d connections left", n)
	}
	// A deadline already past fails at once.
	if _, err := (&Dialer{Stack: s, Deadline: r.clk.Now()}).Dial("tcp", "198.18.0.9:80"); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("dial with a past deadline: %v", err)
	}
}

// Fixed names (Resolver.Hosts) and "localhost", through Stack.Dial and a
// Dialer with its own Resolver; the Dialer's Control may change the
// engine's configuration.
func TestResolverHostsAndControl(t *testing.T) {
	hosts := &Resolver{Hosts: map[string][]netip.Addr{"db.internal": {netip.MustParseAddr("2001:db8::2"), netip.MustParseAddr("198.18.0.2")}}}
	cl, sv := pair(t, Options{Resolver: hosts}, Options{})
	ln, err := sv.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	for _, tc := range []struct {
		network, address string
		want             string // the remote address, or the error
	}{
		{"tcp", "db.internal:80", "[2001:db8::2]:80"},
		{"tcp4", "DB.Internal.:80", "198.18.0.2:80"},
		{"tcp6", "db.internal:80", "[2001:db8::2]:80"},
		{"tcp", "other.internal:80", "dial tcp: lookup other.internal: no such host"},
	} {
		c, err := cl.Dial(tc.network, tc.address)
		got := ""
		if err != nil {
			got = err.Error()
		} else {
			got = c.RemoteAddrPort().String()
			c.Close()
		}
		if got != tc.want {
			t.Errorf("Dial(%q, %q): %s; want %s", tc.network, tc.address, got, tc.want)
		}
	}
	if as, err := cl.LookupNetIP(context.Background(), "ip", "localhost"); err != nil || len(as) != 2 || !as[0].IsLoopback() || !as[1].IsLoopback() {
		t.Errorf("LookupNetIP localhost: %v, %v", as, err)
	}
	// A Dialer's own Resolver, and Control setting the MSS.
	var seen []string
	d := Dialer{Stack: cl, Resolver: &Resolver{Hosts: map[string][]netip.Addr{"web": {netip.MustParseAddr("198.18.0.2")}}},
		Control: func(network, address string, cfg *tcp.Config) error {
			seen = append(seen, network+" "+address)
			cfg.MSS = 1000
			return nil
		}}
	c, err := d.DialContext(context.Background(), "tcp", "web:80")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if mss := c.(*Conn).Info().SndMSS; mss > 1000 || len(seen) != 1 || seen[0] != "tcp 198.18.0.2:80" {
		t.Errorf("Control saw %q; MSS %d, want at most 1000", seen, mss)
	}
	if _, err := d.Dial("tcp", "db.internal:80"); err == nil {
		t.Error("the Dialer's Resolver should not know db.internal")
	}
	// ListenConfig resolves the name it listens on.
	l, err := (&ListenConfig{Stack: sv, Resolver: &Resolver{Hosts: map[string][]netip.Addr{"me": {netip.MustParseAddr("198.18.0.2")}}}}).Listen(context.Background(), "tcp", "me:81")
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Addr().String(); got != "198.18.0.2:81" {
		t.Errorf("listening on %s", got)
	}
	l.Close()
	var _ net.Listener = l
}
