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

	"github.com/synack/synack/tcp"
	"github.com/synack/synack/wire"
)

// echoRequest is an ICMP (v6: ICMPv6) echo request as a ping socket's
// user writes it: identifier 0 (the stack puts its own), checksum 0.
func echoRequest(v6 bool, seq uint16, data string) []byte {
	typ := byte(wire.ICMPv4EchoRequest)
	if v6 {
		typ = wire.ICMPv6EchoRequest
	}
	return append([]byte{typ, 0, 0, 0, 0, 0, byte(seq >> 8), byte(seq)}, data...)
}

// A ping socket sends echo requests with its own identifier and reads
// the replies, IPv4 and IPv6, as the ICMP messages they are; the peer
// stack answers them as any host does.
func TestPing_EchoRoundTrip(t *testing.T) {
	cl, _ := pair(t, Options{}, Options{})
	for _, tc := range []struct {
		name     string
		to       netip.Addr
		v6       bool
		wantType byte
	}{
		{"v4", serverAddr, false, wire.ICMPv4EchoReply},
		{"v6", server6, true, wire.ICMPv6EchoReply},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := cl.DialPing(netip.Addr{}, tc.to)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			for seq := uint16(1); seq <= 3; seq++ {
				req := echoRequest(tc.v6, seq, "gopher burrow")
				if n, err := c.Write(req); n != len(req) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
				buf := make([]byte, 1500)
				n, from, err := c.ReadFromAddr(buf)
				if err != nil {
					t.Fatal(err)
				}
				got := buf[:n]
				if from != tc.to || n != 8+len("gopher burrow") || got[0] != tc.wantType || got[1] != 0 ||
					uint16(got[4])<<8|uint16(got[5]) != c.Ident() || uint16(got[6])<<8|uint16(got[7]) != seq ||
					!bytes.Equal(got[8:], []byte("gopher burrow")) {
					t.Fatalf("reply %x from %v; want type %d, ident %d, seq %d, the data, from %v", got, from, tc.wantType, c.Ident(), seq, tc.to)
				}
			}
		})
	}
}

// Replies reach only the socket whose identifier they carry and, for a
// connected socket, only from its peer; what is not an echo request is
// refused; a blocked read ends at the deadline and at Close.
func TestPing_Demux(t *testing.T) {
	cl, _ := pair(t, Options{}, Options{})
	a, err := cl.DialPing(netip.Addr{}, serverAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := cl.ListenPing(netip.IPv4Unspecified())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if a.Ident() == b.Ident() {
		t.Fatalf("two sockets share identifier %d", a.Ident())
	}
	if _, err := b.WriteTo(echoRequest(false, 7, "b"), &net.IPAddr{IP: serverAddr.AsSlice()}); err != nil {
		t.Fatal(err)
	}
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 100)
	if n, from, err := b.ReadFrom(buf); err != nil || n != 9 || buf[8] != 'b' || from.String() != serverAddr.String() {
		t.Fatalf("b read %x from %v, %v", buf[:n], from, err)
	}
	// a got nothing: its read runs into its deadline.
	a.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := a.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a read: %v; want the deadline", err)
	}
	// Not an echo request, or to another peer than the connected one.
	if _, err := a.Write([]byte{wire.ICMPv4EchoReply, 0, 0, 0, 0, 0, 0, 1}); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("writing an echo reply: %v; want EINVAL", err)
	}
	if _, err := a.Write([]byte{wire.ICMPv4EchoRequest, 0, 0}); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("writing 3 bytes: %v; want EINVAL", err)
	}
	if _, err := a.WriteTo(echoRequest(false, 1, ""), &net.IPAddr{IP: clientAddr.AsSlice()}); !errors.Is(err, syscall.EISCONN) {
		t.Fatalf("writing to another peer: %v; want EISCONN", err)
	}
	if _, err := b.WriteTo(echoRequest(false, 1, ""), &net.IPAddr{IP: server6.AsSlice()}); !errors.Is(err, syscall.EAFNOSUPPORT) {
		t.Fatalf("an IPv4 socket writing to IPv6: %v; want EAFNOSUPPORT", err)
	}
	if _, err := cl.DialPing(serverAddr, netip.Addr{}); !errors.Is(err, syscall.EADDRNOTAVAIL) {
		t.Fatalf("binding another host's address: %v; want EADDRNOTAVAIL", err)
	}
	// Close wakes a blocked read.
	a.SetReadDeadline(time.Time{})
	done := make(chan error, 1)
	go func() { _, err := a.Read(buf); done <- err }()
	time.Sleep(10 * time.Millisecond)
	a.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake the read")
	}
	if err := a.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
}

// In a simulation, on the virtual clock, the exchange is the same and
// replays: the first identifier comes from the stack's seeded secret.
func TestPing_Manual(t *testing.T) {
	idents := map[uint16]int{}
	for range 2 {
		cl, _, _ := manualPair(t, 5, tcp.Config{}, nil)
		c, err := cl.DialPing(netip.Addr{}, serverAddr)
		if err != nil {
			t.Fatal(err)
		}
		idents[c.Ident()]++
		if _, err := c.Write(echoRequest(false, 1, "x")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		c.SetReadDeadline(cl.clock.Now().Add(time.Second))
		if n, err := c.Read(buf); err != nil || n != 9 || buf[0] != wire.ICMPv4EchoReply {
			t.Fatalf("read %x, %v", buf[:n], err)
		}
	}
	if len(idents) != 1 {
		t.Fatalf("identifiers %v: the same seed must give the same one", idents)
	}
}
