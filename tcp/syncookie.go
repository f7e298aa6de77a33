package tcp

import (
	"crypto/sha256"
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/synack/synack/wire"
)

// SYN cookies (RFC 4987 §3.6). A listener whose SYN queue is full can
// still answer a SYN without keeping any state: it encodes what it must
// remember in the SYN-ACK itself, and rebuilds the connection from the
// peer's ACK, which echoes it.
//
// The cookie is our initial sequence number:
//
//	bits 31..4  the top 28 bits of SipHash-2-4(key; local address and
//	            port, remote address and port, the peer's ISN, counter,
//	            MSS index)
//	bit  3      the low bit of counter
//	bits 2..0   the MSS index: the peer's MSS, as an index into cookieMSS
//
// where counter counts 64-second periods of the clock. A cookie is valid
// during the period it was made in and the next one (64 to 128 seconds):
// the low bit says which, so validating costs one hash. Every bit is
// authenticated: a blind attacker has one chance in 2^28 per ACK of
// guessing a valid cookie, and an ACK off by one never validates.
//
// The MSS is rounded down to the table entry at or below what the peer
// offered (536 at least). The other options of the SYN do not fit in 32
// bits. When the SYN carried timestamps (and we enable them) the low six
// bits of our TSval hold them, and the ACK's TSecr echoes them back:
//
//	bits 3..0  the peer's window scale shift, 0 to 14; 15: none
//	bit  4     SACK permitted
//	bit  5     ECN (the SYN was ECN-setup and we enable ECN)
//
// Without timestamps there is nowhere to keep them: the cookie SYN-ACK
// then offers neither window scaling nor SACK nor ECN (offering them and
// forgetting them would leave the two ends disagreeing on the window), and
// the connection runs without. The option bits are not authenticated; a
// peer can only change its own connection's options with them.
//
// What a cookie connection loses besides: data on the SYN (never taken
// anyway), and an RTT sample from the handshake — the TSecr of the ACK is
// rounded by the option bits, so the connection starts with the initial
// RTO.

// cookieMSS are the MSS values a cookie can carry (3 bits): the RFC 9293
// default, the IPv6 minimum (1280 − 60), a value safe through most
// tunnels, common VPN and DSL sizes (1400, 1440, PPPoE's 1452),
// Ethernet's 1460, and a 9000-byte jumbo frame (9000 − 40).
var cookieMSS = [8]uint16{536, 1220, 1300, 1400, 1440, 1452, 1460, 8960}

// Bits of the cookie's TSval, and the no-window-scale marker.
const (
	cookieTSMask  = 1<<6 - 1
	cookieNoWS    = 15
	cookieSACKBit = 1 << 4
	cookieECNBit  = 1 << 5
)

// CookieKey is the secret that signs SYN cookies. Every host answering
// for one address must use the same key; it should be random and private.
type CookieKey [16]byte

// NewCookieKey derives a CookieKey from a secret of any length (for
// example the stack's ISN secret): SHA-256 of a label and the secret,
// truncated, so that the cookie key reveals nothing of the secret.
func NewCookieKey(secret []byte) CookieKey {
	h := sha256.New()
	h.Write([]byte("synack SYN cookie key\x00"))
	h.Write(secret)
	var sum [sha256.Size]byte
	var k CookieKey
	copy(k[:], h.Sum(sum[:0]))
	return k
}

// Cookie is what a valid cookie ACK tells of the SYN it answers.
type Cookie struct {
	MSS            uint16 // the peer's MSS, rounded down to a table entry
	Timestamps     bool   // the ACK carries timestamps: the fields below are known
	HasWindowScale bool   // the SYN offered window scaling ...
	WindowScale    uint8  // ... with this shift
	SACKPermitted  bool   // the SYN offered SACK
	ECN            bool   // the SYN was ECN-setup and ECN was agreed
}

// cookieCounter is the cookie clock at now: 64-second periods of
// monoNano, so that a step of the wall clock between a SYN-ACK and its
// ACK does not void the cookie.
func cookieCounter(now time.Time) uint32 {
	return uint32(monoNano(now) / int64(time.Second) >> 6)
}

// cookieMAC is the keyed hash of a cookie's inputs.
func cookieMAC(key *CookieKey, local, remote netip.AddrPort, peerISN, counter uint32, mssIdx int) uint32 {
	var b [45]byte
	l, r := local.Addr().As16(), remote.Addr().As16()
	copy(b[0:16], l[:])
	binary.BigEndian.PutUint16(b[16:18], local.Port())
	copy(b[18:34], r[:])
	binary.BigEndian.PutUint16(b[34:36], remote.Port())
	binary.BigEndian.PutUint32(b[36:40], peerISN)
	binary.BigEndian.PutUint32(b[40:44], counter)
	b[44] = byte(mssIdx)
	k0 := binary.LittleEndian.Uint64(key[0:8])
	k1 := binary.LittleEndian.Uint64(key[8:16])
	return uint32(sipHash24(k0, k1, b[:]) >> 32)
}

// cookieISS makes the cookie (our ISS) for a SYN with sequence number
// peerISN, at counter, carrying MSS table index mssIdx.
func cookieISS(key *CookieKey, local, remote netip.AddrPort, peerISN, counter uint32, mssIdx int) uint32 {
	mssIdx &= 7
	mac := cookieMAC(key, local, remote, peerISN, counter, mssIdx)
	return mac&^0xf | (counter&1)<<3 | uint32(mssIdx)
}

// cookieMSSIndex is the largest table entry not above the peer's MSS.
func cookieMSSIndex(peerMSS int) int {
	i := 0
	for j, m := range cookieMSS {
		if int(m) <= peerMSS {
			i = j
		}
	}
	return i
}

// cookieTSval is our TSval for the cookie SYN-ACK: the connection's clock
// (the same offset from the ISS as the TCB will use) with its low bits
// replaced by the option bits, moved back one step if that put it ahead,
// so that the TCB's later TSvals never go backwards.
func cookieTSval(iss uint32, optBits uint32, now time.Time) uint32 {
	clk := tsClock(now) + tsOffsetFor(iss)
	v := clk&^cookieTSMask | optBits&cookieTSMask
	if seqGT(v, clk) {
		v -= cookieTSMask + 1
	}
	return v
}

// CookieSynAck returns the SYN-ACK that answers syn with a SYN cookie
// (see the top of syncookie.go), keeping no state. local and remote are
// the SYN's destination and source. cfg must be the configuration
// CheckCookie and NewFromCookie will get: the SYN-ACK's options and window
// are those a TCB made by NewPassive with cfg would send, in the same
// order, minus what the cookie cannot keep.
func CookieSynAck(cfg Config, key CookieKey, local, remote netip.AddrPort, syn *Segment, now time.Time) Segment {
	cfg = cfg.withDefaults()
	peerMSS := 536 // RFC 9293 §3.7.1: without an MSS option
	if syn.Options.HasMSS {
		peerMSS = int(syn.Options.MSS)
	}
	iss := cookieISS(&key, local, remote, syn.Seq, cookieCounter(now), cookieMSSIndex(peerMSS))
	out := Segment{
		Seq:    iss,
		Ack:    syn.Seq + 1,
		Flags:  wire.FlagSYN | wire.FlagACK,
		Window: uint16(min(cfg.ReceiveBufferSize, 65535)),
	}
	out.Options.MSS, out.Options.HasMSS = uint16(cfg.MSS), true
	if cfg.DisableTimestamps || !syn.Options.HasTimestamps {
		return out
	}
	optBits := uint32(cookieNoWS)
	if !cfg.DisableWScale && syn.Options.HasWindowScale {
		optBits = uint32(min(syn.Options.WindowScale, maxWScale))
		out.Options.WindowScale = wscaleFor(cfg.MaxReceiveBufferSize)
		out.Options.HasWindowScale = true
	}
	if !cfg.DisableSACK && syn.Options.SACKPermitted {
		optBits |= cookieSACKBit
		out.Options.SACKPermitted = true
	}
	if (cfg.ECN || cfg.ECNAcceptOnly) && syn.Flags&(wire.FlagECE|wire.FlagCWR) == wire.FlagECE|wire.FlagCWR {
		optBits |= cookieECNBit
		out.Flags |= wire.FlagECE
	}
	out.Options.HasTimestamps = true
	out.Options.TSVal = cookieTSval(iss, optBits, now)
	out.Options.TSEcr = syn.Options.TSVal
	return out
}

// CheckCookie validates ack, a segment that reached a listener and no
// connection, as the answer to a SYN-ACK made by CookieSynAck with the
// same cfg and key, and decodes what the cookie holds. It reports false
// when ack is not a handshake ACK (SYN or RST set, or ACK clear), when
// the cookie is not ours for this 4-tuple and peer ISN, when it was made
// more than one counter period ago, or when the echoed TSval is one we
// have not sent yet.
func CheckCookie(cfg Config, key CookieKey, local, remote netip.AddrPort, ack *Segment, now time.Time) (Cookie, bool) {
	if ack.Flags&(wire.FlagSYN|wire.FlagRST|wire.FlagACK) != wire.FlagACK {
		return Cookie{}, false
	}
	iss, peerISN := ack.Ack-1, ack.Seq-1
	counter := cookieCounter(now)
	if counter&1 != iss>>3&1 {
		counter-- // made in the previous period
	}
	if cookieMAC(&key, local, remote, peerISN, counter, int(iss&7))>>4 != iss>>4 {
		return Cookie{}, false
	}
	ck := Cookie{MSS: cookieMSS[iss&7]}
	if cfg.DisableTimestamps || !ack.Options.HasTimestamps {
		return ck, true
	}
	echo := ack.Options.TSEcr
	if seqGT(echo, tsClock(now)+tsOffsetFor(iss)) {
		return Cookie{}, false
	}
	ck.Timestamps = true
	if ws := echo & 0xf; ws != cookieNoWS {
		ck.HasWindowScale, ck.WindowScale = true, uint8(min(ws, maxWScale))
	}
	ck.SACKPermitted = echo&cookieSACKBit != 0
	ck.ECN = echo&cookieECNBit != 0
	return ck, true
}

// NewFromCookie makes the connection a valid cookie ACK completes (ck
// from CheckCookie, with the same cfg): ISS = SEG.ACK − 1, IRS =
// SEG.SEQ − 1, the options the cookie recorded. The TCB passes through
// SYN-RECEIVED as if it had sent the SYN-ACK itself, then takes ack as any
// third segment of a handshake: it is ESTABLISHED (CLOSE-WAIT if ack
// carried a FIN), with ack's data taken and its acknowledgment queued.
// These state changes happen before the caller can set OnStateChange.
func NewFromCookie(cfg Config, ck Cookie, ack *Segment, now time.Time) *TCB {
	syn := Segment{Seq: ack.Seq - 1, Flags: wire.FlagSYN}
	syn.Options.MSS, syn.Options.HasMSS = ck.MSS, true
	if ck.Timestamps {
		syn.Options.HasTimestamps = true
		syn.Options.TSVal = ack.Options.TSVal
		syn.Options.SACKPermitted = ck.SACKPermitted
		syn.Options.WindowScale, syn.Options.HasWindowScale = ck.WindowScale, ck.HasWindowScale
		if ck.ECN {
			syn.Flags |= wire.FlagECE | wire.FlagCWR
		}
	}
	t := NewPassive(cfg, ack.Ack-1, &syn, now)
	// The SYN-ACK was sent by CookieSynAck, statelessly: forget the one
	// NewPassive queued, and its RTT measurement.
	t.outQ, t.outData = t.outQ[:0], t.outData[:0]
	t.rttTiming = false
	third := *ack
	third.Options.TSEcr = 0 // rounded by the option bits: no RTT sample
	// Its events wait for the owner's TakeEvents.
	t.handleSegment(&third, now)
	return t
}
