package tcp

import (
	"io"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Closing a connection: RFC 9293 §3.6 and the FIN processing of §3.10.7.4.
// established() leaves SND.NXT=101 and RCV.NXT=301.

// CLOSE in ESTABLISHED enters FIN-WAIT-1 at once; the FIN follows queued
// data, here riding on the last segment Nagle held back.
func TestTransition_Established_FinWait1_Close(t *testing.T) {
	h := established(t, plain)
	h.write("abc")
	h.out(seg{flags: "P.", seq: 101, ack: 301, win: 65535, data: "abc"})
	h.write("def") // held by Nagle: "abc" is unacknowledged
	h.none()
	h.trans = nil
	h.close()
	h.transitions("ESTABLISHED -> FIN-WAIT-1")
	h.out(seg{flags: "FP.", seq: 104, ack: 301, win: 65535, data: "def"})
	h.none()
	_, err := h.tcb.Write([]byte("x"), h.now)
	h.check(err == syscall.EPIPE, "Write after Close: %v", err)
}

func TestTransition_Established_CloseWait_Fin(t *testing.T) {
	h := established(t, plain)
	h.in(seg{flags: "FP.", seq: 301, ack: 101, win: 65535, data: "bye"})
	h.out(seg{flags: ".", seq: 101, ack: 305, win: 65532}) // a FIN is ACKed at once
	h.none()
	h.state(StateCloseWait)
	// io.EOF only after the data before the FIN.
	h.readAll("bye")
	got, err := h.read(10)
	h.check(got == "" && err == io.EOF, "Read: %q, %v", got, err)
}

func TestTransition_FinWait1_FinWait2_AckOfFin(t *testing.T) {
	h := established(t, plain)
	h.close()
	h.out(seg{flags: "F.", seq: 101, ack: 301, win: 65535})
	h.in(seg{flags: ".", seq: 301, ack: 102, win: 65535})
	h.none()
	h.state(StateFinWait2)
	h.deadline(60 * time.Second) // FinWait2Timeout
}

// Simultaneous close (RFC 9293 Figure 13): the FINs cross, each side
// enters CLOSING, and the ACK of our FIN leads to TIME-WAIT.
func TestTransition_FinWait1_Closing_SimultaneousClose(t *testing.T) {
	h := established(t, plain)
	h.close()
	h.out(seg{flags: "F.", seq: 101, ack: 301, win: 65535})
	h.trans = nil
	h.in(seg{flags: "F.", seq: 301, ack: 101, win: 65535}) // the peer's FIN, not ACKing ours
	h.out(seg{flags: ".", seq: 102, ack: 302, win: 65535})
	h.none()
	h.transitions("FIN-WAIT-1 -> CLOSING")
	h.after(10 * time.Millisecond)
	h.in(seg{flags: ".", seq: 302, ack: 102, win: 65535})
	h.none()
	h.transitions("CLOSING -> TIME-WAIT")
	h.deadline(10*time.Millisecond + 60*time.Second)
}

func TestTransition_Closing_TimeWait_AckOfFin(t *testing.T) {
	h := established(t, plain)
	h.close()
	h.out(seg{flags: "F.", seq: 101, ack: 301, win: 65535})
	h.in(seg{flags: "F.", seq: 301, ack: 101, win: 65535})
	h.out(seg{flags: ".", seq: 102, ack: 302, win: 65535})
	h.state(StateClosing)
	// A duplicate ACK does not acknowledge our FIN: stay.
	h.in(seg{flags: ".", seq: 302, ack: 101, win: 65535})
	h.none()
	h.state(StateClosing)
	h.in(seg{flags: ".", seq: 302, ack: 102, win: 65535})
	h.state(StateTimeWait)
	h.none()
}

// A FIN that also acknowledges our FIN goes from FIN-WAIT-1 straight to
// TIME-WAIT (§3.10.7.4, eighth: "If our FIN has been ACKed (perhaps in
// this segment), then enter TIME-WAIT").
func TestTransition_FinWait1_TimeWait_FinAckingOurFin(t *testing.T) {
	h := established(t, plain)
	h.close()
	h.out(seg{flags: "F.", seq: 101, ack: 301, win: 65535})
	h.trans = nil
	h.in(seg{flags: "F.", seq: 301, ack: 102, win: 65535})
	h.out(seg{flags: ".", seq: 102, ack: 302, win: 65535})
	h.none()
	h.transitions("FIN-WAIT-1 -> TIME-WAIT")
	h.deadline(60 * time.Second)
}

func TestTransition_FinWait2_TimeWait_Fin(t *testing.T) {
	h := established(t, plain)
	h.close()
	h.out(seg{flags: "F.", seq: 101, ack: 301, win: 65535})
	h.in(seg{flags: ".", seq: 301, ack: 102, win: 65535})
	h.state(StateFinWait2)
	h.at(5 * time.Second)
	h.in(seg{flags: "F.", seq: 301, ack: 102, win: 65535})
	h.out(seg{flags: ".", seq: 102, ack: 302, win: 65535})
	h.none()
	h.state(StateTimeWait)
	h.deadline(65 * time.Second) // 2·MSL from the FIN
}

func TestTransition_CloseWait_LastAck_Close(t *testing.T) {
	h := established(t, plain)
	h.in(seg{flags: "F.", seq: 301, ack: 101, win: 65535})
	h.out(seg{flags: ".", seq: 101, ack: 302, win: 65535})
	h.trans = nil
	h.close()
	h.out(seg{flags: "F.", seq: 101, ack: 302, win: 65535})
	h.none()
	h.transitions("CLOSE-WAIT -> LAST-ACK")
	// The handshake's RTT sample was 0: RTO = MinRTO.
	h.deadline(200 * time.Millisecond)
}

func TestTransition_LastAck_Closed_AckOfFin(t *testing.T) {
	h := established(t, plain)
	h.in(seg{flags: "F.", seq: 301, ack: 101, win: 65535})
	h.out(seg{flags: ".", seq: 101, ack: 302, win: 65535})
	h.close()
	h.out(seg{flags: "F.", seq: 101, ack: 302, win: 65535})
	h.in(seg{flags: ".", seq: 302, ack: 102, win: 65535})
	h.none()
	h.state(StateClosed)
	h.err(nil)
	h.deadline(0)
	h.check(h.tcb.Done(), "not Done")
}

// toTimeWait closes actively and receives the peer's FIN at t0.
func toTimeWait(t *testing.T) *harness {
	h := established(t, plain)
	h.close()
	h.out(seg{flags: "F.", seq: 101, ack: 301, win: 65535})
	h.in(seg{flags: "F.", seq: 301, ack: 102, win: 65535})
	h.out(seg{flags: ".", seq: 102, ack: 302, win: 65535})
	h.state(StateTimeWait)
	return h
}

func TestTransition_TimeWait_Closed_Timeout(t *testing.T) {
	h := toTimeWait(t)
	h.deadline(60 * time.Second) // 2·MSL, MSL 30 s
	h.at(60*time.Second - time.Nanosecond)
	h.state(StateTimeWait)
	h.at(60 * time.Second)
	h.none()
	h.state(StateClosed)
	h.err(nil)
	h.check(h.tcb.Done(), "not Done")
}

// The last ACK is lost: the peer retransmits its FIN, TIME-WAIT ACKs it
// again and restarts the 2·MSL timer from that instant.
func TestTimeWait_RetransmittedFin_ReAckedAndTimerRestarted(t *testing.T) {
	h := toTimeWait(t)
	h.at(1500 * time.Millisecond)
	h.in(seg{flags: "F.", seq: 301, ack: 102, win: 65535})
	h.out(seg{flags: ".", seq: 102, ack: 302, win: 65535})
	h.none()
	h.state(StateTimeWait)
	h.deadline(61500 * time.Millisecond)
	// Any other segment gets nothing but the ACK that §3.10.7.4 asks for
	// unacceptable segments.
	h.in(seg{flags: ".", seq: 302, ack: 102, win: 65535})
	h.none()
	h.deadline(61500 * time.Millisecond)
}

func TestTimeWait_MSLConfigurable(t *testing.T) {
	cfg := plain
	cfg.MSL = 2 * time.Second
	h := established(t, cfg)
	h.close()
	h.out(seg{flags: "F.", seq: 101, ack: 301, win: 65535})
	h.in(seg{flags: "F.", seq: 301, ack: 102, win: 65535})
	h.out(seg{flags: ".", seq: 102, ack: 302, win: 65535})
	h.deadline(4 * time.Second)
}

// Half-close, our side first: after CloseWrite the FIN goes out and data
// from the peer is still read until its FIN.
func TestHalfClose_CloseWriteThenRead(t *testing.T) {
	h := established(t, plain)
	h.closeWrite()
	h.out(seg{flags: "F.", seq: 101, ack: 301, win: 65535})
	h.in(seg{flags: ".", seq: 301, ack: 102, win: 65535})
	h.state(StateFinWait2)
	h.deadline(0) // no FIN-WAIT-2 timeout after CloseWrite
	h.in(seg{flags: "P.", seq: 301, ack: 102, win: 65535, data: "still here"})
	h.readAll("still here")
	_, err := h.tcb.Write([]byte("x"), h.now)
	h.check(err == syscall.EPIPE, "Write after CloseWrite: %v", err)
	h.in(seg{flags: "F.", seq: 311, ack: 102, win: 65535})
	// Reading 10 bytes is below the receiver's SWS threshold: the right
	// edge stays (RFC 9293 §3.8.6.2.2).
	h.out(seg{flags: ".", seq: 102, ack: 312, win: 65525})
	h.state(StateTimeWait)
	got, err := h.read(10)
	h.check(got == "" && err == io.EOF, "Read: %q, %v", got, err)
}

// Half-close, the peer first: in CLOSE-WAIT we still write.
func TestHalfClose_WriteInCloseWait(t *testing.T) {
	h := established(t, plain)
	h.in(seg{flags: "F.", seq: 301, ack: 101, win: 65535})
	h.out(seg{flags: ".", seq: 101, ack: 302, win: 65535})
	h.write("reply")
	h.out(seg{flags: "P.", seq: 101, ack: 302, win: 65535, data: "reply"})
	h.in(seg{flags: ".", seq: 302, ack: 106, win: 65535})
	h.closeWrite()
	h.out(seg{flags: "F.", seq: 106, ack: 302, win: 65535})
	h.state(StateLastAck)
}

// RFC 2525 §2.17: closing with unread data resets the connection. The
// RST carries ACK=RCV.NXT (the unread data counted), as Linux's does.
func TestClose_UnreadData_Reset(t *testing.T) {
	h := established(t, plain)
	h.in(seg{flags: "P.", seq: 301, ack: 101, win: 65535, data: "unread"})
	h.trans = nil
	h.close()
	h.out(seg{flags: "R.", seq: 101, ack: 307, win: 65529})
	h.none()
	h.transitions("ESTABLISHED -> CLOSED")
	h.deadline(0)
	h.check(h.tcb.Done(), "not Done")
}

// Data arriving after Close is answered with a RST too.
func TestClose_DataAfterClose_Reset(t *testing.T) {
	h := established(t, plain)
	h.close()
	h.out(seg{flags: "F.", seq: 101, ack: 301, win: 65535})
	h.in(seg{flags: ".", seq: 301, ack: 102, win: 65535})
	h.state(StateFinWait2)
	h.in(seg{flags: "P.", seq: 301, ack: 102, win: 65535, data: "late"})
	// This RST answers a segment, so it is <SEQ=SEG.ACK><CTL=RST>, no ACK.
	h.out(seg{flags: "R", seq: 102})
	h.none()
	h.state(StateClosed)
}

// FIN-WAIT-2 after a full Close lasts FinWait2Timeout, then the TCB goes
// away silently.
func TestFinWait2Timeout(t *testing.T) {
	cfg := plain
	cfg.FinWait2Timeout = 10 * time.Second
	h := established(t, cfg)
	h.close()
	h.out(seg{flags: "F.", seq: 101, ack: 301, win: 65535})
	h.at(100 * time.Millisecond)
	h.in(seg{flags: ".", seq: 301, ack: 102, win: 65535})
	h.deadline(10100 * time.Millisecond)
	h.at(10100 * time.Millisecond)
	h.none()
	h.state(StateClosed)
	h.err(nil)
}

// Close after CloseWrite in FIN-WAIT-2 starts the FIN-WAIT-2 timer.
func TestFinWait2_CloseAfterCloseWrite(t *testing.T) {
	h := established(t, plain)
	h.closeWrite()
	h.out(seg{flags: "F.", seq: 101, ack: 301, win: 65535})
	h.in(seg{flags: ".", seq: 301, ack: 102, win: 65535})
	h.deadline(0)
	h.at(3 * time.Second)
	h.close()
	h.none()
	h.deadline(63 * time.Second)
}

func TestAbort(t *testing.T) {
	h := established(t, plain)
	h.write("data")
	h.out(seg{flags: "P.", seq: 101, ack: 301, win: 65535, data: "data"})
	h.abort()
	h.out(seg{flags: "R.", seq: 105, ack: 301, win: 65535})
	h.none()
	h.state(StateClosed)
	h.err(nil)
	h.deadline(0)
	_, err := h.tcb.Write([]byte("x"), h.now)
	h.check(err == syscall.EPIPE, "Write after Abort: %v", err)
}

// CloseWrite before the handshake completes sends the FIN right after it.
func TestCloseWriteInSynSent(t *testing.T) {
	h := active(t, plain)
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: mss(1460)})
	h.write("early")
	h.closeWrite()
	h.none()
	h.trans = nil
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 65535, opts: mss(1460)})
	h.transitions("SYN-SENT -> ESTABLISHED", "ESTABLISHED -> FIN-WAIT-1")
	h.out(seg{flags: "FP.", seq: 101, ack: 301, win: 65535, data: "early"})
	h.none()
}

// An abort's RST is sent as Linux sends it (tcp_send_active_reset): RST|ACK
// with ACK=RCV.NXT, our window and, once negotiated, timestamps — but no
// SACK blocks, even with out-of-order data held.
func TestAbort_RSTAckWithTimestamps(t *testing.T) {
	cfg := Config{DisableWScale: true}
	h := active(t, cfg)
	v := h.tsval()
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: o(mss(1460), sackOK(), ts(v, 0))})
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 65535, opts: o(mss(1460), sackOK(), ts(500, v))})
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535, opts: ts(v, 500)})
	// Out-of-order data: the duplicate ACK carries a SACK block.
	h.in(seg{flags: "P.", seq: 311, ack: 101, win: 65535, opts: ts(501, v), data: "later"})
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535, opts: o(ts(v, 500), sack(311, 316))})
	h.abort()
	h.out(seg{flags: "R.", seq: 101, ack: 301, win: 65535, opts: ts(v, 500)})
	h.none()
	h.state(StateClosed)
}

// A RST that answers a segment keeps RFC 9293's form even when the
// connection is reset by it: data for a fully closed connection in
// FIN-WAIT-1 is answered <SEQ=SEG.ACK><CTL=RST>, like Linux's
// tcp_v4_send_reset does.
func TestClose_DataAfterClose_ResetHasNoAck(t *testing.T) {
	h := established(t, plain)
	h.close()
	h.out(seg{flags: "F.", seq: 101, ack: 301, win: 65535})
	h.in(seg{flags: "P.", seq: 301, ack: 101, win: 65535, data: "late"})
	h.out(seg{flags: "R", seq: 101})
	h.none()
	h.state(StateClosed)
}

// CLOSE with data the peer's window holds back queues the FIN behind it
// in FIN-WAIT-1; the peer's FIN then takes us to CLOSING with that data
// and our FIN still unsent, and they must go out as the window opens
// (output in CLOSING). Without it both ends wait for ever: we for the
// window to be used, the peer for our data and FIN. Under
// FinWithClosingAck the ACK of the peer's FIN is no FIN of ours either:
// we have sent none yet.
func TestClosing_SendsQueuedDataAndFin(t *testing.T) {
	for _, on := range []bool{false, true} {
		cfg := plain
		cfg.FinWithClosingAck = on
		h := established(t, cfg)
		h.in(seg{flags: ".", seq: 301, ack: 101, win: 3}) // the peer's window shrinks to 3
		h.none()
		h.write("abcdef")
		h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535, data: "abc"})
		h.none()
		h.trans = nil
		h.close()
		h.none() // "def" and the FIN wait for the window
		h.transitions("ESTABLISHED -> FIN-WAIT-1")
		h.trans = nil
		h.in(seg{flags: "F.", seq: 301, ack: 104, win: 3}) // the peer's FIN, ACKing "abc"
		h.transitions("FIN-WAIT-1 -> CLOSING")
		h.out(seg{flags: "FP.", seq: 104, ack: 302, win: 65535, data: "def"})
		h.none()
		h.in(seg{flags: ".", seq: 302, ack: 108, win: 3})
		h.none()
		h.state(StateTimeWait)
	}
}

// In LAST-ACK, as in the other states with data of ours in flight, what
// a timeout or the ACKs mark lost is resent as the ACKs open the
// congestion window, not one segment per (backed-off) timeout.
func TestLastAck_RetransmitsAsAcksArrive(t *testing.T) {
	h := established(t, plain)
	h.in(seg{flags: "F.", seq: 301, ack: 101, win: 65535})
	h.out(seg{flags: ".", seq: 101, ack: 302, win: 65535})
	a, b := strings.Repeat("a", 1460), strings.Repeat("b", 1460)
	h.write(a + b)
	h.out(seg{flags: ".", seq: 101, ack: 302, win: 65535, data: a})
	h.out(seg{flags: "P.", seq: 1561, ack: 302, win: 65535, data: b})
	h.none()
	h.trans = nil
	h.close()
	h.out(seg{flags: "F.", seq: 3021, ack: 302, win: 65535})
	h.none()
	h.transitions("CLOSE-WAIT -> LAST-ACK")
	h.after(200 * time.Millisecond) // all three lost: the RTO resends the first
	h.out(seg{flags: ".", seq: 101, ack: 302, win: 65535, data: a})
	h.none()
	h.after(time.Millisecond)
	h.in(seg{flags: ".", seq: 302, ack: 1561, win: 65535})
	h.out(seg{flags: "P.", seq: 1561, ack: 302, win: 65535, data: b})
	h.out(seg{flags: "F.", seq: 3021, ack: 302, win: 65535})
	h.none()
	h.in(seg{flags: ".", seq: 302, ack: 3022, win: 65535})
	h.state(StateClosed)
}
