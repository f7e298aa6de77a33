package link

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
)

// collector records the packets delivered to it.
type collector struct {
	mu   sync.Mutex
	pkts [][]byte
}

func (c *collector) DeliverPacket(pkt []byte) {
	c.mu.Lock()
	c.pkts = append(c.pkts, bytes.Clone(pkt))
	c.mu.Unlock()
}

func (c *collector) got() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pkts
}

// ipv4 returns a minimal 20-byte IPv4 header from src to dst followed by payload.
func ipv4(src, dst string, payload ...byte) []byte {
	b := make([]byte, 20, 20+len(payload))
	b[0] = 0x45
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(b[12:16], s[:])
	copy(b[16:20], d[:])
	return append(b, payload...)
}

func ipv6(dst string) []byte {
	b := make([]byte, 40)
	b[0] = 0x60
	d := netip.MustParseAddr(dst).As16()
	copy(b[24:40], d[:])
	return b
}

func TestPipe(t *testing.T) {
	a, b := Pipe(1500)
	if a.MTU() != 1500 || b.MTU() != 1500 {
		t.Fatalf("MTU = %d, %d; want 1500", a.MTU(), b.MTU())
	}
	var ca, cb collector
	a.Attach(&ca)
	b.Attach(&cb)

	pkt := []byte{1, 2, 3}
	if err := a.WritePacket(pkt); err != nil {
		t.Fatal(err)
	}
	pkt[0] = 9 // the link must have copied
	if err := b.WritePacket([]byte{4, 5}); err != nil {
		t.Fatal(err)
	}
	if got := cb.got(); len(got) != 1 || !bytes.Equal(got[0], []byte{1, 2, 3}) {
		t.Errorf("b received %v; want [[1 2 3]]", got)
	}
	if got := ca.got(); len(got) != 1 || !bytes.Equal(got[0], []byte{4, 5}) {
		t.Errorf("a received %v; want [[4 5]]", got)
	}

	if err := a.WritePacket(make([]byte, 1501)); !errors.Is(err, ErrTooBig) {
		t.Errorf("oversized write: err = %v; want ErrTooBig", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close: err = %v; want net.ErrClosed", err)
	}
	if err := a.WritePacket(pkt); !errors.Is(err, net.ErrClosed) {
		t.Errorf("write after Close: err = %v; want net.ErrClosed", err)
	}
	if err := b.WritePacket(pkt); !errors.Is(err, net.ErrClosed) {
		t.Errorf("write to a closed peer: err = %v; want net.ErrClosed", err)
	}
	if n := len(cb.got()) + len(ca.got()); n != 2 {
		t.Errorf("%d packets delivered in all; want 2", n)
	}
}

func TestPipeNoReceiver(t *testing.T) {
	a, _ := Pipe(100)
	if err := a.WritePacket([]byte{1}); err != nil {
		t.Fatalf("write to a side with no receiver: %v", err)
	}
}

func TestSwitch(t *testing.T) {
	sw := NewSwitch()
	p1 := sw.Port(1500, netip.MustParseAddr("198.18.0.1"))
	p2 := sw.Port(1500, netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("2001:db8::2"))
	p3 := sw.Port(100, netip.MustParseAddr("198.18.0.3"))
	var c1, c2, c3 collector
	p1.Attach(&c1)
	p2.Attach(&c2)
	p3.Attach(&c3)

	to2 := ipv4("198.18.0.1", "198.18.0.2", 0xaa)
	if err := p1.WritePacket(to2); err != nil {
		t.Fatal(err)
	}
	to1 := ipv4("198.18.0.2", "198.18.0.1", 0xbb)
	if err := p2.WritePacket(to1); err != nil {
		t.Fatal(err)
	}
	to26 := ipv6("2001:db8::2")
	if err := p1.WritePacket(to26); err != nil {
		t.Fatal(err)
	}
	// Dropped: unknown destination, garbage, too big for the egress port.
	if err := p1.WritePacket(ipv4("198.18.0.1", "198.18.0.9")); err != nil {
		t.Fatal(err)
	}
	if err := p1.WritePacket([]byte{0x45, 1}); err != nil {
		t.Fatal(err)
	}
	if err := p1.WritePacket(ipv4("198.18.0.1", "198.18.0.3", make([]byte, 200)...)); err != nil {
		t.Fatal(err)
	}

	if got := c2.got(); len(got) != 2 || !bytes.Equal(got[0], to2) || !bytes.Equal(got[1], to26) {
		t.Errorf("port 2 received %x; want %x and %x", got, to2, to26)
	}
	if got := c1.got(); len(got) != 1 || !bytes.Equal(got[0], to1) {
		t.Errorf("port 1 received %x; want %x", got, to1)
	}
	if n := len(c3.got()); n != 0 {
		t.Errorf("port 3 received %d packets; want 0", n)
	}
	if d := sw.Drops(); d != 3 {
		t.Errorf("Drops = %d; want 3", d)
	}

	// A closed port releases its addresses and refuses writes.
	if err := p2.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p1.WritePacket(to2); err != nil {
		t.Fatal(err)
	}
	if d := sw.Drops(); d != 4 {
		t.Errorf("Drops after closing port 2 = %d; want 4", d)
	}
	if err := p2.WritePacket(to1); !errors.Is(err, net.ErrClosed) {
		t.Errorf("write on a closed port: err = %v; want net.ErrClosed", err)
	}
}

func TestSniff(t *testing.T) {
	a, b := Pipe(1500)
	type seen struct {
		dir Direction
		pkt []byte
	}
	var mu sync.Mutex
	var log []seen
	s := Sniff(a, func(dir Direction, pkt []byte) {
		mu.Lock()
		log = append(log, seen{dir, bytes.Clone(pkt)})
		mu.Unlock()
	})
	var ca, cb collector
	s.Attach(&ca)
	b.Attach(&cb)
	if s.MTU() != 1500 {
		t.Fatalf("MTU = %d; want 1500", s.MTU())
	}
	if err := s.WritePacket([]byte{1}); err != nil {
		t.Fatal(err)
	}
	if err := b.WritePacket([]byte{2}); err != nil {
		t.Fatal(err)
	}
	want := []seen{{Outbound, []byte{1}}, {Inbound, []byte{2}}}
	if len(log) != len(want) {
		t.Fatalf("sniffed %v; want %v", log, want)
	}
	for i := range want {
		if log[i].dir != want[i].dir || !bytes.Equal(log[i].pkt, want[i].pkt) {
			t.Errorf("sniffed[%d] = %v %v; want %v %v", i, log[i].dir, log[i].pkt, want[i].dir, want[i].pkt)
		}
	}
	if got := ca.got(); len(got) != 1 || got[0][0] != 2 {
		t.Errorf("wrapped receiver got %v; want [[2]]", got)
	}
	if got := cb.got(); len(got) != 1 || got[0][0] != 1 {
		t.Errorf("far side got %v; want [[1]]", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.WritePacket([]byte{3}); !errors.Is(err, net.ErrClosed) {
		t.Errorf("write after Close: err = %v; want net.ErrClosed", err)
	}
	if Outbound.String() != "outbound" || Inbound.String() != "inbound" {
		t.Errorf("Direction strings: %q %q", Outbound, Inbound)
	}
}
