package stack

import (
	"context"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/synack/synack/wire"
)

// UDP (RFC 768) beside TCP: sockets bound to a local address and port,
// optionally connected to one peer.

// udpKey is a UDP socket's place in the demultiplexing table: its local
// address (Addr invalid: any family; unspecified: any address of that
// family) and, when connected, its peer.
type udpKey struct {
	local, remote netip.AddrPort
}

// maxUDPPayload is the most data one datagram carries.
const (
	maxUDPPayload4 = 65535 - wire.IPv4HeaderLen - wire.UDPHeaderLen
	maxUDPPayload6 = 65535 - wire.UDPHeaderLen
)

// UDPConn is a UDP socket. It implements net.PacketConn (ReadFrom,
// WriteTo) and, once connected by DialUDP, net.Conn (Read, Write).
//
// Received datagrams wait in a queue bounded by Options.UDPReceiveBuffer
// bytes; what arrives when it is full is dropped and counted in
// Stats.UDPQueueDrops. A connected socket that receives an ICMP port
// unreachable (or another hard error) for a datagram it sent reports
// ECONNREFUSED (or that error) once, from its next Read or Write, as
// Linux does. Methods may be called from several goroutines at once.
type UDPConn struct {
	s       *Stack
	network string
	key     udpKey
	laddr   *net.UDPAddr
	raddr   *net.UDPAddr // nil unless connected

	mu     sync.Mutex
	queue  []udpDatagram
	queued int // bytes in queue
	closed bool
	err    error // a pending asynchronous (ICMP) error
	sockWait
	rcvBuf int // SetReadBuffer's queue limit; 0: Options.UDPReceiveBuffer
	sndBuf int // SetWriteBuffer's value (datagrams leave at once)
}

type udpDatagram struct {
	from netip.AddrPort
	data []byte
}

var (
	_ net.PacketConn = (*UDPConn)(nil)
	_ net.Conn       = (*UDPConn)(nil)
)

// parseUDPNetwork checks a UDP network name; it returns the address family
// it restricts to (4, 6, or 0 for either).
func parseUDPNetwork(op, network string) (int, error) {
	switch network {
	case "udp":
		return 0, nil
	case "udp4":
		return 4, nil
	case "udp6":
		return 6, nil
	}
	return 0, &net.OpError{Op: op, Net: network, Err: net.UnknownNetworkError(network)}
}

// ListenUDP opens a UDP socket on address (":port" or "ip:port") over
// network "udp", "udp4" or "udp6". Port 0 picks a free ephemeral port.
// ":port" (or "[::]:port") with "udp" receives over both IPv4 and IPv6.
// The socket is not connected: use ReadFrom and WriteTo.
func (s *Stack) ListenUDP(network, address string) (*UDPConn, error) {
	fam, err := parseUDPNetwork("listen", network)
	if err != nil {
		return nil, err
	}
	ap, err := parseAddr("listen", network, address, fam, true)
	if err != nil {
		return nil, err
	}
	a, ok := s.bindAddr(ap.Addr(), fam)
	if !ok {
		return nil, udpErr("listen", network, ap, syscall.EADDRNOTAVAIL)
	}
	c, err := s.bindUDP(network, a, ap.Port(), netip.AddrPort{})
	if err != nil {
		return nil, udpErr("listen", network, ap, err)
	}
	return c, nil
}

// DialUDP returns a UDP socket connected to address ("host:port", host an
// IP literal or a name the stack's resolver knows, which gives its first
// address) over network "udp", "udp4" or "udp6", from the source address
// of the route there and an ephemeral port. It receives only from that
// peer.
func (s *Stack) DialUDP(network, address string) (*UDPConn, error) {
	return s.DialUDPContext(context.Background(), network, address)
}

// DialUDPContext is DialUDP with a context. Nothing is sent, so ctx only
// matters for a name lookup, or if it is already done.
func (s *Stack) DialUDPContext(ctx context.Context, network, address string) (*UDPConn, error) {
	return s.dialUDP(ctx, network, address, netip.AddrPort{}, nil)
}

// dialUDP connects a UDP socket from laddr (zero, or an unspecified
// address or port 0: chosen) to address, resolved by r (nil: the
// stack's resolver).
func (s *Stack) dialUDP(ctx context.Context, network, address string, laddr netip.AddrPort, r *Resolver) (*UDPConn, error) {
	if _, err := parseUDPNetwork("dial", network); err != nil {
		return nil, err
	}
	addrs, err := s.resolveAddress(ctx, "dial", network, address, r)
	if err != nil {
		return nil, err
	}
	raddr := addrs[0]
	fail := func(err error) (*UDPConn, error) {
		var src net.Addr
		if laddr.IsValid() {
			src = net.UDPAddrFromAddrPort(laddr)
		}
		return nil, &net.OpError{Op: "dial", Net: network, Source: src, Addr: net.UDPAddrFromAddrPort(raddr), Err: wrapErrno("connect", mapContextErr(err))}
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	ra := raddr.Addr()
	if ra.IsUnspecified() || raddr.Port() == 0 {
		return fail(&net.AddrError{Err: "invalid remote address", Addr: raddr.String()})
	}
	rt := s.routes.Load()
	rte := rt.lookup(ra)
	if rte == nil {
		s.ctr.noRoute.Add(1)
		return fail(syscall.ENETUNREACH)
	}
	src := laddr.Addr().Unmap()
	if src.IsValid() && !src.IsUnspecified() {
		if !rt.local[src] || src.Is4() != ra.Is4() {
			return fail(syscall.EADDRNOTAVAIL)
		}
	} else {
		var ok bool
		if src, ok = rte.source(ra); !ok {
			s.ctr.noRoute.Add(1)
			return fail(syscall.EHOSTUNREACH)
		}
	}
	c, err := s.bindUDP(network, src, laddr.Port(), raddr)
	if err != nil {
		return fail(err)
	}
	return c, nil
}

func udpErr(op, network string, ap netip.AddrPort, err error) error {
	var addr net.Addr
	if ap.Addr().IsValid() || ap.Port() != 0 {
		addr = net.UDPAddrFromAddrPort(ap)
	}
	return &net.OpError{Op: op, Net: network, Addr: addr, Err: wrapErrno("bind", err)}
}

// bindUDP adds a socket on (a, port) — port 0: an ephemeral one —
// connected to remote if it is valid.
func (s *Stack) bindUDP(network string, a netip.Addr, port uint16, remote netip.AddrPort) (*UDPConn, error) {
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return nil, net.ErrClosed
	}
	s.udpMu.Lock()
	defer s.udpMu.Unlock()
	if port == 0 {
		offset := s.hash(a, remote, netip.AddrPort{})
		for range ephemeralCount {
			next := s.nextEphemeral.Add(1) - 1
			p := uint16(ephemeralMin + (offset+next)%ephemeralCount)
			if !s.udpConflictLocked(a, p) {
				port = p
				break
			}
		}
		if port == 0 {
			return nil, syscall.EADDRINUSE
		}
	} else if s.udpConflictLocked(a, port) {
		return nil, syscall.EADDRINUSE
	}
	c := &UDPConn{s: s, network: network, key: udpKey{local: netip.AddrPortFrom(a, port), remote: remote}}
	if a.IsValid() {
		c.laddr = net.UDPAddrFromAddrPort(c.key.local)
	} else {
		c.laddr = &net.UDPAddr{IP: net.IPv6unspecified, Port: int(port)}
	}
	if remote.IsValid() {
		c.raddr = net.UDPAddrFromAddrPort(remote)
	}
	s.udp[c.key] = c
	s.udpPorts[port]++
	return c, nil
}

// udpConflictLocked reports whether a socket on (a, port) would overlap
// one that exists.
func (s *Stack) udpConflictLocked(a netip.Addr, port uint16) bool {
	if s.udpPorts[port] == 0 {
		return false
	}
	for k := range s.udp {
		if k.local.Port() != port {
			continue
		}
		b := k.local.Addr()
		if !a.IsValid() || !b.IsValid() || a == b {
			return true
		}
		if a.Is4() == b.Is4() && (a.IsUnspecified() || b.IsUnspecified()) {
			return true
		}
	}
	return false
}

// udpLookup finds the socket for a datagram from remote to local: a
// connected one first, then one bound to the address, to the
// unspecified address of its family, to any address.
func (s *Stack) udpLookup(local, remote netip.AddrPort) *UDPConn {
	s.udpMu.RLock()
	defer s.udpMu.RUnlock()
	if s.udpPorts[local.Port()] == 0 {
		return nil
	}
	if c := s.udp[udpKey{local, remote}]; c != nil {
		return c
	}
	if c := s.udp[udpKey{local: local}]; c != nil {
		return c
	}
	unspec := netip.IPv6Unspecified()
	if local.Addr().Is4() {
		unspec = netip.IPv4Unspecified()
	}
	if c := s.udp[udpKey{local: netip.AddrPortFrom(unspec, local.Port())}]; c != nil {
		return c
	}
	return s.udp[udpKey{local: netip.AddrPortFrom(netip.Addr{}, local.Port())}]
}

// udpInput queues a datagram for its socket, or answers it with a port
// unreachable (RFC 1122 §4.1.3.1).
func (sh *shard) udpInput(p *inPacket) {
	s := sh.s
	c := s.udpLookup(p.key.local, p.key.remote)
	if c != nil && !s.ownsOrExact(c.key.local.Addr(), p.key.local.Addr()) {
		c = nil // a wildcard socket serves the stack's own addresses only
	}
	if c == nil && sh.forwardUDP(p) {
		return
	}
	if c == nil {
		s.ctr.udpNoPort.Add(1)
		sh.portUnreachable(p)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if c.queued+len(p.payload) > c.queueLimit() {
		s.ctr.udpDrops.Add(1)
		return
	}
	c.queue = append(c.queue, udpDatagram{from: p.key.remote, data: append([]byte(nil), p.payload...)})
	c.queued += len(p.payload)
	s.ctr.udpIn.Add(1)
	c.notifyLocked()
}

// udpError reports a hard ICMP error to the connected socket whose
// datagram it quotes; unconnected sockets do not hear of errors (as on
// Linux without IP_RECVERR).
func (s *Stack) udpError(p *inPacket) {
	if p.qerr.mtu > 0 {
		s.udpPathMTU(p)
		return
	}
	s.udpMu.RLock()
	c := s.udp[udpKey(p.key)]
	s.udpMu.RUnlock()
	if c == nil || !p.qerr.fatal {
		s.ctr.icmpIgnored.Add(1)
		return
	}
	s.ctr.icmpErrors.Add(1)
	c.mu.Lock()
	c.err = p.qerr.errno
	c.notifyLocked()
	c.mu.Unlock()
}

// closeUDP closes every UDP socket (Stack.Close).
func (s *Stack) closeUDP() {
	s.udpMu.RLock()
	cs := make([]*UDPConn, 0, len(s.udp))
	for _, c := range s.udp {
		cs = append(cs, c)
	}
	s.udpMu.RUnlock()
	for _, c := range cs {
		c.Close()
	}
}

func (c *UDPConn) opErr(op string, addr net.Addr, err error) error {
	if addr == nil && c.raddr != nil {
		addr = c.raddr
	}
	return &net.OpError{Op: op, Net: c.network, Source: c.laddr, Addr: addr, Err: wrapErrno(op, err)}
}

// ReadFromUDPAddrPort reads one datagram into b and returns its length and
// sender. It blocks until a datagram, an error or the read deadline
// (os.ErrDeadlineExceeded). A datagram longer than b is cut to fit and the
// rest lost, as with *net.UDPConn.
func (c *UDPConn) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	n, _, from, err := c.recv(b)
	return n, from, err
}

// recv reads one datagram into b: the bytes copied, the datagram's
// length, its sender.
func (c *UDPConn) recv(b []byte) (int, int, netip.AddrPort, error) {
	s := c.s
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return 0, 0, netip.AddrPort{}, c.opErr("read", nil, net.ErrClosed)
		}
		if err := c.err; err != nil {
			c.err = nil
			c.mu.Unlock()
			return 0, 0, netip.AddrPort{}, c.opErr("read", nil, err)
		}
		if len(c.queue) > 0 {
			d := c.queue[0]
			c.queue[0] = udpDatagram{}
			c.queue = c.queue[1:]
			if len(c.queue) == 0 {
				c.queue = nil
			}
			c.queued -= len(d.data)
			c.mu.Unlock()
			return copy(b, d.data), len(d.data), d.from, nil
		}
		err := s.awaitLocked(&c.mu, &c.sockWait, func() bool {
			return c.closed || c.err != nil || len(c.queue) > 0
		})
		if err != nil {
			return 0, 0, netip.AddrPort{}, c.opErr("read", nil, err)
		}
	}
}

// ReadFrom implements net.PacketConn; the address is a *net.UDPAddr.
func (c *UDPConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, from, err := c.ReadFromUDPAddrPort(b)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(from), nil
}

// Read implements net.Conn: ReadFrom without the sender.
func (c *UDPConn) Read(b []byte) (int, error) {
	n, _, err := c.ReadFromUDPAddrPort(b)
	return n, err
}

// WriteToUDPAddrPort sends b as one datagram to addr. A datagram larger
// than the path MTU is sent in fragments; one larger than IP can carry
// fails with EMSGSIZE. On a connected socket it fails with
// net.ErrWriteToConnected.
func (c *UDPConn) WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	if c.key.remote.IsValid() {
		return 0, c.opErr("write", net.UDPAddrFromAddrPort(addr), net.ErrWriteToConnected)
	}
	return c.send(b, addr)
}

// WriteTo implements net.PacketConn; addr must be a *net.UDPAddr.
func (c *UDPConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, c.opErr("write", addr, syscall.EINVAL)
	}
	return c.WriteToUDP(b, ua)
}

// Write implements net.Conn: it sends b as one datagram to the connected
// peer (EDESTADDRREQ if the socket is not connected).
func (c *UDPConn) Write(b []byte) (int, error) {
	if !c.key.remote.IsValid() {
		return 0, c.opErr("write", nil, syscall.EDESTADDRREQ)
	}
	return c.send(b, c.key.remote)
}

func (c *UDPConn) send(b []byte, to netip.AddrPort) (int, error) {
	s := c.s
	to = netip.AddrPortFrom(to.Addr().Unmap(), to.Port())
	addr := net.UDPAddrFromAddrPort(to)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return 0, c.opErr("write", addr, net.ErrClosed)
	}
	if err := c.err; err != nil {
		c.err = nil
		c.mu.Unlock()
		return 0, c.opErr("write", addr, err)
	}
	dl := c.wdl
	c.mu.Unlock()
	if !dl.IsZero() && !s.clock.Now().Before(dl) {
		return 0, c.opErr("write", addr, os.ErrDeadlineExceeded)
	}
	dst := to.Addr()
	if !dst.IsValid() || dst.IsUnspecified() || to.Port() == 0 {
		return 0, c.opErr("write", addr, &net.AddrError{Err: "invalid remote address", Addr: to.String()})
	}
	src := c.key.local.Addr()
	if src.IsValid() && !src.IsUnspecified() && src.Is4() != dst.Is4() ||
		src.IsValid() && src.IsUnspecified() && src.Is4() != dst.Is4() {
		return 0, c.opErr("write", addr, syscall.EAFNOSUPPORT)
	}
	limit := maxUDPPayload6
	if dst.Is4() {
		limit = maxUDPPayload4
	}
	if len(b) > limit {
		return 0, c.opErr("write", addr, syscall.EMSGSIZE)
	}
	r := s.routes.Load().lookup(dst)
	if r == nil {
		s.ctr.noRoute.Add(1)
		return 0, c.opErr("write", addr, syscall.ENETUNREACH)
	}
	if !src.IsValid() || src.IsUnspecified() {
		var ok bool
		if src, ok = r.source(dst); !ok {
			s.ctr.noRoute.Add(1)
			return 0, c.opErr("write", addr, syscall.EHOSTUNREACH)
		}
	}
	h := wire.UDPHeader{SrcPort: c.key.local.Port(), DstPort: to.Port()}
	n := wire.UDPHeaderLen + len(b)
	pkt := s.appendIPHeader(make([]byte, 0, wire.IPv6HeaderLen+n), src, dst, wire.ProtocolUDP, n)
	pkt = wire.AppendUDP(pkt, &h, b, wire.Endpoints{Src: src, Dst: dst})
	s.ctr.udpOut.Add(1)
	s.transmit(r, dst, pkt, nil)
	return len(b), nil
}

// Close closes the socket: blocked reads return net.ErrClosed, as does a
// second Close.
func (c *UDPConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return c.opErr("close", nil, net.ErrClosed)
	}
	c.closed = true
	c.queue, c.queued = nil, 0
	c.notifyLocked()
	c.mu.Unlock()
	s := c.s
	s.udpMu.Lock()
	if s.udp[c.key] == c {
		delete(s.udp, c.key)
		if s.udpPorts[c.key.local.Port()]--; s.udpPorts[c.key.local.Port()] <= 0 {
			delete(s.udpPorts, c.key.local.Port())
		}
	}
	s.udpMu.Unlock()
	return nil
}

// LocalAddr implements net.Conn; it returns a *net.UDPAddr.
func (c *UDPConn) LocalAddr() net.Addr { return c.laddr }

// RemoteAddr implements net.Conn: the connected peer as a *net.UDPAddr,
// or nil.
func (c *UDPConn) RemoteAddr() net.Addr {
	if c.raddr == nil {
		return nil
	}
	return c.raddr
}

// LocalAddrPort returns the local address (for a socket bound to every
// address, an invalid or unspecified Addr with the port).
func (c *UDPConn) LocalAddrPort() netip.AddrPort { return c.key.local }

// RemoteAddrPort returns the connected peer, or the zero AddrPort.
func (c *UDPConn) RemoteAddrPort() netip.AddrPort { return c.key.remote }

// SetDeadline implements net.Conn: it sets both deadlines.
func (c *UDPConn) SetDeadline(t time.Time) error { return c.setDeadline(t, true, true) }

// SetReadDeadline implements net.Conn. A read already blocked sees the new
// deadline at once.
func (c *UDPConn) SetReadDeadline(t time.Time) error { return c.setDeadline(t, true, false) }

// SetWriteDeadline implements net.Conn. Writes never wait, so it only
// makes writes fail once it has passed.
func (c *UDPConn) SetWriteDeadline(t time.Time) error { return c.setDeadline(t, false, true) }

func (c *UDPConn) setDeadline(t time.Time, read, write bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.opErr("set", nil, net.ErrClosed)
	}
	c.setLocked(t, read, write)
	return nil
}

// UDPSockets returns the local addresses of the stack's UDP sockets,
// sorted; for tests and tools.
func (s *Stack) UDPSockets() []netip.AddrPort {
	s.udpMu.RLock()
	defer s.udpMu.RUnlock()
	out := make([]netip.AddrPort, 0, len(s.udp))
	for k := range s.udp {
		out = append(out, k.local)
	}
	slices.SortFunc(out, compareAddrPort)
	return out
}
