package tcp

import (
	"time"

	"github.com/synack/synack/wire"
)

// PAWS (RFC 7323 §5): a segment whose TSval is older than TS.Recent is
// treated as an old duplicate from an earlier pass through the sequence
// space. Taken literally, R1 also throws away segments that are merely
// late — reordered on the path — and that costs dearly:
//
//   - a reordered ACK arrives after a later one moved TS.Recent on; the
//     SACK blocks it carries are lost, and RACK marks lost the data they
//     reported (RFC 8985 §6.2 sees only what the scoreboard knows);
//   - a retransmission that fills a hole at RCV.NXT moves TS.Recent to
//     its fresh TSval (§4.3); the originals sent after the lost segment
//     but reordered behind the retransmission then fail PAWS, are
//     dropped, and must be sent once more.
//
// PAWS exists against wrapped sequence numbers, so a late segment is let
// through when its timestamps prove that it was sent in the current pass
// through both sequence spaces: then it is neither a wrapped duplicate
// nor more dangerous than any other segment (its window is still not
// used, see paws). The two proofs:
//
//   - data: its TSval is not older than TS.Recent was when the latest
//     hole in the received data opened (every original sent after the
//     last in-order segment has such a TSval), and RCV.NXT has moved less
//     than pawsWrapGuard since;
//   - a pure ACK that acknowledges nothing new: its TSecr echoes one of
//     our own TSvals from a moment SND.UNA was less than pawsWrapGuard
//     bytes back (our clock, which we know).
//
// An old segment that arrives with no hole open is still dropped, as
// RFC 7323 and Linux do.

// pawsWrapGuard is how far a sequence space may have moved since a floor
// was taken for the floor to still prove a segment current: well below
// the 2^31 at which sequence numbers become ambiguous.
const pawsWrapGuard = 1 << 29

// pawsFloor is a timestamp that proves a segment carrying one at or after
// it current, while the sequence number it was taken at is near.
type pawsFloor struct {
	ts  uint32 // a TSval (the peer's clock) or an echo of ours
	seq uint32 // RCV.NXT or SND.UNA when it was taken
	ok  bool
}

// covers reports whether ts is at or after the floor and seq (now) is
// within pawsWrapGuard of where the floor was taken.
func (f *pawsFloor) covers(ts, seq uint32) bool {
	return f.ok && seqGE(ts, f.ts) && seq-f.seq < pawsWrapGuard
}

// pawsVerdict is what PAWS makes of a segment.
type pawsVerdict uint8

const (
	pawsPass  pawsVerdict = iota // not older than TS.Recent
	pawsLate                     // older, but proven current: accept, without its window
	pawsStale                    // an old duplicate: drop it and send an ACK
)

// pawsIdle is how long TS.Recent stays valid without an update
// (RFC 7323 §5.5: 24 days, below 2^31 ms of the fastest allowed clock).
const pawsIdle = 24 * 24 * time.Hour

// paws is the PAWS test (RFC 7323 §5.3 R1) with the exceptions above. A
// RST is exempt, and so is everything once TS.Recent has been idle for
// 24 days (§5.5): TS.Recent is then invalid and the next segment resets
// it.
func (t *TCB) paws(seg *Segment, now time.Time) pawsVerdict {
	o := &seg.Options
	if !t.tsOK || !o.HasTimestamps || seg.Flags&wire.FlagRST != 0 || !seqLT(o.TSVal, t.tsRecent) {
		return pawsPass
	}
	if !t.tsRecentAt.IsZero() && instantOf(now).Sub(t.tsRecentAt) > pawsIdle {
		t.tsRecent = o.TSVal
		t.tsRecentAt = instantOf(now)
		return pawsPass
	}
	if seg.Flags&(wire.FlagSYN|wire.FlagACK) != wire.FlagACK || seqGT(seg.Ack, t.sndUna) {
		return pawsStale // a late segment never acknowledges anything new
	}
	if len(seg.Payload) > 0 && t.pawsHole.covers(o.TSVal, t.rcvNxt) {
		return pawsLate
	}
	if len(seg.Payload) == 0 && seg.Flags&wire.FlagFIN == 0 && o.TSEcr != 0 &&
		t.pawsEcho[0].covers(o.TSEcr, t.sndUna) {
		return pawsLate
	}
	return pawsStale
}

// pawsHoleOpened records TS.Recent as a hole opens in the received data.
func (t *TCB) pawsHoleOpened() {
	if t.tsOK {
		t.pawsHole = pawsFloor{ts: t.tsRecent, seq: t.rcvNxt, ok: true}
	}
}

// pawsEchoAdvance keeps the floor for echoes of our TSvals: our clock
// when SND.UNA was between one half and one pawsWrapGuard back (or at
// the start of the connection).
func (t *TCB) pawsEchoAdvance(now time.Time) {
	if !t.tsOK {
		return
	}
	cur := &t.pawsEcho[1]
	switch {
	case !cur.ok:
		*cur = pawsFloor{ts: t.tsNow(now), seq: t.sndUna, ok: true}
		t.pawsEcho[0] = *cur
	case t.sndUna-cur.seq >= pawsWrapGuard/2:
		t.pawsEcho[0] = *cur
		*cur = pawsFloor{ts: t.tsNow(now), seq: t.sndUna, ok: true}
	}
}
