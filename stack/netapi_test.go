package stack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests make the same calls on the kernel's sockets through package
// net (on 127.0.0.1 only) and on synack's, and compare what they return.

// outcome describes a call's result in terms both sides share: the byte
// count, and the error's operation, syscall and errno (or its text).
func outcome(n int, err error) string {
	if err == nil {
		return fmt.Sprintf("%d", n)
	}
	if err == io.EOF {
		return fmt.Sprintf("%d EOF", n)
	}
	s := fmt.Sprintf("%d", n)
	var oe *net.OpError
	if errors.As(err, &oe) {
		s += " op=" + oe.Op
	}
	var se *os.SyscallError
	if errors.As(err, &se) {
		s += " syscall=" + se.Syscall
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return s + " " + errno.Error()
	}
	// The text after the last ": " (net's errors are not all exported).
	msg := err.Error()
	return s + " " + msg[strings.LastIndex(msg, ": ")+1:]
}

// kernelPair returns a connected pair of the kernel's TCP sockets on
// 127.0.0.1.
func kernelPair(t *testing.T) (c, s *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cc, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cc.Close()
		sc.Close()
	})
	return cc.(*net.TCPConn), sc.(*net.TCPConn)
}

// kernelState is the TCP state of a kernel socket (tcpi_state).
func kernelState(t *testing.T, c *net.TCPConn) uint8 {
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var st uint8
	if err := raw.Control(func(fd uintptr) { st = tcpiState(int(fd)) }); err != nil {
		t.Fatal(err)
	}
	return st
}

// The peer aborts (SO_LINGER 0 and close: a RST). The error is reported
// once, to the first read or write; then reads see io.EOF and writes
// EPIPE.
func TestResetReportedOnce(t *testing.T) {
	if !haveTCPInfo {
		t.Skip("no TCP_INFO here to see the kernel's socket closed")
	}
	run := func(ops string, read func([]byte) (int, error), write func([]byte) (int, error)) string {
		var r []string
		for _, op := range ops {
			if op == 'W' {
				r = append(r, "W "+outcome(write([]byte("x"))))
			} else {
				r = append(r, "R "+outcome(read(make([]byte, 10))))
			}
		}
		return strings.Join(r, "; ")
	}
	for _, ops := range []string{"WWW", "RRR", "WR", "RW", "RWRW"} {
		kc, ks := kernelPair(t)
		ks.SetLinger(0)
		ks.Close()
		eventually(t, "the kernel's RST", func() bool { return kernelState(t, kc) == 7 }) // TCP_CLOSE
		want := run(ops, kc.Read, kc.Write)

		cl, sv := pair(t, Options{}, Options{})
		c, s := connected(t, cl, sv)
		s.SetLinger(0)
		s.Close()
		eventually(t, "synack's RST", func() bool { return c.Readiness().Err != nil })
		if got := run(ops, c.Read, c.Write); got != want {
			t.Errorf("%s after a RST:\nsynack %s\nkernel %s", ops, got, want)
		}
	}
}

// listenFull returns the address of a kernel listener on 127.0.0.1 whose
// accept queue is full: a connect to it gets no SYN-ACK and waits.
func listenFull(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "listener")
	t.Cleanup(func() { f.Close() })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	// Fill the accept queue (backlog 0 holds one, sometimes two).
	for range 8 {
		c, err := net.DialTimeout("tcp4", addr, 300*time.Millisecond)
		if err != nil {
			return addr
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Fatal("the kernel's accept queue never filled")
	return ""
}

// A dial that runs out of time reports "i/o timeout", a net.Error whose
// Timeout is true, as net.Dial does; synack's error is also
// os.ErrDeadlineExceeded and context.DeadlineExceeded (net's is one or the
// other, depending on which fires first). A canceled one reports
// "operation was canceled", which is context.Canceled.
func TestDialDeadlineLikeNet(t *testing.T) {
	full := listenFull(t)
	kernel := map[string]error{}
	_, kernel["timeout"] = net.DialTimeout("tcp4", full, 100*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_, kernel["context deadline"] = (&net.Dialer{}).DialContext(ctx, "tcp4", full)
	cancel()
	_, kernel["deadline"] = (&net.Dialer{Deadline: time.Now().Add(100 * time.Millisecond)}).Dial("tcp4", full)
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, kernel["cancel"] = (&net.Dialer{}).DialContext(ctx, "tcp4", full)

	s := New(Options{})
	defer s.Close()
	if err := s.AddLink(blackHole(1500), netip.MustParsePrefix("198.18.0.1/24")); err != nil {
		t.Fatal(err)
	}
	const dst = "198.18.0.9:80"
	ours := map[string]error{}
	_, ours["timeout"] = (&Dialer{Stack: s, Timeout: 100 * time.Millisecond}).Dial("tcp4", dst)
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	_, ours["context deadline"] = s.DialContext(ctx, "tcp4", dst)
	cancel()
	_, ours["deadline"] = (&Dialer{Stack: s, Deadline: time.Now().Add(100 * time.Millisecond)}).Dial("tcp4", dst)
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, ours["cancel"] = s.DialContext(ctx, "tcp4", dst)

	for _, k := range []string{"timeout", "context deadline", "deadline", "cancel"} {
		kerr, err := kernel[k], ours[k]
		var kne, ne net.Error
		if !errors.As(kerr, &kne) || !errors.As(err, &ne) {
			t.Errorf("%s: kernel %v, synack %v: want net.Errors", k, kerr, err)
			continue
		}
		if got, want := outcome(0, err), outcome(0, kerr); got != want || ne.Timeout() != kne.Timeout() {
			t.Errorf("%s: synack %q (timeout %v), kernel %q (timeout %v)", k, err, ne.Timeout(), kerr, kne.Timeout())
		}
		if !strings.HasPrefix(err.Error(), "dial tcp4 "+dst+": ") {
			t.Errorf("%s: %q", k, err)
		}
		if k == "cancel" {
			if !errors.Is(err, context.Canceled) || !errors.Is(kerr, context.Canceled) {
				t.Errorf("cancel: synack %v, kernel %v: want context.Canceled", err, kerr)
			}
			continue
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: %v is not os.ErrDeadlineExceeded and context.DeadlineExceeded", k, err)
		}
		if !errors.Is(kerr, os.ErrDeadlineExceeded) && !errors.Is(kerr, context.DeadlineExceeded) {
			t.Errorf("%s: the kernel's %v is neither", k, kerr)
		}
	}
}

// connPair is a connected pair: the kernel's on 127.0.0.1 or synack's.
type connPair struct {
	c, s interface {
		net.Conn
		io.ReaderFrom
		io.WriterTo
		CloseWrite() error
		SetLinger(int) error
	}
	reset func() bool // c has received a RST
}

func kernelConnPair(t *testing.T) connPair {
	c, s := kernelPair(t)
	return connPair{c, s, func() bool { return kernelState(t, c) == 7 }}
}

func synackConnPair(t *testing.T) connPair {
	cl, sv := pair(t, Options{}, Options{})
	c, s := connected(t, cl, sv)
	return connPair{c, s, func() bool { return c.Readiness().Err != nil }}
}

// ReadFrom and WriteTo (io.Copy's fast paths) move a stream whole and
// report errors as *net.TCPConn's do.
func TestReadFromWriteToLikeNet(t *testing.T) {
	if !haveTCPInfo {
		t.Skip("no TCP_INFO here to see the kernel's socket closed")
	}
	data := make([]byte, 1<<20+17)
	for i := range data {
		data[i] = byte(i * 7)
	}
	run := func(p connPair) []string {
		var r []string
		done := make(chan string, 1)
		go func() {
			var got strings.Builder
			n, err := p.s.WriteTo(&got)
			ok := got.String() == string(data)
			done <- fmt.Sprintf("WriteTo %s same=%v", outcome(int(n), err), ok)
		}()
		n, err := p.c.ReadFrom(bytes.NewReader(data))
		r = append(r, "ReadFrom "+outcome(int(n), err))
		p.c.CloseWrite()
		r = append(r, <-done)
		// io.Copy takes them.
		n64, err := io.Copy(p.c, strings.NewReader("after"))
		r = append(r, "io.Copy "+outcome(int(n64), err))
		// After the peer's abort, then on a closed connection.
		p.s.SetLinger(0)
		p.s.Close()
		eventually(t, "the RST", p.reset)
		n, err = p.c.ReadFrom(strings.NewReader("x"))
		r = append(r, "ReadFrom after RST "+outcome(int(n), err))
		n, err = p.c.WriteTo(io.Discard)
		r = append(r, "WriteTo after RST "+outcome(int(n), err))
		p.c.Close()
		n, err = p.c.ReadFrom(strings.NewReader("x"))
		r = append(r, "ReadFrom closed "+outcome(int(n), err))
		n, err = p.c.WriteTo(io.Discard)
		r = append(r, "WriteTo closed "+outcome(int(n), err))
		return r
	}
	want, got := run(kernelConnPair(t)), run(synackConnPair(t))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("synack:\n%s\nkernel:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// udpSocket is what both *net.UDPConn and *UDPConn offer.
type udpSocket interface {
	net.PacketConn
	ReadFromUDP([]byte) (int, *net.UDPAddr, error)
	WriteToUDP([]byte, *net.UDPAddr) (int, error)
	ReadMsgUDP(b, oob []byte) (n, oobn, flags int, addr *net.UDPAddr, err error)
	WriteMsgUDP(b, oob []byte, addr *net.UDPAddr) (n, oobn int, err error)
	ReadMsgUDPAddrPort(b, oob []byte) (n, oobn, flags int, addr netip.AddrPort, err error)
	WriteMsgUDPAddrPort(b, oob []byte, addr netip.AddrPort) (n, oobn int, err error)
	SetReadBuffer(int) error
	SetWriteBuffer(int) error
	Write([]byte) (int, error)
}

// The *net.UDPConn methods, called the same way on two kernel sockets on
// 127.0.0.1 and on two synack sockets: same results.
func TestUDPConnLikeNet(t *testing.T) {
	run := func(a, b, d udpSocket) []string {
		var r []string
		add := func(what string, n int, err error) { r = append(r, what+" "+outcome(n, err)) }
		baddr := b.LocalAddr().(*net.UDPAddr)
		aport := a.LocalAddr().(*net.UDPAddr).Port
		buf := make([]byte, 100)
		oob := make([]byte, 64)
		for _, s := range []udpSocket{a, b, d} {
			s.SetDeadline(time.Now().Add(5 * time.Second))
		}

		n, err := a.WriteToUDP([]byte("0123456789"), baddr)
		add("WriteToUDP", n, err)
		n, oobn, flags, from, err := b.ReadMsgUDP(buf[:4], oob)
		add(fmt.Sprintf("ReadMsgUDP oobn=%d trunc=%v from-a=%v", oobn, flags&syscall.MSG_TRUNC != 0, from != nil && from.Port == aport), n, err)
		n, oobn, err = a.WriteMsgUDP([]byte("hello"), nil, baddr)
		add(fmt.Sprintf("WriteMsgUDP oobn=%d", oobn), n, err)
		n, from, err = b.ReadFromUDP(buf)
		add(fmt.Sprintf("ReadFromUDP %q from-a=%v", buf[:n], from != nil && from.Port == aport), n, err)
		n, oobn, err = a.WriteMsgUDPAddrPort([]byte("abc"), nil, baddr.AddrPort())
		add(fmt.Sprintf("WriteMsgUDPAddrPort oobn=%d", oobn), n, err)
		n, oobn, flags, fromAP, err := b.ReadMsgUDPAddrPort(buf, oob)
		add(fmt.Sprintf("ReadMsgUDPAddrPort oobn=%d trunc=%v from-a=%v", oobn, flags&syscall.MSG_TRUNC != 0, int(fromAP.Port()) == aport), n, err)

		n, err = a.WriteToUDP([]byte("x"), nil)
		add("WriteToUDP nil", n, err)
		n, _, err = a.WriteMsgUDP([]byte("x"), nil, nil)
		add("WriteMsgUDP nil", n, err)
		// d is connected to b.
		n, err = d.WriteToUDP([]byte("x"), baddr)
		add("connected WriteToUDP", n, err)
		n, _, err = d.WriteMsgUDP([]byte("x"), nil, baddr)
		add("connected WriteMsgUDP addr", n, err)
		n, _, err = d.WriteMsgUDP([]byte("via"), nil, nil)
		add("connected WriteMsgUDP nil", n, err)
		n, _, err = b.ReadFromUDP(buf)
		add(fmt.Sprintf("ReadFromUDP %q", buf[:n]), n, err)

		add("SetReadBuffer(-1)", 0, a.SetReadBuffer(-1))
		add("SetReadBuffer(8192)", 0, a.SetReadBuffer(8192))
		add("SetWriteBuffer(-1)", 0, a.SetWriteBuffer(-1))
		add("SetWriteBuffer(8192)", 0, a.SetWriteBuffer(8192))
		a.Close()
		n, err = a.WriteToUDP([]byte("x"), baddr)
		add("closed WriteToUDP", n, err)
		n, _, err = a.ReadFromUDP(buf)
		add("closed ReadFromUDP", n, err)
		add("closed SetReadBuffer", 0, a.SetReadBuffer(1))
		return r
	}

	ka, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ka.Close()
	kb, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer kb.Close()
	kd, err := net.DialUDP("udp4", nil, kb.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer kd.Close()
	want := run(ka, kb, kd)

	cl, sv := pair(t, Options{}, Options{})
	sa, err := cl.ListenUDP("udp4", "198.18.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sb, err := sv.ListenUDP("udp4", "198.18.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	sd, err := cl.DialUDP("udp4", sb.LocalAddrPort().String())
	if err != nil {
		t.Fatal(err)
	}
	got := run(sa, sb, sd)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("synack:\n%s\nkernel:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
