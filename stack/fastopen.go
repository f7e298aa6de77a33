package stack

import (
	"bytes"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/synack/synack/tcp"
)

// FastOpenMode holds the bits of Linux's net.ipv4.tcp_fastopen, which say
// where TCP Fast Open (RFC 7413; package tcp, fastopen.go) is on.
type FastOpenMode uint32

// The Fast Open bits, with Linux's values.
const (
	// FastOpenClient lets dials use Fast Open (Dialer.FastOpen,
	// DialStartFastOpen): data on the SYN with a cached cookie, a cookie
	// request otherwise.
	FastOpenClient FastOpenMode = 0x1
	// FastOpenServer lets listeners that ask for it (ListenConfig.FastOpen,
	// Listener.SetFastOpen) accept data on SYNs with valid cookies.
	FastOpenServer FastOpenMode = 0x2
	// FastOpenClientNoCookie sends data on the SYN without any cookie.
	FastOpenClientNoCookie FastOpenMode = 0x4
	// FastOpenServerNoCookie accepts data on any SYN, cookie or not.
	FastOpenServerNoCookie FastOpenMode = 0x200
	// FastOpenServerAllListeners turns Fast Open on for every listener,
	// with the backlog as the limit of pending Fast Open connections.
	FastOpenServerAllListeners FastOpenMode = 0x400
	// FastOpenOff turns Fast Open off altogether (Linux's 0): the zero
	// FastOpenMode means the default, FastOpenClient, as Linux's 1.
	FastOpenOff FastOpenMode = 0x80000000
)

// fastOpenCacheMax bounds the client's cookie cache (entries, one per
// server address).
const fastOpenCacheMax = 4096

// fastOpenState is the stack's Fast Open state: the mode, the server keys
// and the client's cookie cache.
type fastOpenState struct {
	mode atomic.Uint32

	mu    sync.Mutex
	keys  [2]tcp.FastOpenKey // primary, backup
	nkeys int
	cache map[netip.Addr]fastOpenEntry
}

// fastOpenEntry is what the client remembers of one server (Linux keeps it
// in its TCP metrics).
type fastOpenEntry struct {
	cookie []byte
	exp    bool // the cookie came in the experimental option
	mss    int
	tryExp uint8 // a request got no cookie: 1 try kind 254 next, 2 back to 34
	failed bool  // Fast Open failed with a FastOpenDial.GiveUp dial: not tried again
}

func (f *fastOpenState) init(opts *Options, secret []byte) {
	f.mode.Store(uint32(opts.FastOpen))
	if opts.FastOpenKey != nil {
		f.keys[0] = *opts.FastOpenKey
	} else {
		f.keys[0] = tcp.NewFastOpenKey(secret)
	}
	f.nkeys = 1
}

// FastOpen returns the stack's Fast Open mode, as Options.FastOpen and
// SetFastOpen set it (0 is the default, FastOpenClient).
func (s *Stack) FastOpen() FastOpenMode { return FastOpenMode(s.fo.mode.Load()) }

// SetFastOpen changes the Fast Open mode (Linux's sysctl
// net.ipv4.tcp_fastopen); connections already open keep theirs.
func (s *Stack) SetFastOpen(m FastOpenMode) { s.fo.mode.Store(uint32(m)) }

// fastOpenOn reports whether bit b is on.
func (s *Stack) fastOpenOn(b FastOpenMode) bool {
	m := s.FastOpen()
	switch {
	case m&FastOpenOff != 0:
		return false
	case m == 0:
		m = FastOpenClient
	}
	return m&b != 0
}

// SetFastOpenKey sets the key server cookies are made with, and a backup
// key (nil: none) whose cookies are still accepted: to rotate, make the
// old primary the backup.
func (s *Stack) SetFastOpenKey(primary tcp.FastOpenKey, backup *tcp.FastOpenKey) {
	s.fo.mu.Lock()
	defer s.fo.mu.Unlock()
	s.fo.keys[0], s.fo.nkeys = primary, 1
	if backup != nil {
		s.fo.keys[1], s.fo.nkeys = *backup, 2
	}
}

// FastOpenKey returns the key server cookies are made with.
func (s *Stack) FastOpenKey() tcp.FastOpenKey {
	s.fo.mu.Lock()
	defer s.fo.mu.Unlock()
	return s.fo.keys[0]
}

// FastOpenDial are a Fast Open dial's settings (DialStartFastOpen).
type FastOpenDial struct {
	// NoCookie sends the data on the SYN without a cookie (Linux's
	// TCP_FASTOPEN_NO_COOKIE socket option).
	NoCookie bool
	// GiveUp stops using Fast Open with a server once it failed: a
	// cookie request got no valid cookie, or the SYN-ACK did not
	// acknowledge the SYN's data. Later dials to it send plain SYNs, as
	// FreeBSD's client does. Without it, as on Linux, the cookie is
	// kept and a request that got none is retried in the other option
	// kind.
	GiveUp bool
}

// DialStartFastOpen is DialStart for a Fast Open connection (Linux's
// TCP_FASTOPEN_CONNECT, or sendto with MSG_FASTOPEN): the connection is in
// SYN-SENT but its SYN waits for the first Write, which it carries with
// the cookie cached for the server (or a cookie request, and then the
// data waits for the handshake). Without FastOpenClient in the stack's
// mode it is DialStart.
func (s *Stack) DialStartFastOpen(laddr, raddr netip.AddrPort, cfg *tcp.Config, o FastOpenDial) (*Conn, error) {
	return s.dialStart(laddr, raddr, cfg, &o)
}

// activeTCB makes the TCB of an active open: a Fast Open one when fo is
// set and the mode allows it.
func (s *Stack) activeTCB(sh *shard, cfg tcp.Config, key tuple, now time.Time, fo *FastOpenDial) *tcp.TCB {
	iss := s.isn(key.local, key.remote, now)
	if sh.dialReuse {
		// The 4-tuple was our TIME-WAIT's (ephemeral): start past what
		// the old connection sent.
		if int32(iss-sh.dialISS) < 0 {
			iss = sh.dialISS
		}
		sh.dialReuse = false
	}
	if cfg.TSOffset == 0 {
		cfg.TSOffset = s.tsOffset(key.local.Addr(), key.remote.Addr())
	}
	if fo == nil || !s.fastOpenOn(FastOpenClient) {
		return tcp.NewActive(cfg, iss, now)
	}
	c := tcp.FastOpenClient{NoCookie: fo.NoCookie || s.fastOpenOn(FastOpenClientNoCookie), GiveUp: fo.GiveUp}
	s.fo.mu.Lock()
	e, ok := s.fo.cache[key.remote.Addr()]
	if ok && e.failed && fo.GiveUp {
		s.fo.mu.Unlock()
		return tcp.NewActive(cfg, iss, now)
	}
	if ok {
		c.Cookie, c.Exp, c.MSS = slices.Clone(e.cookie), e.exp, e.mss
		if len(e.cookie) == 0 {
			c.Exp = e.tryExp == 1
		}
	}
	s.fo.mu.Unlock()
	return tcp.NewActiveFastOpen(cfg, iss, c, now)
}

// fastOpenLearn keeps what a SYN-ACK told a Fast Open client: the
// server's cookie and MSS (Linux's tcp_fastopen_cache_set).
func (s *Stack) fastOpenLearn(server netip.Addr, sentExp, requested bool, r tcp.FastOpenResult) {
	s.fo.mu.Lock()
	defer s.fo.mu.Unlock()
	if s.fo.cache == nil {
		s.fo.cache = map[netip.Addr]fastOpenEntry{}
	}
	e, ok := s.fo.cache[server]
	if !ok && len(s.fo.cache) >= fastOpenCacheMax {
		for k := range s.fo.cache { // forget one at random
			delete(s.fo.cache, k)
			break
		}
	}
	e.mss = r.MSS
	if r.GiveUp {
		if len(r.Cookie) > 0 {
			e.cookie, e.exp = r.Cookie, r.Exp // a new cookie: keep trying
		} else {
			e.failed = requested || (r.SYNData > 0 && !r.DataAckd)
		}
		s.fo.cache[server] = e
		return
	}
	switch {
	case len(r.Cookie) > 0:
		e.cookie, e.exp, e.tryExp = r.Cookie, r.Exp, 0
	case requested && len(e.cookie) == 0 && !r.SYNRetransmitted:
		// Asked and got nothing: perhaps a middlebox strips the
		// option; try the other kind next time.
		e.tryExp = 1
		if sentExp {
			e.tryExp = 2
		}
	}
	s.fo.cache[server] = e
}

// ForgetFastOpenCookies empties the client's cookie cache (as "ip
// tcp_metrics flush" does on Linux).
func (s *Stack) ForgetFastOpenCookies() {
	s.fo.mu.Lock()
	s.fo.cache = nil
	s.fo.mu.Unlock()
}

// listenerFastOpen is a listener's Fast Open state (guarded by its mu).
type listenerFastOpen struct {
	qlen     int                // most pending Fast Open connections; 0: off
	children map[*Conn]struct{} // accepted on their SYN's data, not yet synchronized
	key      *tcp.FastOpenKey   // the listener's own key (SetFastOpenKey); nil: the stack's
	ecn      *[2]bool           // SetECN: tcp.Config's ECN and ECNAcceptOnly for new connections; nil: the stack's
}

// SetECN gives the listener's new connections their own ECN settings
// (tcp.Config.ECN and ECNAcceptOnly) instead of the stack's: what a
// change of Linux's net.ipv4.tcp_ecn does to the listeners made after it.
// (It sits with Fast Open because the Fast Open scripts need it.)
func (l *Listener) SetECN(ecn, acceptOnly bool) {
	l.mu.Lock()
	l.fo.ecn = &[2]bool{ecn, acceptOnly}
	l.mu.Unlock()
}

// SetFastOpen lets the listener accept data on SYNs with valid cookies
// (Linux's TCP_FASTOPEN socket option), with at most qlen such
// connections pending — not yet past their handshake — at a time; 0 turns
// it off. The stack's mode must have FastOpenServer.
func (l *Listener) SetFastOpen(qlen int) {
	l.mu.Lock()
	l.fo.qlen = max(qlen, 0)
	l.mu.Unlock()
}

// SetFastOpenKey gives the listener its own key for Fast Open cookies
// (Linux's TCP_FASTOPEN_KEY socket option) instead of the stack's.
func (l *Listener) SetFastOpenKey(k tcp.FastOpenKey) {
	l.mu.Lock()
	l.fo.key = &k
	l.mu.Unlock()
}

// fastOpenQlen is the listener's limit of pending Fast Open connections,
// with the stack's mode applied.
func (l *Listener) fastOpenQlen() int {
	s := l.s
	if !s.fastOpenOn(FastOpenServer) {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	q := l.fo.qlen
	if q == 0 && s.fastOpenOn(FastOpenServerAllListeners) {
		q = l.backlog
	}
	if q > 0 && len(l.fo.children) >= q {
		return -1 // full
	}
	return q
}

// passiveTCB makes the TCB for a SYN that reached listener l, applying
// Fast Open (RFC 7413 §4.2.2, as Linux's tcp_try_fastopen): with a valid
// cookie (or none needed) the SYN's data is accepted and child is true;
// a cookie request, or a cookie that does not validate, is answered with
// the valid cookie.
func (sh *shard) passiveTCB(l *Listener, cfg tcp.Config, key tuple, seg *tcp.Segment, now time.Time) (t *tcp.TCB, child bool) {
	s := sh.s
	iss := sh.passiveISN(key, now)
	l.mu.Lock()
	if e := l.fo.ecn; e != nil {
		cfg.ECN, cfg.ECNAcceptOnly = e[0], e[1]
	}
	l.mu.Unlock()
	o := &seg.Options
	q := l.fastOpenQlen()
	hasData := len(seg.Payload) > 0
	if q == 0 || q < 0 || (!o.HasFastOpen && !hasData) {
		if q < 0 {
			s.ctr.fo.listenOverflow.Add(1)
		}
		return tcp.NewPassive(cfg, iss, seg, now), false
	}
	var reply tcp.FastOpenReply
	reply.Exp = o.FastOpenExp
	s.fo.mu.Lock()
	keys := s.fo.keys
	nkeys := s.fo.nkeys
	s.fo.mu.Unlock()
	l.mu.Lock()
	if l.fo.key != nil {
		keys[0], nkeys = *l.fo.key, 1
	}
	l.mu.Unlock()
	valid := tcp.MakeFastOpenCookie(&keys[0], key.remote.Addr(), key.local.Addr())
	got := o.FastOpen()
	switch {
	case s.fastOpenOn(FastOpenServerNoCookie) && hasData:
		reply.Accept = true
	case !o.HasFastOpen:
	case o.FastOpenLen == 0:
		reply.Cookie = valid[:] // a cookie request
		s.ctr.fo.cookieReqs.Add(1)
	case bytes.Equal(got, valid[:]) && int(o.FastOpenLen) == len(valid):
		reply.Accept = true
	case nkeys > 1 && int(o.FastOpenLen) == len(valid) && bytes.Equal(got, sliceOf(tcp.MakeFastOpenCookie(&keys[1], key.remote.Addr(), key.local.Addr()))):
		reply.Accept = true
		reply.Cookie = valid[:] // made with the old key: here is a fresh one
	default:
		reply.Cookie = valid[:]
		s.ctr.fo.passiveFail.Add(1)
	}
	t = tcp.NewPassiveFastOpen(cfg, iss, seg, reply, now)
	if reply.Accept {
		s.ctr.fo.passive.Add(1)
	}
	return t, reply.Accept
}

func sliceOf(c [tcp.FastOpenCookieLen]byte) []byte { return c[:] }

// fastOpenChild puts c, accepted on its SYN's data, straight into l's
// accept queue (sh.mu held), as Linux does: the application reads the
// data before the handshake completes.
func (sh *shard) fastOpenChild(l *Listener, c *Conn) {
	c.halfOpen = false
	l.mu.Lock()
	if l.fo.children == nil {
		l.fo.children = map[*Conn]struct{}{}
	}
	l.fo.children[c] = struct{}{}
	l.mu.Unlock()
	l.promote(c, false)
}

// fastOpenSettle is settle's Fast Open step (sh.mu held): a client's
// cache learns from its SYN-ACK, and a server child that left SYN-RECEIVED
// no longer counts against its listener's limit.
func (sh *shard) fastOpenSettle(c *Conn) {
	t := c.tcb
	if r, sentExp, requested, ok := t.TakeFastOpenResult(); ok {
		sh.s.fastOpenLearn(c.key.remote.Addr(), sentExp, requested, r)
		if r.SYNData > 0 {
			if r.DataAckd {
				sh.s.ctr.fo.active.Add(1)
			} else {
				sh.s.ctr.fo.activeFail.Add(1)
			}
		}
	}
	if c.lst != nil && t.FastOpenChild() && (t.State() != tcp.StateSynReceived || t.Done()) {
		l := c.lst
		l.mu.Lock()
		delete(l.fo.children, c)
		l.mu.Unlock()
	}
}

// FastOpenSYNData reports whether data rode on the connection's SYN and
// was taken: a client's SYN-ACK acknowledged all of it, or a server
// accepted it (Linux's TCPI_OPT_SYN_DATA).
func (c *Conn) FastOpenSYNData() bool {
	c.sh.mu.Lock()
	defer c.sh.mu.Unlock()
	return c.tcb.SYNData()
}

// FastOpenPending reports whether the connection is a Fast Open dial
// whose SYN waits for the first Write.
func (c *Conn) FastOpenPending() bool {
	c.sh.mu.Lock()
	defer c.sh.mu.Unlock()
	return c.tcb.FastOpenPending()
}

// UsesFastOpen reports whether the connection is a Fast Open dial, or was
// accepted on its SYN's data.
func (c *Conn) UsesFastOpen() bool {
	c.sh.mu.Lock()
	defer c.sh.mu.Unlock()
	return c.tcb.UsesFastOpen()
}

// FastOpenSYNBytes is how many bytes of data the connection's SYN carried
// (a Fast Open dial's; 0 otherwise).
func (c *Conn) FastOpenSYNBytes() int {
	c.sh.mu.Lock()
	defer c.sh.mu.Unlock()
	return c.tcb.FastOpenResult().SYNData
}

// FastOpenRoom is how many bytes the deferred SYN of a Fast Open dial
// would carry (0: it asks for a cookie and carries none, or it has gone).
func (c *Conn) FastOpenRoom() int {
	c.sh.mu.Lock()
	defer c.sh.mu.Unlock()
	return c.tcb.FastOpenRoom()
}

// FastOpenConnect sends the deferred SYN of a Fast Open dial now, without
// waiting for a Write (it carries no data then, and asks for a cookie if
// none is cached).
func (c *Conn) FastOpenConnect() {
	sh := c.sh
	sh.mu.Lock()
	now := c.s.clock.Now()
	if c.tcb.FastOpenPending() {
		c.tcb.SendSYN(now)
		sh.settle(c, now)
	}
	sh.unlock()
}

// fastOpenKick sends a deferred SYN when a Read comes before any Write
// (sh.mu held): the connection would otherwise never open.
func (c *Conn) fastOpenKick(now time.Time) {
	if c.tcb.FastOpenPending() {
		c.tcb.SendSYN(now)
		c.sh.settle(c, now)
	}
}

// FastOpenStats counts Fast Open events, as Linux's TcpExt counters do.
type FastOpenStats struct {
	Active         uint64 // SYNs with data whose SYN-ACK acknowledged it (TCPFastOpenActive)
	ActiveFail     uint64 // SYNs with data whose SYN-ACK did not: the data was sent again (TCPFastOpenActiveFail)
	Passive        uint64 // SYNs whose data a listener accepted (TCPFastOpenPassive)
	PassiveFail    uint64 // SYNs whose cookie did not validate (TCPFastOpenPassiveFail)
	ListenOverflow uint64 // SYNs handled without Fast Open: the listener's pending limit was reached (TCPFastOpenListenOverflow)
	CookieReqs     uint64 // cookie requests answered (TCPFastOpenCookieReqd)
}

type fastOpenCounters struct {
	active, activeFail, passive, passiveFail, listenOverflow, cookieReqs atomic.Uint64
}

func (c *fastOpenCounters) stats() FastOpenStats {
	return FastOpenStats{Active: c.active.Load(), ActiveFail: c.activeFail.Load(), Passive: c.passive.Load(),
		PassiveFail: c.passiveFail.Load(), ListenOverflow: c.listenOverflow.Load(), CookieReqs: c.cookieReqs.Load()}
}

// SetSynRetries is Linux's TCP_SYNCNT on a connection not yet established:
// how many times its SYN is sent again before the connect fails with
// ETIMEDOUT (n <= 0: the default, tcp.DefaultSynRetries).
func (c *Conn) SetSynRetries(n int) {
	c.sh.mu.Lock()
	defer c.sh.mu.Unlock()
	c.tcb.SetSynRetries(n)
}
