package stack

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/synack/synack/clock"
	"github.com/synack/synack/link"
	"github.com/synack/synack/tcp"
	"github.com/synack/synack/wire"
)

// The socket options of sockopt.go, through the stack on a virtual clock.

var server80 = netip.AddrPortFrom(serverAddr, 80)

// recLink records the IPv4 packets a stack sends and can drop them all.
type recLink struct {
	link.Link
	mu   sync.Mutex
	pkts []recPkt
	drop bool
}

type recPkt struct {
	tos, ttl uint8
	flags    wire.Flags
	data     string
}

func (l *recLink) WritePacket(p []byte) error {
	l.mu.Lock()
	if h, _, err := wire.ParseIPv4(p); err == nil {
		if _, th, payload, err := wire.ParseTCPPacket(p); err == nil {
			l.pkts = append(l.pkts, recPkt{h.TOS, h.TTL, th.Flags, string(payload)})
		}
	}
	drop := l.drop
	l.mu.Unlock() // the pipe delivers at once: the peer may answer through us
	if drop {
		return nil
	}
	return l.Link.WritePacket(p)
}

// take returns the packets recorded since the last call.
func (l *recLink) take() []recPkt {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.pkts
	l.pkts = nil
	return p
}

// dataOf returns the payloads of the packets that carry one.
func dataOf(ps []recPkt) []string {
	var d []string
	for _, p := range ps {
		if p.data != "" {
			d = append(d, p.data)
		}
	}
	return d
}

// soPair is manualPair with the client's link recorded.
func soPair(t *testing.T, cfg tcp.Config) (cl, sv *Stack, r *stepRunner, rec *recLink) {
	t.Helper()
	r = &stepRunner{clk: clock.NewVirtual()}
	rnd := func(n uint64) io.Reader { return rand.NewChaCha8([32]byte{7, byte(n)}) }
	cl = New(Options{Clock: r.clk, Runner: r, Rand: rnd(1), TCP: cfg})
	sv = New(Options{Clock: r.clk, Runner: r, Rand: rnd(2), TCP: cfg})
	r.stacks = []*Stack{cl, sv}
	a, b := link.Pipe(1500)
	rec = &recLink{Link: a}
	if err := cl.AddLink(rec, netip.PrefixFrom(clientAddr, 24)); err != nil {
		t.Fatal(err)
	}
	if err := sv.AddLink(b, netip.PrefixFrom(serverAddr, 24)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cl.Close()
		sv.Close()
	})
	return cl, sv, r, rec
}

// soConnect connects the pair's client to a listener on the server.
func soConnect(t *testing.T, cl, sv *Stack, setup func(*Listener)) (c, s *Conn, ln *Listener) {
	t.Helper()
	ln, err := sv.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(ln)
	}
	c, err = cl.DialTCP(context.Background(), netip.AddrPort{}, server80)
	if err != nil {
		t.Fatal(err)
	}
	s, err = ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	return c, s, ln
}

func TestSockopt_TOSAndTTL(t *testing.T) {
	cl, sv, _, rec := soPair(t, tcp.Config{NoDelay: true})
	c, _, _ := soConnect(t, cl, sv, nil)
	rec.take()
	if err := c.SetTOS(0xb8); err != nil {
		t.Fatal(err)
	}
	if err := c.SetTTL(7); err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("x"))
	ps := rec.take()
	if len(ps) == 0 || ps[0].tos != 0xb8 || ps[0].ttl != 7 || ps[0].data != "x" {
		t.Fatalf("packets %+v; want TOS 0xb8, TTL 7 (checksum valid)", ps)
	}
	if c.TOS() != 0xb8 || c.TTL() != 7 {
		t.Errorf("TOS %#x TTL %d", c.TOS(), c.TTL())
	}
	c.SetTOS(-1)
	c.SetTTL(-1)
	c.Write([]byte("y"))
	ps = rec.take()
	if len(ps) == 0 || ps[0].tos != 0 || ps[0].ttl != 64 {
		t.Fatalf("packets %+v after reset; want TOS 0, TTL 64", ps)
	}
	if err := c.SetTTL(0); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("SetTTL(0): %v, want EINVAL", err)
	}
}

// The IPv6 traffic class and hop limit, and the ECN bits kept, on packets
// built as the shard builds them.
func TestSockopt_IPOptsApply(t *testing.T) {
	h := wire.TCPHeader{SrcPort: 1, DstPort: 2, Flags: wire.FlagACK}
	ep6 := wire.Endpoints{Src: netip.MustParseAddr("fd00:5ac::1"), Dst: netip.MustParseAddr("fd00:5ac::2")}
	p := wire.AppendTCPPacketECN(nil, ep6, 64, wire.ECNECT0, &h, []byte("z"))
	ipOpts{tclass: 0xb8, hops: 9}.apply(p)
	h6, _, err := wire.ParseIPv6(p)
	if err != nil || h6.TrafficClass != 0xb8|wire.ECNECT0 || h6.HopLimit != 9 {
		t.Fatalf("IPv6 %+v, %v; want traffic class 0xba, hop limit 9", h6, err)
	}
	ep4 := wire.Endpoints{Src: clientAddr, Dst: serverAddr}
	p = wire.AppendTCPPacketECN(nil, ep4, 64, wire.ECNECT0, &h, []byte("z"))
	ipOpts{tos: 0x20, ttl: 3}.apply(p)
	h4, _, err := wire.ParseIPv4(p) // checks the header checksum
	if err != nil || h4.TOS != 0x20|wire.ECNECT0 || h4.TTL != 3 {
		t.Fatalf("IPv4 %+v, %v; want TOS 0x22, TTL 3", h4, err)
	}
}

// TCP_MAXSEG on a listener: the SYN-ACK offers 1100 and both ends send
// with it.
func TestSockopt_ListenerMSS(t *testing.T) {
	cl, sv, _, _ := soPair(t, tcp.Config{DisableTimestamps: true})
	c, s, ln := soConnect(t, cl, sv, func(ln *Listener) {
		if err := ln.SetMSS(1100); err != nil {
			t.Fatal(err)
		}
	})
	if ln.MSS() != 1100 || c.Info().SndMSS != 1100 || s.Info().SndMSS != 1100 {
		t.Fatalf("MSS: listener %d, client sends %d, server sends %d; want 1100",
			ln.MSS(), c.Info().SndMSS, s.Info().SndMSS)
	}
	if err := ln.SetMSS(50); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("SetMSS(50): %v, want EINVAL", err)
	}
}

// TCP_DEFER_ACCEPT: the connection waits for data before it can be
// accepted.
func TestSockopt_DeferAccept(t *testing.T) {
	cl, sv, r, _ := soPair(t, tcp.Config{NoDelay: true})
	ln, err := sv.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	ln.SetDeferAccept(5 * time.Second)
	c, err := cl.DialTCP(context.Background(), netip.AddrPort{}, server80)
	if err != nil {
		t.Fatal(err)
	}
	r.RunUntil(func() bool { return false }, r.clk.Now().Add(2*time.Second))
	if n := ln.Pending(); n != 0 {
		t.Fatalf("pending %d after a bare ACK; want 0", n)
	}
	c.Write([]byte("GET"))
	if n := ln.Pending(); n != 1 {
		t.Fatalf("pending %d after data; want 1", n)
	}
	s, _ := ln.AcceptTCP()
	b := make([]byte, 8)
	if n, _ := s.Read(b); string(b[:n]) != "GET" {
		t.Fatalf("read %q", b[:n])
	}
}

// TCP_USER_TIMEOUT: with every packet lost, the write fails 1 s after the
// data was sent (RTOs at 200 ms and 600 ms, then the timeout).
func TestSockopt_UserTimeout(t *testing.T) {
	cl, sv, r, rec := soPair(t, tcp.Config{NoDelay: true})
	c, _, _ := soConnect(t, cl, sv, nil)
	c.SetUserTimeout(time.Second)
	if c.UserTimeout() != time.Second {
		t.Fatalf("UserTimeout %v", c.UserTimeout())
	}
	rec.mu.Lock()
	rec.drop = true
	rec.mu.Unlock()
	start := r.clk.Now()
	c.Write([]byte("x"))
	_, err := c.Read(make([]byte, 1))
	if !errors.Is(err, syscall.ETIMEDOUT) || r.clk.Now().Sub(start) != time.Second {
		t.Fatalf("read: %v after %v; want ETIMEDOUT after 1s", err, r.clk.Now().Sub(start))
	}
}

// TCP_CORK and MSG_MORE hold small writes; uncorking, or a write without
// MSG_MORE, sends them in one segment.
func TestSockopt_CorkAndMore(t *testing.T) {
	cl, sv, _, rec := soPair(t, tcp.Config{NoDelay: true})
	c, s, _ := soConnect(t, cl, sv, nil)
	rec.take()
	c.SetCork(true)
	c.Write([]byte("ab"))
	c.Write([]byte("cd"))
	if d := dataOf(rec.take()); len(d) != 0 {
		t.Fatalf("sent %q while corked", d)
	}
	c.SetCork(false)
	if d := dataOf(rec.take()); len(d) != 1 || d[0] != "abcd" {
		t.Fatalf("sent %q on uncork; want [abcd]", d)
	}
	c.WriteFlags([]byte("ef"), tcp.WriteMore)
	if d := dataOf(rec.take()); len(d) != 0 {
		t.Fatalf("sent %q with MSG_MORE", d)
	}
	c.WriteFlags([]byte("g"), 0)
	if d := dataOf(rec.take()); len(d) != 1 || d[0] != "efg" {
		t.Fatalf("sent %q; want [efg]", d)
	}
	c.WriteFlags([]byte("hi"), tcp.WriteEOR)
	got := make([]byte, 16)
	n, _ := io.ReadAtLeast(s, got, 9)
	if string(got[:n]) != "abcdefghi" {
		t.Fatalf("read %q", got[:n])
	}
	if q := s.InQueue(); q != 0 {
		t.Errorf("InQueue %d after reading all", q)
	}
	c.Write([]byte("jkl"))
	if q := s.InQueue(); q != 3 {
		t.Errorf("InQueue %d; want 3", q)
	}
}

// TCP_NOTSENT_LOWAT: a write stops once the unsent bytes reach the mark,
// and the connection is not writable until they drop below it.
func TestSockopt_NotSentLowat(t *testing.T) {
	cl, sv, _, rec := soPair(t, tcp.Config{NoDelay: true})
	c, _, _ := soConnect(t, cl, sv, nil)
	rec.mu.Lock()
	rec.drop = true // nothing is acknowledged
	rec.mu.Unlock()
	c.SetNotSentLowat(1000)
	if c.NotSentLowat() != 1000 {
		t.Fatalf("NotSentLowat %d", c.NotSentLowat())
	}
	n, err := c.TryWrite(bytes.Repeat([]byte("x"), 200000))
	if err != nil || n >= 200000 || c.NotSent() < 1000 {
		t.Fatalf("TryWrite: %d, %v, %d unsent; want a short write past the mark", n, err, c.NotSent())
	}
	if c.Readiness().Writable {
		t.Fatal("writable past the mark")
	}
	if _, err := c.TryWrite([]byte("y")); !errors.Is(err, syscall.EAGAIN) {
		t.Fatalf("TryWrite past the mark: %v; want EAGAIN", err)
	}
}

// TCP_LINGER2: after Close the server waits 1 s, not 60, in FIN-WAIT-2.
func TestSockopt_Linger2(t *testing.T) {
	cl, sv, r, _ := soPair(t, tcp.Config{})
	_, s, _ := soConnect(t, cl, sv, nil)
	s.SetLinger2(time.Second)
	s.Close()
	r.RunUntil(func() bool { return s.State() == tcp.StateFinWait2 }, r.clk.Now().Add(time.Second))
	start := r.clk.Now()
	r.RunUntil(func() bool { return s.State() == tcp.StateClosed }, start.Add(10*time.Second))
	if s.State() != tcp.StateClosed || r.clk.Now().Sub(start) != time.Second {
		t.Fatalf("state %v after %v; want CLOSED after 1s", s.State(), r.clk.Now().Sub(start))
	}
}
