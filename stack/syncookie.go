package stack

import (
	"time"

	"github.com/synack/synack/tcp"
)

// SynCookieMode says when listeners answer SYNs with SYN cookies
// (RFC 4987 §3.6; package tcp, syncookie.go): a SYN-ACK whose sequence
// number encodes the handshake, so that the listener keeps no state until
// the peer's ACK comes back with it. The modes are those of Linux's
// net.ipv4.tcp_syncookies (1, 0 and 2).
type SynCookieMode uint8

// The SYN cookie modes.
const (
	// SynCookiesAuto, the default, sends cookies only when the SYN queue
	// is full: a SYN flood cannot keep real clients out, and in normal
	// times every connection keeps all its options.
	SynCookiesAuto SynCookieMode = iota
	// SynCookiesOff drops SYNs that find the SYN queue full (counted in
	// Stats.SynQueueDrops).
	SynCookiesOff
	// SynCookiesAlways answers every SYN with a cookie: no listener keeps
	// any half-open connection.
	SynCookiesAlways
)

// cookieWindow is how long after sending its last cookie a listener
// still checks ACKs as cookies: the two periods a cookie stays valid.
// Outside it an ACK that reaches a listener is answered with a RST at
// once, so that ACKs cannot be used to guess cookies while there is no
// flood.
const cookieWindow = 128 * time.Second

// sendCookie answers syn with a cookie SYN-ACK.
func (sh *shard) sendCookie(key tuple, syn *tcp.Segment, now time.Time) {
	s := sh.s
	r := s.routes.Load().lookup(key.remote.Addr())
	if r == nil {
		s.ctr.noRoute.Add(1)
		return
	}
	sa := tcp.CookieSynAck(s.config(r, key.remote.Addr()), s.cookieKey, key.local, key.remote, syn, now)
	// Counted first: the peer may answer before emit returns.
	s.ctr.synCookiesSent.Add(1)
	sh.emit(r, key.local, key.remote, &sa)
}

// cookieACK handles an ACK that reached listener l and no connection: if
// l sent cookies lately and the ACK carries a valid one, it makes the
// connection and queues it for Accept. It reports whether it handled the
// segment; if not, the caller answers it with a RST.
func (sh *shard) cookieACK(l *Listener, key tuple, seg *tcp.Segment, now time.Time) bool {
	s := sh.s
	if s.synCookies == SynCookiesOff || !l.cookiesSentSince(now.Add(-cookieWindow)) {
		return false
	}
	r := s.routes.Load().lookup(key.remote.Addr())
	if r == nil {
		s.ctr.noRoute.Add(1)
		return true
	}
	cfg := s.config(r, key.remote.Addr())
	ck, ok := tcp.CheckCookie(cfg, s.cookieKey, key.local, key.remote, seg, now)
	if !ok {
		s.ctr.synCookiesInvalid.Add(1)
		return false
	}
	s.ctr.synCookiesValid.Add(1)
	if !l.cookieRoom(s.abortOnOverflow) {
		// Past the backlog (AbortOnOverflow: answered with a RST) or
		// past the backlog plus the SYN queue (ignored: the peer's
		// next segment brings the cookie again, while it is valid).
		s.ctr.acceptQueueDrops.Add(1)
		s.ctr.listenOverflows.Add(1)
		s.ctr.listenDrops.Add(1)
		return !s.abortOnOverflow
	}
	c := s.newConn(sh, key, r)
	c.tcb = tcp.NewFromCookie(cfg, ck, seg, now)
	c.watch()
	if l.enqueue(c) != admitOK {
		return false // closed meanwhile
	}
	s.report(key.local, key.remote, tcp.StateListen, tcp.StateSynReceived, now)
	s.report(key.local, key.remote, tcp.StateSynReceived, tcp.StateEstablished, now)
	if st := c.tcb.State(); st != tcp.StateEstablished {
		s.report(key.local, key.remote, tcp.StateEstablished, st, now)
	}
	sh.insert(c)
	s.ctr.passiveOpens.Add(1)
	sh.settle(c, now)
	return true
}
