package tcp

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/synack/synack/wire"
)

// TCP Fast Open (RFC 7413): a client that holds a cookie from an earlier
// connection to a server sends its first data on the SYN, and the server,
// once it has checked the cookie, hands that data to the application at
// once: the request saves one round trip.
//
// The server's cookie is the one Linux makes (since 5.3): SipHash-2-4,
// keyed with the server's 16-byte key, of the client's address followed by
// the server's (4 or 16 bytes each), written little-endian: 8 bytes. A
// server with the same key as a Linux host gives the same cookies, and the
// Linux scripts that print cookies match. The key is rotatable: a server
// keeps a primary and a backup key, makes cookies with the primary and
// accepts both (a cookie made with the backup is accepted and answered
// with a fresh one).
//
// The client's side is in the TCB: NewActiveFastOpen makes a TCB whose SYN
// waits for the first Write; the SYN carries the cached cookie and as much
// of the data as fits (or an empty cookie option: a cookie request). When
// the SYN-ACK does not acknowledge all of it — the server refused the
// cookie, or only saw a retransmitted SYN, which never carries data — the
// rest is sent again at once after the handshake. The server's side is
// NewPassiveFastOpen: the stack decides whether the cookie is valid, the
// TCB takes the data and acknowledges it on the SYN-ACK.

// FastOpenCookieLen is the length of the cookies this package makes.
const FastOpenCookieLen = 8

// FastOpenKey is the secret of server cookies (a SipHash key).
type FastOpenKey [16]byte

// NewFastOpenKey derives a FastOpenKey from a secret of any length (the
// stack's ISN secret, for example), as NewCookieKey does.
func NewFastOpenKey(secret []byte) FastOpenKey {
	ck := NewCookieKey(append([]byte("synack Fast Open key\x00"), secret...))
	return FastOpenKey(ck)
}

// ParseFastOpenKey parses a key as Linux's net.ipv4.tcp_fastopen_key and
// TCP_FASTOPEN_KEY print it: four 32-bit hexadecimal words joined by '-'
// ("a0bf63f7-ed803d81-cd641d30-cebc4a90"). A second key after a ',' (the
// backup, as Linux accepts) is returned as backup, ok2 true.
func ParseFastOpenKey(s string) (primary, backup FastOpenKey, ok2 bool, err error) {
	parts := strings.Split(strings.TrimSpace(s), ",")
	if len(parts) > 2 {
		return primary, backup, false, fmt.Errorf("tcp: fast open key %q: at most two keys", s)
	}
	for i, p := range parts {
		var w [4]uint32
		if n, err := fmt.Sscanf(strings.TrimSpace(p), "%x-%x-%x-%x", &w[0], &w[1], &w[2], &w[3]); err != nil || n != 4 {
			return primary, backup, false, fmt.Errorf("tcp: fast open key %q: want four hex words joined by '-'", p)
		}
		k := &primary
		if i == 1 {
			k = &backup
		}
		for j, x := range w {
			binary.LittleEndian.PutUint32(k[4*j:], x)
		}
	}
	return primary, backup, len(parts) == 2, nil
}

// String formats k as ParseFastOpenKey reads it.
func (k FastOpenKey) String() string {
	return fmt.Sprintf("%08x-%08x-%08x-%08x",
		binary.LittleEndian.Uint32(k[0:]), binary.LittleEndian.Uint32(k[4:]),
		binary.LittleEndian.Uint32(k[8:]), binary.LittleEndian.Uint32(k[12:]))
}

// MakeFastOpenCookie is the cookie a server with key gives a client at
// address client for the server address server.
func MakeFastOpenCookie(key *FastOpenKey, client, server netip.Addr) [FastOpenCookieLen]byte {
	var b [32]byte
	var msg []byte
	if client.Is4() && server.Is4() {
		c, s := client.As4(), server.As4()
		msg = append(append(b[:0], c[:]...), s[:]...)
	} else {
		c, s := client.As16(), server.As16()
		msg = append(append(b[:0], c[:]...), s[:]...)
	}
	h := sipHash24(binary.LittleEndian.Uint64(key[0:8]), binary.LittleEndian.Uint64(key[8:16]), msg)
	var out [FastOpenCookieLen]byte
	binary.LittleEndian.PutUint64(out[:], h)
	return out
}

// FastOpenClient is what an active open knows for Fast Open: the cookie
// cached from an earlier connection to the server and the server's MSS
// cached with it.
type FastOpenClient struct {
	Cookie   []byte // cached cookie; empty: the SYN asks for one and carries no data
	Exp      bool   // use the experimental option (kind 254)
	NoCookie bool   // send data on the SYN without any cookie (Linux's tcp_fastopen 0x4)
	MSS      int    // the server's MSS cached with the cookie; 0: unknown
	GiveUp   bool   // passed back in FastOpenResult (the stack's FreeBSD-like cache policy)
}

// FastOpenReply is how a server answers a SYN's Fast Open option: the
// stack checks the cookie, the engine carries the decision out.
type FastOpenReply struct {
	// Cookie, when not nil, goes on the SYN-ACK (kind 254 when Exp): the
	// answer to a cookie request, or to a cookie made with an old key.
	Cookie []byte
	Exp    bool
	// Accept takes the SYN's data: it is acknowledged by the SYN-ACK and
	// readable at once, and the connection may send before the
	// handshake completes (RFC 7413 §4.2.2).
	Accept bool
}

// fastOpen is a TCB's Fast Open state, allocated only for connections
// that use it (TCB.fo).
type fastOpen struct {
	// Client.
	client   FastOpenClient
	deferred bool   // the SYN waits for the first Write
	synSent  bool   // the SYN went out (with data or a cookie request)
	synData  uint32 // bytes of data the SYN carried
	dataAckd bool   // the SYN-ACK acknowledged all of them (TCPI_OPT_SYN_DATA)
	// What the SYN-ACK said, for the client's cache.
	gotCookie []byte
	gotExp    bool
	peerMSS   int
	answered  bool // a SYN-ACK was processed
	taken     bool // TakeFastOpenResult returned it
	// Server.
	child bool // the SYN's data was accepted (a Fast Open child)
	took  bool // ... and it carried data
}

// NewActiveFastOpen starts an active open that uses Fast Open: the TCB is
// in SYN-SENT, but its SYN waits for the first Write (or SendSYN), which
// it carries (RFC 7413 §4.2.1) when a cookie is known or NoCookie is set.
func NewActiveFastOpen(cfg Config, iss uint32, fo FastOpenClient, now time.Time) *TCB {
	t := newTCB(cfg, iss)
	t.activeTSOffset()
	t.state = StateSynSent
	t.fo = &fastOpen{client: fo, deferred: true}
	t.fo.client.Cookie = slices.Clone(fo.Cookie)
	return t
}

// FastOpenPending reports whether the TCB's SYN still waits for the first
// Write.
func (t *TCB) FastOpenPending() bool { return t.fo != nil && t.fo.deferred }

// FastOpenRoom is how many bytes of data the SYN would carry: 0 without a
// cookie (a cookie request), else the MSS — the least of ours and the
// cached one of the server — less 40 bytes of option space, as Linux
// computes it (tcp_send_syn_data). 0 once the SYN has gone.
func (t *TCB) FastOpenRoom() int {
	if t.fo == nil || !t.fo.deferred {
		return 0
	}
	c := &t.fo.client
	if len(c.Cookie) == 0 && !c.NoCookie {
		return 0
	}
	mss := t.cfg.MSS
	if c.MSS > 0 {
		mss = min(mss, c.MSS)
	}
	return max(mss-wire.MaxOptionsLen, 0)
}

// SendSYN sends a deferred Fast Open SYN now, with the data already
// written (up to FastOpenRoom). It does nothing once the SYN has gone.
func (t *TCB) SendSYN(now time.Time) {
	if t.fo == nil || !t.fo.deferred || t.state != StateSynSent {
		return
	}
	t.fastOpenSYN(now)
}

// fastOpenSYN sends the first SYN of a Fast Open client.
func (t *TCB) fastOpenSYN(now time.Time) {
	fo := t.fo
	n := min(t.sndBuf.Len(), t.FastOpenRoom())
	fo.deferred = false
	fo.synSent = true
	t.sendSYN(now)
	e := &t.outQ[len(t.outQ)-1]
	c := &fo.client
	switch {
	case c.NoCookie:
		// Data without a cookie: no option at all (Linux sends none
		// even when it has one).
	case len(c.Cookie) > 0:
		e.seg.Options.SetFastOpen(c.Cookie, c.Exp)
	default:
		e.seg.Options.SetFastOpen(nil, c.Exp) // a cookie request
	}
	if n > 0 {
		e.n = n // DrainOutput takes them from the send buffer (synPayload)
		t.sndNxt += uint32(n)
		fo.synData = uint32(n)
	}
}

// fastOpenWrite is Write's hook in SYN-SENT: the first Write sends the
// deferred SYN.
func (t *TCB) fastOpenWrite(now time.Time) {
	if t.fo != nil && t.fo.deferred {
		t.fastOpenSYN(now)
	}
}

// fastOpenSynAck is the client's processing of the SYN-ACK (RFC 7413
// §4.2.2), after SND.UNA moved: it keeps the cookie and MSS the server
// gave, and when the SYN-ACK did not acknowledge all the data of the SYN,
// sends the rest again right after the handshake's ACK.
func (t *TCB) fastOpenSynAck(seg *Segment, now time.Time) {
	fo := t.fo
	if fo == nil || !fo.synSent || fo.answered {
		return
	}
	fo.answered = true
	o := &seg.Options
	fo.peerMSS = 536
	if o.HasMSS {
		fo.peerMSS = int(o.MSS)
	}
	if c := o.FastOpen(); len(c) >= 4 && len(c) <= wire.MaxFastOpenCookie && len(c)%2 == 0 && int(o.FastOpenLen) == len(c) {
		fo.gotCookie = slices.Clone(c)
		fo.gotExp = o.FastOpenExp
	}
	end := t.iss + 1 + fo.synData
	if seqGT(t.sndBufSeq+uint32(t.sndBuf.Len()), end) {
		// A writer waits with more data than the SYN carried (Linux's
		// sk_write_pending): the data goes at once, and, as a reply
		// within the delayed-ACK time of the SYN-ACK, makes the
		// connection interactive (quickack.go).
		t.lastDataIn = monoNano(now)
	}
	if fo.synData == 0 {
		return
	}
	if seqGE(t.sndUna, end) {
		fo.dataAckd = true
		return
	}
	// Not all acknowledged: what remains is sent again as new data
	// (Linux marks it lost and retransmits it at once).
	t.sndNxt = t.sndUna
	t.tx.truncate(t.sndNxt)
	t.rttTiming = false
	t.takeUndo()
	t.totalRetrans++
}

// FastOpenResult is what a Fast Open client learnt from the SYN-ACK.
type FastOpenResult struct {
	Answered bool   // a SYN-ACK came
	Cookie   []byte // the cookie it carried (nil: none)
	Exp      bool   // in the experimental form
	MSS      int    // the server's MSS
	SYNData  int    // bytes the SYN carried
	DataAckd bool   // the SYN-ACK acknowledged all of them
	// SYNRetransmitted: the SYN timed out and was sent again (without
	// the option or data): the answer says little about the option.
	SYNRetransmitted bool
	GiveUp           bool // FastOpenClient.GiveUp, as given
}

// FastOpenResult reports what the SYN-ACK of a Fast Open client said;
// the zero value for other connections.
func (t *TCB) FastOpenResult() FastOpenResult {
	if t.fo == nil {
		return FastOpenResult{}
	}
	fo := t.fo
	return FastOpenResult{Answered: fo.answered, Cookie: fo.gotCookie, Exp: fo.gotExp, MSS: fo.peerMSS,
		SYNData: int(fo.synData), DataAckd: fo.dataAckd, SYNRetransmitted: t.synRetransmitted, GiveUp: fo.client.GiveUp}
}

// SYNData reports whether data on the SYN was exchanged: on a client, the
// SYN-ACK acknowledged all the data of its SYN; on a server, the SYN's
// data was accepted (Linux's TCPI_OPT_SYN_DATA).
func (t *TCB) SYNData() bool {
	return t.fo != nil && (t.fo.dataAckd || t.fo.took)
}

// FastOpenChild reports whether the TCB was made by NewPassiveFastOpen
// with the SYN's data accepted.
func (t *TCB) FastOpenChild() bool { return t.fo != nil && t.fo.child }

// NewPassiveFastOpen is NewPassive for a SYN whose Fast Open option the
// stack has judged (reply): the SYN-ACK carries reply.Cookie, and with
// reply.Accept the SYN's data is taken and acknowledged by the SYN-ACK
// (RFC 7413 §4.2.2) and the connection may send before the handshake
// completes.
func NewPassiveFastOpen(cfg Config, iss uint32, syn *Segment, reply FastOpenReply, now time.Time) *TCB {
	t := NewPassive(cfg, iss, syn, now)
	if reply.Accept {
		t.fo = &fastOpen{child: true, took: len(syn.Payload) > 0}
		if data := syn.Payload; len(data) > 0 {
			n := t.rcvWrite(data)
			t.advanceRcvNxt(uint32(n))
		}
	}
	if len(t.outQ) == 0 {
		return t
	}
	e := &t.outQ[len(t.outQ)-1]
	if e.seg.Flags&(wire.FlagSYN|wire.FlagACK) != wire.FlagSYN|wire.FlagACK {
		return t
	}
	e.seg.Ack = t.rcvNxt
	t.lastAck = t.rcvNxt
	if reply.Cookie != nil {
		e.seg.Options.SetFastOpen(reply.Cookie, reply.Exp)
	}
	return t
}

// fastOpenEarly reports whether the connection may send data before its
// SYN is acknowledged: a Fast Open server's child (RFC 7413 §4.2.2).
func (t *TCB) fastOpenEarly() bool {
	return t.fo != nil && t.fo.child && t.state == StateSynReceived
}

// TakeFastOpenResult returns, once, what the SYN-ACK of a Fast Open client
// said (ok false before it came, and after the first call), with whether
// the SYN used the experimental option and asked for a cookie.
func (t *TCB) TakeFastOpenResult() (r FastOpenResult, sentExp, requested, ok bool) {
	fo := t.fo
	if fo == nil || !fo.answered || fo.taken {
		return r, false, false, false
	}
	fo.taken = true
	c := &fo.client
	return t.FastOpenResult(), c.Exp, len(c.Cookie) == 0 && !c.NoCookie, true
}

// UsesFastOpen reports whether the TCB has Fast Open state (a Fast Open
// client, or a server's Fast Open child).
func (t *TCB) UsesFastOpen() bool { return t.fo != nil }

// fastOpenPathMTU is HandlePathMTU for a SYN that carried data: if the
// path cannot carry it, the SYN is sent again at once, without the data
// and with the smaller MSS (as Linux's tcp_simple_retransmit does); the
// data follows the handshake.
func (t *TCB) fastOpenPathMTU(mss int, now time.Time) bool {
	fo := t.fo
	if fo == nil || t.state != StateSynSent || fo.synData == 0 || t.synAcked() {
		return false
	}
	mss = max(mss, t.cfg.MinMSS)
	if mss >= t.cfg.MSS {
		return false
	}
	t.cfg.MSS = mss
	t.synRetransmitted = true
	t.rttTiming = false
	t.sendSYN(now)
	return true
}

// synPayload is the data of a Fast Open SYN for DrainOutput: the first n
// bytes of the send buffer, which follow the SYN's own sequence number.
func (t *TCB) synPayload(n int) []byte {
	n = min(n, t.sndBuf.Len())
	if n <= 0 {
		return nil
	}
	p, _ := t.sndBuf.payload(0, n, &t.outData)
	return p
}

// SetSynRetries changes how many times the SYN is sent again before the
// connect fails with ETIMEDOUT (Linux's TCP_SYNCNT, which the Fast Open
// scripts set after their SYN has gone); n <= 0 restores the default.
func (t *TCB) SetSynRetries(n int) {
	if n <= 0 {
		n = DefaultSynRetries
	}
	t.cfg.SynRetries = n
}
