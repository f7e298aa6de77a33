package wgnet

import (
	"context"
	"net"
	"net/netip"
	"time"

	"github.com/synack/synack/stack"
)

// PingAddr is the address of a ping socket's end, as tun/netstack's:
// Network is "ping4" or "ping6".
type PingAddr struct{ addr netip.Addr }

// PingAddrFromAddr returns addr as a *PingAddr.
func PingAddrFromAddr(addr netip.Addr) *PingAddr { return &PingAddr{addr} }

// Addr is the IP address.
func (a PingAddr) Addr() netip.Addr { return a.addr }

func (a PingAddr) String() string { return a.addr.String() }

// Network is "ping4", "ping6", or "ping" for an invalid address.
func (a PingAddr) Network() string {
	switch {
	case a.addr.Is4():
		return "ping4"
	case a.addr.Is6():
		return "ping6"
	}
	return "ping"
}

// PingConn is a ping socket through the tunnel (a *stack.PingConn): it
// writes ICMP or ICMPv6 echo requests, whose identifier the stack sets,
// and reads the echo replies that carry it, header and data, as
// tun/netstack's PingConn does. It is a net.Conn and a net.PacketConn.
type PingConn struct {
	c *stack.PingConn
}

var (
	_ net.Conn       = (*PingConn)(nil)
	_ net.PacketConn = (*PingConn)(nil)
)

// DialPingAddr opens a ping socket from laddr (invalid: the tunnel's
// address of raddr's family) to raddr (invalid: not connected).
func (n *Net) DialPingAddr(laddr, raddr netip.Addr) (*PingConn, error) {
	c, err := n.stk.DialPing(laddr, raddr)
	if err != nil {
		return nil, err
	}
	return &PingConn{c}, nil
}

// ListenPingAddr opens a ping socket that is not connected, on laddr (an
// unspecified address names the family only).
func (n *Net) ListenPingAddr(laddr netip.Addr) (*PingConn, error) {
	c, err := n.stk.ListenPing(laddr)
	if err != nil {
		return nil, err
	}
	return &PingConn{c}, nil
}

// DialPing is DialPingAddr with *PingAddr arguments (nil: invalid).
func (n *Net) DialPing(laddr, raddr *PingAddr) (*PingConn, error) {
	var la, ra netip.Addr
	if laddr != nil {
		la = laddr.addr
	}
	if raddr != nil {
		ra = raddr.addr
	}
	return n.DialPingAddr(la, ra)
}

// ListenPing is ListenPingAddr with a *PingAddr (nil: IPv4, any address).
func (n *Net) ListenPing(laddr *PingAddr) (*PingConn, error) {
	la := netip.IPv4Unspecified()
	if laddr != nil && laddr.addr.IsValid() {
		la = laddr.addr
	}
	return n.ListenPingAddr(la)
}

// dialPing is DialContext for "ping", "ping4" and "ping6": address is an
// IP address or a name looked up through the tunnel's DNS servers.
func (n *Net) dialPing(ctx context.Context, network, address string) (net.Conn, error) {
	want := func(a netip.Addr) bool {
		switch network {
		case "ping4":
			return a.Is4()
		case "ping6":
			return a.Is6() && !a.Is4In6()
		}
		return true
	}
	var candidates []netip.Addr
	if a, err := netip.ParseAddr(address); err == nil {
		candidates = append(candidates, a.Unmap())
	} else {
		names, err := n.LookupContextHost(ctx, address)
		if err != nil {
			return nil, dialErr(network, nil, err)
		}
		for _, s := range names {
			if a, err := netip.ParseAddr(s); err == nil {
				candidates = append(candidates, a.Unmap())
			}
		}
	}
	for _, a := range candidates {
		if want(a) {
			return n.DialPingAddr(netip.Addr{}, a)
		}
	}
	return nil, dialErr(network, nil, &net.AddrError{Err: "no suitable address", Addr: address})
}

// Read reads one echo reply (the ICMP message, cut to fit b).
func (p *PingConn) Read(b []byte) (int, error) { return p.c.Read(b) }

// ReadFrom reads one echo reply and its sender, a *PingAddr.
func (p *PingConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, from, err := p.c.ReadFromAddr(b)
	if err != nil {
		return n, nil, err
	}
	return n, &PingAddr{from}, nil
}

// Write sends the echo request b to the connected peer.
func (p *PingConn) Write(b []byte) (int, error) { return p.c.Write(b) }

// WriteTo sends the echo request b to addr: a *PingAddr or PingAddr, a
// *net.IPAddr or a *net.UDPAddr.
func (p *PingConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	switch a := addr.(type) {
	case *PingAddr:
		return p.c.WriteToAddr(b, a.addr)
	case PingAddr:
		return p.c.WriteToAddr(b, a.addr)
	}
	return p.c.WriteTo(b, addr)
}

// Close closes the socket.
func (p *PingConn) Close() error { return p.c.Close() }

// LocalAddr is the bound address (unspecified if none), a PingAddr
// value as tun/netstack's (ReadFrom's senders are *PingAddr, as there).
func (p *PingConn) LocalAddr() net.Addr { return PingAddr{p.c.LocalIP()} }

// RemoteAddr is the connected peer, a PingAddr value (invalid if none).
func (p *PingConn) RemoteAddr() net.Addr { return PingAddr{p.c.RemoteIP()} }

// SetDeadline sets the read and write deadlines.
func (p *PingConn) SetDeadline(t time.Time) error { return p.c.SetDeadline(t) }

// SetReadDeadline sets the read deadline.
func (p *PingConn) SetReadDeadline(t time.Time) error { return p.c.SetReadDeadline(t) }

// SetWriteDeadline sets the write deadline (writes never wait).
func (p *PingConn) SetWriteDeadline(t time.Time) error { return p.c.SetWriteDeadline(t) }
