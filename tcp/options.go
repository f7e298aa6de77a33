package tcp

import (
	"time"

	"github.com/synack/synack/wire"
)

// tsOptionLen is the room the timestamps option takes in every segment
// once negotiated (10 bytes plus two NOPs).
const tsOptionLen = 12

// maxWScale is the largest shift RFC 7323 §2.3 allows.
const maxWScale = 14

// wscaleFor is the smallest shift s with bufSize>>s <= 65535.
func wscaleFor(bufSize int) uint8 {
	var s uint8
	for bufSize>>s > 65535 && s < maxWScale {
		s++
	}
	return s
}

// tsOffsetFor derives the per-connection offset of our TSval clock from the
// ISS, so that TSval does not reveal the host's clock (RFC 7323 §7.1
// recommends a random per-connection offset; the ISS is already one).
func tsOffsetFor(iss uint32) uint32 {
	x := iss*0x9e3779b1 + 0x7f4a7c15
	x ^= x >> 15
	x *= 0x2c1b3c6d
	x ^= x >> 12
	return x
}

// tsNow is our TSval at now: a millisecond clock plus the offset.
func (t *TCB) tsNow(now time.Time) uint32 {
	return tsClock(now) + t.tsOffset
}

// tsClock is our TSval clock before its offset, in milliseconds: the wall
// clock at instantBase (the process's start) advanced by the monotonic
// clock since, when now carries one (time.Now). A step of the wall
// clock, backwards by NTP or an operator, then never moves it back,
// which would make peers' PAWS drop our segments and our SYN-SENT check
// (synEchoForged) refuse the echo of our own SYN (RFC 7323 §5.4 asks
// for a monotonic clock; Linux's is); and it still grows from one
// process to the next, as a peer's TIME-WAIT wants of a new connection's
// SYN (RFC 6191, tsOffset in package stack). A virtual clock's times
// carry no monotonic reading: it is their wall clock, to the
// nanosecond.
func tsClock(now time.Time) uint32 {
	return uint32(monoNano(now) / int64(time.Millisecond))
}

// negotiate records what the peer's SYN or SYN-ACK offered. A feature is on
// when we enable it and the peer sent it: an active opener offered all it
// enables, and a passive one answers only what the peer offered.
func (t *TCB) negotiate(peer *wire.TCPOptions) {
	t.peerWScale = peer.HasWindowScale
	c := &t.cfg
	// RFC 9293 §3.7.1: without an MSS option the peer's MSS is 536.
	peerMSS := 536
	if peer.HasMSS {
		peerMSS = int(peer.MSS)
	}
	if peerMSS < c.MinMSS {
		peerMSS = c.MinMSS
		c.Shared.count(countMSSClamp)
	}
	// RFC 7323 §2.2: window scaling is on only when both SYNs carry it.
	if !c.DisableWScale && peer.HasWindowScale {
		t.sndWScale = min(peer.WindowScale, maxWScale)
		t.rcvWScale = t.wsOffered
	} else {
		t.sndWScale, t.rcvWScale = 0, 0
	}
	// RFC 2018 §2: SACK is permitted when both SYNs carry sackOK.
	t.sackOK = !c.DisableSACK && peer.SACKPermitted
	t.chooseLoss() // loss.go
	// RFC 7323 §3.2: timestamps are on when both SYNs carry them.
	t.tsOK = !c.DisableTimestamps && peer.HasTimestamps
	if t.tsOK {
		t.tsRecent = peer.TSVal
	}
	mss := minInt(peerMSS, c.MSS)
	if t.tsOK {
		// RFC 9293 §3.7.1: Eff.snd.MSS subtracts the options we send.
		mss -= tsOptionLen
	}
	t.sndMSS = max(mss, 1)
	t.cc = newController(&t.cfg, t.sndMSS, t.cc)
}

// synOptions fills o for our SYN (every enabled option) or SYN-ACK (only
// what was negotiated).
func (t *TCB) synOptions(o *wire.TCPOptions, synAck bool, now time.Time) {
	c := &t.cfg
	o.MSS, o.HasMSS = uint16(c.MSS), true
	if synAck {
		o.SACKPermitted = t.sackOK
		if t.tsOK {
			o.TSVal, o.TSEcr, o.HasTimestamps = t.tsNow(now), t.tsRecent, true
		}
		if t.peerWScale && !c.DisableWScale {
			o.WindowScale, o.HasWindowScale = t.wsOffered, true
		}
		return
	}
	o.SACKPermitted = !c.DisableSACK
	if !c.DisableTimestamps {
		o.TSVal, o.TSEcr, o.HasTimestamps = t.tsNow(now), 0, true
	}
	if !c.DisableWScale {
		o.WindowScale, o.HasWindowScale = t.wsOffered, true
	}
}

// synEchoForged reports whether seg, answering our SYN in SYN-SENT, echoes
// a TSecr outside the TSvals our SYNs can have carried: from the first
// SYN's to now's. A zero TSecr echoes nothing and passes.
func (t *TCB) synEchoForged(seg *Segment, now time.Time) bool {
	o := &seg.Options
	if t.cfg.DisableTimestamps || !o.HasTimestamps || o.TSEcr == 0 {
		return false
	}
	return seqLT(o.TSEcr, t.synTSVal) || seqGT(o.TSEcr, t.tsNow(now))
}

// updateTSRecent applies RFC 7323 §4.3 (as in its Appendix D): "If
// SEG.TSval >= TS.Recent and SEG.SEQ =< Last.ACK.sent then TS.Recent =
// SEG.TSval".
func (t *TCB) updateTSRecent(seg *Segment, now time.Time) {
	if !t.tsOK || !seg.Options.HasTimestamps {
		return
	}
	if seqGE(seg.Options.TSVal, t.tsRecent) && seqLE(seg.Seq, t.lastAck) {
		t.tsRecent = seg.Options.TSVal
		t.tsRecentAt = instantOf(now)
	}
}

// tsRTT is the round-trip time a timestamp echo gives (RFC 7323 §4.2):
// now minus TSecr, in our millisecond TSval clock; ok is false when the
// segment carries no usable echo.
func (t *TCB) tsRTT(seg *Segment, now time.Time) (time.Duration, bool) {
	if !t.tsOK || !seg.Options.HasTimestamps || seg.Options.TSEcr == 0 {
		return 0, false
	}
	d := int32(t.tsNow(now) - seg.Options.TSEcr)
	if d < 0 {
		return 0, false
	}
	return time.Duration(d) * time.Millisecond, true
}
