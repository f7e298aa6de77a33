package tcp

import "github.com/synack/synack/wire"

// pushBurst places PSH as Linux does on the segments one output pass
// sends. Besides the segment that empties the send buffer (the end of the
// last write, sendData), PSH marks the end of each TSO packet Linux would
// have built: Linux hands a burst to the device in packets of up to about
// a millisecond of data at the pacing rate (tcp_tso_autosize: at least 2
// segments, at most 64 KiB) and marks the last segment of every packet of
// two or more (__tcp_transmit_skb, so that a GRO receiver delivers it at
// once); a lone segment sent under congestion (limited transmit, a probe,
// one freed by an ACK) does not get it. RFC 9293 §3.9.1 leaves PSH to the
// sender's judgement.
type pushBurst struct {
	goal int // segments per packet, computed on the first segment
	run  int // new-data segments queued since the last PSH
	last int // index in outQ of the last of them
}

// sent notes a segment with n bytes of new data just queued.
func (b *pushBurst) sent(t *TCB, n int) {
	if n == 0 {
		return
	}
	if b.goal == 0 {
		b.goal = t.tsoGoal()
	}
	b.run++
	b.last = len(t.outQ) - 1
	f := &t.outQ[b.last].seg.Flags
	if *f&wire.FlagPSH == 0 && b.run >= b.goal {
		*f |= wire.FlagPSH
	}
	if *f&wire.FlagPSH != 0 {
		b.run = 0
	}
}

// mark ends the pass: a last packet of two or more segments gets PSH.
func (b *pushBurst) mark(t *TCB) {
	if b.run >= 2 && b.last < len(t.outQ) {
		t.outQ[b.last].seg.Flags |= wire.FlagPSH
	}
}

// tsoGoal is how many segments Linux would put in one TSO packet: a
// millisecond (1/1024 s) of data at the pacing rate (twice cwnd/SRTT in
// slow start, 1.2 times after, as paceSent), at least 2, at most 64 KiB.
func (t *TCB) tsoGoal() int {
	mss := max(t.sndMSS, 1)
	most := max(65536/mss, 2)
	if !t.hasRTT || t.srtt <= 0 {
		return most
	}
	ratio := 1.2
	if t.cc.InSlowStart() {
		ratio = 2
	}
	perMs := ratio * float64(t.cwnd()) / t.srtt.Seconds() / 1024
	return min(max(int(perMs)/mss, 2), most)
}
