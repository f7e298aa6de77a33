package stack

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/synack/synack/wire"
)

func TestUDPManual(t *testing.T) {
	p := newProbe(t, Options{})
	c, err := p.s.ListenUDP("udp", ":53")
	if err != nil {
		t.Fatal(err)
	}
	from := netip.AddrPortFrom(peerAddr, 5353)
	p.s.DeliverPacket(udpDatagramPacket(from, netip.AddrPortFrom(clientAddr, 53), []byte("query")))
	buf := make([]byte, 3)
	n, addr, err := c.ReadFrom(buf) // cut to fit
	if err != nil || n != 3 || string(buf) != "que" || addr.String() != "198.18.0.9:5353" {
		t.Fatalf("ReadFrom = %d %q %v %v", n, buf, addr, err)
	}
	if n, err := c.WriteTo([]byte("answer"), net.UDPAddrFromAddrPort(from)); n != 6 || err != nil {
		t.Fatalf("WriteTo = %d, %v", n, err)
	}
	want := udpDatagramPacket(netip.AddrPortFrom(clientAddr, 53), from, []byte("answer"))
	got := p.takeOne()
	// The same but for the IPv4 identification, which is the stack's.
	ip, err := wire.ParseIP(got)
	if err != nil || !bytes.Equal(ip.Payload, want[20:]) || ip.Src != clientAddr || ip.Dst != peerAddr || ip.TTL != 64 {
		t.Fatalf("sent % x\nwant % x", got, want)
	}
	if h, _, _ := wire.ParseIPv4(got); h.DontFragment {
		t.Error("DF set on a datagram")
	}
	// The read deadline moves the virtual clock.
	start := p.r.clk.Now()
	c.SetReadDeadline(start.Add(2 * time.Second))
	if _, _, err := c.ReadFrom(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("ReadFrom past the deadline: %v", err)
	}
	if d := p.r.clk.Now().Sub(start); d != 2*time.Second {
		t.Errorf("waited %v; want 2s", d)
	}
	if st := p.s.Stats(); st.UDPIn != 1 || st.UDPOut != 1 {
		t.Errorf("UDPIn %d, UDPOut %d", st.UDPIn, st.UDPOut)
	}
	// Errors.
	if _, err := c.Write([]byte("x")); !errors.Is(err, syscall.EDESTADDRREQ) {
		t.Errorf("Write on an unconnected socket: %v", err)
	}
	if _, err := p.s.ListenUDP("udp4", "198.18.0.1:53"); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("second bind: %v", err)
	}
	if _, err := p.s.ListenUDP("udp", "198.18.0.7:54"); !errors.Is(err, syscall.EADDRNOTAVAIL) {
		t.Errorf("bind to a foreign address: %v", err)
	}
	if _, err := c.WriteTo(make([]byte, 70000), net.UDPAddrFromAddrPort(from)); !errors.Is(err, syscall.EMSGSIZE) {
		t.Errorf("huge datagram: %v", err)
	}
	c.Close()
	if _, _, err := c.ReadFrom(buf); !errors.Is(err, net.ErrClosed) {
		t.Errorf("ReadFrom after Close: %v", err)
	}
	if err := c.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
	// The port is free again, and closed: port unreachable.
	p.take()
	p.s.DeliverPacket(udpDatagramPacket(from, netip.AddrPortFrom(clientAddr, 53), nil))
	if _, m := parseICMP(t, p.takeOne()); m.Type != wire.ICMPv4DestUnreachable {
		t.Errorf("after Close: %+v", m)
	}
}

func TestUDPQueueBound(t *testing.T) {
	p := newProbe(t, Options{UDPReceiveBuffer: 250})
	c, err := p.s.ListenUDP("udp6", "[2001:db8::1]:7")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		p.s.DeliverPacket(udpDatagramPacket(netip.AddrPortFrom(peer6, uint16(100+i)), netip.AddrPortFrom(client6, 7), make([]byte, 100)))
	}
	if st := p.s.Stats(); st.UDPIn != 2 || st.UDPQueueDrops != 2 {
		t.Errorf("UDPIn %d, UDPQueueDrops %d; want 2, 2", st.UDPIn, st.UDPQueueDrops)
	}
	for _, port := range []uint16{100, 101} {
		_, from, err := c.ReadFromUDPAddrPort(make([]byte, 200))
		if err != nil || from.Port() != port {
			t.Errorf("datagram from %v, %v; want port %d", from, err, port)
		}
	}
	// IPv4 does not reach a udp6 socket, nor a zero IPv6 checksum.
	p.s.DeliverPacket(udpDatagramPacket(netip.AddrPortFrom(peerAddr, 1), netip.AddrPortFrom(clientAddr, 7), nil))
	z := udpDatagramPacket(netip.AddrPortFrom(peer6, 1), netip.AddrPortFrom(client6, 7), nil)
	z[46], z[47] = 0, 0
	p.s.DeliverPacket(z)
	if st := p.s.Stats(); st.UDPIn != 2 || st.UDPNoPort != 1 || st.BadChecksum != 1 {
		t.Errorf("UDPIn %d, UDPNoPort %d, BadChecksum %d", st.UDPIn, st.UDPNoPort, st.BadChecksum)
	}
}

func TestUDPRealTime(t *testing.T) {
	cl, sv := pair(t, Options{}, Options{})
	for _, tc := range []struct{ network, listen, dial string }{
		{"udp", ":5300", "198.18.0.2:5300"},
		{"udp6", "[2001:db8::2]:5301", "[2001:db8::2]:5301"},
	} {
		srv, err := sv.ListenUDP(tc.network, tc.listen)
		if err != nil {
			t.Fatal(err)
		}
		c, err := cl.DialUDP(tc.network, tc.dial)
		if err != nil {
			t.Fatal(err)
		}
		var nc net.Conn = c // a connected socket is a net.Conn
		// 4000 bytes: fragmented (1500 MTU) and reassembled.
		msg := bytes.Repeat([]byte("0123456789"), 400)
		if _, err := nc.Write(msg); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 5000)
		srv.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, from, err := srv.ReadFrom(buf)
		if err != nil || !bytes.Equal(buf[:n], msg) || from.String() != c.LocalAddr().String() {
			t.Fatalf("server got %d bytes from %v, %v", n, from, err)
		}
		if _, err := srv.WriteTo([]byte("pong"), from); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if n, err := nc.Read(buf); err != nil || string(buf[:n]) != "pong" {
			t.Fatalf("client read %q, %v", buf[:n], err)
		}
		srv.Close()
		// Now the port is closed: the next write draws a port
		// unreachable, and the connected socket reports ECONNREFUSED.
		if _, err := c.Write([]byte("anyone?")); err != nil {
			t.Fatal(err)
		}
		_, err = c.Read(buf)
		var op *net.OpError
		if !errors.Is(err, syscall.ECONNREFUSED) || !errors.As(err, &op) || op.Op != "read" {
			t.Fatalf("read after port unreachable: %v", err)
		}
		c.Close()
	}
	if st := sv.Stats(); st.Reassembled != 2 || st.Fragments != 6 {
		t.Errorf("server Reassembled %d, Fragments %d; want 2, 6", st.Reassembled, st.Fragments)
	}
	if st := cl.Stats(); st.FragmentsOut != 6 || st.ICMPErrors != 2 {
		t.Errorf("client FragmentsOut %d, ICMPErrors %d; want 6, 2", st.FragmentsOut, st.ICMPErrors)
	}
}
