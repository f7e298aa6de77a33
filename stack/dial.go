package stack

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"time"

	"github.com/synack/synack/link"
	"github.com/synack/synack/tcp"
)

// Ephemeral ports: the IANA range (RFC 6335), as RFC 6056 suggests.
const (
	ephemeralMin   = 49152
	ephemeralCount = 65536 - ephemeralMin
)

// parseNetwork checks a network name; it returns the address family it
// restricts to (4, 6, or 0 for either).
func parseNetwork(op, network string) (int, error) {
	switch network {
	case "tcp":
		return 0, nil
	case "tcp4":
		return 4, nil
	case "tcp6":
		return 6, nil
	}
	return 0, &net.OpError{Op: op, Net: network, Err: net.UnknownNetworkError(network)}
}

// parseAddr parses "ip:port" (host an IP literal; empty only when
// emptyHost) for network of family fam.
func parseAddr(op, network, address string, fam int, emptyHost bool) (netip.AddrPort, error) {
	bad := func(why string) error {
		return &net.OpError{Op: op, Net: network, Err: &net.AddrError{Err: why, Addr: address}}
	}
	host, ps, err := net.SplitHostPort(address)
	if err != nil {
		return netip.AddrPort{}, bad("address must be ip:port")
	}
	port, err := strconv.ParseUint(ps, 10, 16)
	if err != nil {
		return netip.AddrPort{}, bad("invalid port")
	}
	if host == "" {
		if !emptyHost {
			return netip.AddrPort{}, bad("missing host")
		}
		return netip.AddrPortFrom(netip.Addr{}, uint16(port)), nil
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.AddrPort{}, bad("host must be an IP literal here (Dial, DialUDP, Dialer and ListenConfig resolve names)")
	}
	if a.Zone() != "" {
		return netip.AddrPort{}, bad("zones are not supported")
	}
	a = a.Unmap()
	if (fam == 4 && !a.Is4()) || (fam == 6 && a.Is4()) {
		return netip.AddrPort{}, bad("address of the wrong family for " + network)
	}
	return netip.AddrPortFrom(a, uint16(port)), nil
}

// Dial connects to address ("host:port") over network "tcp", "tcp4" or
// "tcp6". The host is an IP literal or a name the stack's resolver knows
// (Options.Resolver; by default only "localhost"); a name with several
// addresses is tried address by address.
func (s *Stack) Dial(network, address string) (*Conn, error) {
	return s.DialContext(context.Background(), network, address)
}

// DialContext is Dial with a context that can cancel or time out the
// connect. As with package net, the error is then a *net.OpError holding
// "i/o timeout" (a net.Error whose Timeout is true, which is both
// os.ErrDeadlineExceeded and context.DeadlineExceeded) or "operation was
// canceled" (context.Canceled).
func (s *Stack) DialContext(ctx context.Context, network, address string) (*Conn, error) {
	if _, err := parseNetwork("dial", network); err != nil {
		return nil, err
	}
	return s.dialAddress(ctx, network, address, &dialOpts{})
}

// DialTCP connects from laddr to raddr. A zero laddr, or one with an
// unspecified address or port 0, lets the stack choose: the source
// address of the route to raddr and an ephemeral port (RFC 6056
// Algorithm 3).
func (s *Stack) DialTCP(ctx context.Context, laddr, raddr netip.AddrPort) (*Conn, error) {
	return s.dial(ctx, "tcp", laddr, raddr, &dialOpts{})
}

func (s *Stack) dial(ctx context.Context, network string, laddr, raddr netip.AddrPort, o *dialOpts) (*Conn, error) {
	raddr = netip.AddrPortFrom(raddr.Addr().Unmap(), raddr.Port())
	fail := func(_ netip.AddrPort, err error) (*Conn, error) {
		err = mapContextErr(err)
		// As package net: the source is the one the caller asked for.
		var src net.Addr
		if laddr.IsValid() {
			src = net.TCPAddrFromAddrPort(laddr)
		}
		var dst net.Addr
		if raddr.Addr().IsValid() {
			dst = net.TCPAddrFromAddrPort(raddr)
		}
		return nil, &net.OpError{Op: "dial", Net: network, Source: src, Addr: dst, Err: wrapErrno("connect", err)}
	}
	ra := raddr.Addr()
	if !ra.IsValid() || ra.IsUnspecified() || ra.IsMulticast() || raddr.Port() == 0 {
		return fail(laddr, &net.AddrError{Err: "invalid remote address", Addr: raddr.String()})
	}
	if err := ctx.Err(); err != nil {
		return fail(laddr, err)
	}
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return fail(laddr, net.ErrClosed)
	}
	rt := s.routes.Load()
	r := rt.lookup(ra)
	if r == nil {
		s.ctr.noRoute.Add(1)
		return fail(laddr, syscall.ENETUNREACH)
	}
	src := laddr.Addr().Unmap()
	if !src.IsValid() || src.IsUnspecified() {
		src, _ = r.source(ra)
	} else if !s.forwardsTo(src, rt.local) || src.Is4() != ra.Is4() {
		return fail(laddr, syscall.EADDRNOTAVAIL)
	}
	if !src.IsValid() {
		s.ctr.noRoute.Add(1)
		return fail(laddr, syscall.EHOSTUNREACH)
	}

	// Pick the port; the shard comes back locked with the tuple free.
	var key tuple
	var sh *shard
	if laddr.Port() != 0 {
		key = tuple{netip.AddrPortFrom(src, laddr.Port()), raddr}
		sh = s.shardFor(key)
		sh.mu.Lock()
		if !sh.tupleFree(key) {
			sh.mu.Unlock()
			return fail(key.local, syscall.EADDRINUSE)
		}
	} else {
		key, sh = s.ephemeral(src, raddr)
		if sh == nil {
			return fail(netip.AddrPortFrom(src, 0), syscall.EADDRNOTAVAIL)
		}
	}
	now := s.clock.Now()
	c := s.newConn(sh, key, r)
	cfg := s.config(r, ra)
	if o.control != nil {
		if err := o.control(network, raddr.String(), &cfg); err != nil {
			sh.mu.Unlock()
			return fail(key.local, err)
		}
	}
	var fo *FastOpenDial
	if o.fastOpen {
		fo = &FastOpenDial{}
	}
	c.tcb = s.activeTCB(sh, cfg, key, now, fo)
	c.watch()
	s.report(key.local, key.remote, tcp.StateClosed, tcp.StateSynSent, now)
	sh.insert(c)
	s.ctr.activeOpens.Add(1)
	sh.settle(c, now)

	if c.tcb.FastOpenPending() {
		sh.unlock()
		return c, nil // the SYN goes with the first Write (fastopen.go)
	}
	dl, _ := ctx.Deadline()
	if !o.deadline.IsZero() && (dl.IsZero() || o.deadline.Before(dl)) {
		dl = o.deadline
	}
	if err := sh.awaitHandshake(ctx, c, tcp.StateSynSent, dl); err != nil {
		sh.unlock()
		return fail(key.local, err)
	}
	if c.tcb.State() == tcp.StateClosed || c.tcb.Done() {
		err := c.failure(c.tcb.Err())
		switch {
		case c.closed: // Stack.Close
			err = net.ErrClosed
		case err == nil:
			err = syscall.ECONNREFUSED
		}
		sh.unlock()
		return fail(key.local, err)
	}
	sh.unlock()
	return c, nil
}

// awaitHandshake waits until c, in state from, leaves it or ends (sh.mu
// held on entry and on return; released while waiting). When ctx ends,
// deadline passes on the stack's clock or waiting cannot succeed, it
// aborts c, takes it out of the table and returns why.
func (sh *shard) awaitHandshake(ctx context.Context, c *Conn, from tcp.State, deadline time.Time) error {
	s := sh.s
	for {
		if c.tcb.State() != from || c.tcb.Done() {
			return nil
		}
		err := ctx.Err()
		if err == nil && !deadline.IsZero() && !s.clock.Now().Before(deadline) {
			err = context.DeadlineExceeded // on the stack's clock
		}
		if err == nil {
			ch := c.waitChan()
			sh.unlock()
			err = s.block(ch, deadline, ctx, c.ready(func() bool { return c.tcb.State() != from || c.tcb.Done() }))
			sh.mu.Lock()
		}
		if err != nil {
			c.closed = true
			now := s.clock.Now()
			c.tcb.Abort(now)
			sh.settle(c, now)
			sh.remove(c)
			return err
		}
	}
}

// config returns the engine configuration for a connection over r to dst:
// its MSS fits the path MTU.
func (s *Stack) config(r *route, dst netip.Addr) tcp.Config {
	cfg := s.cfg
	mss := r.mss(dst)
	if pm := s.pathMTU(r, dst); pm < r.mtu {
		mss -= r.mtu - pm
	}
	if cfg.MSS <= 0 || cfg.MSS > mss {
		cfg.MSS = mss
	}
	// Over a link that takes payloads from the send buffer's pages
	// (send-side zero copy, emitOwn), a segment spanning two pages would
	// be copied: cut segments at the pages' ends instead.
	if ho, ok := r.l.(link.PayloadHandoff); ok && ho.PeerAdopts() {
		cfg.PageSegments = true
	}
	cfg.DeferReclaim = s.bufferIdle > 0 // shard.sweepIdle
	return cfg
}

// ephemeral picks a local port for a connection from src to raddr with RFC
// 6056 Algorithm 3 ("simple hash-based"): a keyed hash of the addresses
// gives each destination its own offset into the range, and a counter
// walks it. It returns the tuple and its shard, locked; nil if every port
// is taken. When every port to raddr is taken and some are held only by
// our own TIME-WAIT records, the first of those that may be reused
// (tcp.TimeWait.ReusableForDial, Linux's tcp_tw_reuse; not with
// Options.NoTimeWaitReuse) is taken: its record is forgotten and the
// shard's dialISS holds the least initial sequence number the new
// connection may use (activeTCB takes it).
func (s *Stack) ephemeral(src netip.Addr, raddr netip.AddrPort) (tuple, *shard) {
	offset := s.hash(src, netip.AddrPortFrom(raddr.Addr(), raddr.Port()), netip.AddrPort{})
	var now time.Time
	var reuse tuple // the first 4-tuple held only by a reusable TIME-WAIT record
	for range ephemeralCount {
		next := s.nextEphemeral.Add(1) - 1
		port := uint16(ephemeralMin + (offset+next)%ephemeralCount)
		if s.listensOn(port) {
			continue
		}
		key := tuple{netip.AddrPortFrom(src, port), raddr}
		sh := s.shardFor(key)
		sh.mu.Lock()
		if sh.tupleFree(key) {
			return key, sh
		}
		if !reuse.local.IsValid() && !s.noTWReuse && sh.conns.get(key) == nil && sh.inTimeWait(key) {
			if now.IsZero() {
				now = s.clock.Now()
			}
			if rec := sh.tw[twKeyOf(key)]; rec.ReusableForDial(now) {
				reuse = key
			}
		}
		sh.mu.Unlock()
	}
	if !reuse.local.IsValid() {
		return tuple{}, nil
	}
	sh := s.shardFor(reuse)
	sh.mu.Lock()
	if sh.conns.get(reuse) == nil && sh.reuseTimeWait(reuse, now) {
		s.ctr.twReused.Add(1)
		return reuse, sh
	}
	sh.mu.Unlock()
	return tuple{}, nil
}

func (s *Stack) listensOn(port uint16) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.listenPorts[port] != 0
}

// tsOffset is the offset of the TSval clock of our connections from src
// to dst (tcp.Config.TSOffset): a keyed hash of the two addresses alone,
// as Linux's secure_tcp_ts_off, so that a peer sees our TSvals grow
// across connections (RFC 6191) and no peer learns our clock; never 0.
func (s *Stack) tsOffset(src, dst netip.Addr) uint32 {
	if h := s.hash(src, netip.AddrPortFrom(dst, 0), netip.AddrPortFrom(netip.IPv6Unspecified(), 1)); h != 0 {
		return h
	}
	return 1
}

// hash is a keyed hash of addresses (SHA-256 over them and the secret).
func (s *Stack) hash(a netip.Addr, b, c netip.AddrPort) uint32 {
	var buf [16 + 18 + 18]byte
	a16 := a.As16()
	b16 := b.Addr().As16()
	c16 := c.Addr().As16()
	copy(buf[0:], a16[:])
	copy(buf[16:], b16[:])
	binary.BigEndian.PutUint16(buf[32:], b.Port())
	copy(buf[34:], c16[:])
	binary.BigEndian.PutUint16(buf[50:], c.Port())
	h := sha256.New()
	h.Write(buf[:])
	h.Write(s.secret)
	var sum [sha256.Size]byte
	return binary.BigEndian.Uint32(h.Sum(sum[:0]))
}

// isn chooses an initial sequence number (RFC 6528).
func (s *Stack) isn(local, remote netip.AddrPort, now time.Time) uint32 {
	return tcp.ISN(s.secret, local, remote, now)
}
