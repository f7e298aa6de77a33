package pkt

import (
	"fmt"
	"net"
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
			sk.conn.SetWriteBuffer(int(v))
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
	case level == solTCP && opt == 18:
		if v < 0 {
			return fail(syscall.EINVAL), true
		}
		if v != 0 {
			c.r.skipf(c.ev.Line, "TCP_USER_TIMEOUT is not supported by synack's engine")
			return sysResult{}, false
		}
		o.userTimeout = 0
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
	level, opt, ok := c.optName()
	if !ok {
		return sysResult{}, false
	}
	c.r.roundBuffer(sk)
	o := &sk.opts
	cfg := c.r.config(sk)
	var v int64
	switch {
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
		v = int64(cfg.SendBufferSize)
		if v == 0 {
			v = tcp.DefaultBufferSize
		}
		if o.sndBuf > 0 && !c.r.freeBSD {
			v *= 2
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
