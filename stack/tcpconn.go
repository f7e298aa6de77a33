package stack

import (
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/synack/synack/tcp"
)

// The methods of *net.TCPConn.

// do runs f on c's TCB under the shard lock, then settles c.
func (c *Conn) do(op string, f func(now time.Time) error) error {
	sh := c.sh
	sh.mu.Lock()
	defer sh.unlock()
	if c.closed {
		return c.opErr(op, net.ErrClosed)
	}
	now := c.s.clock.Now()
	err := f(now)
	sh.settle(c, now)
	if err != nil {
		return c.opErr(op, err)
	}
	return nil
}

// CloseWrite shuts down the sending side: a FIN follows the queued data.
// Later Writes fail with EPIPE. Reading goes on until the peer's FIN.
func (c *Conn) CloseWrite() error {
	return c.do("close", func(now time.Time) error {
		if c.wrShut {
			return nil
		}
		c.wrShut = true
		return c.tcb.CloseWrite(now)
	})
}

// CloseRead shuts down the receiving side: received data is discarded
// from now on and Read returns io.EOF.
func (c *Conn) CloseRead() error {
	return c.do("close", func(now time.Time) error {
		if c.rdShut {
			return nil
		}
		c.rdShut = true
		err := c.tcb.CloseRead(now)
		c.notify()
		return err
	})
}

// SetNoDelay turns Nagle's algorithm off (true) or on (false). Unlike a
// *net.TCPConn, which starts with no delay, a connection starts with
// Options.TCP.NoDelay: Nagle on unless that is set. Turning it off sends
// at once a partial segment that waits, even under SetCork, as setting
// TCP_NODELAY does on Linux.
func (c *Conn) SetNoDelay(noDelay bool) error {
	return c.do("set", func(now time.Time) error {
		c.tcb.SetNoDelay(noDelay)
		if noDelay {
			c.tcb.Push(now)
		}
		return nil
	})
}

// SetKeepAlive turns keepalive probes on or off.
func (c *Conn) SetKeepAlive(keepalive bool) error {
	return c.do("set", func(now time.Time) error {
		ka := c.tcb.KeepAliveConfig()
		ka.Enable = keepalive
		c.tcb.SetKeepAlive(ka, now)
		return nil
	})
}

// SetKeepAlivePeriod sets both the idle time before the first probe and
// the interval between probes, as *net.TCPConn does.
func (c *Conn) SetKeepAlivePeriod(d time.Duration) error {
	if d <= 0 {
		return c.opErr("set", syscall.EINVAL)
	}
	return c.do("set", func(now time.Time) error {
		ka := c.tcb.KeepAliveConfig()
		ka.Idle, ka.Interval = d, d
		c.tcb.SetKeepAlive(ka, now)
		return nil
	})
}

// SetKeepAliveConfig configures keepalive as *net.TCPConn does: a zero
// Idle or Interval means 15s, a zero Count means 9, and a negative value
// leaves the setting unchanged.
func (c *Conn) SetKeepAliveConfig(config net.KeepAliveConfig) error {
	return c.do("set", func(now time.Time) error {
		ka := c.tcb.KeepAliveConfig()
		ka.Enable = config.Enable
		pick := func(v, def time.Duration, cur *time.Duration) {
			switch {
			case v == 0:
				*cur = def
			case v > 0:
				*cur = v
			}
		}
		pick(config.Idle, 15*time.Second, &ka.Idle)
		pick(config.Interval, 15*time.Second, &ka.Interval)
		switch {
		case config.Count == 0:
			ka.Count = 9
		case config.Count > 0:
			ka.Count = config.Count
		}
		c.tcb.SetKeepAlive(ka, now)
		return nil
	})
}

// SetLinger sets how Close behaves. sec < 0 (the default): Close returns at
// once and the connection closes in the background. sec == 0: Close aborts
// the connection with a RST, discarding unsent data. sec > 0: Close blocks
// until the peer has acknowledged the FIN or sec seconds have passed.
func (c *Conn) SetLinger(sec int) error {
	return c.do("set", func(time.Time) error {
		if sec < 0 {
			c.linger = -1
		} else {
			c.linger = int32(min(sec, 1<<31-1))
		}
		return nil
	})
}

// SetReadBuffer fixes the receive buffer at bytes, like SO_RCVBUF: the
// buffer stops auto-tuning. It never drops below what it holds plus the
// window already offered, which is not withdrawn. The window scale was
// chosen at the handshake from Options.TCP (MaxReceiveBufferSize), so a
// window above 65535 << scale cannot be offered.
func (c *Conn) SetReadBuffer(bytes int) error {
	if bytes < 0 {
		return c.opErr("set", syscall.EINVAL)
	}
	return c.do("set", func(now time.Time) error {
		c.tcb.SetReceiveBufferSize(bytes, now)
		return nil
	})
}

// SetWriteBuffer fixes the send buffer at bytes, like SO_SNDBUF: the
// buffer stops auto-tuning. It never drops below the bytes it holds.
func (c *Conn) SetWriteBuffer(bytes int) error {
	if bytes < 0 {
		return c.opErr("set", syscall.EINVAL)
	}
	return c.do("set", func(time.Time) error {
		c.tcb.SetSendBufferSize(bytes)
		return nil
	})
}

// State returns the connection's RFC 9293 state.
func (c *Conn) State() tcp.State {
	c.sh.mu.Lock()
	defer c.sh.mu.Unlock()
	return c.engineState()
}

// Info returns a snapshot of the connection's TCB variables.
func (c *Conn) Info() tcp.Info {
	c.sh.mu.Lock()
	defer c.sh.mu.Unlock()
	info := c.tcb.Info()
	info.State = c.engineState()
	return info
}

// copyBufs are the buffers ReadFrom and WriteTo move data through.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// ReadFrom implements io.ReaderFrom, the fast path io.Copy takes when c
// is the destination: it reads r until io.EOF and queues what it reads
// as Write does, through one pooled buffer (no allocation per call; one
// copy into the buffer, one into the send buffer, as through the kernel
// without splice). Errors are wrapped as *net.TCPConn's are: in a
// *net.OpError "readfrom" (around the write's own error).
func (c *Conn) ReadFrom(r io.Reader) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	var total int64
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			m, werr := c.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, c.copyErr("readfrom", werr)
			}
		}
		switch {
		case rerr == io.EOF:
			return total, nil
		case rerr != nil:
			return total, c.copyErr("readfrom", rerr)
		}
	}
}

// WriteTo implements io.WriterTo, the fast path io.Copy takes when c is
// the source: it reads until the peer's FIN and writes everything to w,
// through one pooled buffer. At io.EOF it returns a nil error; other
// errors are wrapped in a *net.OpError "writeto", as *net.TCPConn's.
func (c *Conn) WriteTo(w io.Writer) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	var total int64
	for {
		n, rerr := c.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			total += int64(m)
			if werr == nil && m < n {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				return total, c.copyErr("writeto", werr)
			}
		}
		switch {
		case rerr == io.EOF:
			return total, nil
		case rerr != nil:
			return total, c.copyErr("writeto", rerr)
		}
	}
}

func (c *Conn) copyErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

var (
	_ io.ReaderFrom = (*Conn)(nil)
	_ io.WriterTo   = (*Conn)(nil)
)
