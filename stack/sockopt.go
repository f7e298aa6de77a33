package stack

import (
	"encoding/binary"
	"syscall"
	"time"

	"github.com/synack/synack/tcp"
)

// Socket options beyond *net.TCPConn's methods: the TCP options Linux
// programs set with setsockopt(2) (TCP_USER_TIMEOUT, TCP_LINGER2,
// TCP_CORK, TCP_NOTSENT_LOWAT, TCP_INQ, TCP_DEFER_ACCEPT and TCP_MAXSEG on
// a listener), the send flags MSG_MORE and MSG_EOR, and the IP header
// fields IP_TOS, IP_TTL, IPV6_TCLASS and IPV6_UNICAST_HOPS (the methods
// of golang.org/x/net/ipv4.Conn and ipv6.Conn).

// ipOpts are a connection's IP header settings; zero values mean the
// stack's defaults.
type ipOpts struct {
	tos, tclass uint8 // DSCP bits (the ECN bits are the engine's)
	ttl, hops   uint8 // 0: Options' TTL
}

// apply rewrites the IP header of pkt, built for the connection, with o.
func (o ipOpts) apply(pkt []byte) {
	if o == (ipOpts{}) || len(pkt) < 1 {
		return
	}
	switch pkt[0] >> 4 {
	case 4:
		if len(pkt) < 20 {
			return
		}
		pkt[1] = o.tos&^3 | pkt[1]&3
		if o.ttl != 0 {
			pkt[8] = o.ttl
		}
		ihl := int(pkt[0]&0xf) * 4
		if ihl < 20 || len(pkt) < ihl {
			return
		}
		pkt[10], pkt[11] = 0, 0
		var sum uint32
		for i := 0; i < ihl; i += 2 {
			sum += uint32(binary.BigEndian.Uint16(pkt[i:]))
		}
		for sum>>16 != 0 {
			sum = sum&0xffff + sum>>16
		}
		binary.BigEndian.PutUint16(pkt[10:], ^uint16(sum))
	case 6:
		if len(pkt) < 40 {
			return
		}
		old := pkt[0]<<4 | pkt[1]>>4
		tc := o.tclass&^3 | old&3 // the ECN bits stay
		pkt[0] = 6<<4 | tc>>4
		pkt[1] = tc<<4 | pkt[1]&0xf
		if o.hops != 0 {
			pkt[7] = o.hops
		}
	}
}

// setIP changes one IP setting under the shard lock.
func (c *Conn) setIP(v int, f func(o *ipOpts, b uint8)) error {
	if v < -1 || v > 255 {
		return c.opErr("set", syscall.EINVAL)
	}
	return c.do("set", func(time.Time) error {
		b := uint8(0)
		if v > 0 {
			b = uint8(v)
		}
		f(&c.ipo, b)
		return nil
	})
}

// SetTOS sets the type-of-service field (IP_TOS) of the IPv4 packets the
// connection sends from now on, as golang.org/x/net/ipv4.Conn.SetTOS does:
// the DSCP bits; the two ECN bits stay the engine's (RFC 3168). -1 or 0
// restores the default, 0.
func (c *Conn) SetTOS(tos int) error {
	return c.setIP(tos, func(o *ipOpts, b uint8) { o.tos = b })
}

// TOS returns the type-of-service set with SetTOS.
func (c *Conn) TOS() int {
	c.sh.mu.Lock()
	defer c.sh.mu.Unlock()
	return int(c.ipo.tos)
}

// SetTTL sets the time-to-live (IP_TTL) of the IPv4 packets the
// connection sends from now on, as golang.org/x/net/ipv4.Conn.SetTTL does;
// -1 restores Options' TTL. 0 is invalid (EINVAL), as on Linux.
func (c *Conn) SetTTL(ttl int) error {
	if ttl == 0 {
		return c.opErr("set", syscall.EINVAL)
	}
	return c.setIP(ttl, func(o *ipOpts, b uint8) { o.ttl = b })
}

// TTL returns the time-to-live the connection's IPv4 packets carry.
func (c *Conn) TTL() int {
	c.sh.mu.Lock()
	defer c.sh.mu.Unlock()
	if c.ipo.ttl != 0 {
		return int(c.ipo.ttl)
	}
	return int(c.s.ttl)
}

// SetTrafficClass sets the traffic class (IPV6_TCLASS) of the IPv6
// packets the connection sends from now on, as
// golang.org/x/net/ipv6.Conn.SetTrafficClass does: the DSCP bits; the ECN
// bits stay the engine's. -1 or 0 restores the default, 0.
func (c *Conn) SetTrafficClass(tclass int) error {
	return c.setIP(tclass, func(o *ipOpts, b uint8) { o.tclass = b })
}

// TrafficClass returns the traffic class set with SetTrafficClass.
func (c *Conn) TrafficClass() int {
	c.sh.mu.Lock()
	defer c.sh.mu.Unlock()
	return int(c.ipo.tclass)
}

// SetHopLimit sets the hop limit (IPV6_UNICAST_HOPS) of the IPv6 packets
// the connection sends from now on, as
// golang.org/x/net/ipv6.Conn.SetHopLimit does; -1 restores Options' TTL.
// 0 is invalid (EINVAL).
func (c *Conn) SetHopLimit(hops int) error {
	if hops == 0 {
		return c.opErr("set", syscall.EINVAL)
	}
	return c.setIP(hops, func(o *ipOpts, b uint8) { o.hops = b })
}

// HopLimit returns the hop limit the connection's IPv6 packets carry.
func (c *Conn) HopLimit() int {
	c.sh.mu.Lock()
	defer c.sh.mu.Unlock()
	if c.ipo.hops != 0 {
		return int(c.ipo.hops)
	}
	return int(c.s.ttl)
}

// SetUserTimeout sets TCP_USER_TIMEOUT (RFC 5482): once sent data has
// stayed unacknowledged for d, or zero-window probes unanswered for d, the
// connection fails with ETIMEDOUT (a blocked Read or Write returns it),
// however many retransmissions that takes. 0 turns it off: the stack's
// Options.TCP.MaxRetries decides. Negative d is EINVAL.
func (c *Conn) SetUserTimeout(d time.Duration) error {
	if d < 0 {
		return c.opErr("set", syscall.EINVAL)
	}
	return c.do("set", func(time.Time) error {
		c.tcb.SetUserTimeout(d)
		return nil
	})
}

// UserTimeout returns the TCP_USER_TIMEOUT set, 0 if none.
func (c *Conn) UserTimeout() time.Duration {
	c.sh.mu.Lock()
	defer c.sh.mu.Unlock()
	return c.tcb.UserTimeout()
}

// SetLinger2 sets TCP_LINGER2 for this connection: how long it waits in
// FIN-WAIT-2 for the peer's FIN after Close before it is dropped (the
// stack-wide value is Options.TCP.FinWait2Timeout). 0 restores that
// value; a negative d resets the connection (RST) as soon as the peer has
// acknowledged our FIN, instead of waiting.
func (c *Conn) SetLinger2(d time.Duration) error {
	return c.do("set", func(now time.Time) error {
		c.tcb.SetFinWait2Timeout(d, now)
		return nil
	})
}

// SetCork sets TCP_CORK: while on, segments shorter than the MSS wait
// until a full one is ready, the cork is removed (SetCork(false) sends
// what waits) or, when nothing is in flight, a probe timeout (the RTO, at
// least SRTT + MinRTO) passes.
func (c *Conn) SetCork(on bool) error {
	return c.do("set", func(now time.Time) error {
		c.tcb.SetCork(on, now)
		return nil
	})
}

// SetNotSentLowat sets TCP_NOTSENT_LOWAT: the connection is writable (a
// Write proceeds, TryWrite queues, Readiness().Writable) only while fewer
// than bytes written are still unsent, which keeps the data queued in the
// stack, and so the latency of what the application writes next, small.
// A write that starts below the mark queues what the windows let go at
// once, or else one train of segments (half the peer's largest window),
// and stops. 0 turns it off.
func (c *Conn) SetNotSentLowat(bytes int) error {
	if bytes < 0 {
		return c.opErr("set", syscall.EINVAL)
	}
	return c.do("set", func(time.Time) error {
		c.tcb.SetNotSentLowat(bytes)
		return nil
	})
}

// NotSentLowat returns the TCP_NOTSENT_LOWAT set, 0 if none.
func (c *Conn) NotSentLowat() int {
	c.sh.mu.Lock()
	defer c.sh.mu.Unlock()
	return c.tcb.NotSentLowat()
}

// NotSent returns the bytes written but not yet sent (Linux's
// tcpi_notsent_bytes).
func (c *Conn) NotSent() int {
	c.sh.mu.Lock()
	defer c.sh.mu.Unlock()
	return c.tcb.NotSent()
}

// InQueue returns the bytes received and not yet read: what a Read would
// return without waiting (TCP_INQ, SIOCINQ).
func (c *Conn) InQueue() int {
	c.sh.mu.Lock()
	defer c.sh.mu.Unlock()
	if c.closed || c.rdShut {
		return 0
	}
	return c.tcb.Unread()
}

// WriteFlags is Write with send(2) flags: tcp.WriteMore (MSG_MORE: more
// data follows at once, so a partial segment is not sent yet and carries
// no PSH) and tcp.WriteEOR (MSG_EOR: b ends a record; no segment carries
// bytes of two records).
func (c *Conn) WriteFlags(b []byte, flags tcp.WriteFlags) (int, error) {
	c.sh.mu.Lock()
	c.wflags = flags
	c.sh.mu.Unlock()
	defer func() {
		c.sh.mu.Lock()
		c.wflags = 0
		c.sh.mu.Unlock()
	}()
	return c.Write(b)
}

// TryWriteFlags is WriteFlags that never waits, as TryWrite.
func (c *Conn) TryWriteFlags(b []byte, flags tcp.WriteFlags) (int, error) {
	c.sh.mu.Lock()
	c.wflags = flags
	c.sh.mu.Unlock()
	defer func() {
		c.sh.mu.Lock()
		c.wflags = 0
		c.sh.mu.Unlock()
	}()
	return c.TryWrite(b)
}

// listenerOpts are a listener's socket options, applied to the
// connections it creates.
type listenerOpts struct {
	mss         int           // TCP_MAXSEG: the MSS advertised; 0: the route's
	deferAccept time.Duration // TCP_DEFER_ACCEPT
}

// SetDeferAccept sets TCP_DEFER_ACCEPT: a connection joins the accept
// queue only once data arrives, not on the bare ACK that completes the
// handshake, for up to d (counted, as Linux counts it, in SYN-ACK
// timeouts: 1 s, 2 s, 4 s ...). The SYN-ACK is sent again at the end of
// that period; the ACK answering it completes the handshake. It applies
// to SYNs that arrive from now on; 0 turns it off.
func (l *Listener) SetDeferAccept(d time.Duration) error {
	if d < 0 {
		return l.opErr("set", syscall.EINVAL)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.so.deferAccept = d
	return nil
}

// SetMSS sets the MSS the listener's new connections advertise on their
// SYN-ACK and send with at most (TCP_MAXSEG set on a listening socket):
// between 88 and 65535; 0 restores the default (the route's MTU less the
// headers, or Options.TCP.MSS).
func (l *Listener) SetMSS(mss int) error {
	if mss != 0 && (mss < 88 || mss > 65535) {
		return l.opErr("set", syscall.EINVAL)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.so.mss = mss
	return nil
}

// MSS returns the MSS set with SetMSS, 0 if none.
func (l *Listener) MSS() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.so.mss
}

// passiveConfig applies the listener's options to the configuration of a
// connection it creates.
func (l *Listener) passiveConfig(cfg tcp.Config) tcp.Config {
	if l == nil {
		return cfg
	}
	l.mu.Lock()
	mss := l.so.mss
	l.mu.Unlock()
	if mss > 0 && (cfg.MSS == 0 || mss < cfg.MSS) {
		cfg.MSS = mss
	}
	return cfg
}

// passiveTCB applies the listener's options to a TCB it just created.
func (l *Listener) passiveTCB(t *tcp.TCB) {
	if l == nil {
		return
	}
	l.mu.Lock()
	d := l.so.deferAccept
	l.mu.Unlock()
	if d > 0 {
		t.SetDeferAccept(d)
	}
}
