package tcp

import (
	"time"

	"github.com/synack/synack/wire"
)

// Modes of Config for peers and conformance suites written for other
// stacks' choices, all off by default: the pre-RFC 5961 modes
// (InsecureRST, InsecureSYN, DropSynFin) and FreeBSD's receive window
// (AcceptToBufferSpace) and FIN retransmission in a simultaneous close
// (FinWithClosingAck).

// acceptWnd is the receive window segments are checked against: what we
// offered (RCV.WND, plus what an earlier, larger offer still covers), or
// under Config.AcceptToBufferSpace the free receive buffer when that is
// larger, as FreeBSD's rcv_wnd = max(sbspace, rcv_adv − rcv_nxt). A
// passive connection in SYN-RECEIVED and one in TIME-WAIT keep the offered
// window: on FreeBSD they are a SYN cache entry and a TIME-WAIT record,
// with no socket buffer.
func (t *TCB) acceptWnd() uint32 {
	wnd := t.rcvWnd + t.rcvSlack
	if t.cfg.AcceptToBufferSpace && t.state != StateTimeWait && !(t.passive && t.state == StateSynReceived) {
		wnd = max(wnd, uint32(max(t.rcvBuf.Free(), 0)))
	}
	return wnd
}

// The pre-RFC 5961 modes: The segment's sequence number has passed the
// acceptability test of RFC 9293 §3.10.7.4 when these run: it is in the
// receive window (or at RCV.NXT when the window is zero).

// seqInWindow is FreeBSD's window test for these modes: SEG.SEQ itself in
// [RCV.NXT, RCV.NXT+RCV.WND), or at RCV.NXT when the window is zero. The
// acceptability test counts the SYN and FIN too, so a SYN|FIN just
// before RCV.NXT passes it but not this one.
func (t *TCB) seqInWindow(seq uint32) bool {
	wnd := t.acceptWnd()
	return seq == t.rcvNxt || wnd > 0 && seqInRange(seq, t.rcvNxt, t.rcvNxt+wnd)
}

// insecureRST handles an in-window RST under Config.InsecureRST: any RST
// in the window resets the connection, as RFC 793 said, where RFC 5961
// §3.2 resets only on SEG.SEQ = RCV.NXT and sends a challenge ACK
// otherwise. It reports whether it took the segment.
func (t *TCB) insecureRST(seq uint32, now time.Time) bool {
	if !t.cfg.InsecureRST || !t.seqInWindow(seq) {
		return false
	}
	t.reset(now)
	return true
}

// insecureSYN handles an in-window SYN in a synchronized state under
// Config.InsecureSYN (RFC 793 §3.9, "If the SYN is in the window it is an
// error, send a reset, ... enter the CLOSED state"): a RST
// <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK> and the connection is reset, as
// FreeBSD's net.inet.tcp.insecure_syn=1 does. RFC 5961 §4 sends a
// challenge ACK instead. SYN-RECEIVED keeps its own rules. It reports
// whether it took the segment.
func (t *TCB) insecureSYN(seq uint32, now time.Time) bool {
	if !t.cfg.InsecureSYN || t.state == StateSynReceived || !t.seqInWindow(seq) {
		return false
	}
	t.sendAbortRST(now)
	t.reset(now)
	return true
}

// IsSynFin reports whether seg has both SYN and FIN set.
func IsSynFin(seg *Segment) bool {
	return seg.Flags&synFinFlags == synFinFlags
}

// dropSynFin reports whether seg is to be discarded unseen under
// Config.DropSynFin: a SYN|FIN reaching a connection in SYN-SENT.
func (t *TCB) dropSynFin(seg *Segment) bool {
	return t.cfg.DropSynFin && t.state == StateSynSent && IsSynFin(seg)
}

// DropsSynFin reports whether a listener with configuration cfg discards
// seg unseen (Config.DropSynFin): FreeBSD's drop_synfin ignores a SYN|FIN
// that reaches a listening socket instead of answering it with a SYN-ACK.
func DropsSynFin(cfg *Config, seg *Segment) bool {
	return cfg.DropSynFin && IsSynFin(seg)
}

// synFinFlags are SYN and FIN together.
const synFinFlags = wire.FlagSYN | wire.FlagFIN

// closingAck sends, under Config.FinWithClosingAck, the ACK of the peer's
// FIN that takes us from FIN-WAIT-1 to CLOSING with our unacknowledged
// FIN again: <SEQ=SND.NXT−1><ACK=RCV.NXT><CTL=FIN,ACK>, as FreeBSD's
// tcp_output sends every segment of a state whose FIN is outstanding.
// When our FIN waits still unsent behind data (the peer's window held it
// back) there is none to repeat: output sends data and FIN in order.
func (t *TCB) closingAck(now time.Time) {
	if t.cfg.FinWithClosingAck && t.finSent {
		t.queue(wire.FlagFIN|wire.FlagACK, t.sndNxt-1, 0, now)
	}
}
