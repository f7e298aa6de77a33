package pkt

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/synack/synack/stack"
	"github.com/synack/synack/tcp"
)

// socket is a file descriptor of the emulated sockets API.
type socket struct {
	fd       int
	v6       bool
	nonblock bool
	bound    netip.AddrPort
	isBound  bool
	lst      *stack.Listener
	conn     *stack.Conn
	flow     *flow
	// connecting: a non-blocking connect is in progress (the next
	// connect reports its outcome).
	connecting bool
	// errDone: the connection's error has been reported once (by a
	// call or SO_ERROR); later calls see end of file or EPIPE, as on
	// Linux.
	errDone bool
	shutWr  bool
	shutRd  bool // shutdown(SHUT_RD): reads end at the data queued
	opts    sockOpts
	// readTotal and writeTotal count the bytes read and written (for
	// MSG_PEEK and the SIOCINQ/SIOCOUTQ ioctls).
	readTotal, writeTotal int64
	// epoll is set on an epoll descriptor.
	epoll *epollSet
	// noSpace: a write did not fit (an edge-triggered EPOLLOUT then wakes
	// when acknowledged data frees space).
	noSpace bool
	// keepInitAt is when a connect gives up (keepinit); timedOut: it did.
	keepInitAt time.Duration
	timedOut   bool
	// rounded: the receive buffer was rounded up to a multiple of the
	// MSS, as FreeBSD does once the MSS is known (FreeBSD scripts only).
	rounded bool
	fo      sockFastOpen // TCP Fast Open options (fastopen.go)
}

// sockOpts are the options set with setsockopt.
type sockOpts struct {
	reuseAddr, reusePort, keepAlive, noDelay bool
	rcvBuf, sndBuf, maxSeg                   int
	keepIdle, keepIntvl, keepCnt             int // seconds, seconds, count
	userTimeout                              int // milliseconds
	keepInit                                 int // seconds (FreeBSD's TCP_KEEPINIT); 0: the sysctl
	lingerOn                                 bool
	linger                                   int
	ext                                      extOpts // TCP_CORK, TCP_LINGER2 ... (sockopt.go)
}

// sysResult is what a call returned.
type sysResult struct {
	ret   int64
	errno syscall.Errno // 0 when none
}

func retOK(v int64) sysResult        { return sysResult{ret: v} }
func fail(e syscall.Errno) sysResult { return sysResult{ret: -1, errno: e} }
func (s sysResult) String() string {
	if s.errno != 0 {
		return fmt.Sprintf("%d %s", s.ret, errnoNames[s.errno])
	}
	return fmt.Sprint(s.ret)
}

// errnoOf extracts the errno of a stack error.
func errnoOf(err error) syscall.Errno {
	var e syscall.Errno
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, net.ErrClosed):
		return syscall.EBADF
	}
	return syscall.EINVAL
}

// call is one system call being run.
type call struct {
	r          *runner
	ev         Event
	sc         *Syscall
	start, end time.Duration
	blocked    bool
}

// syscall runs a system call line and checks its result and timing.
func (r *runner) syscall(ev Event, sc *Syscall, start, end time.Duration) {
	c := &call{r: r, ev: ev, sc: sc, start: start, end: end}
	res, done := c.dispatch()
	if !done || r.stopped != nil {
		return
	}
	exp, errno, okExp := c.expected()
	if !okExp {
		return
	}
	actual := fmt.Sprintf("%s %s = %s", fmtTime(r.now()), sc.Name+"(...)", res)
	want := fmt.Sprintf("%s %s", fmtTime(start), sc.String())
	if res.ret != exp || (errno != 0 && res.errno != errno) || (errno == 0 && res.errno != 0 && exp == -1 && sc.Errno != "") {
		r.mismatch(ev.Line, fmt.Sprintf("%s returned %s, expected %s", sc.Name, res, expString(exp, sc.Errno)), want, actual)
		return
	}
	if ev.Time.Span == SpanBlocking || c.blocked {
		if d := r.now() - end; d > r.cfg.Tolerance || d < -r.cfg.Tolerance {
			r.mismatch(ev.Line, fmt.Sprintf("timing error: %s returned at %s, expected at %s (tolerance %s)",
				sc.Name, fmtTime(r.now()), fmtTime(end), r.cfg.Tolerance), want, actual)
		}
	}
}

func expString(v int64, errno string) string {
	if errno != "" {
		return fmt.Sprintf("%d %s", v, errno)
	}
	return fmt.Sprint(v)
}

// expected evaluates the expected return value and errno.
func (c *call) expected() (int64, syscall.Errno, bool) {
	v, ok := c.r.intArg(c.sc.Ret)
	if !ok {
		c.r.skipf(c.ev.Line, "cannot evaluate the expected result %s", FormatExpr(c.sc.Ret))
		return 0, 0, false
	}
	var e syscall.Errno
	if c.sc.Errno != "" {
		var known bool
		if e, known = errnoByName[c.sc.Errno]; !known {
			c.r.skipf(c.ev.Line, "unknown errno %s", c.sc.Errno)
			return 0, 0, false
		}
	}
	return v, e, true
}

// block runs the script until cond holds. The call may return up to the
// tolerance after its scripted end; past that the script fails.
func (c *call) block(cond func() bool) bool {
	c.blocked = true
	c.r.blocked++
	defer func() { c.r.blocked-- }()
	if c.r.runUntil(cond, c.end+c.r.cfg.Tolerance) {
		return true
	}
	if c.r.stopped == nil {
		c.r.failf(c.ev.Line, "%s did not return by %s (still blocked)", c.sc.Name, fmtTime(c.end))
	}
	return false
}

// arg returns argument i, or nil.
func (c *call) arg(i int) Expr {
	if i < len(c.sc.Args) {
		return c.sc.Args[i]
	}
	return nil
}

// intArg evaluates argument i as an integer.
func (c *call) intArg(i int) (int64, bool) {
	v, ok := c.r.intArg(c.arg(i))
	if !ok {
		c.r.skipf(c.ev.Line, "%s: cannot evaluate argument %d (%s)", c.sc.Name, i+1, exprText(c.arg(i)))
	}
	return v, ok
}

func exprText(e Expr) string {
	if e == nil {
		return "missing"
	}
	return FormatExpr(e)
}

// intArg evaluates an integer expression: numbers, constants, a | b, [n].
func (r *runner) intArg(e Expr) (int64, bool) {
	switch x := e.(type) {
	case *IntExpr:
		return x.Value, true
	case *WordExpr:
		if v, ok := symbols[x.Name]; ok {
			return v, true
		}
		if v, ok := errnoByName[x.Name]; ok {
			return int64(v), true
		}
	case *BinaryExpr:
		a, ok1 := r.intArg(x.X)
		b, ok2 := r.intArg(x.Y)
		return a | b, ok1 && ok2
	case *ListExpr:
		if len(x.Elems) == 1 {
			return r.intArg(x.Elems[0])
		}
	case *CallExpr:
		if (x.Func == "htons" || x.Func == "htonl") && len(x.Args) == 1 {
			return r.intArg(x.Args[0])
		}
	}
	return 0, false
}

// socket returns the socket of fd argument i; nil (with the result set)
// when fd is not open.
func (c *call) socket(i int) (*socket, sysResult, bool) {
	fd, ok := c.intArg(i)
	if !ok {
		return nil, sysResult{}, false
	}
	sk := c.r.socks[int(fd)]
	if sk == nil {
		return nil, fail(syscall.EBADF), true
	}
	c.r.lastFD = sk.fd
	return sk, sysResult{}, true
}

// dispatch runs the call; done is false when the run stopped.
func (c *call) dispatch() (sysResult, bool) {
	switch c.sc.Name {
	case "socket":
		return c.sysSocket()
	case "bind":
		return c.sysBind()
	case "listen":
		return c.sysListen()
	case "accept", "accept4":
		return c.sysAccept()
	case "connect":
		return c.sysConnect()
	case "read", "recv", "recvfrom", "readv", "recvmsg":
		return c.withCmsg(c.sysRead()) // TCP_CM_INQ (sockopt.go)
	case "write", "send", "sendto", "writev", "sendmsg":
		return c.sysWrite()
	case "close":
		return c.sysClose()
	case "shutdown":
		return c.sysShutdown()
	case "fcntl":
		return c.sysFcntl()
	case "poll":
		return c.sysPoll()
	case "setsockopt":
		return c.sysSetsockopt()
	case "getsockopt":
		return c.sysGetsockopt()
	case "ioctl":
		return c.sysIoctl()
	case "epoll_create", "epoll_create1":
		return c.sysEpollCreate()
	case "epoll_ctl":
		return c.sysEpollCtl()
	case "epoll_wait":
		return c.sysEpollWait()
	}
	c.r.skipf(c.ev.Line, "system call %s is not supported", c.sc.Name)
	return sysResult{}, false
}

// newFD returns the lowest free file descriptor from 3.
func (r *runner) newFD() int {
	fd := 3
	for r.socks[fd] != nil {
		fd++
	}
	return fd
}

// scriptFD returns the descriptor for a call that creates one: the number
// the script expects when it is free (packetdrill maps the script's
// descriptors onto live ones, so a script may start at 4 or skip numbers),
// else the lowest free one.
func (c *call) scriptFD() int {
	ie, ok := c.sc.Ret.(*IntExpr)
	if !ok || ie.Value < 3 || ie.Value >= 1<<16 {
		return c.r.newFD()
	}
	fd := int(ie.Value)
	if old := c.r.socks[fd]; old != nil {
		// The script names a new descriptor with the number of one it
		// never closed: as packetdrill maps script descriptors to live
		// ones, the number now means the new one; the old socket lives
		// on under a number the script does not use.
		old.fd = c.r.newFD()
		c.r.socks[old.fd] = old
		delete(c.r.socks, fd)
	}
	return fd
}

func (c *call) sysSocket() (sysResult, bool) {
	dom := int64(2)
	if c.r.cfg.IPv6 {
		dom = 10
	}
	if _, isAny := c.arg(0).(*EllipsisExpr); !isAny {
		v, ok := c.intArg(0)
		if !ok {
			return sysResult{}, false
		}
		dom = v
	}
	typ, ok := c.intArg(1)
	if !ok {
		return sysResult{}, false
	}
	if typ&0xf != 1 {
		c.r.skipf(c.ev.Line, "only SOCK_STREAM sockets are supported")
		return sysResult{}, false
	}
	if dom != 2 && dom != 10 {
		return fail(syscall.EAFNOSUPPORT), true
	}
	sk := &socket{fd: c.scriptFD(), v6: dom == 10, nonblock: typ&0x800 != 0}
	c.r.socks[sk.fd] = sk
	c.r.lastFD = sk.fd
	return retOK(int64(sk.fd)), true
}

// sockaddr evaluates an address argument: "..." is the local (bind) or
// remote (connect) address with port 8080.
func (c *call) sockaddr(i int, local bool) (netip.AddrPort, bool) {
	def := c.r.cfg.RemoteIP
	if local {
		def = c.r.cfg.LocalIP
	}
	switch x := c.arg(i).(type) {
	case *EllipsisExpr:
		return netip.AddrPortFrom(def, 8080), true
	case *StructExpr:
		addr, port := def, int64(8080)
		for _, el := range x.Elems {
			as, isAssign := el.(*AssignExpr)
			if !isAssign {
				continue
			}
			name, _ := as.Name.(*WordExpr)
			if name == nil {
				continue
			}
			switch name.Name {
			case "sin_port", "sin6_port":
				p, ok := c.r.intArg(as.Value)
				if !ok {
					return netip.AddrPort{}, false
				}
				port = p
			case "sin_addr", "sin6_addr":
				a, ok := c.r.addrExpr(as.Value)
				if !ok {
					return netip.AddrPort{}, false
				}
				addr = a
			}
		}
		return netip.AddrPortFrom(addr, uint16(port)), true
	}
	c.r.skipf(c.ev.Line, "%s: cannot evaluate address %s", c.sc.Name, exprText(c.arg(i)))
	return netip.AddrPort{}, false
}

// addrExpr evaluates inet_addr("..."), inet_pton and INADDR_ANY.
func (r *runner) addrExpr(e Expr) (netip.Addr, bool) {
	switch x := e.(type) {
	case *CallExpr:
		for _, a := range x.Args {
			if s, ok := a.(*StringExpr); ok {
				if ad, err := netip.ParseAddr(s.Value); err == nil {
					return ad.Unmap(), true
				}
			}
		}
	case *WordExpr:
		switch x.Name {
		case "INADDR_ANY":
			return netip.IPv4Unspecified(), true
		case "in6addr_any", "IN6ADDR_ANY_INIT":
			return netip.IPv6Unspecified(), true
		}
	case *IntExpr:
		if x.Value == 0 {
			return netip.IPv4Unspecified(), true
		}
	}
	return netip.Addr{}, false
}

func (c *call) sysBind() (sysResult, bool) {
	sk, res, ok := c.socket(0)
	if !ok || sk == nil {
		return res, ok
	}
	ap, ok := c.sockaddr(1, true)
	if !ok {
		return sysResult{}, false
	}
	if sk.isBound || sk.conn != nil || sk.lst != nil {
		return fail(syscall.EINVAL), true
	}
	a := ap.Addr()
	if !a.IsUnspecified() && a != c.r.cfg.LocalIP {
		return fail(syscall.EADDRNOTAVAIL), true
	}
	for _, o := range c.r.socks {
		if o != sk && o.isBound && o.bound.Port() == ap.Port() && (o.lst != nil || !sk.opts.reuseAddr) {
			return fail(syscall.EADDRINUSE), true
		}
	}
	sk.bound, sk.isBound = ap, true
	return ok0(), true
}

func ok0() sysResult { return retOK(0) }

// config is the engine configuration for a socket's connections.
func (r *runner) config(sk *socket) tcp.Config {
	cfg := r.base
	o := &sk.opts
	if o.rcvBuf > 0 {
		cfg.ReceiveBufferSize = o.rcvBuf
	}
	if !r.freeBSD {
		// Linux charges its send buffer by memory, skbs and their
		// overhead, where SO_SNDBUF fixes it (tcp/sndmem.go).
		cfg.SendBufferOverhead = tcp.LinuxSkbOverhead
	}
	if o.sndBuf > 0 {
		cfg.SendBufferSize = r.sndBufSize(o.sndBuf)
	}
	if o.maxSeg > 0 {
		cfg.MSS = o.maxSeg
	}
	cfg.NoDelay = cfg.NoDelay || o.noDelay
	cfg.KeepAlive.Enable = o.keepAlive
	if o.keepIdle > 0 {
		cfg.KeepAlive.Idle = time.Duration(o.keepIdle) * time.Second
	}
	if o.keepIntvl > 0 {
		cfg.KeepAlive.Interval = time.Duration(o.keepIntvl) * time.Second
	}
	if o.keepCnt > 0 {
		cfg.KeepAlive.Count = o.keepCnt
	}
	if sk.fo.synCnt > 0 {
		cfg.SynRetries = sk.fo.synCnt // TCP_SYNCNT (fastopen.go)
	}
	return cfg
}

func (c *call) sysListen() (sysResult, bool) {
	sk, res, ok := c.socket(0)
	if !ok || sk == nil {
		return res, ok
	}
	backlog, ok := c.intArg(1)
	if !ok {
		return sysResult{}, false
	}
	if sk.conn != nil {
		return fail(syscall.EINVAL), true
	}
	if sk.lst != nil {
		return ok0(), true
	}
	cfg := c.r.config(sk)
	st := c.r.stack(&cfg)
	ap := sk.bound
	if !sk.isBound {
		ap = netip.AddrPortFrom(c.r.cfg.LocalIP, 0)
	}
	network := "tcp4"
	if c.r.cfg.IPv6 {
		network = "tcp6"
	}
	// Linux queues backlog+1 connections.
	l, err := st.ListenBacklog(network, ap.String(), int(max(backlog, 0))+1)
	if err != nil {
		return fail(errnoOf(err)), true
	}
	sk.lst = l
	c.r.fastOpenListen(sk)
	c.r.applyListenExt(sk) // sockopt.go
	port := uint16(0)
	if ta, isTCP := l.Addr().(*net.TCPAddr); isTCP {
		port = uint16(ta.Port)
	}
	sk.bound, sk.isBound = netip.AddrPortFrom(ap.Addr(), port), true
	f := c.r.flowFor(flowKey{
		local:  netip.AddrPortFrom(c.r.cfg.LocalIP, port),
		remote: netip.AddrPortFrom(c.r.cfg.RemoteIP, c.r.newRemotePort()),
	})
	f.passive = true
	c.r.cur = f
	return ok0(), true
}

func (c *call) sysAccept() (sysResult, bool) {
	sk, res, ok := c.socket(0)
	if !ok || sk == nil {
		return res, ok
	}
	if sk.lst == nil {
		return fail(syscall.EINVAL), true
	}
	l := sk.lst
	if l.Pending() == 0 {
		if sk.nonblock {
			return fail(syscall.EAGAIN), true
		}
		if !c.block(func() bool { return l.Pending() > 0 }) {
			return sysResult{}, false
		}
	}
	conn, err := l.AcceptTCP()
	if err != nil {
		return fail(errnoOf(err)), true
	}
	ns := &socket{fd: c.scriptFD(), v6: sk.v6, conn: conn, opts: sk.opts, isBound: true, bound: conn.LocalAddrPort()}
	c.r.socks[ns.fd] = ns
	if sk.opts.noDelay {
		conn.SetNoDelay(true)
	}
	if sk.opts.lingerOn {
		conn.SetLinger(sk.opts.linger)
	}
	c.r.applyExt(ns) // sockopt.go
	c.r.roundBuffer(ns)
	c.r.lastFD = ns.fd
	f := c.r.flowFor(flowKey{local: conn.LocalAddrPort(), remote: conn.RemoteAddrPort()})
	f.passive, f.accepted = true, true
	ns.flow = f
	c.r.cur = f
	return retOK(int64(ns.fd)), true
}

func (c *call) sysConnect() (sysResult, bool) {
	sk, res, ok := c.socket(0)
	if !ok || sk == nil {
		return res, ok
	}
	if sk.lst != nil {
		return fail(syscall.EISCONN), true
	}
	if res, handled, ok := c.fastOpenConnect(sk); handled {
		return res, ok // TCP_FASTOPEN_CONNECT (fastopen.go)
	}
	if sk.conn != nil {
		rd := sk.conn.Readiness()
		if sk.connecting {
			if rd.State == tcp.StateSynSent {
				if sk.nonblock {
					return fail(syscall.EALREADY), true
				}
				if !c.block(func() bool { return sk.conn.Readiness().State != tcp.StateSynSent }) {
					return sysResult{}, false
				}
				rd = sk.conn.Readiness()
			}
			sk.connecting = false
			if sk.timedOut && !sk.errDone {
				sk.errDone = true
				return fail(syscall.ETIMEDOUT), true
			}
			if rd.Err != nil && !sk.errDone {
				sk.errDone = true
				return fail(errnoOf(rd.Err)), true
			}
			if rd.State == tcp.StateClosed {
				return fail(syscall.ECONNABORTED), true
			}
			return ok0(), true
		}
		return fail(syscall.EISCONN), true
	}
	ap, ok := c.sockaddr(1, false)
	if !ok {
		return sysResult{}, false
	}
	cfg := c.r.config(sk)
	st := c.r.stack(&cfg)
	local := netip.AddrPort{}
	if sk.isBound {
		local = sk.bound
	}
	conn, err := st.DialStart(local, ap, &cfg)
	if err != nil {
		return fail(errnoOf(err)), true
	}
	sk.conn = conn
	if ki := c.r.keepInitFor(sk); ki > 0 {
		sk.keepInitAt = c.r.now() + ki
	}
	if sk.opts.lingerOn {
		conn.SetLinger(sk.opts.linger)
	}
	c.r.applyExt(sk) // sockopt.go
	f := c.r.flowFor(flowKey{local: conn.LocalAddrPort(), remote: conn.RemoteAddrPort()})
	f.passive = false
	sk.flow = f
	c.r.cur = f
	if sk.nonblock {
		sk.connecting = true
		return fail(syscall.EINPROGRESS), true
	}
	if !c.block(func() bool { return conn.Readiness().State != tcp.StateSynSent }) {
		return sysResult{}, false
	}
	rd := conn.Readiness()
	if sk.timedOut {
		sk.errDone = true
		return fail(syscall.ETIMEDOUT), true
	}
	if rd.Err != nil {
		sk.errDone = true
		return fail(errnoOf(rd.Err)), true
	}
	if rd.State == tcp.StateClosed {
		return fail(syscall.ECONNREFUSED), true
	}
	return ok0(), true
}

func (c *call) sysClose() (sysResult, bool) {
	sk, res, ok := c.socket(0)
	if !ok || sk == nil {
		return res, ok
	}
	delete(c.r.socks, sk.fd)
	c.r.underTest(sk.fd) // fastopen.go
	if sk.flow != nil {
		sk.flow.closed = true
	}
	if sk.lst != nil {
		sk.lst.Close()
	}
	if sk.conn != nil {
		if sk.opts.lingerOn {
			sk.conn.SetLinger(sk.opts.linger)
		}
		if err := sk.conn.Close(); err != nil && c.r.stopped == nil {
			if !errors.Is(err, net.ErrClosed) {
				return fail(errnoOf(err)), true
			}
		}
	}
	return ok0(), true
}

func (c *call) sysShutdown() (sysResult, bool) {
	sk, res, ok := c.socket(0)
	if !ok || sk == nil {
		return res, ok
	}
	how, ok := c.intArg(1)
	if !ok {
		return sysResult{}, false
	}
	if how < 0 || how > 2 {
		return fail(syscall.EINVAL), true
	}
	if sk.conn == nil {
		if sk.lst != nil && how != 1 {
			return ok0(), true
		}
		return fail(syscall.ENOTCONN), true
	}
	st := sk.conn.Readiness().State
	if st == tcp.StateClosed || st == tcp.StateListen {
		return fail(syscall.ENOTCONN), true
	}
	if how != 1 {
		// As on Linux, SHUT_RD only marks the socket: the connection
		// still acknowledges and queues data, which reads return before
		// they see end of file (stack.Conn.CloseRead would discard it).
		sk.shutRd = true
	}
	if how != 0 {
		sk.shutWr = true
		sk.conn.CloseWrite()
	}
	return ok0(), true
}

func (c *call) sysFcntl() (sysResult, bool) {
	sk, res, ok := c.socket(0)
	if !ok || sk == nil {
		return res, ok
	}
	cmd, ok := c.intArg(1)
	if !ok {
		return sysResult{}, false
	}
	switch cmd {
	case 3: // F_GETFL
		v := int64(2)
		if sk.nonblock {
			v |= 0x800
		}
		return retOK(v), true
	case 4: // F_SETFL
		v, ok := c.intArg(2)
		if !ok {
			return sysResult{}, false
		}
		sk.nonblock = v&0x800 != 0
		return ok0(), true
	case 1, 2: // F_GETFD, F_SETFD
		return ok0(), true
	}
	c.r.skipf(c.ev.Line, "fcntl command %s is not supported", exprText(c.arg(1)))
	return sysResult{}, false
}

// joinNames formats a poll mask.
func joinNames(v int64, names []string) string {
	var parts []string
	for _, n := range names {
		if b := symbols[n]; v&b != 0 {
			parts = append(parts, n)
			v &^= b
		}
	}
	if v != 0 || len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("%#x", v))
	}
	return strings.Join(parts, "|")
}

// keepInitFor is the connection-establishment limit of a socket: its
// TCP_KEEPINIT, else net.inet.tcp.keepinit; 0 for none.
func (r *runner) keepInitFor(sk *socket) time.Duration {
	if sk.opts.keepInit > 0 {
		return time.Duration(sk.opts.keepInit) * time.Second
	}
	return r.keepInit
}
