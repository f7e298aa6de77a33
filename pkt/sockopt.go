package pkt

import (
	"fmt"
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/synack/synack/tcp"
)

// Socket option numbers (level, name) the runner knows.
const (
	solSocket = 1
	solTCP    = 6
)

var pollNames = []string{"POLLIN", "POLLPRI", "POLLOUT", "POLLERR", "POLLHUP", "POLLNVAL", "POLLRDNORM", "POLLRDBAND", "POLLWRNORM", "POLLWRBAND", "POLLRDHUP"}

// revents is what Linux's tcp_poll reports for a socket, before masking.
func (r *runner) revents(sk *socket) int64 {
	const (
		in    = 0x1 | 0x40
		out   = 0x4 | 0x100
		err   = 0x8
		hup   = 0x10
		rdhup = 0x2000
	)
	if sk.lst != nil {
		if sk.lst.Pending() > 0 {
			return in
		}
		return 0
	}
	if sk.conn == nil {
		return out | hup
	}
	rd := sk.conn.Readiness()
	st := rd.State
	closed := st == tcp.StateClosed || st == tcp.StateListen
	peerFin := false
	switch st {
	case tcp.StateCloseWait, tcp.StateLastAck, tcp.StateClosing, tcp.StateTimeWait:
		peerFin = true
	}
	rcvShut := closed || peerFin || sk.shutRd
	sndShut := closed || sk.shutWr
	var m int64
	if closed || (rcvShut && sndShut) {
		m |= hup
	}
	if rcvShut {
		m |= in | rdhup
	}
	if st != tcp.StateSynSent && st != tcp.StateSynReceived {
		if rd.Readable {
			m |= in
		}
		if sndShut || rd.Writable {
			m |= out
		}
	}
	if rd.Err != nil && !sk.errDone {
		m |= err
	}
	return m | fastOpenRevents(sk, rd) // fastopen.go
}

// pollEntry is one struct pollfd of a poll call.
type pollEntry struct {
	fd             int64
	events         int64
	revents        int64
	checkRevents   bool
	reventsWritten string
}

func (c *call) pollEntries() ([]pollEntry, bool) {
	l, isList := c.arg(0).(*ListExpr)
	if !isList {
		c.r.skipf(c.ev.Line, "poll: cannot evaluate %s", exprText(c.arg(0)))
		return nil, false
	}
	var out []pollEntry
	for _, el := range l.Elems {
		st, isStruct := el.(*StructExpr)
		if !isStruct {
			c.r.skipf(c.ev.Line, "poll: cannot evaluate %s", exprText(el))
			return nil, false
		}
		var pe pollEntry
		for _, f := range st.Elems {
			as, isAssign := f.(*AssignExpr)
			if !isAssign {
				continue
			}
			name, _ := as.Name.(*WordExpr)
			if name == nil {
				continue
			}
			if _, any := as.Value.(*EllipsisExpr); any {
				continue
			}
			v, ok := c.r.intArg(as.Value)
			if !ok {
				c.r.skipf(c.ev.Line, "poll: cannot evaluate %s", exprText(as.Value))
				return nil, false
			}
			switch name.Name {
			case "fd":
				pe.fd = v
			case "events":
				pe.events = v
			case "revents":
				pe.revents, pe.checkRevents, pe.reventsWritten = v, true, FormatExpr(as.Value)
			}
		}
		out = append(out, pe)
	}
	return out, true
}

func (c *call) sysPoll() (sysResult, bool) {
	ents, ok := c.pollEntries()
	if !ok {
		return sysResult{}, false
	}
	timeout, ok := c.intArg(2)
	if !ok {
		return sysResult{}, false
	}
	ready := func() ([]int64, int) {
		revs := make([]int64, len(ents))
		n := 0
		for i, e := range ents {
			sk := c.r.socks[int(e.fd)]
			if sk == nil {
				revs[i] = 0x20 // POLLNVAL
			} else {
				revs[i] = c.r.revents(sk) & (e.events | 0x8 | 0x10)
			}
			if revs[i] != 0 {
				n++
			}
		}
		return revs, n
	}
	if _, n := ready(); n == 0 && timeout != 0 {
		c.blocked = true
		c.r.blocked++
		limit := c.end + c.r.cfg.Tolerance
		if timeout > 0 {
			limit = min(limit, c.start+time.Duration(timeout)*time.Millisecond)
		}
		c.r.runUntil(func() bool { _, n := ready(); return n > 0 }, limit)
		c.r.blocked--
		if c.r.stopped != nil {
			return sysResult{}, false
		}
	}
	revs, n := ready()
	for i, e := range ents {
		if e.checkRevents && revs[i] != e.revents {
			c.r.mismatch(c.ev.Line, fmt.Sprintf("poll: fd %d revents %s, expected %s", e.fd, joinNames(revs[i], pollNames), e.reventsWritten),
				fmt.Sprintf("%s %s", fmtTime(c.start), c.sc.String()), fmt.Sprintf("%s poll(...) revents=%s = %d", fmtTime(c.r.now()), joinNames(revs[i], pollNames), n))
			return sysResult{}, false
		}
	}
	return retOK(int64(n)), true
}

// optName returns the level and option of a set/getsockopt call.
func (c *call) optName() (int64, int64, bool) {
	level, ok1 := c.intArg(1)
	opt, ok2 := c.intArg(2)
	if !ok1 || !ok2 {
		return 0, 0, false
	}
	if level == 0x6 || level == solSocket {
		return level, opt, true
	}
	c.r.skipf(c.ev.Line, "%s: level %s is not supported", c.sc.Name, exprText(c.arg(1)))
	return 0, 0, false
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func (c *call) sysSetsockopt() (sysResult, bool) {
	sk, res, ok := c.socket(0)
	if !ok || sk == nil {
		return res, ok
	}
	if level, opt, isIP := c.ipLevel(); isIP {
		v, ok := c.r.intArg(c.arg(3))
		if !ok {
			c.r.skipf(c.ev.Line, "setsockopt: cannot evaluate %s", exprText(c.arg(3)))
			return sysResult{}, false
		}
		if res, done := c.setExt(sk, level, opt, v); done {
			return res, true
		}
		c.r.skipf(c.ev.Line, "setsockopt option %s is not supported", exprText(c.arg(2)))
		return sysResult{}, false
	}
	level, opt, ok := c.optName()
	if !ok {
		return sysResult{}, false
	}
	if res, handled, ok := c.fastOpenSetsockopt(sk, level, opt); handled {
		return res, ok // TCP_FASTOPEN* (fastopen.go)
	}
	o := &sk.opts
	if level == solSocket && opt == 13 { // SO_LINGER
		st, isStruct := c.arg(3).(*StructExpr)
		if !isStruct {
			c.r.skipf(c.ev.Line, "setsockopt: cannot evaluate %s", exprText(c.arg(3)))
			return sysResult{}, false
		}
		for _, f := range st.Elems {
			as, isAssign := f.(*AssignExpr)
			if !isAssign {
				continue
			}
			name, _ := as.Name.(*WordExpr)
			v, ok := c.r.intArg(as.Value)
			if name == nil || !ok {
				continue
			}
			switch name.Name {
			case "onoff", "l_onoff":
				o.lingerOn = v != 0
			case "linger", "l_linger":
				o.linger = int(v)
			}
		}
		if sk.conn != nil {
			if o.lingerOn {
				sk.conn.SetLinger(o.linger)
			} else {
				sk.conn.SetLinger(-1)
			}
		}
		return ok0(), true
	}
	v, ok := c.r.intArg(c.arg(3))
	if !ok {
		c.r.skipf(c.ev.Line, "setsockopt: cannot evaluate %s", exprText(c.arg(3)))
		return sysResult{}, false
	}
	if res, done := c.setExt(sk, level, opt, v); done {
		return res, true
	}
	switch {
	case level == solSocket && opt == 2:
		o.reuseAddr = v != 0
	case level == solSocket && opt == 15:
		o.reusePort = v != 0
	case level == solSocket && opt == 9:
		o.keepAlive = v != 0
	case level == solSocket && opt == 8:
		if v < 0 {
			return fail(syscall.EINVAL), true
		}
		o.rcvBuf = int(v)
		if sk.conn != nil && v > 0 {
			sk.conn.SetReadBuffer(int(v))
		}
	case level == solSocket && opt == 7:
		if v < 0 {
			return fail(syscall.EINVAL), true
		}
		o.sndBuf = int(v)
		if sk.conn != nil && v > 0 {
			sk.conn.SetWriteBuffer(c.r.sndBufSize(int(v)))
		}
	case level == solTCP && opt == 1:
		o.noDelay = v != 0
		if sk.conn != nil {
			sk.conn.SetNoDelay(o.noDelay)
		}
		return ok0(), true
	case level == solTCP && opt == 12: // TCP_QUICKACK
		if sk.conn != nil {
			sk.conn.SetQuickAck(v != 0)
		}
		return ok0(), true
	case level == solTCP && opt == 2:
		if v < 88 && v != 0 || v > 32767 {
			return fail(syscall.EINVAL), true
		}
		o.maxSeg = int(v)
	case level == solTCP && opt == 4:
		if v < 1 || v > 32767 {
			return fail(syscall.EINVAL), true
		}
		o.keepIdle = int(v)
	case level == solTCP && opt == 5:
		if v < 1 || v > 32767 {
			return fail(syscall.EINVAL), true
		}
		o.keepIntvl = int(v)
	case level == solTCP && opt == 6:
		if v < 1 || v > 127 {
			return fail(syscall.EINVAL), true
		}
		o.keepCnt = int(v)
	case level == solTCP && opt == 128: // FreeBSD's TCP_KEEPINIT, seconds
		if v < 0 {
			return fail(syscall.EINVAL), true
		}
		o.keepInit = int(v)
	default:
		c.r.skipf(c.ev.Line, "setsockopt option %s is not supported", exprText(c.arg(2)))
		return sysResult{}, false
	}
	if sk.conn != nil && (opt == 9 && level == solSocket || level == solTCP && opt >= 4 && opt <= 6) {
		cfg := c.r.config(sk)
		ka := net.KeepAliveConfig{Enable: o.keepAlive, Idle: cfg.KeepAlive.Idle, Interval: cfg.KeepAlive.Interval, Count: cfg.KeepAlive.Count}
		if ka.Idle == 0 {
			ka.Idle = tcp.DefaultKeepAliveIdle
		}
		if ka.Interval == 0 {
			ka.Interval = tcp.DefaultKeepAliveIntvl
		}
		if ka.Count == 0 {
			ka.Count = tcp.DefaultKeepAliveCount
		}
		sk.conn.SetKeepAliveConfig(ka)
	}
	return ok0(), true
}

func (c *call) sysGetsockopt() (sysResult, bool) {
	sk, res, ok := c.socket(0)
	if !ok || sk == nil {
		return res, ok
	}
	level, opt, isIP := c.ipLevel()
	if !isIP {
		var ok bool
		if level, opt, ok = c.optName(); !ok {
			return sysResult{}, false
		}
	}
	c.r.roundBuffer(sk)
	o := &sk.opts
	cfg := c.r.config(sk)
	v, ext := c.getExt(sk, level, opt)
	switch {
	case ext:
	case isIP:
		c.r.skipf(c.ev.Line, "getsockopt option %s is not supported", exprText(c.arg(2)))
		return sysResult{}, false
	case level == solSocket && opt == 4: // SO_ERROR
		if sk.timedOut && !sk.errDone {
			v = int64(syscall.ETIMEDOUT)
			sk.errDone = true
		} else if sk.conn != nil {
			if rd := sk.conn.Readiness(); rd.Err != nil && !sk.errDone {
				v = int64(errnoOf(rd.Err))
				sk.errDone = true
			}
		}
	case level == solSocket && opt == 2:
		v = boolInt(o.reuseAddr)
	case level == solSocket && opt == 15:
		v = boolInt(o.reusePort)
	case level == solSocket && opt == 9:
		v = boolInt(o.keepAlive)
	case level == solSocket && opt == 3:
		v = 1
	case level == solSocket && opt == 8:
		v = int64(cfg.ReceiveBufferSize)
		if o.rcvBuf > 0 && !c.r.freeBSD {
			// Linux doubles a SO_RCVBUF or SO_SNDBUF value (half pays for
			// buffer overhead) and reports the doubled value, which its
			// scripts check; the engine's buffer holds the data size set.
			// FreeBSD reports what was set.
			v *= 2
		}
	case level == solSocket && opt == 7:
		v = int64(cfg.SendBufferSize) // doubled on Linux (sndBufSize)
		if v == 0 {
			v = tcp.DefaultBufferSize
		}
	case level == solTCP && opt == 1:
		v = boolInt(o.noDelay)
	case level == solTCP && opt == 2:
		switch {
		case sk.conn != nil && sk.conn.Readiness().State != tcp.StateSynSent:
			v = int64(sk.conn.Info().SndMSS)
		case o.maxSeg > 0:
			v = int64(o.maxSeg)
		default:
			v = 536
		}
	case level == solTCP && opt == 4:
		v = int64(cfg.KeepAlive.Idle / time.Second)
		if v == 0 {
			v = int64(tcp.DefaultKeepAliveIdle / time.Second)
		}
	case level == solTCP && opt == 5:
		v = int64(cfg.KeepAlive.Interval / time.Second)
		if v == 0 {
			v = int64(tcp.DefaultKeepAliveIntvl / time.Second)
		}
	case level == solTCP && opt == 6:
		v = int64(cfg.KeepAlive.Count)
		if v == 0 {
			v = tcp.DefaultKeepAliveCount
		}
	case level == solTCP && opt == 18:
		v = int64(o.userTimeout)
	case level == solTCP && opt == 128:
		v = int64(c.r.keepInitFor(sk) / time.Second)
		if v == 0 {
			v = 75 // FreeBSD's default
		}
	default:
		c.r.skipf(c.ev.Line, "getsockopt option %s is not supported", exprText(c.arg(2)))
		return sysResult{}, false
	}
	if _, any := c.arg(3).(*EllipsisExpr); !any && c.arg(3) != nil {
		want, ok := c.r.intArg(c.arg(3))
		if !ok {
			c.r.skipf(c.ev.Line, "getsockopt: cannot evaluate %s", exprText(c.arg(3)))
			return sysResult{}, false
		}
		if want != v {
			c.r.mismatch(c.ev.Line, fmt.Sprintf("getsockopt: value %d, expected %s", v, exprText(c.arg(3))),
				fmt.Sprintf("%s %s", fmtTime(c.start), c.sc.String()), fmt.Sprintf("%s getsockopt(...) value [%d]", fmtTime(c.r.now()), v))
			return sysResult{}, false
		}
	}
	return ok0(), true
}

// roundBuffer rounds the receive buffer of a FreeBSD script's connection
// up to a multiple of the MSS once the peer's SYN has fixed it, as FreeBSD's
// tcp_mss does (65536 bytes become 65700 with an MSS of 1460): for real,
// so that getsockopt(SO_RCVBUF) reports the engine's buffer.
func (r *runner) roundBuffer(sk *socket) {
	if !r.freeBSD || sk.rounded || sk.conn == nil {
		return
	}
	info := sk.conn.Info()
	switch info.State {
	case tcp.StateSynSent, tcp.StateClosed, tcp.StateListen:
		return // the peer's SYN, and its MSS, are still to come
	}
	sk.rounded = true
	size, mss := r.config(sk).ReceiveBufferSize, info.SndMSS
	if mss <= 0 || size <= mss || size%mss == 0 {
		return
	}
	size = (size + mss - 1) / mss * mss
	sk.opts.rcvBuf = size
	sk.conn.SetReadBuffer(size)
}

// The socket options of issue 14 (TCP_USER_TIMEOUT, TCP_LINGER2,
// TCP_DEFER_ACCEPT, TCP_CORK, TCP_NOTSENT_LOWAT, TCP_INQ, TCP_MAXSEG on a
// listener, IP_TOS/IP_TTL/IPV6_TCLASS/IPV6_UNICAST_HOPS), the send flags
// MSG_MORE and MSG_EOR, and the TCP_CM_INQ control message.

func init() {
	for k, v := range map[string]int64{
		"TCP_INQ": 36, "TCP_CM_INQ": 36,
		"IP_TOS": 1, "IP_TTL": 2, "IPV6_UNICAST_HOPS": 16, "IPV6_TCLASS": 67,
	} {
		symbols[k] = v
	}
}

// Option numbers of the options below.
const (
	optCork        = 3
	optLinger2     = 8
	optDeferAccept = 9
	optUserTimeout = 18
	optNotSentLow  = 25
	optInq         = 36
	solIP          = 0
	solIPv6        = 41
)

// extOpts are the options of issue 14 a socket holds until (and after)
// it has a connection or listener to apply them to.
type extOpts struct {
	cork        bool
	inq         bool
	linger2     int // seconds; -1: reset in FIN-WAIT-2; 0: the sysctl
	linger2Set  bool
	deferAccept int // seconds, as set
	notSentLow  int // 0: the sysctl's (runner.notSentLowat)
	tos, tclass int // -1 or 0: default
	ttl, hops   int // 0: default
}

// notSentLowat is net.ipv4.tcp_notsent_lowat: the mark of the sockets
// that set none (0: none, Linux's default of UINT_MAX).
var notSentLowatRule sysctlRule = func(r *runner, v string) string {
	n, err := strconv.ParseInt(v, 0, 64)
	switch {
	case err != nil:
		return "no synack equivalent for this value"
	case n < 0 || n >= 1<<31-1:
		r.notSentLowat = 0
	default:
		r.notSentLowat = int(n)
	}
	return ""
}

// applyExt applies a socket's options to its new connection.
func (r *runner) applyExt(sk *socket) {
	conn, o := sk.conn, &sk.opts.ext
	if conn == nil {
		return
	}
	if sk.opts.userTimeout > 0 {
		conn.SetUserTimeout(time.Duration(sk.opts.userTimeout) * time.Millisecond)
	}
	if o.linger2Set {
		conn.SetLinger2(linger2Duration(o.linger2))
	}
	if o.cork {
		conn.SetCork(true)
	}
	if n := r.lowatFor(sk); n > 0 {
		conn.SetNotSentLowat(n)
	}
	if o.tos > 0 {
		conn.SetTOS(o.tos)
	}
	if o.tclass > 0 {
		conn.SetTrafficClass(o.tclass)
	}
	if o.ttl > 0 {
		conn.SetTTL(o.ttl)
	}
	if o.hops > 0 {
		conn.SetHopLimit(o.hops)
	}
}

// applyListenExt applies a socket's options to its new listener.
func (r *runner) applyListenExt(sk *socket) {
	if sk.lst == nil {
		return
	}
	if d := sk.opts.ext.deferAccept; d > 0 {
		sk.lst.SetDeferAccept(time.Duration(d) * time.Second)
	}
}

// lowatFor is the not-sent low-water mark of a socket's connection.
func (r *runner) lowatFor(sk *socket) int {
	if n := sk.opts.ext.notSentLow; n > 0 {
		return n
	}
	return r.notSentLowat
}

// linger2Duration turns a TCP_LINGER2 value in seconds into SetLinger2's.
func linger2Duration(sec int) time.Duration {
	if sec < 0 {
		return -1
	}
	return time.Duration(sec) * time.Second
}

// secsToRetrans and retransToSecs are Linux's conversions of a
// TCP_DEFER_ACCEPT period to SYN-ACK timeouts and back (1 s doubling up
// to 120 s): getsockopt reports the period the timeouts cover.
func secsToRetrans(sec int) int {
	if sec <= 0 {
		return 0
	}
	res, timeout, period := 1, 1, 1
	for sec > period && res < 255 {
		res++
		timeout = min(timeout*2, 120)
		period += timeout
	}
	return res
}

func retransToSecs(n int) int {
	if n <= 0 {
		return 0
	}
	timeout, period := 1, 1
	for n--; n > 0; n-- {
		timeout = min(timeout*2, 120)
		period += timeout
	}
	return period
}

// writeFlags are the engine's flags for a send call's MSG_MORE and MSG_EOR.
func (c *call) writeFlags() tcp.WriteFlags {
	fl, _ := c.flags()
	var f tcp.WriteFlags
	if fl&0x8000 != 0 {
		f |= tcp.WriteMore
	}
	if fl&0x80 != 0 {
		f |= tcp.WriteEOR
	}
	return f
}

// setExt handles the options of issue 14 in setsockopt; done is false for
// the others.
func (c *call) setExt(sk *socket, level, opt, v int64) (res sysResult, done bool) {
	o := &sk.opts.ext
	conn := sk.conn
	switch {
	case level == solTCP && opt == optUserTimeout:
		if v < 0 {
			return fail(syscall.EINVAL), true
		}
		sk.opts.userTimeout = int(v)
		if conn != nil {
			conn.SetUserTimeout(time.Duration(v) * time.Millisecond)
		}
	case level == solTCP && opt == optLinger2:
		switch {
		case v < 0:
			o.linger2 = -1
		case v > 120: // TCP_FIN_TIMEOUT_MAX
			o.linger2 = 120
		default:
			o.linger2 = int(v)
		}
		o.linger2Set = true
		if conn != nil {
			conn.SetLinger2(linger2Duration(o.linger2))
		}
	case level == solTCP && opt == optDeferAccept:
		o.deferAccept = int(max(v, 0))
		if sk.lst != nil {
			sk.lst.SetDeferAccept(time.Duration(o.deferAccept) * time.Second)
		}
	case level == solTCP && opt == optCork:
		o.cork = v != 0
		if conn != nil {
			conn.SetCork(o.cork)
		}
	case level == solTCP && opt == optNotSentLow:
		o.notSentLow = int(uint32(v)) // a u32: 0xffffffff reads back as set
		if conn != nil {
			conn.SetNotSentLowat(r0(o.notSentLow, c.r.notSentLowat))
		}
	case level == solTCP && opt == optInq:
		if v != 0 && v != 1 {
			return fail(syscall.EINVAL), true
		}
		o.inq = v != 0
	case level == solTCP && opt == 2 && sk.lst != nil: // TCP_MAXSEG after listen()
		if v < 88 && v != 0 || v > 32767 {
			return fail(syscall.EINVAL), true
		}
		sk.opts.maxSeg = int(v)
		sk.lst.SetMSS(int(v))
	case level == solIP && (opt == 1 || opt == 2), level == solIPv6 && (opt == 67 || opt == 16):
		if v < -1 || v > 255 || v == 0 && (opt == 2 || opt == 16) {
			return fail(syscall.EINVAL), true
		}
		p := map[int64]*int{1: &o.tos, 2: &o.ttl, 67: &o.tclass, 16: &o.hops}[opt]
		*p = int(v)
		if conn != nil {
			set := map[int64]func(int) error{1: conn.SetTOS, 2: conn.SetTTL, 67: conn.SetTrafficClass, 16: conn.SetHopLimit}[opt]
			set(int(v))
		}
	default:
		return sysResult{}, false
	}
	return ok0(), true
}

// r0 is v, or def when v is 0.
func r0(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// getExt handles the options of issue 14 in getsockopt; done is false for
// the others.
func (c *call) getExt(sk *socket, level, opt int64) (v int64, done bool) {
	o := &sk.opts.ext
	switch {
	case level == solTCP && opt == optLinger2:
		switch {
		case o.linger2 < 0:
			return -1, true
		case o.linger2 > 0:
			return int64(o.linger2), true
		}
		fw := c.r.base.FinWait2Timeout
		if fw == 0 {
			fw = tcp.DefaultFinWait2Timeout
		}
		return int64(fw / time.Second), true
	case level == solTCP && opt == optDeferAccept:
		return int64(retransToSecs(secsToRetrans(o.deferAccept))), true
	case level == solTCP && opt == optCork:
		return boolInt(o.cork), true
	case level == solTCP && opt == optNotSentLow:
		return int64(o.notSentLow), true
	case level == solTCP && opt == optInq:
		return boolInt(o.inq), true
	case level == solIP && opt == 1:
		return int64(max(o.tos, 0)), true
	case level == solIPv6 && opt == 67:
		return int64(max(o.tclass, 0)), true
	case level == solIP && opt == 2, level == solIPv6 && opt == 16:
		n := o.ttl
		if opt == 16 {
			n = o.hops
		}
		if n <= 0 {
			n = 64
		}
		return int64(n), true
	}
	return 0, false
}

// withCmsg checks the control messages a recvmsg expects after it read:
// TCP_CM_INQ, the bytes left to read (1 when none are and the peer's FIN
// has arrived, as Linux's tcp_inq_hint reports), sent only on a socket
// with TCP_INQ on.
func (c *call) withCmsg(res sysResult, ok bool) (sysResult, bool) {
	if !ok || c.sc.Name != "recvmsg" || res.errno != 0 {
		return res, ok
	}
	st, isStruct := c.arg(1).(*StructExpr)
	if !isStruct {
		return res, ok
	}
	var ctl Expr
	for _, el := range st.Elems {
		if as, isAssign := el.(*AssignExpr); isAssign {
			if w, isWord := as.Name.(*WordExpr); isWord && w.Name == "msg_control" {
				ctl = as.Value
			}
		}
	}
	if ctl == nil {
		return res, ok
	}
	if _, any := ctl.(*EllipsisExpr); any {
		return res, ok
	}
	l, isList := ctl.(*ListExpr)
	if !isList {
		c.r.skipf(c.ev.Line, "recvmsg: cannot evaluate msg_control %s", exprText(ctl))
		return sysResult{}, false
	}
	sk := c.r.socks[c.r.lastFD]
	for _, el := range l.Elems {
		cm, isStruct := el.(*StructExpr)
		if !isStruct {
			c.r.skipf(c.ev.Line, "recvmsg: cannot evaluate the control message %s", exprText(el))
			return sysResult{}, false
		}
		vals := map[string]int64{}
		for _, f := range cm.Elems {
			as, isAssign := f.(*AssignExpr)
			if !isAssign {
				continue
			}
			name, _ := as.Name.(*WordExpr)
			v, ok := c.r.intArg(as.Value)
			if name == nil || !ok {
				c.r.skipf(c.ev.Line, "recvmsg: cannot evaluate the control message %s", exprText(el))
				return sysResult{}, false
			}
			vals[name.Name] = v
		}
		if vals["cmsg_level"] != solTCP || vals["cmsg_type"] != optInq {
			c.r.skipf(c.ev.Line, "recvmsg: control message %s is not supported", exprText(el))
			return sysResult{}, false
		}
		if sk == nil || sk.conn == nil || !sk.opts.ext.inq {
			c.r.mismatch(c.ev.Line, "recvmsg: no TCP_CM_INQ control message (TCP_INQ is off)",
				fmt.Sprintf("%s %s", fmtTime(c.start), c.sc.String()), "no control message")
			return sysResult{}, false
		}
		inq := int64(sk.conn.InQueue())
		if inq == 0 {
			switch sk.conn.Readiness().State {
			case tcp.StateCloseWait, tcp.StateLastAck, tcp.StateClosing, tcp.StateTimeWait:
				inq = 1 // the peer's FIN arrived (SOCK_DONE)
			}
		}
		if want := vals["cmsg_data"]; want != inq {
			c.r.mismatch(c.ev.Line, fmt.Sprintf("recvmsg: TCP_CM_INQ %d, expected %d", inq, want),
				fmt.Sprintf("%s %s", fmtTime(c.start), c.sc.String()), fmt.Sprintf("%s recvmsg(...) cmsg_data=%d", fmtTime(c.r.now()), inq))
			return sysResult{}, false
		}
	}
	return res, ok
}

// setIPLevel routes IP-level options (SOL_IP, SOL_IPV6) that optName
// does not take to setExt; done is false for the other levels.
func (c *call) ipLevel() (level, opt int64, done bool) {
	level, ok1 := c.intArg(1)
	opt, ok2 := c.intArg(2)
	if !ok1 || !ok2 || level != solIP && level != solIPv6 {
		return 0, 0, false
	}
	return level, opt, true
}

// sndBufSize is the engine's send buffer for SO_SNDBUF v: FreeBSD's is v
// bytes of data; Linux doubles v (half pays for overhead) into sk_sndbuf,
// the memory its queue is charged against, skbs and their overhead
// (tcp.Config.SendBufferOverhead), and reports the doubled value.
func (r *runner) sndBufSize(v int) int {
	if r.freeBSD {
		return v
	}
	return 2 * v
}
