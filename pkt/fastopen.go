package pkt

import (
	"encoding/hex"
	"net/netip"
	"strconv"
	"strings"
	"syscall"

	"github.com/synack/synack/stack"
	"github.com/synack/synack/tcp"
	"github.com/synack/synack/wire"
)

// TCP Fast Open in the runner (RFC 7413; stack/fastopen.go): the
// tcp_fastopen sysctls, MSG_FASTOPEN, the TCP_FASTOPEN* socket options and
// the FO/FOEXP options of the script's packets.

// Socket option numbers (Linux's; FreeBSD scripts name TCP_FASTOPEN too).
const (
	optTCPFastOpen         = 23
	optTCPFastOpenConnect  = 30
	optTCPFastOpenKey      = 33
	optTCPFastOpenNoCookie = 34
	optFreeBSDFastOpen     = 1025
	msgFastOpen            = 0x20000000
	optTCPSynCnt           = 7
)

// tfoCookieDefines are the --define values packetdrill's run_all.py gives
// the scripts: the cookie of the default key for the default addresses.
var tfoCookieDefines = map[bool]string{false: "3021b9d889017eeb", true: "c1d1e9742a47a9bc"}

// runnerFastOpen is the runner's Fast Open settings, from the sysctls.
type runnerFastOpen struct {
	mode   stack.FastOpenMode
	key    *tcp.FastOpenKey
	backup *tcp.FastOpenKey
	real   *runner // the runner itself (not a scratch copy checking a command)
	// bsdClient: FreeBSD's net.inet.tcp.fastopen.client_enable.
	bsdClient bool
	// used: the script has used Fast Open (an FO option, MSG_FASTOPEN,
	// a TCP_FASTOPEN option): its tcpi_delivered is answered.
	used bool
}

// sockFastOpen is a socket's Fast Open options.
type sockFastOpen struct {
	qlen     int  // TCP_FASTOPEN on a listener
	connect  bool // TCP_FASTOPEN_CONNECT, or FreeBSD's TCP_FASTOPEN on a client
	noCookie bool // TCP_FASTOPEN_NO_COOKIE
	key      *tcp.FastOpenKey
	synCnt   int // TCP_SYNCNT: SYN retransmissions (the Fast Open scripts use it)
}

func init() {
	sysctlRules["net.ipv4.tcp_fastopen"] = intRule(func(r *runner, n int) bool {
		m := stack.FastOpenMode(n) & (stack.FastOpenClient | stack.FastOpenServer |
			stack.FastOpenClientNoCookie | stack.FastOpenServerNoCookie | stack.FastOpenServerAllListeners)
		if m == 0 {
			m = stack.FastOpenOff
		}
		r.fo.mode = m
		r.fastOpenApply()
		return n >= 0
	})
	sysctlRules["net.ipv4.tcp_fastopen_key"] = func(r *runner, v string) string {
		p, b, two, err := tcp.ParseFastOpenKey(v)
		if err != nil {
			return err.Error()
		}
		r.fo.key, r.fo.backup = &p, nil
		if two {
			r.fo.backup = &b
		}
		r.fastOpenApply()
		return ""
	}
	bsd := func(bit stack.FastOpenMode) sysctlRule {
		return boolRule(func(r *runner, on bool) {
			m := r.fo.mode
			if m == 0 || m&stack.FastOpenOff != 0 {
				m = 0
			}
			if on {
				m |= bit
			} else {
				m &^= bit
			}
			if bit == stack.FastOpenClient {
				r.fo.bsdClient = on
				if !on && r.fo.real == r && r.st != nil {
					r.st.ForgetFastOpenCookies() // FreeBSD empties its cache
				}
			}
			if m == 0 {
				m = stack.FastOpenOff
			}
			r.fo.mode = m
			r.fastOpenApply()
		})
	}
	sysctlRules["net.inet.tcp.fastopen.client_enable"] = bsd(stack.FastOpenClient)
	sysctlRules["net.inet.tcp.fastopen.server_enable"] = bsd(stack.FastOpenServer)
	// run_all.py defines CODE=host_unreachable for the IPv4 runs (the
	// Fast Open ICMP scripts use it).
	if _, ok := icmpCodes["CODE"]; !ok {
		icmpCodes["CODE"] = icmpCodes["host_unreachable"]
	}
	linuxDefaults = append(linuxDefaults, "net.ipv4.tcp_fastopen=0x70403",
		"net.ipv4.tcp_fastopen_key=a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4")
}

// fastOpenApply gives the stack, if it exists, the runner's settings
// (not when a scratch copy checks a command).
func (r *runner) fastOpenApply() {
	if r.st == nil || r.fo.real != r {
		return
	}
	r.st.SetFastOpen(r.fo.mode)
	if r.fo.key != nil {
		r.st.SetFastOpenKey(*r.fo.key, r.fo.backup)
	}
}

// fastOpenClientOn reports whether the mode lets clients use Fast Open.
func (r *runner) fastOpenClientOn() bool {
	m := r.fo.mode
	return m == 0 || (m&stack.FastOpenOff == 0 && m&stack.FastOpenClient != 0)
}

// fastOpenStackCreated is called once the stack exists.
func (r *runner) fastOpenStackCreated() {
	r.fo.real = r
	if r.fo.mode == 0 {
		// Linux's default (1): the client side only.
		r.fo.mode = stack.FastOpenClient
	}
	r.fastOpenApply()
}

// fastOpenListen applies a socket's Fast Open options to its new listener.
func (r *runner) fastOpenListen(sk *socket) {
	if sk.lst == nil {
		return
	}
	// tcp_ecn as it is now, also when set after the stack was made.
	sk.lst.SetECN(r.base.ECN, r.base.ECNAcceptOnly)
	if sk.fo.qlen > 0 {
		sk.lst.SetFastOpen(sk.fo.qlen)
	}
	if sk.fo.key != nil {
		sk.lst.SetFastOpenKey(*sk.fo.key)
	}
}

// fastOpenSetsockopt handles the TCP_FASTOPEN* options; handled is false
// for the others.
func (c *call) fastOpenSetsockopt(sk *socket, level, opt int64) (res sysResult, handled, ok bool) {
	if level != solTCP {
		return res, false, true
	}
	switch opt {
	case optTCPFastOpen, optFreeBSDFastOpen, optTCPFastOpenConnect, optTCPFastOpenNoCookie, optTCPFastOpenKey:
		c.r.fo.used = true
	}
	switch opt {
	case optTCPFastOpenKey:
		s, isString := c.arg(3).(*StringExpr)
		n, okN := c.intArg(4)
		if !isString || !okN {
			return res, false, true
		}
		raw, err := strconv.Unquote(`"` + s.Value + `"`)
		if err != nil || n != 16 || len(raw) < 16 {
			return fail(syscall.EINVAL), true, true
		}
		var k tcp.FastOpenKey
		copy(k[:], raw)
		sk.fo.key = &k
		if sk.lst != nil {
			sk.lst.SetFastOpenKey(k)
		}
		return ok0(), true, true
	case optTCPFastOpen, optFreeBSDFastOpen, optTCPFastOpenConnect, optTCPFastOpenNoCookie, optTCPSynCnt:
	default:
		return res, false, true
	}
	v, okV := c.r.intArg(c.arg(3))
	if !okV {
		c.r.skipf(c.ev.Line, "setsockopt: cannot evaluate %s", exprText(c.arg(3)))
		return res, true, false
	}
	switch opt {
	case optTCPFastOpen, optFreeBSDFastOpen:
		if v < 0 {
			return fail(syscall.EINVAL), true, true
		}
		if c.r.freeBSD && sk.lst == nil {
			// FreeBSD: TCP_FASTOPEN on a client socket makes its
			// first sendto (or connect) a Fast Open one.
			sk.fo.connect = v != 0
			sk.fo.qlen = int(v)
			return ok0(), true, true
		}
		sk.fo.qlen = int(v)
		if sk.lst != nil {
			sk.lst.SetFastOpen(int(v))
		}
	case optTCPFastOpenConnect:
		if !c.r.fastOpenClientOn() {
			return fail(syscall.EOPNOTSUPP), true, true
		}
		if sk.conn != nil {
			return fail(syscall.EISCONN), true, true
		}
		sk.fo.connect = v != 0
	case optTCPFastOpenNoCookie:
		sk.fo.noCookie = v != 0
	case optTCPSynCnt:
		if v < 1 || v > 255 {
			return fail(syscall.EINVAL), true, true
		}
		sk.fo.synCnt = int(v)
		if sk.conn != nil {
			sk.conn.SetSynRetries(int(v))
		}
	}
	return ok0(), true, true
}

// fastOpenDial starts a Fast Open connection for sk to ap, as connect
// does (flows and all); the SYN waits for the first write.
func (c *call) fastOpenDial(sk *socket, ap netip.AddrPort) (sysResult, bool) {
	cfg := c.r.config(sk)
	st := c.r.stack(&cfg)
	local := netip.AddrPort{}
	if sk.isBound {
		local = sk.bound
	}
	conn, err := st.DialStartFastOpen(local, ap, &cfg, stack.FastOpenDial{NoCookie: sk.fo.noCookie, GiveUp: c.r.freeBSD})
	if err != nil {
		return fail(errnoOf(err)), false
	}
	sk.conn = conn
	if ki := c.r.keepInitFor(sk); ki > 0 {
		sk.keepInitAt = c.r.now() + ki
	}
	if sk.opts.lingerOn {
		conn.SetLinger(sk.opts.linger)
	}
	f := c.r.flowFor(flowKey{local: conn.LocalAddrPort(), remote: conn.RemoteAddrPort()})
	f.passive = false
	sk.flow = f
	c.r.cur = f
	return ok0(), true
}

// fastOpenConnect is connect(2) on a socket with TCP_FASTOPEN_CONNECT: with
// a cookie cached, it returns 0 at once and the SYN goes with the first
// write; without one it sends the SYN (a cookie request) as any connect.
// handled is false when the socket does not use Fast Open.
func (c *call) fastOpenConnect(sk *socket) (res sysResult, handled, ok bool) {
	if !sk.fo.connect || sk.conn != nil || sk.lst != nil {
		return res, false, true
	}
	ap, ok := c.sockaddr(1, false)
	if !ok {
		return res, true, false
	}
	if r, dialed := c.fastOpenDial(sk, ap); !dialed {
		return r, true, true
	}
	conn := sk.conn
	if conn.FastOpenRoom() > 0 {
		return ok0(), true, true // deferred: the first write sends the SYN
	}
	conn.FastOpenConnect()
	return c.awaitConnect(sk)
}

// awaitConnect finishes a connect whose SYN went: EINPROGRESS when
// non-blocking, else the outcome once SYN-SENT is left.
func (c *call) awaitConnect(sk *socket) (sysResult, bool, bool) {
	conn := sk.conn
	if sk.nonblock {
		sk.connecting = true
		return fail(syscall.EINPROGRESS), true, true
	}
	if !c.block(func() bool { return conn.Readiness().State != tcp.StateSynSent }) {
		return sysResult{}, true, false
	}
	rd := conn.Readiness()
	switch {
	case sk.timedOut:
		sk.errDone = true
		return fail(syscall.ETIMEDOUT), true, true
	case rd.Err != nil:
		sk.errDone = true
		return fail(errnoOf(rd.Err)), true, true
	case rd.State == tcp.StateClosed:
		return fail(syscall.ECONNREFUSED), true, true
	}
	return ok0(), true, true
}

// fastOpenWrite handles a write that opens a Fast Open connection: sendto
// with MSG_FASTOPEN (or, on FreeBSD, any sendto on a socket with
// TCP_FASTOPEN) on an unconnected socket, or the first write on a socket
// whose TCP_FASTOPEN_CONNECT connect was deferred. handled is false
// otherwise.
func (c *call) fastOpenWrite(sk *socket, n int64, nonblock bool) (res sysResult, handled, ok bool) {
	fl, _ := c.flags()
	if fl&msgFastOpen != 0 {
		c.r.fo.used = true
	}
	switch {
	case sk.conn == nil && sk.lst == nil && (fl&msgFastOpen != 0 || (sk.fo.connect && c.sc.Name == "sendto")):
		if fl&msgFastOpen != 0 && !c.r.fastOpenClientOn() {
			return fail(syscall.EOPNOTSUPP), true, true
		}
		if w, isWord := c.arg(4).(*WordExpr); isWord && w.Name == "AF_UNSPEC" && c.sc.Name == "sendto" {
			return fail(syscall.EOPNOTSUPP), true, true // Linux's tcp_sendmsg_fastopen
		}
		ap, ok := c.fastOpenDest()
		if !ok {
			return res, true, false
		}
		if r, dialed := c.fastOpenDial(sk, ap); !dialed {
			return r, true, true
		}
	case sk.conn != nil && sk.conn.FastOpenPending():
	case sk.conn != nil && fl&msgFastOpen != 0 && sk.conn.Readiness().State == tcp.StateSynSent:
		return fail(syscall.EALREADY), true, true
	default:
		return res, false, true
	}
	conn := sk.conn
	if c.nullBuffer() && n > 0 {
		conn.FastOpenConnect()
		return fail(syscall.EFAULT), true, true
	}
	data := c.payload(n)
	room := conn.FastOpenRoom()
	if c.r.freeBSD {
		// FreeBSD queues everything; its SYN carries what fits.
		k, _ := conn.TryWrite(data)
		sk.writeTotal += int64(k)
		if k == 0 {
			conn.FastOpenConnect()
		}
		return retOK(int64(k)), true, true
	}
	if nonblock {
		if room == 0 || len(data) == 0 {
			conn.FastOpenConnect()
			sk.connecting = true
			return fail(syscall.EINPROGRESS), true, true
		}
		k, _ := conn.TryWrite(data[:min(len(data), room)])
		sk.writeTotal += int64(k)
		sk.connecting = true
		return retOK(int64(k)), true, true
	}
	// Blocking: the SYN carries what fits; the call returns once the
	// handshake is over, having queued the rest.
	var k int
	if len(data) > 0 {
		k, _ = conn.TryWrite(data)
		sk.writeTotal += int64(k)
	}
	if k == 0 {
		conn.FastOpenConnect()
	}
	if !c.block(func() bool { return conn.Readiness().State != tcp.StateSynSent }) {
		return sysResult{}, true, false
	}
	if rd := conn.Readiness(); rd.Err != nil || rd.State == tcp.StateClosed {
		sk.errDone = true
		e := syscall.ECONNREFUSED
		if rd.Err != nil {
			e = errnoOf(rd.Err)
		}
		return fail(e), true, true
	}
	if k < len(data) {
		// The rest, as a plain blocking write.
		for k < len(data) {
			m, err := conn.TryWrite(data[k:])
			k += m
			sk.writeTotal += int64(m)
			if err != nil && m == 0 {
				if !c.block(func() bool { return conn.Readiness().Writable }) {
					return sysResult{}, true, false
				}
			}
		}
	}
	return retOK(int64(k)), true, true
}

// fastOpenOption encodes an inbound FO or FOEXP option.
func (r *runner) fastOpenOption(o TCPOption) (wire.RawOption, bool) {
	r.fo.used = true
	cookie, ok := r.fastOpenCookie(o.Cookie)
	if !ok {
		return wire.RawOption{}, false
	}
	if o.Kind == OptFastOpenExp {
		return wire.RawOption{Kind: wire.OptExperimental, Data: append([]byte{wire.FastOpenMagic >> 8, wire.FastOpenMagic & 0xff}, cookie...)}, true
	}
	return wire.RawOption{Kind: wire.OptFastOpen, Data: cookie}, true
}

// fastOpenCookie decodes a cookie as a script writes it: hex, or
// TFO_COOKIE (run_all.py's define); empty for a cookie request.
func (r *runner) fastOpenCookie(s string) ([]byte, bool) {
	if s == "TFO_COOKIE" {
		s = tfoCookieDefines[r.cfg.IPv6]
	}
	b, err := hex.DecodeString(s)
	return b, err == nil
}

// fastOpenScriptOption converts an outbound kind 34 or 254/0xF989 option
// to its script form; ok is false for other kinds.
func fastOpenScriptOption(o wire.RawOption) (TCPOption, bool) {
	switch {
	case o.Kind == wire.OptFastOpen:
		return TCPOption{Kind: OptFastOpen, Cookie: hex.EncodeToString(o.Data)}, true
	case o.Kind == wire.OptExperimental && len(o.Data) >= 2 && o.Data[0] == wire.FastOpenMagic>>8 && o.Data[1] == wire.FastOpenMagic&0xff:
		return TCPOption{Kind: OptFastOpenExp, Cookie: hex.EncodeToString(o.Data[2:])}, true
	}
	return TCPOption{}, false
}

// fastOpenCookieEqual compares an expected cookie (hex, or TFO_COOKIE)
// with the one sent (hex).
func fastOpenCookieEqual(want, got string) bool {
	if want == "TFO_COOKIE" {
		return got == tfoCookieDefines[false] || got == tfoCookieDefines[true]
	}
	return strings.EqualFold(want, got)
}

// fastOpenInfo answers the tcpi_* fields Fast Open adds: TCPI_OPT_SYN_DATA
// in tcpi_options (or'ed by the caller).
func fastOpenInfoOptions(sk *socket) int64 {
	if sk != nil && sk.conn != nil && sk.conn.FastOpenSYNData() {
		return 32 // TCPI_OPT_SYN_DATA
	}
	return 0
}

// fastOpenInfoField answers tcpi_delivered for a connection that used Fast
// Open: 1 for the handshake (the SYN and the data it carried, as Linux
// counts them) plus the acknowledged data after it in MSS-sized segments.
// It is an estimate of Linux's count of delivered segments, right when
// every segment but the last of a write is full-sized; other connections
// keep the field unanswered.
func fastOpenInfoField(e *codeEnv, name string) (int64, bool) {
	if name != "tcpi_delivered" || e.sk == nil || e.sk.conn == nil || e.info == nil || !(e.foUsed || e.sk.conn.UsesFastOpen()) {
		return 0, false
	}
	in := e.info
	switch in.State {
	case tcp.StateSynSent, tcp.StateSynReceived:
		return 0, true
	}
	acked := int64(in.SndUna - in.ISS - 1)
	if syn := int64(e.sk.conn.FastOpenSYNBytes()); syn > 0 && e.sk.conn.FastOpenSYNData() {
		acked -= syn
	}
	mss := int64(max(in.SndMSS, 1))
	return 1 + max(acked+mss-1, 0)/mss, true
}

// dropStale drops the queued packets of other connections (closed, or not
// the one the last connect made) when the script expects a new SYN:
// packetdrill only looks at the packets of the socket under test, and a
// new connect makes the new socket that one (the FIN of the last
// connection, closed without a '>' line for it, is not compared).
func (r *runner) dropStale(p *Packet) {
	if p.Flags&(FlagSYN|FlagACK) != FlagSYN {
		return
	}
	keep := r.out[:0]
	for _, op := range r.out {
		if s := decode(op); s.ok && s.hdr.Flags&wire.FlagSYN == 0 {
			if f := r.flows[s.key]; f != nil && (f.closed || f != r.cur) {
				continue
			}
		}
		keep = append(keep, op)
	}
	r.out = keep
}

// fastOpenRevents adds what poll sees of a Fast Open connection before its
// handshake completes: a dial whose SYN waits for the first write is
// writable, and a server's child holding the SYN's data is readable.
func fastOpenRevents(sk *socket, rd stack.Readiness) int64 {
	if sk.conn == nil {
		return 0
	}
	switch {
	case rd.State == tcp.StateSynSent && sk.conn.FastOpenPending():
		return 0x4 | 0x100 // POLLOUT, POLLWRNORM
	case rd.State == tcp.StateSynReceived && rd.Readable:
		return 0x1 | 0x40 // POLLIN, POLLRDNORM
	}
	return 0
}

// underTest is close's hook: when the socket the %{ }% blocks read (the
// last one a call named) is closed, they read the newest connected socket
// left, as packetdrill's socket under test stays the last connection
// (sockopt-fastopen-key.pkt closes its listener, then reads tcpi_options
// of the accepted socket).
func (r *runner) underTest(closed int) {
	if r.lastFD != closed {
		return
	}
	best := -1
	for fd, sk := range r.socks {
		if sk.conn != nil && fd > best {
			best = fd
		}
	}
	if best >= 0 {
		r.lastFD = best
	}
}

// fastOpenDest is the destination of a sendto, or of a sendmsg whose
// msg_name is "..." (the script's remote address).
func (c *call) fastOpenDest() (netip.AddrPort, bool) {
	if c.sc.Name != "sendmsg" {
		return c.sockaddr(4, false)
	}
	if st, isStruct := c.arg(1).(*StructExpr); isStruct {
		for _, el := range st.Elems {
			as, isAssign := el.(*AssignExpr)
			if !isAssign {
				continue
			}
			if ce, isCall := as.Name.(*CallExpr); isCall && ce.Func == "msg_name" {
				if _, any := as.Value.(*EllipsisExpr); any {
					return netip.AddrPortFrom(c.r.cfg.RemoteIP, 8080), true
				}
			}
		}
	}
	c.r.skipf(c.ev.Line, "sendmsg: only msg_name(...)=... is supported with MSG_FASTOPEN")
	return netip.AddrPort{}, false
}
