package stack

import (
	"context"
	"errors"
	"github.com/synack/synack/tcp"
	"github.com/synack/synack/wire"
	"io"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"
)

// The forwarding tests put a client stack (198.18.0.1) and a gateway
// stack (198.18.0.2) on one pipe. The client's default route points into
// the pipe, so it reaches any address through the gateway; the gateway
// owns none of those addresses and terminates them with its forwarders.
var (
	farTCP = netip.MustParseAddrPort("198.19.5.5:443")
	farUDP = netip.MustParseAddrPort("198.19.5.5:53")
)

// forwardPair returns a client and a gateway stack, and a channel that
// receives every TCP request the gateway's forwarder is handed (the test
// decides them).
func forwardPair(t *testing.T, maxPending int) (cl, gw *Stack, reqs chan *TCPRequest) {
	t.Helper()
	cl, gw = pair(t, Options{}, Options{})
	reqs = make(chan *TCPRequest, 16)
	gw.ForwardTCP(maxPending, func(r *TCPRequest) { reqs <- r })
	return cl, gw, reqs
}

func nextRequest(t *testing.T, reqs chan *TCPRequest) *TCPRequest {
	t.Helper()
	select {
	case r := <-reqs:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no forward request")
		return nil
	}
}

func TestForwardTCPAcceptCarriesDataBothWays(t *testing.T) {
	cl, gw, reqs := forwardPair(t, 0)
	type dialed struct {
		c   *Conn
		err error
	}
	dch := make(chan dialed, 1)
	go func() {
		c, err := cl.Dial("tcp", farTCP.String())
		dch <- dialed{c, err}
	}()
	r := nextRequest(t, reqs)
	if r.LocalAddr() != farTCP || r.RemoteAddr().Addr() != clientAddr {
		t.Fatalf("request %v → %v, want from %v to %v", r.RemoteAddr(), r.LocalAddr(), clientAddr, farTCP)
	}
	if o := r.SYNOptions(); !o.HasMSS || o.MSS != 1460 || !o.SACKPermitted || !o.HasTimestamps {
		t.Fatalf("SYN options %+v: want MSS 1460, SACK permitted, timestamps", o)
	}
	sc, err := r.Accept(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	d := <-dch
	if d.err != nil {
		t.Fatal(d.err)
	}
	c := d.c
	defer c.Close()
	defer sc.Close()
	if sc.LocalAddrPort() != farTCP || c.RemoteAddrPort() != farTCP || sc.RemoteAddrPort() != c.LocalAddrPort() {
		t.Fatalf("gateway side %v ↔ %v, client side %v ↔ %v", sc.LocalAddrPort(), sc.RemoteAddrPort(), c.LocalAddrPort(), c.RemoteAddrPort())
	}
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	c.CloseWrite()
	got, err := io.ReadAll(sc)
	if err != nil || string(got) != "ping" {
		t.Fatalf("gateway read %q, %v; want \"ping\" then EOF (half-close)", got, err)
	}
	if _, err := sc.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	sc.CloseWrite()
	got, err = io.ReadAll(c)
	if err != nil || string(got) != "pong" {
		t.Fatalf("client read %q, %v; want \"pong\" then EOF", got, err)
	}
	st := gw.Stats()
	if st.ForwardTCPRequests != 1 || st.ForwardTCPAccepted != 1 || st.ForwardTCPPending != 0 {
		t.Fatalf("forward stats %+v: want 1 request, 1 accepted, none pending", st)
	}
	if _, err := r.Accept(context.Background()); err == nil {
		t.Fatal("a second Accept of the same request succeeded")
	}
}

func TestForwardTCPRefusals(t *testing.T) {
	for _, tc := range []struct {
		how  Refusal
		want error
	}{
		{RefuseReset, syscall.ECONNREFUSED},
		{RefuseHostUnreachable, syscall.EHOSTUNREACH},
		{RefuseNetUnreachable, syscall.ENETUNREACH},
	} {
		cl, gw, reqs := forwardPair(t, 0)
		errc := make(chan error, 1)
		go func() {
			_, err := cl.Dial("tcp", farTCP.String())
			errc <- err
		}()
		nextRequest(t, reqs).Refuse(tc.how)
		select {
		case err := <-errc:
			if !errors.Is(err, tc.want) {
				t.Errorf("refusal %d: dial error %v, want %v", tc.how, err, tc.want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("refusal %d: the dial did not fail", tc.how)
		}
		if st := gw.Stats(); st.ForwardTCPRefused != 1 || st.ForwardTCPPending != 0 {
			t.Errorf("refusal %d: stats %+v", tc.how, st)
		}
	}
}

// While the handler decides, the client's retransmitted SYNs are absorbed:
// one request, not one per SYN; a silent refusal lets the client time out.
func TestForwardTCPSilenceAbsorbsRetransmittedSYNs(t *testing.T) {
	cl, gw, reqs := forwardPair(t, 0)
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
		defer cancel()
		_, err := cl.DialContext(ctx, "tcp", farTCP.String())
		errc <- err
	}()
	r := nextRequest(t, reqs)
	time.Sleep(1500 * time.Millisecond) // the client's SYN is retransmitted at 1 s
	if st := gw.Stats(); st.ForwardTCPRequests != 1 || st.ForwardTCPPending != 1 {
		t.Fatalf("after a retransmitted SYN: stats %+v, want 1 request pending", st)
	}
	r.Refuse(RefuseSilently)
	if err := <-errc; err == nil || errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial error %v, want a timeout", err)
	}
}

func TestForwardTCPBoundsPendingRequests(t *testing.T) {
	cl, gw, reqs := forwardPair(t, 1)
	for range 2 {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			cl.DialContext(ctx, "tcp", farTCP.String())
		}()
	}
	r := nextRequest(t, reqs)
	eventually(t, "the second SYN dropped", func() bool { return gw.Stats().ForwardTCPDropped >= 1 })
	if st := gw.Stats(); st.ForwardTCPRequests != 1 || st.ForwardTCPPending != 1 {
		t.Fatalf("stats %+v, want 1 request pending", st)
	}
	r.Refuse(RefuseReset)
}

// Listeners keep priority: one bound to the far address takes its
// connections; a wildcard listener takes only the gateway's own addresses,
// and the forwarder the rest.
func TestForwardTCPListenersFirst(t *testing.T) {
	cl, gw, reqs := forwardPair(t, 0)
	exact, err := gw.Listen("tcp", farTCP.String())
	if err != nil {
		t.Fatal(err)
	}
	defer exact.Close()
	wild, err := gw.Listen("tcp", ":444")
	if err != nil {
		t.Fatal(err)
	}
	defer wild.Close()
	go func() {
		if c, err := exact.Accept(); err == nil {
			c.Close()
		}
	}()
	c, err := cl.Dial("tcp", farTCP.String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	go func() {
		if c, err := wild.Accept(); err == nil {
			c.Close()
		}
	}()
	c, err = cl.Dial("tcp", "198.18.0.2:444")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	go cl.Dial("tcp", "198.19.5.5:444")
	if r := nextRequest(t, reqs); r.LocalAddr() != netip.MustParseAddrPort("198.19.5.5:444") {
		t.Fatalf("forwarded %v", r.LocalAddr())
	} else {
		r.Refuse(RefuseReset)
	}
	if st := gw.Stats(); st.ForwardTCPRequests != 1 {
		t.Fatalf("stats %+v: only the far address on the wildcard's port is forwarded", st)
	}
}

func TestForwardUDPFlowEchoesAndIdlesOut(t *testing.T) {
	cl, gw := pair(t, Options{}, Options{})
	flows := make(chan *UDPFlow, 4)
	gw.ForwardUDP(UDPForwardConfig{IdleTimeout: 300 * time.Millisecond}, func(f *UDPFlow) {
		flows <- f
		buf := make([]byte, 1500)
		for {
			n, err := f.Read(buf)
			if err != nil {
				return
			}
			f.Write(append([]byte("re:"), buf[:n]...))
		}
	})
	u, err := cl.DialUDP("udp", farUDP.String())
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	u.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 100)
	for _, q := range []string{"a", "b"} {
		if _, err := u.Write([]byte(q)); err != nil {
			t.Fatal(err)
		}
		n, from, err := u.ReadFromUDPAddrPort(buf)
		if err != nil || string(buf[:n]) != "re:"+q || from != farUDP {
			t.Fatalf("reply %q from %v, %v; want %q from %v", buf[:n], from, err, "re:"+q, farUDP)
		}
	}
	f := <-flows
	if f.LocalAddrPort() != farUDP || f.RemoteAddrPort() != u.LocalAddrPort() {
		t.Fatalf("flow %v ↔ %v", f.LocalAddrPort(), f.RemoteAddrPort())
	}
	if st := gw.Stats(); st.ForwardUDPFlows != 1 || st.ForwardUDPLive != 1 {
		t.Fatalf("stats %+v: want one live flow for both datagrams", st)
	}
	eventually(t, "the idle flow closed", func() bool { return gw.Stats().ForwardUDPLive == 0 })
	_, err = f.Read(buf)
	if err == nil || !errors.Is(err, net.ErrClosed) && !errors.Is(err, ErrFlowIdle) {
		t.Fatalf("read on an idle flow: %v", err)
	}
}

// A promiscuous stack answers pings for any address, unless told not to.
// (Manual mode: DeliverPacket processes the request before it returns.)
func TestPromiscuousEcho(t *testing.T) {
	_, gw, _ := manualPair(t, 1, tcp.Config{}, nil)
	far := netip.MustParseAddr("198.19.7.7")
	replies := func() uint64 {
		before := gw.Stats().EchoReplies
		gw.DeliverPacket(icmpPacket(clientAddr, far, wire.NewICMPEcho(wire.ICMPv4EchoRequest, 1, 1, nil)))
		return gw.Stats().EchoReplies - before
	}
	if n := replies(); n != 0 || gw.Stats().NotLocal != 1 {
		t.Fatalf("not promiscuous: %d replies, NotLocal %d; want 0 and 1", n, gw.Stats().NotLocal)
	}
	gw.SetPromiscuous(true)
	if n := replies(); n != 1 {
		t.Fatalf("promiscuous: %d replies for %v, want 1", n, far)
	}
	gw.SetPromiscuousEcho(false)
	if n := replies(); n != 0 {
		t.Fatalf("SetPromiscuousEcho(false): %d replies for %v, want 0", n, far)
	}
}
