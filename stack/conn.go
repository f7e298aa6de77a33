package stack

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"github.com/synack/synack/tcp"
)

// Conn is a TCP connection; it implements net.Conn and the methods of
// *net.TCPConn.
//
// Methods may be called from several goroutines at once. Read, Write and
// Close with a linger run in the caller's goroutine; none of them keeps a
// lock while it waits.
type Conn struct {
	s     *Stack
	sh    *shard
	key   tuple
	route *route

	// Guarded by sh.mu. The layout is kept small: an idle connection is
	// this struct and its TCB (TestConnSize).
	tcb      *tcp.TCB
	lst      *Listener
	waitCh   chan struct{} // closed (and cleared) when anything changes
	timerAt  int64         // the deadline sh.timers holds for this connection (sh.mono; 0: none)
	rdl, wdl int64         // read and write deadlines (sh.mono; 0: none)
	hardErr  errno16       // an ICMP error that failed the connect (SYN-SENT)
	softErr  errno16       // the last soft ICMP error (RFC 1122 §4.2.3.9)
	linger   int32         // seconds Close lingers (SetLinger); < 0: close in the background
	inTable  bool          // in sh.conns
	halfOpen bool          // in lst's SYN queue
	closed   bool          // Close was called
	rdShut   bool          // CloseRead was called
	wrShut   bool          // CloseWrite was called
	tw       bool          // in TIME-WAIT: a record in sh.tw stands for it (timewait.go)
	errTaken bool          // a Read or Write has reported the error that ended the connection (takeErr)
	// timerKept marks the connection's entry kept while sh.timers
	// compacts (timerHeap.compact).
	timerKept bool

	// Socket options (sockopt.go), guarded by sh.mu.
	ipo    ipOpts         // IP_TOS, IP_TTL, IPV6_TCLASS, IPV6_UNICAST_HOPS
	wflags tcp.WriteFlags // send flags of the WriteFlags call in progress

	// Separate wake-ups for readers and writers (guarded by sh.mu):
	// settle wakes a blocked Read only when it can proceed and a blocked
	// Write likewise, so that pure ACKs do not wake a Read.
	rdW, wrW waiters
}

// waiters is the reusable wake-up of one kind of blocked call (Reads or
// Writes) of a connection, in real-time mode, guarded by sh.mu: a channel
// with room for one token, which wakes one waiter, allocated once;
// broadcast closes it (Close, deadlines), and the next waiter makes
// another. A woken call that completes passes a token on to the next
// waiter while the connection is still ready (chain), so that several
// concurrent Reads all see the data or the end. A stale token only makes
// one wait return early, to look again.
type waiters struct {
	ch    chan struct{}
	n     int32  // callers counted by add and not yet by done
	waits uint16 // times add was called, wrapping (tests)
	// est estimates how long a blocked Read waits on this connection
	// (busy polling, driver.go): 0 for an idle connection, whose Reads
	// park at once.
	est uint16
}

// add counts a caller about to wait and returns the channel to wait on.
func (w *waiters) add() chan struct{} {
	if w.ch == nil {
		w.ch = make(chan struct{}, 1)
	}
	w.n++
	w.waits++
	return w.ch
}

// done uncounts a caller whose wait ended.
func (w *waiters) done() { w.n-- }

// signal wakes one waiter, if any waits.
func (w *waiters) signal() {
	if w.n > 0 {
		select {
		case w.ch <- struct{}{}:
		default:
		}
	}
}

// broadcast wakes every waiter.
func (w *waiters) broadcast() {
	if w.ch != nil {
		close(w.ch)
		w.ch = nil
	}
}

// takeErr is what a Read (write false) or Write reports when the engine
// ended the connection with err (sh.mu held). Like a socket's pending
// error on Linux, it is reported once, to whichever call comes first;
// after that reads see the end of the stream and writes EPIPE, as they
// do through package net.
func (c *Conn) takeErr(err error, write bool) error {
	if !c.errTaken {
		c.errTaken = true
		return err
	}
	if write {
		return syscall.EPIPE
	}
	return io.EOF
}

// failure turns the error the engine ended the connection with into the
// one the application sees (sh.mu held): a hard ICMP error that aborted
// the connect, or, for a timeout, the last soft ICMP error, which says
// more than ETIMEDOUT (RFC 1122 §4.2.3.9, as Linux reports it).
func (c *Conn) failure(err error) error {
	switch {
	case c.hardErr != 0:
		return syscall.Errno(c.hardErr)
	case c.softErr != 0 && errors.Is(err, syscall.ETIMEDOUT):
		return syscall.Errno(c.softErr)
	}
	return err
}

// errno16 is an errno in two bytes (errnos are small numbers): the ICMP
// errors a Conn keeps.
type errno16 uint16

var _ net.Conn = (*Conn)(nil)

func (s *Stack) newConn(sh *shard, key tuple, r *route) *Conn {
	return &Conn{
		s:      s,
		sh:     sh,
		key:    key,
		route:  r,
		linger: -1,
	}
}

// emit sends one of the TCB's segments; c.tcb.DrainOutput(c.emit) takes
// it as a method value that does not escape, so no closure is kept per
// connection.
func (c *Conn) emit(seg *tcp.Segment) {
	c.sh.ipo = c.ipo // sockopt.go
	c.sh.emit(c.route, c.key.local, c.key.remote, seg)
	c.sh.ipo = ipOpts{}
}

// watch reports c's state changes to the trace and the counters.
func (c *Conn) watch() {
	c.tcb.OnStateChange = func(from, to tcp.State, now time.Time) {
		c.s.countTransition(from, to)
		c.s.report(c.key.local, c.key.remote, from, to, now)
	}
}

// notify wakes every goroutine waiting on c (sh.mu held).
func (c *Conn) notify() {
	if c.waitCh != nil {
		close(c.waitCh)
		c.waitCh = nil
	}
	c.rdW.broadcast()
	c.wrW.broadcast()
}

// wake is notify after an engine call that reported ev (sh.mu held): it
// wakes a blocked Read only when one can proceed, and a blocked Write
// likewise; the other waiters (Dial, Close with linger) always. A call
// waits only after seeing the connection not ready, so the engine's
// EventReadable (EventWritable) is what makes it ready, or Close,
// CloseRead (CloseWrite) here.
func (c *Conn) wake(ev tcp.Events) {
	if c.waitCh != nil {
		close(c.waitCh)
		c.waitCh = nil
	}
	if c.rdW.n > 0 && (ev&tcp.EventReadable != 0 || c.closed || c.rdShut) {
		c.rdW.signal()
	}
	if c.wrW.n > 0 && (ev&tcp.EventWritable != 0 || c.closed || c.wrShut) {
		c.wrW.signal()
	}
}

func (c *Conn) canRead() bool  { return c.closed || c.rdShut || c.tcb.Readable() }
func (c *Conn) canWrite() bool { return c.closed || c.wrShut || c.tcb.Writable() }

// waitChan returns the channel notify will close (sh.mu held); nil in
// manual mode, where waiting goes through the Runner.
func (c *Conn) waitChan() chan struct{} { return c.s.drv.waitChan(&c.waitCh) }

// ready runs f under sh.mu; it is how manual-mode waits poll.
func (c *Conn) ready(f func() bool) func() bool {
	return func() bool {
		c.sh.mu.Lock()
		defer c.sh.mu.Unlock()
		return f()
	}
}

func (c *Conn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: wrapErrno(op, err)}
}

// Read implements net.Conn. It blocks until data, the peer's FIN (io.EOF),
// an error or the read deadline (os.ErrDeadlineExceeded).
func (c *Conn) Read(b []byte) (int, error) {
	sh := c.sh
	waited, est := false, uint16(0)
	for {
		sh.mu.Lock()
		if waited {
			c.rdW.done()
			c.rdW.est = est
			waited = false
		}
		rdl := c.rdl
		dl := sh.wall(rdl)
		var now time.Time // zero: not read (nothing to do but wait)
		if rdl != 0 || len(b) == 0 || c.canRead() || c.tcb.FastOpenPending() {
			now = c.s.clock.Now()
			if n, err, done := c.readLocked(b, now, dl); done {
				if c.rdW.n > 0 && c.canRead() {
					c.rdW.signal() // the next blocked Read looks too
				}
				sh.unlock()
				return n, err
			}
		}
		ch := c.s.drv.waiter(&c.rdW)
		waited = ch != nil
		w := connWait{c: c, dl: rdl, est: c.rdW.est, timed: sh.timeWait(c, ch, rdl)}
		if len(sh.pending) > 0 {
			now = time.Time{} // unlock writes them, which takes time: read the clock again
		}
		sh.unlock()
		var err error
		est, err = c.s.drv.blockConn(ch, dl, now, w)
		if err != nil {
			return 0, c.opErr("read", err)
		}
	}
}

// readLocked is one attempt at a read, made with the shard locked: what
// Read and TryRead share. done is false when nothing was ready, so the
// caller waits (Read) or reports EAGAIN (TryRead). A zero dl is no
// deadline.
func (c *Conn) readLocked(b []byte, now, dl time.Time) (n int, err error, done bool) {
	switch {
	case c.closed:
		return 0, c.opErr("read", net.ErrClosed), true
	case c.rdShut:
		return 0, io.EOF, true
	case len(b) == 0:
		return 0, nil, true
	case !dl.IsZero() && !now.Before(dl):
		return 0, c.opErr("read", os.ErrDeadlineExceeded), true
	}
	n, err = c.tcb.Read(b, now)
	if n == 0 && err == nil {
		c.fastOpenKick(now) // a Fast Open dial read before writing
		return 0, nil, false
	}
	c.sh.settle(c, now) // a window update may be due
	if err != nil {
		// An ICMP error that ended the connection outranks the
		// engine's view (io.EOF from a CLOSED TCB, or ETIMEDOUT).
		err = c.failure(err)
		if !errors.Is(err, io.EOF) {
			err = c.takeErr(err, false)
		}
	}
	switch {
	case errors.Is(err, io.EOF):
		return n, io.EOF, true
	case err != nil:
		return n, c.opErr("read", err), true
	}
	return n, nil, true
}

// Write implements net.Conn. It blocks until all of b is queued for
// sending, or an error or the write deadline stops it; it returns how much
// was queued.
func (c *Conn) Write(b []byte) (int, error) {
	sh := c.sh
	total := 0
	waited := false
	for {
		sh.mu.Lock()
		if waited {
			c.wrW.done()
			waited = false
		}
		wdl := c.wdl
		dl := sh.wall(wdl)
		now := c.s.clock.Now()
		n, err := c.writeLocked(b[total:], now, dl)
		total += n
		if err != nil || total == len(b) {
			if c.wrW.n > 0 && c.canWrite() {
				c.wrW.signal() // the next blocked Write looks too
			}
			sh.unlock()
			return total, err
		}
		ch := c.s.drv.waiter(&c.wrW)
		waited = ch != nil
		timed := sh.timeWait(c, ch, wdl)
		if len(sh.pending) > 0 {
			now = time.Time{} // unlock writes them, which takes time: read the clock again
		}
		sh.unlock()
		_, err = c.s.drv.blockConn(ch, dl, now, connWait{c: c, write: true, dl: wdl, timed: timed})
		if err != nil {
			return total, c.opErr("write", err)
		}
	}
}

// writeLocked is one attempt at a write, made with the shard locked: what
// Write and TryWrite share. It queues what fits in the send buffer and
// returns how much that was (0 and no error when nothing fits). A zero dl
// is no deadline.
func (c *Conn) writeLocked(b []byte, now, dl time.Time) (int, error) {
	switch {
	case c.closed:
		return 0, c.opErr("write", net.ErrClosed)
	case c.wrShut:
		// A pending error goes first, as tcp_sendmsg reports sk_err
		// before the shutdown.
		err := error(syscall.EPIPE)
		if e := c.tcb.Err(); e != nil {
			err = c.takeErr(c.failure(e), true)
		}
		return 0, c.opErr("write", err)
	case !dl.IsZero() && !now.Before(dl):
		return 0, c.opErr("write", os.ErrDeadlineExceeded)
	case len(b) == 0:
		return 0, nil
	}
	n, err := c.tcb.WriteWithFlags(b, c.wflags, now) // flags: WriteFlags (sockopt.go)
	if n > 0 || err != nil {
		c.sh.settle(c, now)
	}
	if err != nil {
		err = c.failure(err)
		if c.tcb.Err() != nil || c.hardErr != 0 {
			err = c.takeErr(err, true)
		}
		return n, c.opErr("write", err)
	}
	return n, nil
}

// Close implements net.Conn. By default it returns at once and the
// connection closes in the background (FIN after the queued data, or a RST
// if received data was left unread); see SetLinger for the other modes.
// Blocked Reads and Writes return net.ErrClosed. Closing twice returns
// net.ErrClosed.
func (c *Conn) Close() error {
	sh := c.sh
	sh.mu.Lock()
	if c.closed {
		sh.unlock()
		return c.opErr("close", net.ErrClosed)
	}
	c.closed = true
	now := c.s.clock.Now()
	if c.linger == 0 {
		if !c.tcb.Done() {
			c.tcb.Abort(now)
		}
	} else if !c.tcb.Done() {
		_ = c.tcb.Close(now) // its error (e.g. already reset) is no news to Close
	}
	sh.settle(c, now)
	if c.linger <= 0 {
		sh.unlock()
		return nil
	}
	deadline := now.Add(time.Duration(c.linger) * time.Second)
	finAcked := func() bool {
		switch c.tcb.State() {
		case tcp.StateFinWait2, tcp.StateTimeWait, tcp.StateClosed:
			return true
		}
		return c.tcb.Done()
	}
	for !finAcked() && c.s.clock.Now().Before(deadline) {
		ch := c.waitChan()
		sh.unlock()
		if err := c.s.block(ch, deadline, nil, c.ready(finAcked)); err != nil {
			return c.opErr("close", err)
		}
		sh.mu.Lock()
	}
	sh.unlock()
	return nil
}

// LocalAddr implements net.Conn; it returns a *net.TCPAddr, made on each
// call (the connection keeps only its compact 4-tuple).
func (c *Conn) LocalAddr() net.Addr { return net.TCPAddrFromAddrPort(c.key.local) }

// RemoteAddr implements net.Conn; it returns a *net.TCPAddr, made on each
// call.
func (c *Conn) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(c.key.remote) }

// LocalAddrPort returns the local address.
func (c *Conn) LocalAddrPort() netip.AddrPort { return c.key.local }

// RemoteAddrPort returns the remote address.
func (c *Conn) RemoteAddrPort() netip.AddrPort { return c.key.remote }

// SetDeadline implements net.Conn: it sets both deadlines.
func (c *Conn) SetDeadline(t time.Time) error { return c.setDeadline(t, true, true) }

// SetReadDeadline implements net.Conn. A Read already blocked sees the new
// deadline at once.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.setDeadline(t, true, false) }

// SetWriteDeadline implements net.Conn. A Write already blocked sees the
// new deadline at once.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.setDeadline(t, false, true) }

func (c *Conn) setDeadline(t time.Time, read, write bool) error {
	sh := c.sh
	sh.mu.Lock()
	defer sh.unlock()
	if c.closed {
		return c.opErr("set", net.ErrClosed)
	}
	if read {
		c.rdl = sh.mono(t)
	}
	if write {
		c.wdl = sh.mono(t)
	}
	c.notify()
	return nil
}
