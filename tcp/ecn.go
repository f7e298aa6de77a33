package tcp

import (
	"time"

	"github.com/synack/synack/wire"
)

// Explicit Congestion Notification (RFC 3168). The IP header's ECN field
// is the owner's business (see Segment): the engine negotiates ECN on the
// SYNs, echoes CE marks with ECE, and answers ECE like a loss, once per
// window, without retransmitting.

// ecnSYNFlags are the ECN flags of our SYN (ECE and CWR: "ECN-setup SYN",
// §6.1.1) or SYN-ACK (ECE alone, when the peer's SYN was ECN-setup).
func (t *TCB) ecnSYNFlags(synAck bool) wire.Flags {
	if !synAck {
		if !t.cfg.ECN {
			return 0 // off, or Config.ECNAcceptOnly
		}
		return wire.FlagECE | wire.FlagCWR
	}
	if t.ecnOK {
		return wire.FlagECE
	}
	return 0
}

// negotiateECN records what a SYN (passive) or SYN-ACK (active) said.
func (t *TCB) negotiateECN(seg *Segment, synAck bool) {
	f := seg.Flags & (wire.FlagECE | wire.FlagCWR)
	if synAck {
		t.ecnOK = t.cfg.ECN && f == wire.FlagECE
	} else {
		t.ecnOK = (t.cfg.ECN || t.cfg.ECNAcceptOnly) && f == wire.FlagECE|wire.FlagCWR
	}
}

// ecnMark sets ECE, CWR and ECT on an outgoing non-SYN segment with n
// bytes of data. Only new data is ECN-capable: not pure ACKs, not
// retransmissions, not window probes (§6.1.5, §6.1.6).
func (t *TCB) ecnMark(s *Segment, n int) {
	if !t.ecnOK {
		return
	}
	if t.ecnEchoing && s.Flags&wire.FlagACK != 0 {
		s.Flags |= wire.FlagECE
	}
	if n > 0 && !t.retransmitting && !t.persistProbing {
		s.ECT = true
		if t.ecnSendCWR {
			s.Flags |= wire.FlagCWR
			t.ecnSendCWR = false
		}
	}
}

// ecnReceive notes a CE mark (echo ECE from now on) and a CWR (stop).
func (t *TCB) ecnReceive(seg *Segment) {
	if !t.ecnOK {
		return
	}
	if seg.Flags&wire.FlagCWR != 0 {
		t.ecnEchoing = false
	}
	if seg.CE {
		t.ecnEchoing = true
		t.ackNow = true
	}
}

// ecnEcho is the sender's answer to ECE (§6.1.2): reduce the window as
// for a loss, at most once per window of data, and send CWR.
func (t *TCB) ecnEcho(now time.Time) {
	if t.recState != recOpen || (t.ecnReduced && seqLT(t.sndUna, t.ecnRecover)) {
		return
	}
	t.cc.OnCongestionEvent(t.flightSize(), now)
	t.cc.OnRecoveryEnd(now)
	// The controller's saved state is now from before this reduction,
	// which no D-SACK can prove spurious: no undo past it.
	if t.undoState != nil { // else there is no episode to undo
		t.episodeUndone = true
	}
	t.ecnReduced = true
	t.ecnRecover = t.sndNxt
	t.ecnSendCWR = true
}

// ecnState is ECN (RFC 3168) for both directions: the echo of CE marks we
// receive, and our response to the echoes of the peer.
type ecnState struct {
	ecnOK          bool
	ecnEchoing     bool // CE seen: our ACKs carry ECE until CWR arrives
	ecnSendCWR     bool // the next new data segment carries CWR
	ecnReduced     bool
	retransmitting bool
	ecnRecover     uint32 // no further reduction until SND.UNA passes it
}
