package stack

import (
	"errors"
	"net"
	"net/netip"
	"syscall"
)

// The methods of *net.UDPConn that net.PacketConn and net.Conn lack.

// errMissingAddress is what *net.UDPConn reports for a write to no
// address ("missing address").
var errMissingAddress = errors.New("missing address")

// minUDPReceiveBuffer is the smallest queue SetReadBuffer gives a socket.
const minUDPReceiveBuffer = 2048

// queueLimit is how many bytes of datagrams the socket queues (c.mu held).
func (c *UDPConn) queueLimit() int {
	if c.rcvBuf > 0 {
		return c.rcvBuf
	}
	return c.s.udpBuf
}

// ReadFromUDP reads one datagram, as ReadFromUDPAddrPort, and returns its
// sender as a *net.UDPAddr.
func (c *UDPConn) ReadFromUDP(b []byte) (int, *net.UDPAddr, error) {
	n, from, err := c.ReadFromUDPAddrPort(b)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(from), nil
}

// ReadMsgUDPAddrPort reads one datagram into b. No control messages are
// ever received: oobn is 0. flags has syscall.MSG_TRUNC set when the
// datagram was longer than b (the rest is lost), as recvmsg reports it.
func (c *UDPConn) ReadMsgUDPAddrPort(b, oob []byte) (n, oobn, flags int, addr netip.AddrPort, err error) {
	n, full, from, err := c.recv(b)
	if err != nil {
		return n, 0, 0, netip.AddrPort{}, err
	}
	if full > n {
		flags |= syscall.MSG_TRUNC
	}
	return n, 0, flags, from, nil
}

// ReadMsgUDP is ReadMsgUDPAddrPort with the sender as a *net.UDPAddr.
func (c *UDPConn) ReadMsgUDP(b, oob []byte) (n, oobn, flags int, addr *net.UDPAddr, err error) {
	var from netip.AddrPort
	n, oobn, flags, from, err = c.ReadMsgUDPAddrPort(b, oob)
	if err != nil {
		return n, oobn, flags, nil, err
	}
	return n, oobn, flags, net.UDPAddrFromAddrPort(from), nil
}

// WriteToUDP sends b as one datagram to addr, as WriteToUDPAddrPort; a
// nil addr fails with "missing address".
func (c *UDPConn) WriteToUDP(b []byte, addr *net.UDPAddr) (int, error) {
	if c.key.remote.IsValid() {
		return 0, c.opErr("write", addrOrNil(addr), net.ErrWriteToConnected)
	}
	if addr == nil {
		return 0, c.opErr("write", nil, errMissingAddress)
	}
	return c.send(b, addr.AddrPort())
}

// addrOrNil keeps a nil *net.UDPAddr from becoming a non-nil net.Addr.
func addrOrNil(a *net.UDPAddr) net.Addr {
	if a == nil {
		return nil
	}
	return a
}

// WriteMsgUDPAddrPort sends b as one datagram: to addr on an unconnected
// socket, to the peer on a connected one (addr must then be the zero
// AddrPort). Control messages are not supported: a non-empty oob fails
// with EINVAL.
func (c *UDPConn) WriteMsgUDPAddrPort(b, oob []byte, addr netip.AddrPort) (n, oobn int, err error) {
	connected := c.key.remote.IsValid()
	var a net.Addr
	if addr.IsValid() {
		a = net.UDPAddrFromAddrPort(addr)
	}
	switch {
	case connected && addr.IsValid():
		return 0, 0, c.opErr("write", a, net.ErrWriteToConnected)
	case !connected && !addr.IsValid():
		return 0, 0, c.opErr("write", nil, errMissingAddress)
	case len(oob) > 0:
		return 0, 0, c.opErr("write", a, syscall.EINVAL)
	case connected:
		addr = c.key.remote
	}
	n, err = c.send(b, addr)
	return n, 0, err
}

// WriteMsgUDP is WriteMsgUDPAddrPort with a *net.UDPAddr (nil on a
// connected socket).
func (c *UDPConn) WriteMsgUDP(b, oob []byte, addr *net.UDPAddr) (n, oobn int, err error) {
	var ap netip.AddrPort
	if addr != nil {
		ap = addr.AddrPort()
		if !ap.IsValid() {
			// A *net.UDPAddr without an IP: the unspecified address.
			ap = netip.AddrPortFrom(netip.IPv6Unspecified(), ap.Port())
		}
	}
	return c.WriteMsgUDPAddrPort(b, oob, ap)
}

// SetReadBuffer sets how many bytes of datagrams the socket queues before
// it drops what arrives (Options.UDPReceiveBuffer until then). As with
// SO_RCVBUF on Linux, a small or negative value gives a small queue (2
// KiB) rather than an error.
func (c *UDPConn) SetReadBuffer(bytes int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.opErr("set", nil, net.ErrClosed)
	}
	c.rcvBuf = max(bytes, minUDPReceiveBuffer)
	return nil
}

// SetWriteBuffer is accepted for compatibility with *net.UDPConn: synack
// sends a datagram when it is written, so there is no send queue to size.
func (c *UDPConn) SetWriteBuffer(bytes int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.opErr("set", nil, net.ErrClosed)
	}
	c.sndBuf = bytes
	return nil
}
