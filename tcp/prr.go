package tcp

// Proportional Rate Reduction (RFC 6937, with the refinements of its
// revision draft-ietf-tcpm-prr-rfc6937bis): how much fast recovery with
// SACK may send on each ACK.
//
// Without PRR, cutting cwnd to ssthresh at the start of recovery stops
// all sending until pipe has fallen below ssthresh, and then lets
// cwnd − pipe go at once: half a window of silence, then bursts. PRR
// instead spreads the reduction over the recovery round: while pipe is
// above ssthresh it sends ssthresh/RecoverFS of what each ACK reports
// delivered (about one segment for every two delivered with NewReno's
// β = 1/2, seven for every ten with CUBIC's β = 0.7); once losses have
// pulled pipe below ssthresh it grows pipe back towards ssthresh no
// faster than slow start would (the slow-start reduction bound, PRR-SSRB,
// when the ACK shows recovery progressing; PRR-CRB, the conservative
// bound, when it does not).
//
// The engine applies PRR by setting cwnd = pipe + sndcnt on each ACK
// (RFC 6937bis §6), so that sendData's cwnd − pipe is the allowance, and
// every retransmission and new segment sent in recovery counts in prr_out.
//
// Without SACK, NewReno recovery (RFC 6582) keeps its window inflation.
// PRR there would need DeliveredData and pipe estimated from duplicate
// ACKs (RFC 6937 §3 allows it); tried that way, it sent less than
// inflation does and lost goodput on the transfer benchmarks (1% random
// loss, and slow start overrunning a tail-drop queue).

// prrState is the PRR state of one fast recovery (RFC 6937 §3).
type prrState struct {
	recoverFS int // RecoverFS: the flight PRR reduces from
	delivered int // prr_delivered: bytes delivered since recovery began
	out       int // prr_out: bytes sent since recovery began
	cwnd      int // pipe + sndcnt, the window while recovery lasts
}

// prrActive reports whether PRR sets the window now: fast recovery with
// SACK, PRR not turned off.
func (t *TCB) prrActive() bool {
	return t.usePRR && t.sackOK && t.recState == recFast && t.lossState != nil
}

// prrStart initializes PRR at the start of fast recovery (RFC 6937bis
// §6, "at the beginning of recovery"), after ssthresh was set. RecoverFS
// is what was outstanding, less what was SACKed before the ACK that
// started recovery (newlySACKed counts as delivered on that ACK, older
// SACKed bytes never will). The first window allows one segment: the
// fast retransmit that begins recovery goes whatever the ACK delivered
// ("if prr_out is 0 AND sndcnt is 0, sndcnt = SMSS").
func (t *TCB) prrStart(newlySACKed uint32) {
	outstanding := int(t.sndNxt - t.sndUna)
	t.prr = prrState{
		recoverFS: max(outstanding-int(t.tx.sackedBytes-newlySACKed), t.sndMSS),
		cwnd:      t.pipe() + t.sndMSS,
	}
}

// prrAck is RFC 6937bis §6 "on every ACK starting or during fast
// recovery, excluding the ACK that concludes the recovery": it adds what
// the ACK delivered (the advance of SND.UNA plus the change in SACKed
// bytes) to prr_delivered and sets cwnd = pipe + sndcnt. safe is
// safeACK: SND.UNA advanced and the ACK revealed no further loss.
func (t *TCB) prrAck(delivered int, safe bool) {
	if delivered <= 0 {
		return // nothing delivered: the allowance stands
	}
	p := &t.prr
	p.delivered += delivered
	pipe := t.pipe()
	ssthresh := t.cc.Ssthresh()
	var sndcnt int
	if pipe > ssthresh {
		// Proportional Rate Reduction:
		// sndcnt = CEIL(prr_delivered·ssthresh / RecoverFS) − prr_out.
		sndcnt = (p.delivered*ssthresh+p.recoverFS-1)/p.recoverFS - p.out
	} else {
		// PRR-CRB: no more than was delivered; PRR-SSRB, on a safe ACK,
		// one SMSS more (slow start's pace); never beyond ssthresh.
		sndcnt = max(p.delivered-p.out, delivered)
		if safe {
			sndcnt += t.sndMSS
		}
		sndcnt = min(ssthresh-pipe, sndcnt)
	}
	if p.out == 0 && sndcnt <= 0 {
		sndcnt = t.sndMSS // the fast retransmit goes in any case
	}
	p.cwnd = pipe + max(sndcnt, 0)
}

// prrSent counts n bytes sent (new or retransmitted) in prr_out.
func (t *TCB) prrSent(n int) {
	if t.prrActive() {
		t.prr.out += n
	}
}
