package stack

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/synack/synack/tcp"
)

// fastOpenRound dials with Dialer.FastOpen, sends req, and has the server
// (accepting on ln) read it and answer; it returns both ends.
func fastOpenRound(t *testing.T, cl *Stack, ln *Listener, req string) (c, s *Conn) {
	t.Helper()
	d := &Dialer{Stack: cl, FastOpen: true, Timeout: 10 * time.Second}
	c, err := d.DialTCP(context.Background(), "tcp4", "198.18.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if !c.FastOpenPending() {
		t.Fatal("Dialer.FastOpen: the SYN did not wait for the first Write")
	}
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	s, err = ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	buf := make([]byte, len(req))
	if _, err := io.ReadFull(s, buf); err != nil || string(buf) != req {
		t.Fatalf("server read %q, %v", buf, err)
	}
	if _, err := s.Write([]byte("ok")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, buf[:2]); err != nil || string(buf[:2]) != "ok" {
		t.Fatalf("client read %q, %v", buf[:2], err)
	}
	return c, s
}

// The first Fast Open connection fetches the cookie; the second carries
// its request on the SYN, which the server accepts.
func TestFastOpenDialerAndListenConfig(t *testing.T) {
	cl, sv := pair(t, Options{}, Options{FastOpen: FastOpenClient | FastOpenServer})
	lc := &ListenConfig{Stack: sv, FastOpen: 4}
	nl, err := lc.Listen(context.Background(), "tcp4", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	ln := nl.(*keepAliveListener).Listener

	c, s := fastOpenRound(t, cl, ln, "first")
	if c.FastOpenSYNData() || s.FastOpenSYNData() {
		t.Error("the first connection had data on its SYN")
	}
	if st := sv.Stats().FastOpen; st.CookieReqs != 1 || st.Passive != 0 {
		t.Errorf("server after the first: %+v", st)
	}
	c, s = fastOpenRound(t, cl, ln, "second")
	if !c.FastOpenSYNData() || !s.FastOpenSYNData() {
		t.Errorf("the second connection: SYN data client %v server %v, want both", c.FastOpenSYNData(), s.FastOpenSYNData())
	}
	if st := sv.Stats().FastOpen; st.Passive != 1 {
		t.Errorf("server after the second: %+v", st)
	}
	if st := cl.Stats().FastOpen; st.Active != 1 || st.ActiveFail != 0 {
		t.Errorf("client: %+v", st)
	}
}

// Key rotation: a cookie made with the old key (now the backup) is still
// accepted, and answered with a fresh one; once the old key is gone, a
// stale cookie is refused, the data is sent again after the handshake,
// and the cookie the SYN-ACK brought works next time.
func TestFastOpenKeyRotation(t *testing.T) {
	k1, k2, k3 := tcp.NewFastOpenKey([]byte("one")), tcp.NewFastOpenKey([]byte("two")), tcp.NewFastOpenKey([]byte("three"))
	cl, sv := pair(t, Options{}, Options{FastOpen: FastOpenClient | FastOpenServer, FastOpenKey: &k1})
	ln, err := sv.Listen("tcp4", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ln.SetFastOpen(4)
	fastOpenRound(t, cl, ln, "cookie please")

	sv.SetFastOpenKey(k2, &k1)
	if c, s := fastOpenRound(t, cl, ln, "old key"); !c.FastOpenSYNData() || !s.FastOpenSYNData() {
		t.Error("a cookie of the backup key was refused")
	}
	sv.SetFastOpenKey(k3, nil)
	if c, s := fastOpenRound(t, cl, ln, "stale"); c.FastOpenSYNData() || s.FastOpenSYNData() {
		t.Error("a cookie of a forgotten key was accepted")
	}
	if c, s := fastOpenRound(t, cl, ln, "fresh"); !c.FastOpenSYNData() || !s.FastOpenSYNData() {
		t.Error("the cookie of the refusal's SYN-ACK was not used")
	}
	if st := sv.Stats().FastOpen; st.Passive != 2 || st.PassiveFail != 1 || st.CookieReqs != 1 {
		t.Errorf("server: %+v", st)
	}
	if st := cl.Stats().FastOpen; st.Active != 2 || st.ActiveFail != 1 {
		t.Errorf("client: %+v", st)
	}
}

// A listener without Fast Open, or a stack without the server bit, takes
// no data from a SYN and gives no cookie.
func TestFastOpenServerOff(t *testing.T) {
	cl, sv := pair(t, Options{}, Options{})
	ln, err := sv.Listen("tcp4", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ln.SetFastOpen(4) // the stack's mode (the default: client only) does not allow it
	for _, req := range []string{"one", "two"} {
		if c, s := fastOpenRound(t, cl, ln, req); c.FastOpenSYNData() || s.FastOpenSYNData() {
			t.Errorf("%s: data on the SYN taken", req)
		}
	}
	if st := sv.Stats().FastOpen; st != (FastOpenStats{}) {
		t.Errorf("server: %+v", st)
	}
}
