package stack

import (
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/synack/synack/wire"
)

// Ping sockets: ICMP echo without raw sockets, as Linux's
// SOCK_DGRAM/IPPROTO_ICMP sockets and gVisor's ICMP endpoints (which
// wireguard-go's tun/netstack offers as PingConn). The caller writes
// whole echo requests (an ICMP header and data); the stack puts the
// socket's identifier in them and computes the checksum. Echo replies
// carrying that identifier, from the connected peer if the socket is
// connected, are queued for ReadFrom, which returns each as the ICMP
// message it is (header and data).

// pingKey names a ping socket: its address family and echo identifier.
type pingKey struct {
	v6    bool
	ident uint16
}

// PingConn is a ping socket (Stack.DialPing, Stack.ListenPing). Its
// queue holds up to 64 replies; what arrives when it is full is dropped.
// Methods may be called from several goroutines at once.
type PingConn struct {
	s     *Stack
	key   pingKey
	laddr netip.Addr // the bound address, or the family's unspecified one
	raddr netip.Addr // the connected peer, or invalid

	mu     sync.Mutex
	queue  []pingReply
	closed bool
	sockWait
}

type pingReply struct {
	from netip.Addr
	msg  []byte // the ICMP message, header and data
}

// pingQueueLimit is how many replies a ping socket holds unread.
const pingQueueLimit = 64

var _ net.PacketConn = (*PingConn)(nil)

// DialPing opens a ping socket from laddr (invalid: the address the
// route to raddr selects) connected to raddr (invalid: not connected, as
// ListenPing). Both name the family, IPv4 (ICMP) or IPv6 (ICMPv6); a bound
// laddr must be one of the stack's addresses.
func (s *Stack) DialPing(laddr, raddr netip.Addr) (*PingConn, error) {
	laddr, raddr = laddr.Unmap(), raddr.Unmap()
	network := "ping4"
	if laddr.Is6() || raddr.Is6() {
		network = "ping6"
	}
	fail := func(err error) (*PingConn, error) {
		return nil, &net.OpError{Op: "dial", Net: network, Source: ipAddr(laddr), Addr: ipAddr(raddr), Err: wrapErrno("dial", err)}
	}
	switch {
	case !laddr.IsValid() && !raddr.IsValid():
		return fail(syscall.EDESTADDRREQ)
	case laddr.IsValid() && raddr.IsValid() && laddr.Is4() != raddr.Is4():
		return fail(syscall.EAFNOSUPPORT)
	case raddr.IsValid() && (raddr.IsUnspecified() || raddr.IsMulticast()):
		return fail(syscall.EINVAL)
	}
	v6 := network == "ping6"
	if !laddr.IsValid() || laddr.IsUnspecified() {
		laddr = netip.IPv4Unspecified()
		if v6 {
			laddr = netip.IPv6Unspecified()
		}
	} else if !s.routes.Load().local[laddr] {
		return fail(syscall.EADDRNOTAVAIL)
	}
	c := &PingConn{s: s, laddr: laddr, raddr: raddr}
	s.pingMu.Lock()
	defer s.pingMu.Unlock()
	if s.pings == nil {
		s.pings = make(map[pingKey]*PingConn)
		// The first identifier comes from the stack's secret, as an
		// ephemeral port does: replayable in a simulation, not guessable
		// from outside.
		s.pingNext = uint16(s.hash(netip.IPv4Unspecified(), netip.AddrPort{}, netip.AddrPort{}))
	}
	for range 1 << 16 {
		k := pingKey{v6: v6, ident: s.pingNext}
		s.pingNext++
		if s.pings[k] == nil {
			c.key = k
			s.pings[k] = c
			return c, nil
		}
	}
	return fail(syscall.EAGAIN) // every identifier of the family taken
}

// ListenPing opens a ping socket that is not connected: WriteTo sends to
// any address of laddr's family and ReadFrom returns replies from any.
// laddr may be an unspecified address, which names the family only.
func (s *Stack) ListenPing(laddr netip.Addr) (*PingConn, error) {
	if !laddr.IsValid() {
		return nil, &net.OpError{Op: "listen", Net: "ping", Err: syscall.EINVAL}
	}
	return s.DialPing(laddr, netip.Addr{})
}

// ipAddr is a as a *net.IPAddr, or nil for an invalid address.
func ipAddr(a netip.Addr) net.Addr {
	if !a.IsValid() {
		return nil
	}
	return &net.IPAddr{IP: a.AsSlice(), Zone: a.Zone()}
}

// pingInput queues an echo reply m, which came from src to dst, for the
// ping socket its identifier names; it reports whether one took it.
func (s *Stack) pingInput(src, dst netip.Addr, m *wire.ICMPMessage) bool {
	s.pingMu.Lock()
	c := s.pings[pingKey{v6: src.Is6(), ident: m.EchoID()}]
	s.pingMu.Unlock()
	if c == nil ||
		c.raddr.IsValid() && c.raddr != src ||
		!c.laddr.IsUnspecified() && c.laddr != dst {
		return false
	}
	msg := make([]byte, wire.ICMPHeaderLen+len(m.Body))
	msg[0], msg[1] = m.Type, m.Code
	binary.BigEndian.PutUint16(msg[2:], m.Checksum)
	binary.BigEndian.PutUint32(msg[4:], m.Rest)
	copy(msg[wire.ICMPHeaderLen:], m.Body)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || len(c.queue) >= pingQueueLimit {
		return true
	}
	c.queue = append(c.queue, pingReply{from: src, msg: msg})
	c.notifyLocked()
	return true
}

func (c *PingConn) network() string {
	if c.key.v6 {
		return "ping6"
	}
	return "ping4"
}

func (c *PingConn) opErr(op string, addr net.Addr, err error) error {
	if addr == nil && c.raddr.IsValid() {
		addr = ipAddr(c.raddr)
	}
	return &net.OpError{Op: op, Net: c.network(), Source: ipAddr(c.laddr), Addr: addr, Err: wrapErrno(op, err)}
}

// ReadFromAddr reads one echo reply into b, the whole ICMP message (cut
// to fit b), and returns its length and sender. It blocks until a reply,
// Close or the read deadline (os.ErrDeadlineExceeded).
func (c *PingConn) ReadFromAddr(b []byte) (int, netip.Addr, error) {
	s := c.s
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return 0, netip.Addr{}, c.opErr("read", nil, net.ErrClosed)
		}
		if len(c.queue) > 0 {
			r := c.queue[0]
			c.queue[0] = pingReply{}
			c.queue = c.queue[1:]
			if len(c.queue) == 0 {
				c.queue = nil
			}
			c.mu.Unlock()
			return copy(b, r.msg), r.from, nil
		}
		err := s.awaitLocked(&c.mu, &c.sockWait, func() bool { return c.closed || len(c.queue) > 0 })
		if err != nil {
			return 0, netip.Addr{}, c.opErr("read", nil, err)
		}
	}
}

// ReadFrom implements net.PacketConn; the address is a *net.IPAddr.
func (c *PingConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, from, err := c.ReadFromAddr(b)
	if err != nil {
		return n, nil, err
	}
	return n, ipAddr(from), nil
}

// Read reads one echo reply, as ReadFrom without the sender.
func (c *PingConn) Read(b []byte) (int, error) {
	n, _, err := c.ReadFromAddr(b)
	return n, err
}

// WriteToAddr sends the echo request b (an ICMP or ICMPv6 header of type
// echo request and code 0, then the data) to addr. The identifier is
// replaced by the socket's and the checksum computed; anything but an
// echo request fails with EINVAL. On a connected socket addr must be the
// peer.
func (c *PingConn) WriteToAddr(b []byte, addr netip.Addr) (int, error) {
	s := c.s
	addr = addr.Unmap()
	na := ipAddr(addr)
	c.mu.Lock()
	closed, dl := c.closed, c.wdl
	c.mu.Unlock()
	switch {
	case closed:
		return 0, c.opErr("write", na, net.ErrClosed)
	case !dl.IsZero() && !s.clock.Now().Before(dl):
		return 0, c.opErr("write", na, os.ErrDeadlineExceeded)
	case !addr.IsValid() || addr.IsUnspecified():
		return 0, c.opErr("write", na, syscall.EDESTADDRREQ)
	case addr.Is6() != c.key.v6:
		return 0, c.opErr("write", na, syscall.EAFNOSUPPORT)
	case c.raddr.IsValid() && addr != c.raddr:
		return 0, c.opErr("write", na, syscall.EISCONN)
	}
	echo := uint8(wire.ICMPv4EchoRequest)
	if c.key.v6 {
		echo = wire.ICMPv6EchoRequest
	}
	if len(b) < wire.ICMPHeaderLen || b[0] != echo || b[1] != 0 {
		return 0, c.opErr("write", na, syscall.EINVAL)
	}
	limit := maxUDPPayload4 + wire.UDPHeaderLen
	if c.key.v6 {
		limit = maxUDPPayload6 + wire.UDPHeaderLen
	}
	if len(b) > limit {
		return 0, c.opErr("write", na, syscall.EMSGSIZE)
	}
	r := s.routes.Load().lookup(addr)
	if r == nil {
		s.ctr.noRoute.Add(1)
		return 0, c.opErr("write", na, syscall.ENETUNREACH)
	}
	src := c.laddr
	if src.IsUnspecified() {
		var ok bool
		if src, ok = r.source(addr); !ok {
			s.ctr.noRoute.Add(1)
			return 0, c.opErr("write", na, syscall.EHOSTUNREACH)
		}
	}
	seq := binary.BigEndian.Uint16(b[6:8])
	m := wire.NewICMPEcho(echo, c.key.ident, seq, b[wire.ICMPHeaderLen:])
	pkt := s.appendICMPPacket(make([]byte, 0, wire.IPv6HeaderLen+len(b)), src, addr, &m)
	s.ctr.icmpOut.Add(1)
	s.transmit(r, addr, pkt, nil)
	return len(b), nil
}

// WriteTo implements net.PacketConn; addr is a *net.IPAddr, a
// *net.UDPAddr (as golang.org/x/net/icmp uses for these sockets) or any
// net.Addr with an Addr() netip.Addr method.
func (c *PingConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	var a netip.Addr
	switch v := addr.(type) {
	case *net.IPAddr:
		a, _ = netip.AddrFromSlice(v.IP)
	case *net.UDPAddr:
		a, _ = netip.AddrFromSlice(v.IP)
	case interface{ Addr() netip.Addr }:
		a = v.Addr()
	default:
		return 0, c.opErr("write", addr, syscall.EINVAL)
	}
	return c.WriteToAddr(b, a)
}

// Write sends the echo request b to the connected peer (EDESTADDRREQ if
// the socket is not connected).
func (c *PingConn) Write(b []byte) (int, error) {
	if !c.raddr.IsValid() {
		return 0, c.opErr("write", nil, syscall.EDESTADDRREQ)
	}
	return c.WriteToAddr(b, c.raddr)
}

// Close closes the socket: blocked reads return net.ErrClosed, as does a
// second Close.
func (c *PingConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return c.opErr("close", nil, net.ErrClosed)
	}
	c.closed = true
	c.queue = nil
	c.notifyLocked()
	c.mu.Unlock()
	s := c.s
	s.pingMu.Lock()
	if s.pings[c.key] == c {
		delete(s.pings, c.key)
	}
	s.pingMu.Unlock()
	return nil
}

// Ident is the echo identifier the stack puts in the socket's requests.
func (c *PingConn) Ident() uint16 { return c.key.ident }

// LocalIP is the bound address, or the family's unspecified address.
func (c *PingConn) LocalIP() netip.Addr { return c.laddr }

// RemoteIP is the connected peer, or the zero Addr.
func (c *PingConn) RemoteIP() netip.Addr { return c.raddr }

// LocalAddr implements net.PacketConn: a *net.IPAddr.
func (c *PingConn) LocalAddr() net.Addr { return ipAddr(c.laddr) }

// RemoteAddr is the connected peer as a *net.IPAddr, or nil.
func (c *PingConn) RemoteAddr() net.Addr { return ipAddr(c.raddr) }

// SetDeadline implements net.PacketConn: it sets both deadlines.
func (c *PingConn) SetDeadline(t time.Time) error { return c.setDeadline(t, true, true) }

// SetReadDeadline implements net.PacketConn; a blocked read sees a new
// deadline at once.
func (c *PingConn) SetReadDeadline(t time.Time) error { return c.setDeadline(t, true, false) }

// SetWriteDeadline implements net.PacketConn. Writes never wait, so it
// only makes writes fail once it has passed.
func (c *PingConn) SetWriteDeadline(t time.Time) error { return c.setDeadline(t, false, true) }

func (c *PingConn) setDeadline(t time.Time, read, write bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.opErr("set", nil, net.ErrClosed)
	}
	c.setLocked(t, read, write)
	return nil
}

// closePings closes every ping socket (Stack.Close).
func (s *Stack) closePings() {
	s.pingMu.Lock()
	cs := make([]*PingConn, 0, len(s.pings))
	for _, c := range s.pings {
		cs = append(cs, c)
	}
	s.pingMu.Unlock()
	for _, c := range cs {
		c.Close()
	}
}
