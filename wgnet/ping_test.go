package wgnet_test

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/synack/synack/wgnet"
	"github.com/synack/synack/wire"
)

// A ping socket's echo request leaves through the tun.Device with the
// socket's identifier; the reply written back into the device is read as
// the ICMP message it is, from a *PingAddr. No root needed: the test
// plays the far end on the device.
func TestPingThroughDevice(t *testing.T) {
	local, far := netip.MustParseAddr("198.18.30.2"), netip.MustParseAddr("198.18.30.1")
	dev, tnet, err := wgnet.CreateNetTUN([]netip.Addr{local}, nil, 1420)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	pc, err := tnet.DialPingAddr(netip.Addr{}, far)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if la, ra := pc.LocalAddr(), pc.RemoteAddr(); la.Network() != "ping4" || ra.String() != far.String() {
		t.Fatalf("addresses %v (%s), %v", la, la.Network(), ra)
	}
	req := append([]byte{wire.ICMPv4EchoRequest, 0, 0, 0, 0, 0, 0, 9}, "hello"...)
	if _, err := pc.Write(req); err != nil {
		t.Fatal(err)
	}
	bufs, sizes := [][]byte{make([]byte, 1500)}, []int{0}
	if _, err := dev.Read(bufs, sizes, 0); err != nil {
		t.Fatal(err)
	}
	ip, err := wire.ParseIP(bufs[0][:sizes[0]])
	if err != nil || ip.Protocol != wire.ProtocolICMP || ip.Src != local || ip.Dst != far {
		t.Fatalf("sent %+v, %v; want ICMP from %v to %v", ip, err, local, far)
	}
	m, err := wire.ParseICMPv4(ip.Payload)
	if err != nil || m.Type != wire.ICMPv4EchoRequest || m.EchoSeq() != 9 || string(m.Body) != "hello" {
		t.Fatalf("sent %+v, %v", m, err)
	}
	// The far end answers, echoing the identifier the stack chose.
	reply := wire.NewICMPEcho(wire.ICMPv4EchoReply, m.EchoID(), 9, []byte("hello"))
	pkt := wire.AppendIPv4(nil, &wire.IPv4Header{TTL: 64, Protocol: wire.ProtocolICMP, Src: far, Dst: local}, wire.ICMPHeaderLen+5)
	pkt = wire.AppendICMPv4(pkt, &reply)
	if _, err := dev.Write([][]byte{pkt}, 0); err != nil {
		t.Fatal(err)
	}
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 100)
	n, from, err := pc.ReadFrom(buf)
	if err != nil || n != 13 || buf[0] != wire.ICMPv4EchoReply || buf[7] != 9 || string(buf[8:n]) != "hello" {
		t.Fatalf("read %x, %v", buf[:n], err)
	}
	if pa, ok := from.(*wgnet.PingAddr); !ok || pa.Addr() != far || pa.Network() != "ping4" {
		t.Fatalf("sender %#v; want *PingAddr %v", from, far)
	}
	// Nothing more comes: the read ends at its deadline.
	pc.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := pc.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("second read: %v", err)
	}
	// Dial("ping4", address) gives the same kind of socket.
	c, err := tnet.Dial("ping4", far.String())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(*wgnet.PingConn); !ok {
		t.Fatalf("Dial(ping4) = %T", c)
	}
	c.Close()
	if _, err := tnet.Dial("ping6", far.String()); err == nil {
		t.Fatal("Dial(ping6) to an IPv4 address succeeded")
	}
	var _ net.PacketConn = pc
}
