package tcp

import (
	"syscall"
	"testing"
)

// Segment acceptability (RFC 9293 §3.10.7.4, first), RST and SYN handling
// (RFC 5961 §3, §4) and ACK checks (RFC 5961 §5) in synchronized states.
// established() leaves SND.NXT=101, RCV.NXT=301, RCV.WND=65535.

// Each synchronized state and the RST that ends it: exact RCV.NXT.
func rstIn(t *testing.T, to func(h *harness), rcvNxt uint32, want State, wantErr error) {
	h := established(t, plain)
	to(h)
	h.state(want)
	h.trans = nil
	h.in(seg{flags: "R", seq: rcvNxt})
	h.none()
	h.transitions(want.String() + " -> CLOSED")
	h.err(wantErr)
	h.deadline(0)
	h.check(h.tcb.Done(), "not Done")
}

func TestTransition_Established_Closed_Rst(t *testing.T) {
	rstIn(t, func(h *harness) {}, 301, StateEstablished, syscall.ECONNRESET)
}

func TestTransition_FinWait1_Closed_Rst(t *testing.T) {
	rstIn(t, func(h *harness) {
		h.close()
		h.out(seg{flags: "F.", seq: 101, ack: 301, win: 65535})
	}, 301, StateFinWait1, syscall.ECONNRESET)
}

func TestTransition_FinWait2_Closed_Rst(t *testing.T) {
	rstIn(t, func(h *harness) {
		h.closeWrite()
		h.out(seg{flags: "F.", seq: 101, ack: 301, win: 65535})
		h.in(seg{flags: ".", seq: 301, ack: 102, win: 65535})
	}, 301, StateFinWait2, syscall.ECONNRESET)
}

func TestTransition_CloseWait_Closed_Rst(t *testing.T) {
	rstIn(t, func(h *harness) {
		h.in(seg{flags: "F.", seq: 301, ack: 101, win: 65535})
		h.out(seg{flags: ".", seq: 101, ack: 302, win: 65535})
	}, 302, StateCloseWait, syscall.ECONNRESET)
}

// In CLOSING and LAST-ACK a RST ends the connection with ECONNRESET (our
// FIN was not acknowledged), as on Linux and FreeBSD; TIME-WAIT ignores it
// (TestTimeWait_RstIgnored in timewait_test.go).
func TestTransition_Closing_Closed_Rst(t *testing.T) {
	rstIn(t, func(h *harness) {
		h.close()
		h.out(seg{flags: "F.", seq: 101, ack: 301, win: 65535})
		h.in(seg{flags: "F.", seq: 301, ack: 101, win: 65535})
		h.out(seg{flags: ".", seq: 102, ack: 302, win: 65535})
	}, 302, StateClosing, syscall.ECONNRESET)
}

func TestTransition_LastAck_Closed_Rst(t *testing.T) {
	rstIn(t, func(h *harness) {
		h.in(seg{flags: "F.", seq: 301, ack: 101, win: 65535})
		h.out(seg{flags: ".", seq: 101, ack: 302, win: 65535})
		h.close()
		h.out(seg{flags: "F.", seq: 101, ack: 302, win: 65535})
	}, 302, StateLastAck, syscall.ECONNRESET)
}

// RFC 5961 §3.2: a RST resets only at exactly RCV.NXT; elsewhere in the
// window it draws a challenge ACK; outside the window it is ignored.
func TestRstAcceptability(t *testing.T) {
	h := established(t, plain)
	h.in(seg{flags: "R", seq: 302}) // in the window, not exact
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535})
	h.none()
	h.state(StateEstablished)
	h.in(seg{flags: "R", seq: 301 + 65535}) // just past the window
	h.none()
	h.in(seg{flags: "R", seq: 300}) // just before it
	h.none()
	h.state(StateEstablished)
	h.in(seg{flags: "R.", seq: 301, ack: 101})
	h.none()
	h.state(StateClosed)
	h.err(syscall.ECONNRESET)
}

// After a reset, data already received is still read, then the error.
func TestReadAfterReset(t *testing.T) {
	h := established(t, plain)
	h.in(seg{flags: "P.", seq: 301, ack: 101, win: 65535, data: "last words"})
	h.in(seg{flags: "R", seq: 311})
	h.state(StateClosed)
	h.readAll("last words")
	_, err := h.read(10)
	h.check(err == syscall.ECONNRESET, "Read: %v", err)
	_, err = h.tcb.Write([]byte("x"), h.now)
	h.check(err == syscall.ECONNRESET, "Write: %v", err)
}

// RFC 5961 §4: any SYN in a synchronized state draws a challenge ACK.
func TestSynInEstablished_ChallengeAck(t *testing.T) {
	h := established(t, plain)
	h.in(seg{flags: "S", seq: 5000, win: 65535, opts: mss(1460)}) // inside the window
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535})
	h.none()
	h.in(seg{flags: "S", seq: 100, win: 65535, opts: mss(1460)}) // outside it
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535})
	h.none()
	h.state(StateEstablished)
}

// The four cases of the acceptability test with a non-zero window.
func TestAcceptability_Window(t *testing.T) {
	h := established(t, plain)
	// Zero length, before RCV.NXT: not acceptable, ACK.
	h.in(seg{flags: ".", seq: 300, ack: 101, win: 65535})
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535})
	// Zero length at RCV.NXT+RCV.WND: not acceptable (once the rate
	// limit of such ACKs allows another, oow_test.go).
	h.after(DefaultInvalidRateLimit)
	h.in(seg{flags: ".", seq: 301 + 65535, ack: 101, win: 65535})
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535})
	// Zero length at RCV.NXT: acceptable, nothing to say.
	h.in(seg{flags: ".", seq: 301, ack: 101, win: 65535})
	h.none()
	// Data wholly before RCV.NXT (a duplicate): ACK.
	h.in(seg{flags: "P.", seq: 291, ack: 101, win: 65535, data: "0123456789"})
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535})
	// Data overlapping RCV.NXT: the new part is taken, ACKed at once.
	h.in(seg{flags: "P.", seq: 296, ack: 101, win: 65535, data: "0123456789"})
	h.out(seg{flags: ".", seq: 101, ack: 306, win: 65530})
	h.readAll("56789")
	h.none()
}

// With a zero receive window only zero-length segments at RCV.NXT are
// acceptable; a zero-window probe is answered with an ACK of window 0.
func TestAcceptability_ZeroWindow(t *testing.T) {
	cfg := plain
	cfg.ReceiveBufferSize = 10
	h := active(t, cfg)
	h.out(seg{flags: "S", seq: iss, win: 10, opts: mss(1460)})
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 65535, opts: mss(1460)})
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 10})
	h.in(seg{flags: "P.", seq: 301, ack: 101, win: 65535, data: "0123456789"})
	h.none() // delayed
	h.check(h.info().RcvWnd == 0, "RCV.WND %d", h.info().RcvWnd)
	// Zero-window probe: one byte at RCV.NXT.
	h.in(seg{flags: "P.", seq: 311, ack: 101, win: 65535, data: "x"})
	h.out(seg{flags: ".", seq: 101, ack: 311, win: 0})
	// An ACK at RCV.NXT is acceptable and processed.
	h.write("hi")
	h.out(seg{flags: "P.", seq: 101, ack: 311, win: 0, data: "hi"})
	h.in(seg{flags: ".", seq: 311, ack: 103, win: 65535})
	h.none()
	h.check(h.info().SndUna == 103, "SND.UNA %d", h.info().SndUna)
	// Past RCV.NXT with zero length: not acceptable.
	h.in(seg{flags: ".", seq: 312, ack: 103, win: 65535})
	h.out(seg{flags: ".", seq: 103, ack: 311, win: 0})
	// Reading everything reopens the window with an update.
	h.readAll("0123456789")
	h.out(seg{flags: ".", seq: 103, ack: 311, win: 10})
	h.none()
}

// RFC 5961 §5.2: an ACK of data not yet sent, or older than
// SND.UNA−MAX.SND.WND, is dropped (its data too). The old one is answered
// with a challenge ACK; the one above SND.NXT silently, as Linux's
// tcp_ack (no ACK war between ends that disagree about SND.NXT).
func TestAckAcceptability(t *testing.T) {
	h := established(t, plain)
	h.in(seg{flags: "P.", seq: 301, ack: 102, win: 65535, data: "future"}) // SEG.ACK > SND.NXT
	h.none()
	h.check(!h.tcb.Readable(), "dropped data was delivered")
	h.in(seg{flags: "P.", seq: 301, ack: sub(101, 65536), win: 65535, data: "ancient"})
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535})
	h.none()
	h.check(!h.tcb.Readable(), "dropped data was delivered")
	// An old but acceptable ACK (a duplicate) still carries data.
	h.in(seg{flags: "P.", seq: 301, ack: sub(101, 65535), win: 65535, data: "ok"})
	h.readAll("ok")
}

// The window is updated only by segments newer than the last update
// (SND.WL1, SND.WL2 of §3.10.7.4).
func TestWindowUpdate_WL1WL2(t *testing.T) {
	h := established(t, plain)
	h.in(seg{flags: "P.", seq: 301, ack: 101, win: 4000, data: "abcd"})
	h.check(h.info().SndWnd == 4000 && h.info().SndWL1 == 301, "%+v", h.info())
	// Out of order: acceptable, so it updates the window (WL1=309).
	h.in(seg{flags: "P.", seq: 309, ack: 101, win: 3000, data: "ijkl"})
	h.out(seg{flags: ".", seq: 101, ack: 305, win: 65531})
	h.check(h.info().SndWnd == 3000 && h.info().SndWL1 == 309, "%+v", h.info())
	// The hole is filled by an older segment (SEG.SEQ < SND.WL1): its
	// window is not taken.
	h.in(seg{flags: "P.", seq: 305, ack: 101, win: 9999, data: "efgh"})
	h.out(seg{flags: ".", seq: 101, ack: 313, win: 65523})
	h.check(h.info().SndWnd == 3000, "SND.WND %d", h.info().SndWnd)
	// A newer segment (SEG.SEQ > SND.WL1) updates it.
	h.in(seg{flags: ".", seq: 313, ack: 101, win: 5000})
	h.none()
	h.check(h.info().SndWnd == 5000, "SND.WND %d", h.info().SndWnd)
	h.readAll("abcdefghijkl")
}

// Segments without ACK are dropped in synchronized states.
func TestNoAckDropped(t *testing.T) {
	h := established(t, plain)
	h.in(seg{flags: "P", seq: 301, win: 65535, data: "noack"})
	h.none()
	h.check(!h.tcb.Readable(), "data without ACK delivered")
}

// sub is a−b modulo 2^32.
func sub(a, b uint32) uint32 { return a - b }
