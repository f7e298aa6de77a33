package gateway

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/synack/synack/link"
	"github.com/synack/synack/stack"
	"github.com/synack/synack/wire"
)

// Three stacks on two pipes: a client (198.18.0.1) whose default route
// goes to the gateway (198.18.0.2); the gateway reaches the "internet"
// through an Upstream that dials a third stack, the server (198.19.0.1),
// on a pipe of its own — what the host's sockets would do.
type net3 struct {
	client, gw, server *stack.Stack
	g                  *Gateway
	flows              chan Flow
}

// stackUpstream dials through a synack stack.
type stackUpstream struct{ s *stack.Stack }

func (u stackUpstream) DialTCP(ctx context.Context, dst netip.AddrPort) (net.Conn, error) {
	return u.s.DialTCP(ctx, netip.AddrPort{}, dst)
}

func (u stackUpstream) DialUDP(_ context.Context, dst netip.AddrPort) (net.Conn, error) {
	return u.s.DialUDP("udp4", dst.String())
}

// Ping makes stackUpstream a Pinger, through a synack ping socket.
func (u stackUpstream) Ping(ctx context.Context, dst netip.Addr, seq uint16, data []byte) error {
	c, err := u.s.DialPing(netip.Addr{}, dst)
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetReadDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if _, err := c.Write(echoRequest(seq, data)); err != nil {
		return err
	}
	buf := make([]byte, 1500)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return err
		}
		if n >= wire.ICMPHeaderLen && binary.BigEndian.Uint16(buf[6:]) == seq {
			return nil
		}
	}
}

// echoRequest is an ICMP echo request as a ping socket's user writes it.
func echoRequest(seq uint16, data []byte) []byte {
	return append([]byte{wire.ICMPv4EchoRequest, 0, 0, 0, 0, 0, byte(seq >> 8), byte(seq)}, data...)
}

// noPing is an Upstream that cannot ping (only the Upstream methods of
// the one it wraps show).
type noPing struct{ Upstream }

// newNet3 builds the three stacks and the gateway; wrap, if given,
// wraps the gateway's upstream.
func newNet3(t *testing.T, wrap ...func(Upstream) Upstream) *net3 {
	t.Helper()
	a, b := link.Pipe(1500)
	c, d := link.Pipe(1500)
	n := &net3{client: stack.New(stack.Options{}), gw: stack.New(stack.Options{}), server: stack.New(stack.Options{}),
		flows: make(chan Flow, 64)}
	up := stack.New(stack.Options{}) // the gateway's "host sockets"
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(n.client.AddLink(a, netip.MustParsePrefix("198.18.0.1/24")))
	must(n.gw.AddLink(b, netip.MustParsePrefix("198.18.0.2/24")))
	must(up.AddLink(c, netip.MustParsePrefix("198.19.0.2/24")))
	must(n.server.AddLink(d, netip.MustParsePrefix("198.19.0.1/24")))
	var upstream Upstream = stackUpstream{up}
	for _, w := range wrap {
		upstream = w(upstream)
	}
	n.g = New(n.gw, Config{Upstream: upstream, DialTimeout: 2 * time.Second, UDPIdle: time.Second,
		Log: func(f Flow) { n.flows <- f }})
	t.Cleanup(func() {
		n.g.Close()
		for _, s := range []*stack.Stack{n.client, n.gw, up, n.server} {
			s.Close()
		}
	})
	return n
}

func (n *net3) flow(t *testing.T) Flow {
	t.Helper()
	select {
	case f := <-n.flows:
		return f
	case <-time.After(10 * time.Second):
		t.Fatal("no flow record")
		return Flow{}
	}
}

func TestRelayCarriesHalfClosesBothWays(t *testing.T) {
	n := newNet3(t)
	ln, err := n.server.Listen("tcp", "198.19.0.1:7")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srv := make(chan string, 1)
	go func() {
		c, err := ln.AcceptTCP()
		if err != nil {
			return
		}
		defer c.Close()
		io.WriteString(c, "banner")
		c.CloseWrite() // the server half-closes first
		b, _ := io.ReadAll(c)
		srv <- string(b)
	}()
	c, err := n.client.Dial("tcp", "198.19.0.1:7")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "banner" {
		t.Fatalf("client read %q, %v; want the banner then EOF", b, err)
	}
	io.WriteString(c, "late words")
	c.CloseWrite()
	if got := <-srv; got != "late words" {
		t.Fatalf("server read %q after its FIN", got)
	}
	c.Close()
	f := n.flow(t)
	if f.Proto != "tcp" || f.Dest != netip.MustParseAddrPort("198.19.0.1:7") || f.End != "closed" ||
		f.BytesUp != 10 || f.BytesDown != 6 {
		t.Fatalf("flow %+v", f)
	}
}

func TestRelayRefusesLikeTheDestination(t *testing.T) {
	n := newNet3(t)
	_, err := n.client.Dial("tcp", "198.19.0.1:9")
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial to a closed port through the gateway: %v; want ECONNREFUSED", err)
	}
	if f := n.flow(t); f.End != "refused" {
		t.Fatalf("flow %+v", f)
	}
	// Nothing answers 198.19.0.9: the upstream dial times out, and the
	// client with it (its SYNs were never answered).
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	_, err = n.client.DialContext(ctx, "tcp", "198.19.0.9:80")
	if err == nil || errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial to a silent address: %v; want a timeout", err)
	}
	if f := n.flow(t); f.End != "timeout" {
		t.Fatalf("flow %+v", f)
	}
	// The SYN the client sent after the silence asked again.
	if st := n.g.Stats(); st.Refused < 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRelayPassesResets(t *testing.T) {
	n := newNet3(t)
	ln, err := n.server.Listen("tcp", "198.19.0.1:7")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.AcceptTCP()
		if err != nil {
			return
		}
		c.Read(make([]byte, 1))
		c.SetLinger(0)
		c.Close() // RST
	}()
	c, err := n.client.Dial("tcp", "198.19.0.1:7")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("x"))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("client read after the server's reset: %v; want ECONNRESET", err)
	}
	if f := n.flow(t); f.End != "reset by destination" {
		t.Fatalf("flow %+v", f)
	}
}

func TestRelayUDP(t *testing.T) {
	n := newNet3(t)
	srv, err := n.server.ListenUDP("udp4", "198.19.0.1:53")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	go func() {
		buf := make([]byte, 512)
		for {
			m, from, err := srv.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			srv.WriteToUDPAddrPort([]byte(strings.ToUpper(string(buf[:m]))), from)
		}
	}()
	u, err := n.client.DialUDP("udp4", "198.19.0.1:53")
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	u.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 512)
	for _, q := range []string{"query", "again"} {
		u.Write([]byte(q))
		m, err := u.Read(buf)
		if err != nil || string(buf[:m]) != strings.ToUpper(q) {
			t.Fatalf("answer %q, %v", buf[:m], err)
		}
	}
	f := n.flow(t) // after the idle timeout
	if f.Proto != "udp" || f.End != "idle" || f.BytesUp != 10 || f.BytesDown != 10 {
		t.Fatalf("flow %+v", f)
	}
}

// Many flows at once, and nothing left afterwards.
func TestRelayManyFlows(t *testing.T) {
	n := newNet3(t)
	// Room for every connection in the accept queue: a full queue would
	// stall upstream dials past the short DialTimeout of newNet3.
	ln, err := n.server.ListenBacklog("tcp", "198.19.0.1:7", 512)
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
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	const flows = 200
	var wg sync.WaitGroup
	errs := make(chan error, flows)
	for range flows {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := n.client.Dial("tcp", "198.19.0.1:7")
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.Write([]byte("ping"))
			c.CloseWrite()
			b, err := io.ReadAll(c)
			if err != nil || string(b) != "ping" {
				errs <- errors.New("bad echo")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for range flows {
		n.flow(t)
	}
	if st := n.g.Stats(); st.TCPOpen != 0 || st.TCPTotal != flows {
		t.Fatalf("stats %+v", st)
	}
}

// Pings go through a Pinger upstream: the client's ping socket gets the
// destination's reply, and none for an address nobody holds; with an
// upstream that cannot ping, the gateway's stack answers every address.
func TestRelayPing(t *testing.T) {
	ping := func(s *stack.Stack, to string, wait time.Duration) error {
		c, err := s.DialPing(netip.Addr{}, netip.MustParseAddr(to))
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(wait))
		if _, err := c.Write(echoRequest(7, []byte("abc"))); err != nil {
			return err
		}
		buf := make([]byte, 100)
		n, err := c.Read(buf)
		if err == nil && (n != 11 || buf[0] != wire.ICMPv4EchoReply || buf[7] != 7 || string(buf[8:n]) != "abc") {
			return fmt.Errorf("reply %x", buf[:n])
		}
		return err
	}
	n := newNet3(t)
	if err := ping(n.client, "198.19.0.1", 5*time.Second); err != nil {
		t.Fatalf("ping through the gateway to the server: %v", err)
	}
	if err := ping(n.client, "198.19.0.77", 500*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("ping to an address nobody holds: %v; want no reply", err)
	}
	if st := n.g.Stats(); st.Pings != 2 || st.PingReplies != 1 {
		t.Fatalf("stats %+v: want 2 pings forwarded, 1 answered", st)
	}

	n = newNet3(t, func(u Upstream) Upstream { return noPing{u} })
	if err := ping(n.client, "198.19.0.77", 5*time.Second); err != nil {
		t.Fatalf("without a Pinger the gateway answers itself: %v", err)
	}
	if st := n.g.Stats(); st.Pings != 0 {
		t.Fatalf("stats %+v: nothing forwarded without a Pinger", st)
	}
}
