package wgnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"github.com/synack/synack/stack"
)

// Net dials and listens through the tunnel. Its methods are those of
// wireguard-go's tun/netstack.Net; connections are *stack.Conn (a
// net.Conn with the methods of *net.TCPConn), listeners *stack.Listener
// and UDP sockets *stack.UDPConn.
type Net struct {
	stk *stack.Stack
}

// Stack is the synack stack behind the tunnel.
func (n *Net) Stack() *stack.Stack { return n.stk }

// DialContextTCPAddrPort dials addr over TCP.
func (n *Net) DialContextTCPAddrPort(ctx context.Context, addr netip.AddrPort) (*stack.Conn, error) {
	return n.stk.DialTCP(ctx, netip.AddrPort{}, addr)
}

// DialContextTCP dials addr over TCP.
func (n *Net) DialContextTCP(ctx context.Context, addr *net.TCPAddr) (*stack.Conn, error) {
	if addr == nil {
		return nil, dialErr("tcp", nil, errors.New("missing address"))
	}
	return n.DialContextTCPAddrPort(ctx, addr.AddrPort())
}

// DialTCPAddrPort dials addr over TCP.
func (n *Net) DialTCPAddrPort(addr netip.AddrPort) (*stack.Conn, error) {
	return n.DialContextTCPAddrPort(context.Background(), addr)
}

// DialTCP dials addr over TCP.
func (n *Net) DialTCP(addr *net.TCPAddr) (*stack.Conn, error) {
	return n.DialContextTCP(context.Background(), addr)
}

// ListenTCPAddrPort listens on addr (an unspecified address: any of the
// tunnel's).
func (n *Net) ListenTCPAddrPort(addr netip.AddrPort) (*stack.Listener, error) {
	return n.stk.Listen(tcpNetwork(addr.Addr()), addr.String())
}

// ListenTCP listens on addr.
func (n *Net) ListenTCP(addr *net.TCPAddr) (*stack.Listener, error) {
	if addr == nil {
		return n.stk.Listen("tcp", ":0")
	}
	return n.ListenTCPAddrPort(addr.AddrPort())
}

// DialUDPAddrPort opens a UDP socket on laddr (zero: any address, an
// ephemeral port) connected to raddr (zero: unconnected).
func (n *Net) DialUDPAddrPort(laddr, raddr netip.AddrPort) (*stack.UDPConn, error) {
	network := "udp"
	switch {
	case raddr.IsValid():
		network = udpNetwork(raddr.Addr())
	case laddr.IsValid():
		network = udpNetwork(laddr.Addr())
	}
	if !raddr.IsValid() {
		return n.stk.ListenUDP(network, laddrString(laddr))
	}
	if laddr.IsValid() && (laddr.Port() != 0 || !laddr.Addr().IsUnspecified()) {
		return nil, dialErr(network, net.UDPAddrFromAddrPort(raddr),
			fmt.Errorf("a local address for a connected UDP socket: %w", errors.ErrUnsupported))
	}
	return n.stk.DialUDP(network, raddr.String())
}

// ListenUDPAddrPort opens an unconnected UDP socket on laddr.
func (n *Net) ListenUDPAddrPort(laddr netip.AddrPort) (*stack.UDPConn, error) {
	return n.DialUDPAddrPort(laddr, netip.AddrPort{})
}

// DialUDP is DialUDPAddrPort with *net.UDPAddr (either may be nil).
func (n *Net) DialUDP(laddr, raddr *net.UDPAddr) (*stack.UDPConn, error) {
	var la, ra netip.AddrPort
	if laddr != nil {
		la = laddr.AddrPort()
	}
	if raddr != nil {
		ra = raddr.AddrPort()
	}
	return n.DialUDPAddrPort(la, ra)
}

// ListenUDP opens an unconnected UDP socket on laddr (nil: any).
func (n *Net) ListenUDP(laddr *net.UDPAddr) (*stack.UDPConn, error) {
	return n.DialUDP(laddr, nil)
}

// DialContext dials address ("host:port"; host a literal address or a name
// resolved through the DNS servers, each address tried in turn) over
// network: tcp, tcp4, tcp6, udp, udp4 or udp6; or, for ping, ping4 and
// ping6, address is a host alone and the result a *PingConn.
func (n *Net) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
		c, err := n.stk.DialContext(ctx, network, address)
		if err != nil {
			return nil, err
		}
		return c, nil
	case "udp", "udp4", "udp6":
		c, err := n.stk.DialUDPContext(ctx, network, address)
		if err != nil {
			return nil, err
		}
		return c, nil
	case "ping", "ping4", "ping6":
		return n.dialPing(ctx, network, address) // ping.go
	}
	return nil, dialErr(network, nil, net.UnknownNetworkError(network))
}

// Dial is DialContext without a context.
func (n *Net) Dial(network, address string) (net.Conn, error) {
	return n.DialContext(context.Background(), network, address)
}

func tcpNetwork(a netip.Addr) string {
	switch {
	case !a.IsValid() || a.IsUnspecified():
		return "tcp"
	case a.Is4():
		return "tcp4"
	}
	return "tcp6"
}

func udpNetwork(a netip.Addr) string {
	switch {
	case !a.IsValid() || a.IsUnspecified():
		return "udp"
	case a.Is4():
		return "udp4"
	}
	return "udp6"
}

func laddrString(a netip.AddrPort) string {
	if !a.Addr().IsValid() {
		return ":" + strconv.Itoa(int(a.Port()))
	}
	return a.String()
}

func dialErr(network string, addr net.Addr, err error) error {
	return &net.OpError{Op: "dial", Net: network, Addr: addr, Err: err}
}
