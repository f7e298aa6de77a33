package stack

import (
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/synack/synack/tcp"
)

// This file holds the non-blocking, socket-like face of the stack that a
// BSD-sockets emulation (package pkt's packetdrill runner) needs: an active
// open that returns at once, with its own engine configuration, reads and
// writes that never wait, and readiness queries for poll.

// DialStart begins an active open from laddr to raddr and returns at once
// with the connection in SYN-SENT (a non-blocking connect). A zero laddr,
// or one with an unspecified address or port 0, lets the stack choose, as
// in DialTCP. cfg, when not nil, replaces Options.TCP for this connection
// (its MSS is still capped by the route). Whether the handshake succeeds
// is seen later with State and Err.
func (s *Stack) DialStart(laddr, raddr netip.AddrPort, cfg *tcp.Config) (*Conn, error) {
	return s.dialStart(laddr, raddr, cfg, nil)
}

// dialStart is DialStart, a Fast Open one when fo is set (fastopen.go).
func (s *Stack) dialStart(laddr, raddr netip.AddrPort, cfg *tcp.Config, fo *FastOpenDial) (*Conn, error) {
	raddr = netip.AddrPortFrom(raddr.Addr().Unmap(), raddr.Port())
	fail := func(err error) (*Conn, error) {
		var dst net.Addr
		if raddr.Addr().IsValid() {
			dst = net.TCPAddrFromAddrPort(raddr)
		}
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: dst, Err: wrapErrno("connect", err)}
	}
	ra := raddr.Addr()
	if !ra.IsValid() || ra.IsUnspecified() || ra.IsMulticast() || raddr.Port() == 0 {
		return fail(&net.AddrError{Err: "invalid remote address", Addr: raddr.String()})
	}
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return fail(net.ErrClosed)
	}
	rt := s.routes.Load()
	r := rt.lookup(ra)
	if r == nil {
		s.ctr.noRoute.Add(1)
		return fail(syscall.ENETUNREACH)
	}
	src := laddr.Addr().Unmap()
	if !src.IsValid() || src.IsUnspecified() {
		src, _ = r.source(ra)
	} else if !rt.local[src] || src.Is4() != ra.Is4() {
		return fail(syscall.EADDRNOTAVAIL)
	}
	if !src.IsValid() {
		s.ctr.noRoute.Add(1)
		return fail(syscall.EHOSTUNREACH)
	}
	var key tuple
	var sh *shard
	if laddr.Port() != 0 {
		key = tuple{netip.AddrPortFrom(src, laddr.Port()), raddr}
		sh = s.shardFor(key)
		sh.mu.Lock()
		if !sh.tupleFree(key) {
			sh.mu.Unlock()
			return fail(syscall.EADDRINUSE)
		}
	} else {
		key, sh = s.ephemeral(src, raddr)
		if sh == nil {
			return fail(syscall.EADDRNOTAVAIL)
		}
	}
	now := s.clock.Now()
	c := s.newConn(sh, key, r)
	conf := s.config(r, ra)
	if cfg != nil {
		mss := conf.MSS
		conf = *cfg
		if conf.MSS <= 0 || conf.MSS > mss {
			conf.MSS = mss
		}
	}
	c.tcb = s.activeTCB(sh, conf, key, now, fo)
	c.watch()
	s.report(key.local, key.remote, tcp.StateClosed, tcp.StateSynSent, now)
	sh.insert(c)
	s.ctr.activeOpens.Add(1)
	sh.settle(c, now)
	sh.unlock()
	return c, nil
}

// Err returns the error that ended the connection — syscall.ECONNREFUSED,
// ECONNRESET or ETIMEDOUT — or nil while it lives or after an orderly end.
func (c *Conn) Err() error {
	c.sh.mu.Lock()
	defer c.sh.mu.Unlock()
	return c.failure(c.tcb.Err())
}

// Readiness is what a poll on a connection would see.
type Readiness struct {
	// Readable: a Read would return data, io.EOF or an error at once.
	Readable bool
	// Writable: a Write would fail at once, or queue data with at least
	// a third of the send buffer free (tcp.TCB.Writable: as Linux's
	// poll, POLLOUT only once the free space is half of what is queued).
	Writable bool
	// State is the connection's RFC 9293 state.
	State tcp.State
	// Err is the error that ended the connection, or nil.
	Err error
}

// Readiness reports whether Read and Write would complete without
// waiting, with the state and error they depend on.
func (c *Conn) Readiness() Readiness {
	c.sh.mu.Lock()
	defer c.sh.mu.Unlock()
	return Readiness{
		Readable: c.closed || c.rdShut || c.tcb.Readable(),
		Writable: c.closed || c.wrShut || c.tcb.Writable(),
		State:    c.tcb.State(),
		Err:      c.failure(c.tcb.Err()),
	}
}

// TryRead is Read that never waits: when nothing is ready it returns an
// error wrapping syscall.EAGAIN. The read deadline is not consulted.
func (c *Conn) TryRead(b []byte) (int, error) {
	c.sh.mu.Lock()
	n, err, done := c.readLocked(b, c.s.clock.Now(), time.Time{})
	c.sh.unlock()
	if !done {
		return 0, c.opErr("read", syscall.EAGAIN)
	}
	return n, err
}

// TryWrite is Write that never waits: it queues what fits in the send
// buffer and returns how much that was; when nothing fits it returns an
// error wrapping syscall.EAGAIN. The write deadline is not consulted.
func (c *Conn) TryWrite(b []byte) (int, error) {
	c.sh.mu.Lock()
	n, err := c.writeLocked(b, c.s.clock.Now(), time.Time{})
	c.sh.unlock()
	if err == nil && n == 0 && len(b) > 0 {
		return 0, c.opErr("write", syscall.EAGAIN)
	}
	return n, err
}

// Pending returns the number of connections in the accept queue: an
// Accept would return at once when it is not zero.
func (l *Listener) Pending() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.queue)
}
