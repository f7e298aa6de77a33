package tcp

import (
	"crypto/sha256"
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/synack/synack/wire"
)

// ListenAction says what a listener should do with a segment (RFC 9293
// §3.10.7.2, "If the state is LISTEN").
type ListenAction uint8

// The outcomes of HandleListen.
const (
	ListenDrop   ListenAction = iota // ignore the segment
	ListenReset                      // send the returned RST
	ListenAccept                     // a valid SYN: create a TCB with NewPassive
)

// HandleListen decides what a listening endpoint does with seg
// (RFC 9293 §3.10.7.2).
func HandleListen(seg *Segment) (ListenAction, Segment) {
	switch {
	case seg.Flags&wire.FlagRST != 0:
		// "First, check for a RST: An incoming RST segment could not be
		// valid since it could not have been sent in response to anything
		// sent by this incarnation of the connection. An incoming RST
		// should be ignored."
		return ListenDrop, Segment{}
	case seg.Flags&wire.FlagACK != 0:
		// "Second, check for an ACK: ... form a reset segment
		// <SEQ=SEG.ACK><CTL=RST>"
		return ListenReset, Segment{Seq: seg.Ack, Flags: wire.FlagRST}
	case seg.Flags&(wire.FlagSYN|wire.FlagFIN) == wire.FlagSYN|wire.FlagFIN:
		// A SYN with FIN is no way to open a connection (no stack sends
		// one; scanners do): discarded, as Linux does.
		return ListenDrop, Segment{}
	case seg.Flags&wire.FlagSYN != 0:
		// "Third, check for a SYN" (the security check does not apply).
		return ListenAccept, Segment{}
	}
	// "Fourth, other data or control: ... drop the segment and return."
	return ListenDrop, Segment{}
}

// ResetFor returns the RST that answers seg when it reaches no connection
// (RFC 9293 §3.10.7.1): seq=SEG.ACK if ACK is set, else seq=0 and ACK with
// ack=SEG.SEQ+SEG.LEN. ok is false when seg is itself a RST.
func ResetFor(seg *Segment) (rst Segment, ok bool) {
	if seg.Flags&wire.FlagRST != 0 {
		return Segment{}, false
	}
	if seg.Flags&wire.FlagACK != 0 {
		// "<SEQ=SEG.ACK><CTL=RST>"
		return Segment{Seq: seg.Ack, Flags: wire.FlagRST}, true
	}
	// "<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>"
	return Segment{Seq: 0, Ack: seg.Seq + seg.Len(), Flags: wire.FlagRST | wire.FlagACK}, true
}

// ISN returns an initial sequence number per RFC 6528: ISN = M + F(secret,
// localip, localport, remoteip, remoteport), where M is a 4-microsecond
// timer read from now and F is SHA-256 of the secret and the 4-tuple,
// truncated to 32 bits. The same inputs give the same ISN.
func ISN(secret []byte, local, remote netip.AddrPort, now time.Time) uint32 {
	h := sha256.New()
	h.Write(secret)
	var b [36]byte
	l, r := local.Addr().As16(), remote.Addr().As16()
	copy(b[0:16], l[:])
	binary.BigEndian.PutUint16(b[16:18], local.Port())
	copy(b[18:34], r[:])
	binary.BigEndian.PutUint16(b[34:36], remote.Port())
	h.Write(b[:])
	var sum [sha256.Size]byte
	f := binary.BigEndian.Uint32(h.Sum(sum[:0]))
	m := uint32(monoNano(now) / 4000)
	return m + f
}
