package gateway

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/synack/synack/wire"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Direct reaches destinations through the host's own sockets. Traffic a
// gateway sends upstream must not come back into its own TUN device: bind
// it to the uplink (Interface), mark it for a routing rule (Mark), or
// open the sockets in another network namespace (NetNS).
type Direct struct {
	Interface string // SO_BINDTODEVICE to this interface, if set
	Mark      int    // SO_MARK (fwmark), if not zero
	NetNS     string // open the sockets in this network namespace (a name from "ip netns" or a path), if set
}

// DialTCP implements Upstream.
func (d Direct) DialTCP(ctx context.Context, dst netip.AddrPort) (net.Conn, error) {
	return d.dial(ctx, "tcp", dst.String())
}

// DialUDP implements Upstream with a connected UDP socket.
func (d Direct) DialUDP(ctx context.Context, dst netip.AddrPort) (net.Conn, error) {
	return d.dial(ctx, "udp", dst.String())
}

// dial dials address on network with the socket options and namespace set.
func (d Direct) dial(ctx context.Context, network, address string) (net.Conn, error) {
	dl := net.Dialer{Control: d.control}
	if d.NetNS == "" {
		return dl.DialContext(ctx, network, address)
	}
	var c net.Conn
	err := inNetNS(d.NetNS, func() (err error) {
		c, err = dl.DialContext(ctx, network, address)
		return err
	})
	return c, err
}

// listenPacket opens an unconnected UDP socket the same way (for SOCKS5's
// UDP ASSOCIATE).
func (d Direct) listenPacket(network string) (net.PacketConn, error) {
	lc := net.ListenConfig{Control: d.control}
	if d.NetNS == "" {
		return lc.ListenPacket(context.Background(), network, ":0")
	}
	var pc net.PacketConn
	err := inNetNS(d.NetNS, func() (err error) {
		pc, err = lc.ListenPacket(context.Background(), network, ":0")
		return err
	})
	return pc, err
}

func (d Direct) control(_, _ string, rc syscall.RawConn) error {
	if d.Interface == "" && d.Mark == 0 {
		return nil
	}
	var serr error
	err := rc.Control(func(fd uintptr) {
		if d.Interface != "" {
			if serr = unix.BindToDevice(int(fd), d.Interface); serr != nil {
				serr = fmt.Errorf("binding to interface %s: %w", d.Interface, serr)
				return
			}
		}
		if d.Mark != 0 {
			if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, d.Mark); serr != nil {
				serr = fmt.Errorf("setting fwmark %d: %w", d.Mark, serr)
			}
		}
	})
	if err != nil {
		return err
	}
	return serr
}

// inNetNS runs f on a thread inside network namespace ns; sockets f opens
// stay there.
func inNetNS(ns string, f func() error) error {
	var target netns.NsHandle
	var err error
	if strings.Contains(ns, "/") {
		target, err = netns.GetFromPath(ns)
	} else {
		target, err = netns.GetFromName(ns)
	}
	if err != nil {
		return fmt.Errorf("upstream network namespace %q: %w", ns, err)
	}
	defer target.Close()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("entering network namespace %q: %w", ns, err)
	}
	ferr := f()
	if err := netns.Set(orig); err != nil {
		// The thread stays locked and dies with the goroutine.
		return fmt.Errorf("leaving network namespace %q: %w", ns, err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// Ping implements Pinger with a raw ICMP socket of the host (root or
// CAP_NET_RAW), opened for this request with Direct's interface, mark and
// namespace: it sends an echo request with a random identifier and
// returns nil once the reply from dst with that identifier and seq comes.
func (d Direct) Ping(ctx context.Context, dst netip.Addr, seq uint16, data []byte) error {
	dst = dst.Unmap()
	network, req, reply := "ip4:icmp", uint8(wire.ICMPv4EchoRequest), uint8(wire.ICMPv4EchoReply)
	if dst.Is6() {
		network, req, reply = "ip6:ipv6-icmp", wire.ICMPv6EchoRequest, wire.ICMPv6EchoReply
	}
	lc := net.ListenConfig{Control: d.control}
	var pc net.PacketConn
	var err error
	if d.NetNS == "" {
		pc, err = lc.ListenPacket(ctx, network, "")
	} else {
		err = inNetNS(d.NetNS, func() (err error) {
			pc, err = lc.ListenPacket(ctx, network, "")
			return err
		})
	}
	if err != nil {
		return err
	}
	defer pc.Close()
	if dl, ok := ctx.Deadline(); ok {
		pc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { pc.SetDeadline(time.Now()) })
	defer stop()
	id := uint16(rand.Uint32())
	m := wire.NewICMPEcho(req, id, seq, data)
	// For ICMPv6 the kernel computes the checksum of a raw socket's
	// messages (RFC 3542 §3.1); the one written here is ignored.
	msg := wire.AppendICMPv4(nil, &m)
	if _, err := pc.WriteTo(msg, &net.IPAddr{IP: dst.AsSlice()}); err != nil {
		return err
	}
	buf := make([]byte, 1<<16)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return err
		}
		ia, ok := from.(*net.IPAddr)
		if !ok || n < wire.ICMPHeaderLen {
			continue
		}
		src, _ := netip.AddrFromSlice(ia.IP)
		// Go strips the IPv4 header of what an ip4 socket reads.
		if src.Unmap() == dst && buf[0] == reply &&
			binary.BigEndian.Uint16(buf[4:]) == id && binary.BigEndian.Uint16(buf[6:]) == seq {
			return nil
		}
	}
}
