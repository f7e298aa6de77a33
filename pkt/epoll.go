package pkt

import (
	"fmt"
	"syscall"
	"time"

	"github.com/synack/synack/tcp"
)

// An emulation of epoll: epoll_create, epoll_create1, epoll_ctl and
// epoll_wait, level-triggered, or edge-triggered (EPOLLET) as Linux wakes a
// waiter: when data or a FIN arrives, when the state changes or an error
// comes, and when acknowledged data frees send-buffer space after a write
// that did not fit. The events reported are the socket's poll mask (see
// revents) at that time.

const (
	epollET      = 1 << 31
	epollOneShot = 1 << 30
)

// epollSet is an epoll instance.
type epollSet struct {
	regs  map[int]*epollReg
	order []int // descriptors in the order they were added
}

// epollReg is one registered descriptor.
type epollReg struct {
	events   int64
	data     int64 // fd= or ptr= as given
	armed    bool  // edge-triggered: a wakeup since the last report
	disabled bool  // EPOLLONESHOT after its report
	snap     epollSnap
}

// epollSnap is what a wakeup changes.
type epollSnap struct {
	rcvNxt, sndUna uint32
	state          tcp.State
	err            bool
	pending        int
}

func (r *runner) epollSnapshot(sk *socket) epollSnap {
	switch {
	case sk.conn != nil:
		in := sk.conn.Info()
		return epollSnap{rcvNxt: in.RcvNxt, sndUna: in.SndUna, state: in.State, err: sk.conn.Readiness().Err != nil}
	case sk.lst != nil:
		return epollSnap{pending: sk.lst.Pending()}
	}
	return epollSnap{}
}

func (c *call) sysEpollCreate() (sysResult, bool) {
	sk := &socket{fd: c.scriptFD(), epoll: &epollSet{regs: map[int]*epollReg{}}}
	c.r.socks[sk.fd] = sk
	return retOK(int64(sk.fd)), true
}

// epollEvent evaluates {events=..., fd=N} (or ptr=N, u64=N).
func (c *call) epollEvent(e Expr) (events, data int64, ok bool) {
	st, isStruct := e.(*StructExpr)
	if !isStruct {
		c.r.skipf(c.ev.Line, "%s: cannot evaluate %s", c.sc.Name, exprText(e))
		return 0, 0, false
	}
	for _, f := range st.Elems {
		as, isAssign := f.(*AssignExpr)
		if !isAssign {
			continue
		}
		name, _ := as.Name.(*WordExpr)
		if name == nil {
			continue
		}
		v, ok := c.r.intArg(as.Value)
		if !ok {
			c.r.skipf(c.ev.Line, "%s: cannot evaluate %s", c.sc.Name, exprText(as.Value))
			return 0, 0, false
		}
		switch name.Name {
		case "events":
			events = v
		case "fd", "ptr", "u64", "u32":
			data = v
		}
	}
	return events, data, true
}

func (c *call) sysEpollCtl() (sysResult, bool) {
	ep, res, ok := c.socket(0)
	if !ok || ep == nil {
		return res, ok
	}
	if ep.epoll == nil {
		return fail(syscall.EINVAL), true
	}
	op, ok1 := c.intArg(1)
	fd, ok2 := c.intArg(2)
	if !ok1 || !ok2 {
		return sysResult{}, false
	}
	sk := c.r.socks[int(fd)]
	if sk == nil {
		return fail(syscall.EBADF), true
	}
	set := ep.epoll
	switch op {
	case 1, 3: // EPOLL_CTL_ADD, EPOLL_CTL_MOD
		events, data, ok := c.epollEvent(c.arg(3))
		if !ok {
			return sysResult{}, false
		}
		if events&(1<<28) != 0 { // EPOLLEXCLUSIVE
			c.r.skipf(c.ev.Line, "EPOLLEXCLUSIVE is not supported")
			return sysResult{}, false
		}
		reg := set.regs[int(fd)]
		if op == 1 {
			if reg != nil {
				return fail(syscall.EEXIST), true
			}
			reg = &epollReg{}
			set.regs[int(fd)] = reg
			set.order = append(set.order, int(fd))
		} else if reg == nil {
			return fail(syscall.ENOENT), true
		}
		reg.events, reg.data, reg.armed, reg.disabled = events, data, true, false
		reg.snap = c.r.epollSnapshot(sk)
	case 2: // EPOLL_CTL_DEL
		if set.regs[int(fd)] == nil {
			return fail(syscall.ENOENT), true
		}
		delete(set.regs, int(fd))
		for i, f := range set.order {
			if f == int(fd) {
				set.order = append(set.order[:i:i], set.order[i+1:]...)
				break
			}
		}
	default:
		return fail(syscall.EINVAL), true
	}
	return ok0(), true
}

// epollReady returns the (data, events) pairs ready now, at most max;
// with consume it reports them (edge-triggered registrations disarm).
func (r *runner) epollReady(set *epollSet, max int, consume bool) [][2]int64 {
	var out [][2]int64
	for _, fd := range set.order {
		reg := set.regs[fd]
		sk := r.socks[fd]
		if reg == nil || sk == nil || reg.disabled || len(out) >= max {
			continue
		}
		mask := r.revents(sk) & (reg.events | 0x8 | 0x10)
		if reg.events&epollET != 0 {
			now := r.epollSnapshot(sk)
			old := reg.snap
			woke := now.rcvNxt != old.rcvNxt || now.state != old.state || now.err != old.err || now.pending != old.pending ||
				(now.sndUna != old.sndUna && sk.noSpace)
			if woke {
				if consume {
					reg.snap = now
					if now.sndUna != old.sndUna {
						sk.noSpace = false
					}
				}
				reg.armed = true
			}
			if !reg.armed || mask == 0 {
				continue
			}
			if consume {
				reg.armed = false
			}
		} else if mask == 0 {
			continue
		}
		if consume && reg.events&epollOneShot != 0 {
			reg.disabled = true
		}
		out = append(out, [2]int64{reg.data, mask})
	}
	return out
}

var epollNames = []string{"EPOLLIN", "EPOLLPRI", "EPOLLOUT", "EPOLLERR", "EPOLLHUP", "EPOLLRDNORM", "EPOLLRDBAND", "EPOLLWRNORM", "EPOLLWRBAND", "EPOLLRDHUP"}

func (c *call) sysEpollWait() (sysResult, bool) {
	ep, res, ok := c.socket(0)
	if !ok || ep == nil {
		return res, ok
	}
	if ep.epoll == nil {
		return fail(syscall.EINVAL), true
	}
	maxEv, ok1 := c.intArg(2)
	timeout, ok2 := c.intArg(3)
	if !ok1 || !ok2 {
		return sysResult{}, false
	}
	if maxEv <= 0 {
		return fail(syscall.EINVAL), true
	}
	set := ep.epoll
	if len(c.r.epollReady(set, int(maxEv), false)) == 0 && timeout != 0 {
		c.blocked = true
		c.r.blocked++
		limit := c.end + c.r.cfg.Tolerance
		if timeout > 0 {
			limit = min(limit, c.start+time.Duration(timeout)*time.Millisecond)
		}
		c.r.runUntil(func() bool { return len(c.r.epollReady(set, int(maxEv), false)) > 0 }, limit)
		c.r.blocked--
		if c.r.stopped != nil {
			return sysResult{}, false
		}
	}
	got := c.r.epollReady(set, int(maxEv), true)
	// The expected first event: {events=..., fd=N}; {events=0, ...}
	// when none is expected.
	if _, any := c.arg(1).(*EllipsisExpr); !any && c.arg(1) != nil {
		events, data, ok := c.epollEvent(c.arg(1))
		if !ok {
			return sysResult{}, false
		}
		var gotEv, gotData int64
		if len(got) > 0 {
			gotData, gotEv = got[0][0], got[0][1]
		}
		if events != 0 && (events != gotEv || data != gotData) {
			c.r.mismatch(c.ev.Line, fmt.Sprintf("epoll_wait: events %s for %d, expected %s", joinNames(gotEv, epollNames), gotData, exprText(c.arg(1))),
				fmt.Sprintf("%s %s", fmtTime(c.start), c.sc.String()), fmt.Sprintf("%s epoll_wait(...) = %d", fmtTime(c.r.now()), len(got)))
			return sysResult{}, false
		}
	}
	return retOK(int64(len(got))), true
}
