package stack

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/synack/synack/tcp"
)

func TestDialAcceptEcho(t *testing.T) {
	for _, tc := range []struct{ network, laddr, raddr string }{
		{"tcp", "198.18.0.2:80", "198.18.0.2:80"},
		{"tcp4", ":80", "198.18.0.2:80"},
		{"tcp6", "[2001:db8::2]:80", "[2001:db8::2]:80"},
		{"tcp", ":80", "[2001:db8::2]:80"},
	} {
		t.Run(tc.network+" "+tc.raddr+" via "+tc.laddr, func(t *testing.T) {
			cl, sv := pair(t, Options{}, Options{})
			ln, err := sv.Listen(tc.network, tc.laddr)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			done := make(chan error, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					done <- err
					return
				}
				defer c.Close()
				_, err = io.Copy(c, c)
				done <- err
			}()
			c, err := cl.Dial(tc.network, tc.raddr)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.RemoteAddr().String(); got != tc.raddr {
				t.Errorf("RemoteAddr = %s; want %s", got, tc.raddr)
			}
			if st := c.State(); st != tcp.StateEstablished {
				t.Errorf("State = %v; want ESTABLISHED", st)
			}
			msg := bytes.Repeat([]byte("synack "), 10000)
			go func() {
				c.Write(msg)
				c.CloseWrite()
			}()
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, msg) {
				t.Fatalf("echoed %d bytes; want the %d sent", len(got), len(msg))
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestManyConnections(t *testing.T) {
	// A short MSL, so that the clients' TIME-WAIT ends within the test.
	cl, sv := pair(t, Options{TCP: tcp.Config{MSL: 5 * time.Millisecond}}, Options{})
	const n = 200
	// An accept queue as long as the burst: when it overflows, the
	// connection is reset (see TestAcceptQueueOverflow).
	ln, err := sv.ListenBacklog("tcp", ":7", n)
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
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := cl.Dial("tcp", "198.18.0.2:7")
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			msg := bytes.Repeat([]byte{byte(i)}, 3000+i)
			if _, err := c.Write(msg); err != nil {
				errs <- err
				return
			}
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(c, got); err != nil {
				errs <- err
				return
			}
			if !bytes.Equal(got, msg) {
				errs <- errors.New("echo mismatch")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	eventually(t, "every connection to go", func() bool {
		return cl.Stats().Connections == 0 && sv.Stats().Connections == 0
	})
	if s := cl.Stats(); s.ActiveOpens != n {
		t.Errorf("client ActiveOpens = %d; want %d", s.ActiveOpens, n)
	}
	if s := sv.Stats(); s.PassiveOpens != n {
		t.Errorf("server PassiveOpens = %d; want %d", s.PassiveOpens, n)
	}
}

func TestHalfClose(t *testing.T) {
	cl, sv := pair(t, Options{}, Options{})
	c, s := connected(t, cl, sv)

	// Client → server closed; server → client still works.
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(s)
	if err != nil || string(got) != "ping" {
		t.Fatalf("server read %q, %v; want \"ping\", nil", got, err)
	}
	if n, err := s.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("server read after EOF: %d, %v; want 0, io.EOF", n, err)
	}
	if _, err := s.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "pong" {
		t.Fatalf("client read %q, %v; want \"pong\"", buf, err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("write after CloseWrite: %v; want EPIPE", err)
	}
	// And the other way.
	if err := s.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("client read after server CloseWrite: %d, %v; want 0, io.EOF", n, err)
	}
	eventually(t, "client TIME-WAIT", func() bool { return c.State() == tcp.StateTimeWait })
	eventually(t, "server CLOSED", func() bool { return s.State() == tcp.StateClosed })
}

func TestCloseWithUnreadDataResets(t *testing.T) {
	cl, sv := pair(t, Options{}, Options{})
	c, s := connected(t, cl, sv)
	if _, err := c.Write([]byte("unread")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "data at the server", func() bool { return s.Info().RcvNxt-s.Info().IRS == 7 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := c.Read(make([]byte, 10))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read after the peer closed with unread data: %v; want ECONNRESET", err)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "read" {
		t.Fatalf("error %#v is not a read *net.OpError", err)
	}
	var se *os.SyscallError
	if !errors.As(err, &se) {
		t.Fatalf("error %v does not wrap an *os.SyscallError", err)
	}
}

func TestLingerZeroResets(t *testing.T) {
	cl, sv := pair(t, Options{}, Options{})
	c, s := connected(t, cl, sv)
	if err := c.SetLinger(0); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read after the peer's abort: %v; want ECONNRESET", err)
	}
	// The error was reported once (by the read): as on Linux, writes
	// now fail with EPIPE (TestResetReportedOnce compares with the kernel).
	if _, err := s.Write([]byte("x")); !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("write after the peer's abort: %v; want EPIPE", err)
	}
	if st := c.State(); st != tcp.StateClosed {
		t.Errorf("state after abort = %v; want CLOSED", st)
	}
}

func TestLingerPositiveWaitsForAck(t *testing.T) {
	cl, sv := pair(t, Options{}, Options{})
	c, s := connected(t, cl, sv)
	if err := c.SetLinger(5); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(make([]byte, 100000)); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, s)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if st := c.State(); st != tcp.StateFinWait2 && st != tcp.StateTimeWait {
		t.Fatalf("state after a lingering Close = %v; want FIN-WAIT-2 or TIME-WAIT", st)
	}
	if info := c.Info(); info.SndUna != info.SndNxt {
		t.Errorf("SND.UNA %d != SND.NXT %d after a lingering Close", info.SndUna, info.SndNxt)
	}
}

func TestConnectRefused(t *testing.T) {
	cl, sv := pair(t, Options{}, Options{})
	_, err := cl.Dial("tcp", "198.18.0.2:81")
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial to a closed port: %v; want ECONNREFUSED", err)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "dial" || oe.Net != "tcp" || oe.Addr.String() != "198.18.0.2:81" {
		t.Fatalf("error %#v is not the dial *net.OpError expected", err)
	}
	if got := sv.Stats().ResetsSent; got != 1 {
		t.Errorf("server ResetsSent = %d; want 1", got)
	}
	if got := cl.Stats().Connections; got != 0 {
		t.Errorf("client Connections = %d; want 0", got)
	}
}

func TestConnectTimeout(t *testing.T) {
	cl := New(Options{TCP: tcp.Config{InitialRTO: 10 * time.Millisecond, SynRetries: 2}})
	defer cl.Close()
	if err := cl.AddLink(blackHole(1500), netip.MustParsePrefix("198.18.0.1/24")); err != nil {
		t.Fatal(err)
	}
	_, err := cl.Dial("tcp", "198.18.0.9:80")
	if !errors.Is(err, syscall.ETIMEDOUT) {
		t.Fatalf("dial into a black hole: %v; want ETIMEDOUT", err)
	}
	if got := cl.Stats().PacketsOut; got != 3 {
		t.Errorf("PacketsOut = %d; want 3 (SYN and 2 retries)", got)
	}

	// A context timeout stops it sooner.
	cl2 := New(Options{})
	defer cl2.Close()
	if err := cl2.AddLink(blackHole(1500), netip.MustParsePrefix("198.18.0.1/24")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = cl2.DialContext(ctx, "tcp", "198.18.0.9:80")
	var oe *net.OpError
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &oe) || !oe.Timeout() {
		t.Fatalf("dial with a context timeout: %v; want a timeout *net.OpError wrapping context.DeadlineExceeded", err)
	}
	if got := cl2.Stats().Connections; got != 0 {
		t.Errorf("Connections after a cancelled dial = %d; want 0", got)
	}
}

func TestNoRoute(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	if _, err := s.Dial("tcp", "198.18.0.2:80"); !errors.Is(err, syscall.ENETUNREACH) {
		t.Fatalf("dial with no links: %v; want ENETUNREACH", err)
	}
	if err := s.AddLink(blackHole(1500), netip.MustParsePrefix("198.18.0.1/24")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Dial("tcp6", "[2001:db8::2]:80"); !errors.Is(err, syscall.ENETUNREACH) {
		t.Fatalf("dial IPv6 with only IPv4 addresses: %v; want ENETUNREACH", err)
	}
}

func TestDeadlines(t *testing.T) {
	cl, sv := pair(t, Options{}, Options{})
	c, s := connected(t, cl, sv)

	isTimeout := func(err error) bool {
		var ne net.Error
		return errors.Is(err, os.ErrDeadlineExceeded) && errors.As(err, &ne) && ne.Timeout()
	}
	// A deadline in the past fails at once.
	c.SetReadDeadline(time.Now().Add(-time.Second))
	if _, err := c.Read(make([]byte, 1)); !isTimeout(err) {
		t.Fatalf("read past the deadline: %v; want a timeout", err)
	}
	// A future one fails when it passes.
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := c.Read(make([]byte, 1)); !isTimeout(err) {
		t.Fatalf("read until the deadline: %v; want a timeout", err)
	}
	// Clearing it lets data through again.
	c.SetReadDeadline(time.Time{})
	s.Write([]byte("x"))
	if n, err := c.Read(make([]byte, 1)); n != 1 || err != nil {
		t.Fatalf("read after clearing the deadline: %d, %v", n, err)
	}
	// A deadline set by another goroutine wakes a blocked Read.
	errc := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond)
	c.SetReadDeadline(time.Now())
	if err := <-errc; !isTimeout(err) {
		t.Fatalf("blocked read after SetReadDeadline(now): %v; want a timeout", err)
	}
	// Write deadline: fill the buffers the peer never drains. (Long
	// enough that a busy machine still starts the Write before it.)
	c.SetWriteDeadline(time.Now().Add(time.Second))
	n, err := c.Write(make([]byte, 4<<20))
	if !isTimeout(err) {
		t.Fatalf("write into a full window: %d, %v; want a timeout", n, err)
	}
	if n <= 0 || n >= 4<<20 {
		t.Errorf("write queued %d bytes before timing out; want some but not all", n)
	}
}

// A Read blocked with a deadline in real-time mode waits on its
// connection's wake-up channel alone: the shard's timers hold the
// deadline (the idle connection's engine has none sooner) and wake the
// Read when it passes; it then times out, on time.
func TestDeadline_KeptByShard(t *testing.T) {
	cl, sv := pair(t, Options{BusyPoll: -1}, Options{})
	c, _ := connected(t, cl, sv)
	start := time.Now()
	dl := start.Add(60 * time.Millisecond)
	c.SetReadDeadline(dl)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		errc <- err
	}()
	for {
		sh := c.sh
		sh.mu.Lock()
		n, at, want := c.rdW.n, c.timerAt, sh.mono(dl)
		sh.mu.Unlock()
		if n == 1 {
			if at != want {
				t.Fatalf("blocked Read: the shard holds the connection for %d; want its deadline, %d", at, want)
			}
			break
		}
		if time.Since(start) > time.Second {
			t.Fatal("the Read did not block")
		}
		time.Sleep(time.Millisecond)
	}
	err := <-errc
	el := time.Since(start)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("blocked Read: %v; want a timeout", err)
	}
	if el < 60*time.Millisecond || el > 500*time.Millisecond {
		t.Fatalf("the Read timed out after %v; want 60 ms", el)
	}
}

func TestUseAfterClose(t *testing.T) {
	cl, sv := pair(t, Options{}, Options{})
	c, _ := connected(t, cl, sv)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"Read":        func() error { _, err := c.Read(make([]byte, 1)); return err }(),
		"Write":       func() error { _, err := c.Write([]byte{1}); return err }(),
		"Close":       c.Close(),
		"SetDeadline": c.SetDeadline(time.Now()),
		"CloseWrite":  c.CloseWrite(),
	} {
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("%s after Close: %v; want net.ErrClosed", name, err)
		}
	}
}

func TestCloseWakesBlockedCalls(t *testing.T) {
	cl, sv := pair(t, Options{}, Options{})
	c, _ := connected(t, cl, sv)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond)
	c.Close()
	if err := <-errc; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("blocked read after Close: %v; want net.ErrClosed", err)
	}
}

func TestBadAddresses(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	for _, tc := range []struct{ network, address string }{
		{"udp", "198.18.0.2:80"},
		{"tcp", "198.18.0.2"},
		{"tcp", "198.18.0.2:99999"},
		{"tcp4", "[2001:db8::2]:80"},
		{"tcp6", "198.18.0.2:80"},
		{"tcp", ":80"},
		{"tcp", "198.18.0.2:0"},
	} {
		_, err := s.Dial(tc.network, tc.address)
		var oe *net.OpError
		if !errors.As(err, &oe) {
			t.Errorf("Dial(%q, %q) = %v; want a *net.OpError", tc.network, tc.address, err)
			continue
		}
		var ae *net.AddrError
		var ue net.UnknownNetworkError
		if !errors.As(err, &ae) && !errors.As(err, &ue) {
			t.Errorf("Dial(%q, %q) = %v; want an AddrError or UnknownNetworkError", tc.network, tc.address, err)
		}
	}
	if _, err := s.Listen("tcp", "198.18.0.7:80"); !errors.Is(err, syscall.EADDRNOTAVAIL) {
		t.Errorf("Listen on a foreign address: %v; want EADDRNOTAVAIL", err)
	}
	l, err := s.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := s.Listen("tcp4", ":80"); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("second Listen on :80: %v; want EADDRINUSE", err)
	}
}

// Buffers auto-tune by default; SetReadBuffer and SetWriteBuffer fix them
// on a live connection (SO_RCVBUF, SO_SNDBUF), and a negative size is
// EINVAL.
func TestSetBuffersOnLiveConn(t *testing.T) {
	cl, sv := pair(t, Options{}, Options{})
	c, s := connected(t, cl, sv)
	if i := c.Info(); i.SendBufferSize != 256<<10 || i.ReceiveBufferSize != 256<<10 || i.RcvWScale != 7 {
		t.Fatalf("defaults: send %d, receive %d, scale %d", i.SendBufferSize, i.ReceiveBufferSize, i.RcvWScale)
	}
	if err := c.SetReadBuffer(1 << 20); err != nil {
		t.Fatal(err)
	}
	if err := c.SetWriteBuffer(64 << 10); err != nil {
		t.Fatal(err)
	}
	if i := c.Info(); i.SendBufferSize != 64<<10 || i.ReceiveBufferSize != 1<<20 {
		t.Fatalf("after Set: send %d, receive %d", i.SendBufferSize, i.ReceiveBufferSize)
	}
	// The larger window reaches the peer with the next segment.
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the peer to see a 1 MiB window", func() bool { return s.Info().SndWnd > 256<<10 })
	err := c.SetWriteBuffer(-1)
	if !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("SetWriteBuffer(-1): %v, want EINVAL", err)
	}
}
