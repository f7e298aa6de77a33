package stack

import (
	"context"
	"net"
	"net/netip"
	"syscall"
	"time"

	"os"
	"sync"

	"github.com/synack/synack/tcp"
)

// Listener is a TCP listener; it implements net.Listener.
//
// Each listener keeps two queues, as Linux does:
//
//   - the SYN queue: half-open (SYN-RECEIVED) connections, at most
//     Options.SynBacklog (like Linux's tcp_max_syn_backlog). A SYN that
//     finds it full is answered with a SYN cookie (Options.SynCookies,
//     Stats.SynCookiesSent): the listener keeps nothing, and the peer's
//     ACK, if its cookie is valid, creates the connection straight into
//     the accept queue. With cookies off, the SYN is dropped and counted
//     in Stats.SynQueueDrops. A SYN flood therefore fills the SYN queue
//     but does not keep real clients out.
//   - the accept queue: connections that completed the handshake, waiting
//     for Accept, at most the backlog (capped by Options.MaxBacklog, like
//     Linux's somaxconn). While it is full, new SYNs are dropped, as
//     Linux does: no SYN-ACK and no cookie, counted in
//     Stats.ListenOverflows and Stats.ListenDrops; the peer sends its SYN
//     again (after 1 s, 3 s, ...) and gets in once Accept has made room.
//
// A handshake the listener has answered always completes: when its final
// ACK (or a valid cookie ACK) arrives, the connection joins the accept
// queue even if the queue has filled meanwhile, so that no connection
// exists only at the peer. (Linux ignores that ACK and lets the SYN-ACK
// retransmissions retry; an idle client whose retries run out, or whose
// cookie ACK was dropped, then holds a connection the server never
// accepts.) The accept queue can so run over the backlog by at most the
// SYN queue's length; a cookie ACK beyond that is ignored and counted in
// Stats.ListenOverflows and Stats.AcceptQueueDrops. With
// Options.AbortOnOverflow a handshake that completes when the queue is
// full is reset instead (Linux's tcp_abort_on_overflow=1).
type Listener struct {
	s          *Stack
	key        netip.AddrPort // the address listened on; an invalid Addr means any
	addr       *net.TCPAddr
	backlog    int
	synBacklog int

	mu       sync.Mutex
	half     map[*Conn]struct{} // the SYN queue
	queue    []*Conn            // the accept queue
	cookieAt time.Time          // when the last SYN cookie was sent
	closed   bool
	fo       listenerFastOpen // TCP Fast Open (fastopen.go)
	deadline time.Time        // for Accept
	waitCh   chan struct{}    // closed when the accept queue, closed or deadline changes

	so listenerOpts // socket options (sockopt.go), guarded by mu
}

var _ net.Listener = (*Listener)(nil)

// Listen listens on address (":port" or "ip:port") over network "tcp",
// "tcp4" or "tcp6", with the stack's default backlogs. Port 0 picks a free
// ephemeral port. ":port" (or "[::]:port") with "tcp" accepts both IPv4 and
// IPv6.
func (s *Stack) Listen(network, address string) (*Listener, error) {
	return s.ListenBacklog(network, address, 0)
}

// ListenBacklog is Listen with an accept-queue length (backlog <= 0 means
// Options.Backlog); like listen(2) on Linux, the length is capped at
// Options.MaxBacklog (somaxconn).
func (s *Stack) ListenBacklog(network, address string, backlog int) (*Listener, error) {
	fam, err := parseNetwork("listen", network)
	if err != nil {
		return nil, err
	}
	ap, err := parseAddr("listen", network, address, fam, true)
	if err != nil {
		return nil, err
	}
	a, ok := s.bindAddr(ap.Addr(), fam)
	if !ok {
		return nil, listenErr(network, ap, syscall.EADDRNOTAVAIL)
	}
	if backlog <= 0 {
		backlog = s.backlog
	}
	backlog = min(backlog, s.maxBacklog)
	l := &Listener{
		s:          s,
		backlog:    backlog,
		synBacklog: s.synBacklog,
		half:       make(map[*Conn]struct{}),
	}

	port := ap.Port()
	if port == 0 {
		if port = s.freePort(); port == 0 {
			return nil, listenErr(network, ap, syscall.EADDRINUSE)
		}
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, listenErr(network, ap, net.ErrClosed)
	}
	if s.listenConflictLocked(a, port) {
		s.mu.Unlock()
		return nil, listenErr(network, ap, syscall.EADDRINUSE)
	}
	l.key = netip.AddrPortFrom(a, port)
	if a.IsValid() {
		l.addr = net.TCPAddrFromAddrPort(l.key)
	} else {
		l.addr = &net.TCPAddr{IP: net.IPv6unspecified, Port: int(port)}
	}
	s.listeners[l.key] = l
	s.listenPorts[port]++
	s.mu.Unlock()
	s.report(l.key, netip.AddrPort{}, tcp.StateClosed, tcp.StateListen, s.clock.Now())
	return l, nil
}

func listenErr(network string, ap netip.AddrPort, err error) error {
	var addr net.Addr
	if ap.Addr().IsValid() || ap.Port() != 0 {
		addr = net.TCPAddrFromAddrPort(ap)
	}
	return &net.OpError{Op: "listen", Net: network, Addr: addr, Err: wrapErrno("bind", err)}
}

// listenConflictLocked reports whether a listener on (a, port) would
// overlap an existing one.
func (s *Stack) listenConflictLocked(a netip.Addr, port uint16) bool {
	if s.listenPorts[port] == 0 {
		return false
	}
	for k := range s.listeners {
		if k.Port() != port {
			continue
		}
		b := k.Addr()
		if !a.IsValid() || !b.IsValid() || a == b {
			return true
		}
		if a.Is4() == b.Is4() && (a.IsUnspecified() || b.IsUnspecified()) {
			return true
		}
	}
	return false
}

// freePort picks an ephemeral port that no listener or connection uses; 0
// if none. It takes no lock while it looks at the shards (a shard takes
// Stack.mu under its own lock); Listen checks again under Stack.mu.
func (s *Stack) freePort() uint16 {
	for range ephemeralCount {
		port := ephemeralMin + uint16(s.nextEphemeral.Add(1)%ephemeralCount)
		if !s.listensOn(port) && !s.portInUse(port) {
			return port
		}
	}
	return 0
}

// portInUse reports whether any connection uses port locally.
func (s *Stack) portInUse(port uint16) bool {
	for _, sh := range s.shards {
		sh.mu.Lock()
		for c := range sh.conns.all() {
			if c.key.local.Port() == port {
				sh.mu.Unlock()
				return true
			}
		}
		sh.mu.Unlock()
	}
	return false
}

// listenerFor returns the listener for a segment addressed to local: on
// that address, else on the unspecified address of its family, else on
// any address.
func (s *Stack) listenerFor(local netip.AddrPort) *Listener {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.listenPorts[local.Port()] == 0 {
		return nil
	}
	if l := s.listeners[local]; l != nil {
		return l
	}
	unspec := netip.IPv6Unspecified()
	if local.Addr().Is4() {
		unspec = netip.IPv4Unspecified()
	}
	if l := s.listeners[netip.AddrPortFrom(unspec, local.Port())]; l != nil {
		return l
	}
	return s.listeners[netip.AddrPortFrom(netip.Addr{}, local.Port())]
}

type admitResult uint8

const (
	admitOK       admitResult = iota
	admitFull                 // the SYN queue is full and cookies are off
	admitClosed               // the listener is closed
	admitCookie               // answer with a SYN cookie
	admitOverflow             // the accept queue is full: drop the SYN
)

// admit decides what becomes of a SYN under cookie mode mode. While the
// accept queue is full the SYN is dropped (admitOverflow). Otherwise,
// with room in the SYN queue (and cookies not always on), it adds the
// connection mk makes; without, it says to send a cookie or, with cookies
// off, to drop the SYN.
func (l *Listener) admit(mode SynCookieMode, now time.Time, mk func() *Conn) (*Conn, admitResult) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, admitClosed
	}
	if len(l.queue) >= l.backlog {
		return nil, admitOverflow
	}
	if mode == SynCookiesAlways || len(l.half) >= l.synBacklog {
		if mode == SynCookiesOff {
			return nil, admitFull
		}
		l.cookieAt = now
		return nil, admitCookie
	}
	c := mk()
	l.half[c] = struct{}{}
	return c, admitOK
}

// cookiesSentSince reports whether l sent a SYN cookie at t or later.
func (l *Listener) cookiesSentSince(t time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.cookieAt.IsZero() && !l.cookieAt.Before(t)
}

// promote moves c from the SYN queue to the accept queue. If the queue is
// full it refuses (admitFull) when strict is set (AbortOnOverflow);
// otherwise c goes in all the same: the listener answered its SYN, and
// the peer holds an established connection.
func (l *Listener) promote(c *Conn, strict bool) admitResult {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.half, c)
	if l.closed {
		return admitClosed
	}
	if strict && len(l.queue) >= l.backlog {
		return admitFull
	}
	l.queue = append(l.queue, c)
	l.notifyLocked()
	return admitOK
}

// cookieRoom reports whether a connection made from a cookie ACK may join
// the accept queue: below the backlog when strict is set
// (AbortOnOverflow), else below twice the backlog plus the SYN queue's
// length. Cookies go out only while the accept queue is below the backlog
// and the SYN queue is full; the half-open connections of that SYN queue
// may complete (and join past the backlog) before the cookies' ACKs
// arrive, and an ACK dropped here is lost for good when the client then
// waits for the server to speak, hence the second allowance.
func (l *Listener) cookieRoom(strict bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(l.queue)
	if strict {
		return n < l.backlog
	}
	return n < 2*(l.backlog+l.synBacklog)
}

// enqueue puts c, made from a SYN cookie, in the accept queue.
func (l *Listener) enqueue(c *Conn) admitResult {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return admitClosed
	}
	l.queue = append(l.queue, c)
	l.notifyLocked()
	return admitOK
}

// forget removes c from the SYN queue.
func (l *Listener) forget(c *Conn) {
	l.mu.Lock()
	delete(l.half, c)
	l.mu.Unlock()
}

func (l *Listener) notifyLocked() {
	if l.waitCh != nil {
		close(l.waitCh)
		l.waitCh = nil
	}
}

// Accept implements net.Listener; the net.Conn is a *Conn.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.AcceptContext(context.Background())
	if err != nil {
		return nil, err
	}
	return c, nil
}

// AcceptTCP accepts the next connection.
func (l *Listener) AcceptTCP() (*Conn, error) {
	return l.AcceptContext(context.Background())
}

// AcceptContext accepts the next connection; cancelling ctx (or its
// deadline passing) makes it return ctx's error in a *net.OpError.
func (l *Listener) AcceptContext(ctx context.Context) (*Conn, error) {
	for {
		l.mu.Lock()
		if len(l.queue) > 0 {
			c := l.queue[0]
			copy(l.queue, l.queue[1:])
			l.queue[len(l.queue)-1] = nil
			l.queue = l.queue[:len(l.queue)-1]
			l.mu.Unlock()
			return c, nil
		}
		if l.closed {
			l.mu.Unlock()
			return nil, l.opErr("accept", net.ErrClosed)
		}
		if err := ctx.Err(); err != nil {
			l.mu.Unlock()
			return nil, l.opErr("accept", err)
		}
		ldl := l.deadline
		if !ldl.IsZero() && !l.s.clock.Now().Before(ldl) {
			l.mu.Unlock()
			return nil, l.opErr("accept", os.ErrDeadlineExceeded)
		}
		dl, _ := ctx.Deadline()
		if !ldl.IsZero() && (dl.IsZero() || ldl.Before(dl)) {
			dl = ldl
		}
		ch := l.s.drv.waitChan(&l.waitCh)
		l.mu.Unlock()
		err := l.s.block(ch, dl, ctx, func() bool {
			l.mu.Lock()
			defer l.mu.Unlock()
			return len(l.queue) > 0 || l.closed || !l.deadline.Equal(ldl)
		})
		if err != nil {
			return nil, l.opErr("accept", err)
		}
	}
}

func (l *Listener) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Addr: l.addr, Err: err}
}

// Close implements net.Listener: the listener stops accepting, its
// established but not yet accepted connections are reset and its
// half-open (SYN-RECEIVED) ones are dropped silently, as Linux does: a
// later segment of theirs reaches no connection and is answered by a RST. A blocked Accept
// returns net.ErrClosed (in a *net.OpError), as does a second Close.
func (l *Listener) Close() error {
	if !l.close() {
		return l.opErr("close", net.ErrClosed)
	}
	return nil
}

// close does Close; it reports false if the listener was already closed.
func (l *Listener) close() bool {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return false
	}
	l.closed = true
	doomed := append([]*Conn(nil), l.queue...)
	nReset := len(doomed)
	for c := range l.half {
		doomed = append(doomed, c)
	}
	l.half = map[*Conn]struct{}{}
	l.queue = nil
	l.notifyLocked()
	l.mu.Unlock()

	s := l.s
	s.mu.Lock()
	if s.listeners[l.key] == l {
		delete(s.listeners, l.key)
		if s.listenPorts[l.key.Port()]--; s.listenPorts[l.key.Port()] <= 0 {
			delete(s.listenPorts, l.key.Port())
		}
	}
	s.mu.Unlock()

	now := s.clock.Now()
	for i, c := range doomed {
		sh := c.sh
		sh.mu.Lock()
		c.halfOpen = false
		if c.inTable && !c.tcb.Done() {
			if i < nReset {
				c.tcb.Abort(now)
			} else {
				c.tcb.Discard(now)
			}
			sh.settle(c, now)
		}
		sh.unlock()
	}
	s.report(l.key, netip.AddrPort{}, tcp.StateListen, tcp.StateClosed, now)
	return true
}

// Addr implements net.Listener; it returns a *net.TCPAddr.
func (l *Listener) Addr() net.Addr { return l.addr }

// SetDeadline sets the deadline for Accept, also for a call already
// blocked; the zero time means none. Accept past the deadline returns
// os.ErrDeadlineExceeded in a *net.OpError.
func (l *Listener) SetDeadline(t time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return l.opErr("set", net.ErrClosed)
	}
	l.deadline = t
	l.notifyLocked()
	return nil
}
