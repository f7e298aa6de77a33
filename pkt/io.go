package pkt

import (
	"errors"
	"fmt"
	"io"
	"syscall"

	"github.com/synack/synack/tcp"
)

// The data calls: read, recv, recvfrom, readv, recvmsg and write, send,
// sendto, writev, sendmsg.

// length evaluates the byte count of a read or write: its last integer
// argument (the iovec lengths for readv/writev and the msg forms).
func (c *call) length() (int64, bool) {
	switch c.sc.Name {
	case "readv", "writev":
		return c.iovLen(c.arg(1))
	case "recvmsg", "sendmsg":
		if st, isStruct := c.arg(1).(*StructExpr); isStruct {
			for _, el := range st.Elems {
				if as, isAssign := el.(*AssignExpr); isAssign {
					if ce, isCall := as.Name.(*CallExpr); isCall && ce.Func == "msg_iov" {
						return c.iovLen(as.Value)
					}
				}
			}
		}
		c.r.skipf(c.ev.Line, "%s: cannot find msg_iov", c.sc.Name)
		return 0, false
	}
	return c.intArg(2)
}

// iovLen sums the lengths of an iovec array [{..., n}, ...].
func (c *call) iovLen(e Expr) (int64, bool) {
	l, isList := e.(*ListExpr)
	if !isList {
		c.r.skipf(c.ev.Line, "%s: cannot evaluate the iovec %s", c.sc.Name, exprText(e))
		return 0, false
	}
	var n int64
	for _, el := range l.Elems {
		st, isStruct := el.(*StructExpr)
		if !isStruct || len(st.Elems) != 2 {
			c.r.skipf(c.ev.Line, "%s: cannot evaluate the iovec %s", c.sc.Name, exprText(e))
			return 0, false
		}
		v := st.Elems[1]
		if as, isAssign := v.(*AssignExpr); isAssign {
			v = as.Value
		}
		k, ok := c.r.intArg(v)
		if !ok {
			c.r.skipf(c.ev.Line, "%s: cannot evaluate the iovec %s", c.sc.Name, exprText(e))
			return 0, false
		}
		n += k
	}
	return n, true
}

// flags evaluates the flags argument of send/recv forms; 0 for the others.
func (c *call) flags() (int64, bool) {
	i := -1
	switch c.sc.Name {
	case "recv", "send", "recvfrom", "sendto":
		i = 3
	case "recvmsg", "sendmsg":
		i = 2
	}
	if i < 0 || c.arg(i) == nil {
		return 0, true
	}
	return c.intArg(i)
}

// ioArgs decodes what the read-like and write-like calls share: the
// socket, the length, and the MSG_* flags; MSG_DONTWAIT (0x40) and
// MSG_NOSIGNAL (0x4000) are always honoured, extra are the others the call
// allows (MSG_WAITALL for reads, MSG_EOR for writes), and any other flag
// makes the script SKIP. When sk is nil the call is already over: return
// res, ok.
func (c *call) ioArgs(extra int64) (sk *socket, n int64, nonblock bool, res sysResult, ok bool) {
	sk, res, ok = c.socket(0)
	if !ok || sk == nil {
		return nil, 0, false, res, ok
	}
	if n, ok = c.length(); !ok {
		return nil, 0, false, sysResult{}, false
	}
	fl, ok := c.flags()
	if !ok {
		return nil, 0, false, sysResult{}, false
	}
	if fl&^(0x40|0x4000|extra) != 0 {
		c.r.skipf(c.ev.Line, "%s: flags %#x are not supported", c.sc.Name, fl)
		return nil, 0, false, sysResult{}, false
	}
	return sk, n, sk.nonblock || fl&0x40 != 0, sysResult{}, true
}

// peekable is how many received bytes a read would return now: what the
// connection has acknowledged (RCV.NXT less the SYN and a FIN) less what
// the script has read. The runner's inbound payloads are zeros, so a peek
// need not see the bytes themselves.
func peekable(sk *socket) int64 {
	info := sk.conn.Info()
	switch info.State {
	case tcp.StateSynSent, tcp.StateSynReceived, tcp.StateClosed, tcp.StateListen:
		return 0
	}
	n := int64(info.RcvNxt-info.IRS-1) - sk.readTotal
	switch info.State {
	case tcp.StateCloseWait, tcp.StateLastAck, tcp.StateClosing, tcp.StateTimeWait:
		n-- // the FIN
	}
	return max(n, 0)
}

func (c *call) sysRead() (sysResult, bool) {
	sk, n, nonblock, res, ok := c.ioArgs(0x100 | 0x2)
	if sk == nil {
		return res, ok
	}
	if sk.conn == nil {
		return fail(syscall.ENOTCONN), true
	}
	conn := sk.conn
	if conn.Readiness().State == tcp.StateSynSent {
		if nonblock {
			return fail(syscall.EAGAIN), true
		}
	}
	if sk.shutRd && peekable(sk) == 0 && !conn.Readiness().Readable {
		return ok0(), true // end of file after SHUT_RD
	}
	if c.nullBuffer() && n > 0 {
		// Copying into NULL faults once there is data to copy.
		if peekable(sk) > 0 {
			return fail(syscall.EFAULT), true
		}
		if nonblock {
			return fail(syscall.EAGAIN), true
		}
	}
	if fl, _ := c.flags(); fl&0x2 != 0 { // MSG_PEEK
		for {
			if k := peekable(sk); k > 0 || n <= 0 {
				return retOK(min(k, max(n, 0))), true
			}
			if conn.Readiness().Readable {
				break // end of file or an error: as a read
			}
			if nonblock {
				return fail(syscall.EAGAIN), true
			}
			if !c.block(func() bool { return peekable(sk) > 0 || conn.Readiness().Readable }) {
				return sysResult{}, false
			}
		}
	}
	buf := make([]byte, max(n, 0))
	for {
		got := 0
		var err error
		for got < len(buf) {
			if got > 0 && conn.Readiness().Err != nil {
				break // the error waits for the next read, as on Linux
			}
			var k int
			k, err = conn.TryRead(buf[got:])
			got += k
			if err != nil {
				break
			}
		}
		sk.readTotal += int64(got)
		if got > 0 || len(buf) == 0 {
			return retOK(int64(got)), true
		}
		switch {
		case errors.Is(err, io.EOF):
			return ok0(), true
		case errors.Is(err, syscall.EAGAIN):
			if nonblock {
				return fail(syscall.EAGAIN), true
			}
			if !c.block(func() bool { return conn.Readiness().Readable }) {
				return sysResult{}, false
			}
			continue
		}
		if sk.errDone {
			return ok0(), true
		}
		sk.errDone = true
		return fail(errnoOf(err)), true
	}
}

// nullBuffer reports whether the buffer argument of a read or write is
// NULL (a bad address: the kernel answers EFAULT).
func (c *call) nullBuffer() bool {
	switch c.sc.Name {
	case "read", "write", "recv", "send", "recvfrom", "sendto":
	default:
		return false
	}
	switch x := c.arg(1).(type) {
	case *WordExpr:
		return x.Name == "NULL"
	case *IntExpr:
		return x.Value == 0
	}
	return false
}

// payload is the data a write sends: the string argument, else zeros.
func (c *call) payload(n int64) []byte {
	b := make([]byte, max(n, 0))
	if s, isString := c.arg(1).(*StringExpr); isString {
		copy(b, s.Value)
	}
	return b
}

func (c *call) sysWrite() (sysResult, bool) {
	sk, n, nonblock, res, ok := c.ioArgs(0x80 | 0x8000 | msgFastOpen) // MSG_EOR, MSG_MORE (sockopt.go), MSG_FASTOPEN
	if sk == nil {
		return res, ok
	}
	if res, handled, ok := c.fastOpenWrite(sk, n, nonblock); handled {
		return res, ok // MSG_FASTOPEN, TCP_FASTOPEN_CONNECT (fastopen.go)
	}
	if sk.conn == nil {
		return fail(syscall.EPIPE), true
	}
	conn := sk.conn
	if conn.Readiness().State == tcp.StateSynSent {
		if nonblock {
			return fail(syscall.EAGAIN), true
		}
		if !c.block(func() bool { return conn.Readiness().State != tcp.StateSynSent }) {
			return sysResult{}, false
		}
	}
	if c.nullBuffer() && n > 0 {
		return fail(syscall.EFAULT), true
	}
	data := c.payload(n)
	total := 0
	for {
		k, err := conn.TryWriteFlags(data[total:], c.writeFlags()) // sockopt.go
		total += k
		sk.writeTotal += int64(k)
		if err == nil && total == len(data) {
			return retOK(int64(total)), true
		}
		if err == nil || errors.Is(err, syscall.EAGAIN) {
			sk.noSpace = true
			if nonblock {
				if total > 0 {
					return retOK(int64(total)), true
				}
				return fail(syscall.EAGAIN), true
			}
			if !c.block(func() bool { return conn.Readiness().Writable }) {
				return sysResult{}, false
			}
			continue
		}
		if total > 0 {
			return retOK(int64(total)), true
		}
		e := errnoOf(err)
		if e != syscall.EPIPE && sk.errDone {
			e = syscall.EPIPE
		}
		sk.errDone = true
		return fail(e), true
	}
}

// sysIoctl emulates ioctl(fd, SIOCINQ or FIONREAD, [n]): the bytes a read
// would return; and SIOCOUTQ: the bytes written but not yet acknowledged.
func (c *call) sysIoctl() (sysResult, bool) {
	sk, res, ok := c.socket(0)
	if !ok || sk == nil {
		return res, ok
	}
	req, ok := c.intArg(1)
	if !ok {
		return sysResult{}, false
	}
	var v int64
	switch req {
	case 0x541b: // SIOCINQ, FIONREAD
		if sk.lst != nil {
			return fail(syscall.EINVAL), true
		}
		if sk.conn != nil {
			v = peekable(sk)
		}
	case 0x5411: // SIOCOUTQ
		if sk.lst != nil {
			return fail(syscall.EINVAL), true
		}
		if sk.conn != nil {
			info := sk.conn.Info()
			acked := int64(info.SndUna - info.ISS - 1)
			if info.State == tcp.StateSynSent || info.State == tcp.StateSynReceived {
				acked = 0
			}
			v = max(sk.writeTotal-min(acked, sk.writeTotal), 0)
		}
	default:
		c.r.skipf(c.ev.Line, "ioctl request %s is not supported", exprText(c.arg(1)))
		return sysResult{}, false
	}
	if _, any := c.arg(2).(*EllipsisExpr); !any && c.arg(2) != nil {
		want, ok := c.r.intArg(c.arg(2))
		if !ok {
			c.r.skipf(c.ev.Line, "ioctl: cannot evaluate %s", exprText(c.arg(2)))
			return sysResult{}, false
		}
		if want != v {
			c.r.mismatch(c.ev.Line, fmt.Sprintf("ioctl: value %d, expected %s", v, exprText(c.arg(2))),
				fmt.Sprintf("%s %s", fmtTime(c.start), c.sc.String()), fmt.Sprintf("%s ioctl(...) value [%d]", fmtTime(c.r.now()), v))
			return sysResult{}, false
		}
	}
	return retOK(0), true
}
