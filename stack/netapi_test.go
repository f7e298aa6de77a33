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

	"github.com/synack/synack/tcp"
	"golang.org/x/net/dns/dnsmessage"
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

func keepAliveString(on bool, idle, intvl, cnt int) string {
	if !on {
		return "off"
	}
	return fmt.Sprintf("idle %ds interval %ds count %d", idle, intvl, cnt)
}

// synackKeepAlive is a connection's keepalive as kernelKeepAlive reads it.
func synackKeepAlive(c *Conn) string {
	c.sh.mu.Lock()
	defer c.sh.mu.Unlock()
	ka := c.tcb.KeepAliveConfig()
	return keepAliveString(ka.Enable, int(ka.Idle/time.Second), int(ka.Interval/time.Second), ka.Count)
}

func kernelConnKeepAlive(t *testing.T, c net.Conn) string {
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var s string
	raw.Control(func(fd uintptr) { s = kernelKeepAlive(int(fd)) })
	return s
}

// A Dialer and a ListenConfig do what net's do: local address, Control
// (called with the network and address, its error aborting), keepalive
// settings and their defaults, errors.
func TestDialerListenConfigLikeNet(t *testing.T) {
	if !haveTCPInfo {
		t.Skip("kernel keepalive settings are read on Linux")
	}
	kas := []struct {
		name string
		ka   time.Duration
		cfg  net.KeepAliveConfig
	}{
		{"default", 0, net.KeepAliveConfig{}},
		{"off", -1, net.KeepAliveConfig{}},
		{"30s", 30 * time.Second, net.KeepAliveConfig{}},
		{"config", 0, net.KeepAliveConfig{Enable: true, Idle: 20 * time.Second, Interval: 5 * time.Second, Count: 3}},
	}
	// The kernel's.
	var kernel []string
	kln, err := (&net.ListenConfig{KeepAlive: -1}).Listen(context.Background(), "tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer kln.Close()
	kaddr := kln.Addr().String()
	for _, k := range kas {
		var calls []string
		d := net.Dialer{KeepAlive: k.ka, KeepAliveConfig: k.cfg, Control: func(network, address string, _ syscall.RawConn) error {
			calls = append(calls, network+" "+strings.Replace(address, kaddr, "ADDR", 1))
			return nil
		}}
		c, err := d.Dial("tcp4", kaddr)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := kln.Accept()
		kernel = append(kernel, fmt.Sprintf("dial %s: keepalive %s, control %q; accepted: %s", k.name, kernelConnKeepAlive(t, c), calls, kernelConnKeepAlive(t, s)))
		c.Close()
		s.Close()
	}
	// A local port the kernel has free.
	free, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lp := free.Addr().(*net.TCPAddr).Port
	free.Close()
	kd := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: lp}}
	if c, err := kd.Dial("tcp4", kaddr); err == nil {
		kernel = append(kernel, fmt.Sprintf("local port %v", c.LocalAddr().(*net.TCPAddr).Port == lp))
		c.Close()
	} else {
		kernel = append(kernel, "local port "+err.Error())
	}
	_, err = (&net.Dialer{Control: func(string, string, syscall.RawConn) error { return errors.New("refused by control") }}).Dial("tcp4", kaddr)
	kernel = append(kernel, "control error: "+outcome(0, err))
	_, err = (&net.Dialer{LocalAddr: &net.UDPAddr{}}).Dial("tcp4", kaddr)
	kernel = append(kernel, "mismatched local address: "+outcome(0, err))
	for _, k := range kas {
		ln, err := (&net.ListenConfig{KeepAlive: k.ka, KeepAliveConfig: k.cfg}).Listen(context.Background(), "tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		c, _ := (&net.Dialer{KeepAlive: -1}).Dial("tcp4", ln.Addr().String())
		s, _ := ln.Accept()
		kernel = append(kernel, fmt.Sprintf("listen %s: accepted %s", k.name, kernelConnKeepAlive(t, s)))
		c.Close()
		s.Close()
		ln.Close()
	}
	_, err = (&net.ListenConfig{Control: func(string, string, syscall.RawConn) error { return errors.New("refused by control") }}).Listen(context.Background(), "tcp4", "127.0.0.1:0")
	kernel = append(kernel, "listen control error: "+outcome(0, err))

	// synack's.
	var ours []string
	cl, sv := pair(t, Options{}, Options{})
	sln, err := (&ListenConfig{Stack: sv, KeepAlive: -1}).Listen(context.Background(), "tcp4", "198.18.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sln.Close()
	saddr := sln.Addr().String()
	for _, k := range kas {
		var calls []string
		d := Dialer{Stack: cl, KeepAlive: k.ka, KeepAliveConfig: k.cfg, Control: func(network, address string, _ *tcp.Config) error {
			calls = append(calls, network+" "+strings.Replace(address, saddr, "ADDR", 1))
			return nil
		}}
		c, err := d.Dial("tcp4", saddr)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := sln.Accept()
		ours = append(ours, fmt.Sprintf("dial %s: keepalive %s, control %q; accepted: %s", k.name, synackKeepAlive(c.(*Conn)), calls, synackKeepAlive(s.(*Conn))))
		c.Close()
		s.Close()
	}
	sd := Dialer{Stack: cl, LocalAddr: &net.TCPAddr{IP: net.IPv4(198, 18, 0, 1), Port: lp}}
	if c, err := sd.Dial("tcp4", saddr); err == nil {
		ours = append(ours, fmt.Sprintf("local port %v", c.LocalAddr().(*net.TCPAddr).Port == lp))
		c.Close()
	} else {
		ours = append(ours, "local port "+err.Error())
	}
	_, err = (&Dialer{Stack: cl, Control: func(string, string, *tcp.Config) error { return errors.New("refused by control") }}).Dial("tcp4", saddr)
	ours = append(ours, "control error: "+outcome(0, err))
	_, err = (&Dialer{Stack: cl, LocalAddr: &net.UDPAddr{}}).Dial("tcp4", saddr)
	ours = append(ours, "mismatched local address: "+outcome(0, err))
	for _, k := range kas {
		ln, err := (&ListenConfig{Stack: sv, KeepAlive: k.ka, KeepAliveConfig: k.cfg}).Listen(context.Background(), "tcp4", "198.18.0.2:0")
		if err != nil {
			t.Fatal(err)
		}
		c, _ := (&Dialer{Stack: cl, KeepAlive: -1}).Dial("tcp4", ln.Addr().String())
		s, _ := ln.Accept()
		ours = append(ours, fmt.Sprintf("listen %s: accepted %s", k.name, synackKeepAlive(s.(*Conn))))
		c.Close()
		s.Close()
		ln.Close()
	}
	_, err = (&ListenConfig{Stack: sv, Control: func(string, string) error { return errors.New("refused by control") }}).Listen(context.Background(), "tcp4", "198.18.0.2:0")
	ours = append(ours, "listen control error: "+outcome(0, err))

	if strings.Join(ours, "\n") != strings.Join(kernel, "\n") {
		t.Errorf("synack:\n%s\nkernel:\n%s", strings.Join(ours, "\n"), strings.Join(kernel, "\n"))
	}
}

// dnsResponder answers A and AAAA questions from zone on pc until pc is
// closed: the records of the name, NXDOMAIN for a name it lacks, nothing
// at all for names in silent.
func dnsResponder(pc net.PacketConn, zone map[string][]netip.Addr, silent map[string]bool) {
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		var p dnsmessage.Parser
		h, err := p.Start(buf[:n])
		if err != nil {
			continue
		}
		q, err := p.Question()
		if err != nil {
			continue
		}
		name := strings.TrimSuffix(strings.ToLower(q.Name.String()), ".")
		if silent[name] {
			continue
		}
		as, ok := zone[name]
		rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired}
		if !ok {
			rh.RCode = dnsmessage.RCodeNameError
		}
		b := dnsmessage.NewBuilder(nil, rh)
		b.StartQuestions()
		b.Question(q)
		b.StartAnswers()
		rr := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}
		for _, a := range as {
			switch {
			case a.Is4() && q.Type == dnsmessage.TypeA:
				b.AResource(rr, dnsmessage.AResource{A: a.As4()})
			case a.Is6() && q.Type == dnsmessage.TypeAAAA:
				b.AAAAResource(rr, dnsmessage.AAAAResource{AAAA: a.As16()})
			}
		}
		msg, err := b.Finish()
		if err == nil {
			pc.WriteTo(msg, from)
		}
	}
}

// Names: the same lookups and dials through net's resolver (pointed at a
// DNS responder on 127.0.0.1) and through synack's Resolver (at the same
// responder on a synack stack) give the same answers and errors.
func TestResolverLikeNet(t *testing.T) {
	type lookup struct {
		network, host string
	}
	lookups := []lookup{
		{"ip4", "www.example.test"}, {"ip6", "www.example.test"}, {"ip4", "WWW.Example.Test."},
		{"ip6", "v4only.example.test"}, {"ip4", "nx.example.test"}, {"ip4", "localhost"},
		{"ip4", "198.18.0.77"}, {"ip6", "198.18.0.77"},
	}
	describe := func(as []netip.Addr, err error) string {
		if err != nil {
			var de *net.DNSError
			if !errors.As(err, &de) {
				return fmt.Sprintf("%T %v", err, err)
			}
			return fmt.Sprintf("DNSError %q name %q notfound %v timeout %v", de.Err, de.Name, de.IsNotFound, de.IsTimeout)
		}
		var fams []string
		for _, a := range as {
			// net's LookupNetIP gives IPv4 literals in their IPv6-mapped
			// form; synack's unmapped.
			if a.Unmap().Is4() {
				fams = append(fams, "v4")
			} else {
				fams = append(fams, "v6")
			}
		}
		return strings.Join(fams, ",")
	}
	run := func(lookupNetIP func(ctx context.Context, network, host string) ([]netip.Addr, error),
		dial func(ctx context.Context, network, address string) (net.Conn, error), port string) []string {
		var r []string
		for _, l := range lookups {
			as, err := lookupNetIP(context.Background(), l.network, l.host)
			r = append(r, fmt.Sprintf("lookup %s %s: %s", l.network, l.host, describe(as, err)))
		}
		c, err := dial(context.Background(), "tcp4", "www.example.test:"+port)
		r = append(r, "dial www: "+outcome(0, err))
		if c != nil {
			c.Close()
		}
		_, err = dial(context.Background(), "tcp4", "nx.example.test:"+port)
		r = append(r, "dial nx: "+outcome(0, err))
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		_, err = lookupNetIP(ctx, "ip4", "silent.example.test")
		cancel()
		var de *net.DNSError
		r = append(r, fmt.Sprintf("silent server: DNSError %v timeout %v", errors.As(err, &de), de != nil && de.IsTimeout))
		return r
	}

	// The kernel's side: net's resolver asks a responder on 127.0.0.1.
	kpc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer kpc.Close()
	zone := func(v4 netip.Addr) map[string][]netip.Addr {
		return map[string][]netip.Addr{
			"www.example.test":    {v4, netip.MustParseAddr("2001:db8::2")},
			"v4only.example.test": {v4},
		}
	}
	silent := map[string]bool{"silent.example.test": true}
	go dnsResponder(kpc, zone(netip.MustParseAddr("127.0.0.1")), silent)
	kr := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "udp4", kpc.LocalAddr().String())
	}}
	kln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer kln.Close()
	go func() {
		for {
			c, err := kln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, kport, _ := net.SplitHostPort(kln.Addr().String())
	want := run(kr.LookupNetIP, (&net.Dialer{Resolver: kr}).DialContext, kport)

	// synack's: its Resolver asks the same responder on the server stack.
	cl, sv := pair(t, Options{Resolver: &Resolver{Servers: []netip.AddrPort{netip.MustParseAddrPort("198.18.0.2:53")},
		Timeout: 100 * time.Millisecond}}, Options{})
	spc, err := sv.ListenUDP("udp", ":53")
	if err != nil {
		t.Fatal(err)
	}
	go dnsResponder(spc, zone(netip.MustParseAddr("198.18.0.2")), silent)
	sln, err := sv.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := sln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	got := run(cl.LookupNetIP, (&Dialer{Stack: cl}).DialContext, "80")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("synack:\n%s\nkernel:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
