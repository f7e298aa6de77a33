package stack

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/synack/synack/clock"
	"github.com/synack/synack/link"
	"github.com/synack/synack/tcp"
	"github.com/synack/synack/wire"
	"golang.org/x/net/dns/dnsmessage"
)

// FuzzDeliverPacket feeds Stack.DeliverPacket of a manual-mode stack
// (virtual clock) packets decoded from the fuzzer's bytes while it has
// live connections (IPv4 and IPv6, data both ways), a listener and a UDP
// socket: raw bytes, TCP segments on the live 4-tuples and to the
// listener with sequence numbers near the edges of the windows, UDP
// datagrams, ICMP errors quoting the connections, fragments in any order,
// interleaved with user calls and time steps. Besides not panicking, the
// stack must stay usable: afterwards a new connection to the listener
// completes and carries data both ways, and once everything is closed
// and the timers have run, no connection is left.
func FuzzDeliverPacket(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0x12, 0, 0, 0, 10, 0, 1, 3, 0, 0, 5, 1, 0x18, 3, 0, 1, 20})
	f.Add([]byte{1, 2, 0x02, 2, 1, 2, 3, 4, 3, 0, 0, 0, 0, 0, 1, 4, 0x10, 0, 0, 0, 0})
	f.Add([]byte{2, 0, 10, 2, 1, 4, 3, 3, 0, 2, 0x44, 1, 5, 7, 4, 0, 1, 200, 8})
	f.Add([]byte{4, 1, 0, 0, 3, 7, 9, 4, 6, 1, 1, 40, 6, 2, 40, 5, 4, 7, 1, 8, 0})
	f.Add([]byte{0, 20, 0x45, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		runStackFuzz(t, data)
	})
}

// fuzzOps bounds one run.
const stackFuzzOps = 200

type fuzzIn struct {
	b []byte
	i int
}

func (r *fuzzIn) more() bool { return r.i < len(r.b) }

func (r *fuzzIn) byte() byte {
	if r.i >= len(r.b) {
		return 0
	}
	r.i++
	return r.b[r.i-1]
}

func (r *fuzzIn) u16() uint16 { return uint16(r.byte())<<8 | uint16(r.byte()) }
func (r *fuzzIn) u32() uint32 { return uint32(r.u16())<<16 | uint32(r.u16()) }

// bytes returns the next n input bytes (fewer at the end).
func (r *fuzzIn) bytes(n int) []byte {
	n = min(n, len(r.b)-r.i)
	p := r.b[r.i : r.i+n]
	r.i += n
	return p
}

type stackFuzz struct {
	t      *testing.T
	in     fuzzIn
	r      *stepRunner
	cl, sv *Stack
	ln     *Listener
	udp    *UDPConn
	// The live connections, client side and server side: IPv4, IPv6.
	cc, sc [2]*Conn
	buf    []byte
	link   *budgetLink // the server's link
}

// budgetLink counts the packets a stack sends and drops them past a
// budget, so that a packet storm (two stacks answering each other without
// end) shows as a failure instead of a hang; it keeps the last few.
type budgetLink struct {
	link.Link
	clk   *clock.Virtual
	start time.Time // when the step began
	sent  int
	first []string // the step's first packets, both ways
	last  []string // the first packets past the budget
}

// packetBudget is what the server may send in one step at one instant;
// a step that moves the clock may send one more packet per virtual second
// (keepalive probes and their answers go on while hours pass).
const packetBudget = 5000

func (l *budgetLink) budget() int {
	return packetBudget + int(l.clk.Now().Sub(l.start)/time.Second)
}

func (l *budgetLink) WritePacket(pkt []byte) error {
	l.sent++
	if l.sent > l.budget() {
		if len(l.last) < 12 {
			l.last = append(l.last, describe(pkt))
		}
		return nil
	}
	return l.Link.WritePacket(pkt)
}

// describe formats a TCP packet in one line.
func describe(pkt []byte) string {
	ip, h, payload, err := wire.ParseTCPPacket(pkt)
	if err != nil {
		return fmt.Sprintf("%d bytes: %v", len(pkt), err)
	}
	return fmt.Sprintf("%v:%d > %v:%d [%v] seq %d ack %d win %d len %d", ip.Src, h.SrcPort, ip.Dst, h.DstPort,
		h.Flags, h.Seq, h.Ack, h.Window, len(payload))
}

// checkStorm fails if the server sent more than the budget since the
// last call.
func (z *stackFuzz) checkStorm(what string) {
	if z.link.sent > z.link.budget() {
		z.t.Fatalf("packet storm after %s: the server sent %d packets in one step; "+
			"the first:\n%s\npast the budget:\n%s",
			what, z.link.sent, strings.Join(z.link.first, "\n"), strings.Join(z.link.last, "\n"))
	}
	z.link.sent, z.link.first, z.link.start = 0, z.link.first[:0], z.link.clk.Now()
}

func newStackFuzz(t *testing.T, data []byte) *stackFuzz {
	r := &stepRunner{clk: clock.NewVirtual()}
	rnd := func(n byte) io.Reader { return rand.NewChaCha8([32]byte{n}) }
	z := &stackFuzz{t: t, in: fuzzIn{b: data}, r: r, buf: make([]byte, 1<<16)}
	z.cl = New(Options{Clock: r.clk, Runner: r, Rand: rnd(1)})
	z.sv = New(Options{Clock: r.clk, Runner: r, Rand: rnd(2), TCP: tcp.Config{ECN: true}})
	r.stacks = []*Stack{z.cl, z.sv}
	a, pb := link.Pipe(1500)
	z.link = &budgetLink{clk: r.clk, start: r.clk.Now()}
	z.link.Link = link.Sniff(pb, func(dir link.Direction, pkt []byte) {
		if len(z.link.first) < 12 {
			z.link.first = append(z.link.first, dir.String()+" "+describe(pkt))
		}
	})
	b := link.Link(z.link)
	if err := z.cl.AddLink(a, netip.PrefixFrom(clientAddr, 24), netip.PrefixFrom(client6, 64)); err != nil {
		t.Fatal(err)
	}
	if err := z.sv.AddLink(b, netip.PrefixFrom(serverAddr, 24), netip.PrefixFrom(server6, 64)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		z.cl.Close()
		z.sv.Close()
	})
	var err error
	if z.ln, err = z.sv.Listen("tcp", ":80"); err != nil {
		t.Fatal(err)
	}
	if z.udp, err = z.sv.ListenUDP("udp", ":53"); err != nil {
		t.Fatal(err)
	}
	for i, addr := range []string{"198.18.0.2:80", "[2001:db8::2]:80"} {
		z.cc[i], z.sc[i] = z.connect(addr)
		// Some data both ways, some of it left unread.
		if _, err := z.cc[i].Write(make([]byte, 3000)); err != nil {
			t.Fatal(err)
		}
		if _, err := z.sc[i].Write(make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(z.sc[i], make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	return z
}

// connect dials addr from the client and accepts the connection.
func (z *stackFuzz) connect(addr string) (c, s *Conn) {
	z.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := z.cl.DialContext(ctx, "tcp", addr)
	if err != nil {
		z.t.Fatalf("dial %s: %v", addr, err)
	}
	// Connections the fuzzer completed may wait in the accept queue first.
	for range 200 {
		z.ln.SetDeadline(z.r.clk.Now().Add(time.Minute))
		s, err = z.ln.AcceptTCP()
		if err != nil {
			z.t.Fatalf("accept %s: %v", addr, err)
		}
		if s.RemoteAddrPort() == c.LocalAddrPort() {
			return c, s
		}
		s.SetLinger(0)
		s.Close()
	}
	z.t.Fatalf("accept %s: the dialed connection never came", addr)
	return nil, nil
}

func runStackFuzz(t *testing.T, data []byte) {
	z := newStackFuzz(t, data)
	z.checkStorm("the setup")
	for ops := 0; z.in.more() && ops < stackFuzzOps; ops++ {
		z.op()
		z.checkStorm(fmt.Sprintf("step %d", ops))
	}
	z.finish()
}

// op decodes and runs one step.
func (z *stackFuzz) op() {
	switch z.in.byte() % 10 {
	case 0:
		z.sv.DeliverPacket(append([]byte(nil), z.in.bytes(int(z.in.byte()))...))
	case 1:
		z.deliver(z.tcpPacket())
	case 2:
		z.deliver(z.udpPacket())
	case 3:
		z.deliver(z.icmpError())
	case 4:
		z.fragments()
	case 5:
		steps := [...]time.Duration{time.Millisecond, 40 * time.Millisecond, 200 * time.Millisecond,
			time.Second, 10 * time.Second, time.Minute, 5 * time.Minute, 30 * time.Minute}
		b := z.in.byte()
		z.advance(steps[b&7] * time.Duration(1+b>>3))
	case 6:
		b := z.in.byte()
		c := z.conn(b)
		n := int(z.in.byte()) * 64
		if b&4 != 0 {
			_, _ = c.TryWrite(z.buf[:n])
		} else {
			_, _ = c.TryRead(z.buf[:n])
		}
	case 7:
		b := z.in.byte()
		c := z.conn(b)
		switch b >> 2 & 3 {
		case 0:
			_ = c.CloseWrite()
		case 1:
			_ = c.CloseRead()
		case 2:
			_ = c.SetReadBuffer(int(z.in.byte()) * 256)
		case 3:
			_ = c.SetWriteBuffer(int(z.in.byte()) * 256)
		}
	case 8:
		z.deliver(z.echo())
	case 9:
		z.udp.SetReadDeadline(z.r.clk.Now().Add(time.Millisecond))
		_, _, _ = z.udp.ReadFromUDPAddrPort(z.buf)
	}
}

// conn picks one of the four live connections.
func (z *stackFuzz) conn(b byte) *Conn {
	if b&2 != 0 {
		return z.sc[b&1]
	}
	return z.cc[b&1]
}

func (z *stackFuzz) deliver(pkt []byte) {
	if pkt == nil {
		return
	}
	if b := z.in.byte(); b >= 0xf0 {
		// Corrupt one byte: checksums, lengths and headers go wrong.
		if len(pkt) > 0 {
			pkt[int(z.in.byte())%len(pkt)] ^= 1 << (b & 7)
		}
	}
	z.sv.DeliverPacket(pkt)
}

// endpoints picks a source and destination: one of the live connections
// (client side to server side), the listener, or a closed port, from the
// client's address or from one the network does not have.
func (z *stackFuzz) endpoints() (src, dst netip.AddrPort, server *Conn) {
	b := z.in.byte()
	switch b % 6 {
	case 0, 1:
		i := b % 2
		return z.cc[i].LocalAddrPort(), z.sc[i].LocalAddrPort(), z.sc[i]
	case 2:
		return netip.AddrPortFrom(clientAddr, z.in.u16()), netip.AddrPortFrom(serverAddr, 80), nil
	case 3:
		return netip.AddrPortFrom(client6, z.in.u16()), netip.AddrPortFrom(server6, 80), nil
	case 4:
		return netip.AddrPortFrom(netip.MustParseAddr("198.18.0.77"), z.in.u16()), netip.AddrPortFrom(serverAddr, 80), nil
	default:
		return netip.AddrPortFrom(clientAddr, z.in.u16()), netip.AddrPortFrom(serverAddr, z.in.u16()), nil
	}
}

// tcpInfo is the server side's view of a connection (zero if none).
func tcpInfo(c *Conn) tcp.Info {
	if c == nil {
		return tcp.Info{}
	}
	return c.Info()
}

func (z *stackFuzz) tcpPacket() []byte {
	src, dst, sc := z.endpoints()
	info := tcpInfo(sc)
	h := wire.TCPHeader{SrcPort: src.Port(), DstPort: dst.Port(), Flags: wire.Flags(z.in.byte())}
	switch m := z.in.byte(); m & 3 {
	case 0:
		h.Seq = info.RcvNxt + uint32(int8(m))
	case 1:
		h.Seq = info.RcvNxt + uint32(int16(z.in.u16()))
	case 2:
		h.Seq = z.in.u32()
	case 3:
		h.Seq = info.RcvNxt
	}
	switch m := z.in.byte(); m & 3 {
	case 0:
		h.Ack = info.SndUna + uint32(int8(m))
	case 1:
		h.Ack = info.SndNxt + uint32(int16(z.in.u16()))
	case 2:
		h.Ack = z.in.u32()
	case 3:
		h.Ack = info.SndNxt
	}
	h.Window = z.in.u16()
	ob := z.in.byte()
	o := &h.Options
	if ob&1 != 0 {
		o.HasTimestamps, o.TSVal, o.TSEcr = true, z.in.u32(), z.in.u32()
	}
	if ob&2 != 0 {
		o.HasMSS, o.MSS = true, z.in.u16()
	}
	if ob&4 != 0 {
		o.HasWindowScale, o.WindowScale = true, z.in.byte()
	}
	o.SACKPermitted = ob&8 != 0
	for i := range min(int(ob>>4)&7, wire.MaxSACKBlocks) {
		s := info.SndUna + uint32(z.in.byte())*100
		o.SACK[i] = wire.SACKBlock{Start: s, End: s + uint32(z.in.byte())*100}
		o.NumSACK++
	}
	n := int(z.in.byte())
	if n > 200 {
		n = (n - 200) * 25 // up to 1375: still fits the MTU
	}
	ecn := z.in.byte() & 3
	return wire.AppendTCPPacketECN(nil, wire.Endpoints{Src: src.Addr(), Dst: dst.Addr()}, 64, ecn, &h, z.buf[:n])
}

func (z *stackFuzz) udpPacket() []byte {
	b := z.in.byte()
	src, dst := clientAddr, serverAddr
	if b&1 != 0 {
		src, dst = client6, server6
	}
	port := uint16(53)
	if b&2 != 0 {
		port = z.in.u16()
	}
	ep := wire.Endpoints{Src: src, Dst: dst}
	h := wire.UDPHeader{SrcPort: z.in.u16(), DstPort: port}
	return ipPacket(src, dst, wire.ProtocolUDP, wire.AppendUDP(nil, &h, z.in.bytes(int(z.in.byte())), ep))
}

// icmpError quotes a segment of one of the server's connections (or of
// nothing) in a destination-unreachable, fragmentation-needed or
// packet-too-big message.
func (z *stackFuzz) icmpError() []byte {
	i := z.in.byte()
	sc, cc := z.sc[i&1], z.cc[i&1]
	info := sc.Info()
	h := wire.TCPHeader{SrcPort: sc.LocalAddrPort().Port(), DstPort: cc.LocalAddrPort().Port(),
		Seq: info.SndUna + uint32(int8(z.in.byte())), Flags: wire.FlagACK, Window: 100}
	if i&4 != 0 {
		h.SrcPort = z.in.u16()
	}
	ep := wire.Endpoints{Src: sc.LocalAddrPort().Addr(), Dst: cc.LocalAddrPort().Addr()}
	quoted := wire.AppendTCPPacket(nil, ep, 64, &h, nil)
	if q := int(z.in.byte()); q < len(quoted) && i&8 != 0 {
		quoted = quoted[:q]
	}
	m := wire.ICMPMessage{Type: z.in.byte(), Code: z.in.byte(), Rest: uint32(z.in.u16()), Body: quoted}
	src := cc.LocalAddrPort().Addr()
	if i&0x10 != 0 {
		src = netip.MustParseAddr("198.18.0.254") // a router on the path
		if ep.Src.Is6() {
			src = netip.MustParseAddr("2001:db8::fe")
		}
	}
	if ep.Src.Is4() {
		if i&0x20 == 0 {
			m.Type, m.Code = 3, 4 // fragmentation needed
		}
		return ipPacket(src, ep.Src, wire.ProtocolICMP, wire.AppendICMPv4(nil, &m))
	}
	if i&0x20 == 0 {
		m.Type, m.Code = 2, 0 // packet too big
		m.Rest = uint32(z.in.u16())
	}
	return ipPacket(src, ep.Src, wire.ProtocolICMPv6, wire.AppendICMPv6(nil, &m, wire.Endpoints{Src: src, Dst: ep.Src}))
}

func (z *stackFuzz) echo() []byte {
	b := z.in.byte()
	data := z.in.bytes(int(z.in.byte()))
	if b&1 == 0 {
		m := wire.NewICMPEcho(8, 1, uint16(b), data)
		return ipPacket(clientAddr, serverAddr, wire.ProtocolICMP, wire.AppendICMPv4(nil, &m))
	}
	m := wire.NewICMPEcho(128, 1, uint16(b), data)
	return ipPacket(client6, server6, wire.ProtocolICMPv6, wire.AppendICMPv6(nil, &m, wire.Endpoints{Src: client6, Dst: server6}))
}

// fragments splits a TCP or UDP packet and delivers the fragments in an
// order (with duplicates and losses) the input chooses.
func (z *stackFuzz) fragments() {
	var pkt []byte
	if z.in.byte()&1 == 0 {
		pkt = z.tcpPacket()
	} else {
		pkt = z.udpPacket()
	}
	mtu := 68 + int(z.in.byte())*4
	if pkt[0]>>4 == 6 {
		mtu = 1280 + int(z.in.byte())
	}
	var frags [][]byte
	_ = wire.Fragment(pkt, mtu, z.in.u32(), func(f []byte) { frags = append(frags, append([]byte(nil), f...)) })
	for range len(frags) + 1 {
		if len(frags) == 0 {
			return
		}
		z.deliver(frags[int(z.in.byte())%len(frags)])
	}
}

// advance moves the virtual clock forward by d, running every timer of
// both stacks on the way at its own instant.
func (z *stackFuzz) advance(d time.Duration) {
	target := z.r.clk.Now().Add(d)
	for range 1_000_000 {
		next := target
		for _, s := range z.r.stacks {
			if dl := s.NextDeadline(); !dl.IsZero() && dl.Before(next) {
				next = dl
			}
		}
		if next.After(z.r.clk.Now()) {
			z.r.clk.Set(next)
		}
		for _, s := range z.r.stacks {
			s.Tick()
		}
		if !next.Before(target) {
			return
		}
	}
	z.t.Fatalf("timer storm: the clock does not reach %v", target)
}

// finish checks that the stack still works and leaks nothing.
func (z *stackFuzz) finish() {
	z.advance(time.Second)
	c, s := z.connect("198.18.0.2:80")
	msg := []byte("still alive")
	for _, p := range [][2]*Conn{{c, s}, {s, c}} {
		if _, err := p[0].Write(msg); err != nil {
			z.t.Fatalf("write on a new connection: %v", err)
		}
		p[1].SetReadDeadline(z.r.clk.Now().Add(time.Minute))
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(p[1], got); err != nil || string(got) != string(msg) {
			z.t.Fatalf("read on a new connection: %q, %v", got, err)
		}
	}
	// Close everything; once the timers have run, nothing is left.
	for _, c := range append([]*Conn{c, s}, append(z.cc[:], z.sc[:]...)...) {
		c.SetLinger(0)
		_ = c.Close() // one the fuzzer reset closes all the same
	}
	z.ln.Close()
	z.udp.Close()
	z.advance(time.Hour)
	for _, st := range z.r.stacks {
		if n := st.Stats().Connections; n != 0 {
			z.t.Fatalf("%d connections left an hour after everything was closed", n)
		}
		for _, sh := range st.shards {
			if sh.conns.len() != 0 || sh.timers.next() != 0 {
				z.t.Fatalf("a shard still holds %d connections, timer %v", sh.conns.len(), sh.timers.next())
			}
		}
	}
}

// FuzzDNSAnswer: the resolver's reading of a DNS response never panics,
// and what it accepts as the answer holds only addresses of the type
// asked, no more than the message could carry.
func FuzzDNSAnswer(f *testing.F) {
	q := dnsmessage.MustNewName("www.example.test.")
	for _, rcode := range []dnsmessage.RCode{dnsmessage.RCodeSuccess, dnsmessage.RCodeNameError} {
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 7, Response: true, RCode: rcode})
		b.StartQuestions()
		b.Question(dnsmessage.Question{Name: q, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
		b.StartAnswers()
		b.AResource(dnsmessage.ResourceHeader{Name: q, Class: dnsmessage.ClassINET, TTL: 1}, dnsmessage.AResource{A: [4]byte{198, 18, 0, 2}})
		msg, _ := b.Finish()
		f.Add(msg, false)
	}
	f.Fuzz(func(t *testing.T, msg []byte, six bool) {
		typ := dnsmessage.TypeA
		if six {
			typ = dnsmessage.TypeAAAA
		}
		as, done, err := parseAnswer(msg, 7, q, typ)
		if !done && (as != nil || err != nil) {
			t.Fatalf("not an answer, yet %v, %v", as, err)
		}
		for _, a := range as {
			if a.Is4() == six {
				t.Fatalf("%v in the answer to a %v question", a, typ)
			}
		}
		if len(as)*16 > len(msg) {
			t.Fatalf("%d addresses from %d bytes", len(as), len(msg))
		}
	})
}
