package stack

import (
	"net/netip"
	"testing"
	"time"

	"github.com/synack/synack/link"
)

var (
	clientAddr = netip.MustParseAddr("198.18.0.1")
	serverAddr = netip.MustParseAddr("198.18.0.2")
	client6    = netip.MustParseAddr("2001:db8::1")
	server6    = netip.MustParseAddr("2001:db8::2")
)

// pair returns two real-time stacks joined by a Pipe: the client owns
// 198.18.0.1 and 2001:db8::1, the server 198.18.0.2 and 2001:db8::2.
func pair(t testing.TB, copts, sopts Options) (cl, sv *Stack) {
	t.Helper()
	a, b := link.Pipe(1500)
	return pairOn(t, a, b, copts, sopts)
}

// pairOn is pair with the client on link a and the server on b.
func pairOn(t testing.TB, a, b link.Link, copts, sopts Options) (cl, sv *Stack) {
	t.Helper()
	cl, sv = New(copts), New(sopts)
	if err := cl.AddLink(a, netip.PrefixFrom(clientAddr, 24), netip.PrefixFrom(client6, 64)); err != nil {
		t.Fatal(err)
	}
	if err := sv.AddLink(b, netip.PrefixFrom(serverAddr, 24), netip.PrefixFrom(server6, 64)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cl.Close()
		sv.Close()
	})
	return cl, sv
}

// connected returns a client Conn and the server Conn it reached.
func connected(t testing.TB, cl, sv *Stack) (c, s *Conn) {
	t.Helper()
	return connectedAt(t, cl, sv, "198.18.0.2:80")
}

// connectedAt is connected to the server's address addr (IPv4 or IPv6).
func connectedAt(t testing.TB, cl, sv *Stack, addr string) (c, s *Conn) {
	t.Helper()
	ln, err := sv.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type res struct {
		c   *Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.AcceptTCP()
		ch <- res{c, err}
	}()
	c, err = cl.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() {
		c.SetLinger(0)
		r.c.SetLinger(0)
		c.Close()
		r.c.Close()
	})
	return c, r.c
}

// eventually polls cond every millisecond for up to 10 seconds.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// blackHole is a Pipe end whose far side drops everything.
func blackHole(mtu int) link.Link {
	a, b := link.Pipe(mtu)
	b.Attach(link.ReceiverFunc(func([]byte) {}))
	return a
}
