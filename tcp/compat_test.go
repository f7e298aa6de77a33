package tcp

import (
	"syscall"
	"testing"
)

// The pre-RFC 5961 modes of Config (compat.go). established() leaves
// SND.NXT=101, RCV.NXT=301, RCV.WND=65535.

// InsecureRST: a RST anywhere in the window resets the connection, with
// no challenge ACK (RFC 793); outside the window it is still ignored.
func TestInsecureRST_InWindowResets(t *testing.T) {
	cfg := plain
	cfg.InsecureRST = true
	h := established(t, cfg)
	h.in(seg{flags: "R", seq: 301 + 65535}) // just past the window
	h.none()
	h.in(seg{flags: "R", seq: 300}) // just before it
	h.none()
	h.state(StateEstablished)
	h.in(seg{flags: "R", seq: 301 + 65534}) // the window's last byte
	h.none()
	h.state(StateClosed)
	h.err(syscall.ECONNRESET)
}

// InsecureRST in an active SYN-RECEIVED (simultaneous open): the
// connection is refused.
func TestInsecureRST_SynReceivedRefused(t *testing.T) {
	cfg := plain
	cfg.InsecureRST = true
	h := active(t, cfg)
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: mss(1460)})
	h.in(seg{flags: "S", seq: peer, win: 65535, opts: mss(1460)})
	h.out(seg{flags: "S.", seq: iss, ack: peer + 1, win: 65535, opts: mss(1460)})
	h.state(StateSynReceived)
	h.in(seg{flags: "R", seq: peer + 1000})
	h.none()
	h.state(StateClosed)
	h.err(syscall.ECONNREFUSED)
}

// InsecureSYN: a SYN whose sequence number is in the window resets the
// connection with <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK> (RFC 793 §3.9);
// one outside the window gets an ACK, as by default.
func TestInsecureSYN_InWindowResets(t *testing.T) {
	cfg := plain
	cfg.InsecureSYN = true
	h := established(t, cfg)
	h.in(seg{flags: "S", seq: 100, win: 65535, opts: mss(1460)}) // outside
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535})
	h.none()
	h.state(StateEstablished)
	h.in(seg{flags: "S", seq: 5000, win: 65535, opts: mss(1460)}) // inside
	h.out(seg{flags: "R.", seq: 101, ack: 301, win: 65535})
	h.none()
	h.state(StateClosed)
	h.err(syscall.ECONNRESET)
}

// InsecureSYN looks at SEG.SEQ only: a SYN|FIN just before RCV.NXT, whose
// FIN falls at RCV.NXT, is outside the window (FreeBSD's test) and gets an
// ACK.
func TestInsecureSYN_SeqOnly(t *testing.T) {
	cfg := plain
	cfg.InsecureSYN = true
	h := established(t, cfg)
	h.in(seg{flags: "SF", seq: 300, win: 65535, opts: mss(1460)})
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535})
	h.none()
	h.state(StateEstablished)
}

// DropSynFin: a SYN|FIN reaching SYN-SENT is discarded (by default it is
// a SYN that takes us to SYN-RECEIVED); the connection goes on.
func TestDropSynFin_SynSent(t *testing.T) {
	cfg := plain
	cfg.DropSynFin = true
	h := active(t, cfg)
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: mss(1460)})
	h.in(seg{flags: "SF", seq: peer, win: 65535, opts: mss(1460), data: "abc"})
	h.none()
	h.state(StateSynSent)
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 65535, opts: mss(1460)})
	h.out(seg{flags: ".", seq: iss + 1, ack: peer + 1, win: 65535})
	h.state(StateEstablished)
	h.check(DropsSynFin(&cfg, &Segment{Flags: synFinFlags}), "listener keeps a SYN|FIN")
	h.check(!DropsSynFin(&plain, &Segment{Flags: synFinFlags}), "default drops a SYN|FIN")
}

// One segment duplicating data below RCV.NXT and data held out of order
// reports the part below RCV.NXT in its D-SACK block (the first duplicate
// range, as Linux and FreeBSD report it), not the held part.
func TestDSACK_BelowRcvNxtFirst(t *testing.T) {
	h := establishedSACK(t, sackReno, 0)
	h.in(seg{flags: ".", seq: 301, ack: 101, win: 65535, data: "AAAAAAAAAA"})
	h.at(h.tcb.cfg.DelayedACK)
	h.out(seg{flags: ".", seq: 101, ack: 311, win: 65525})
	h.in(seg{flags: ".", seq: 321, ack: 101, win: 65535, data: "CCCCCCCCCC"})
	h.out(seg{flags: ".", seq: 101, ack: 311, win: 65525, opts: sack(321, 331)})
	// 301..341: 301..311 was received, 311..321 is new, 321..331 held.
	h.in(seg{flags: ".", seq: 301, ack: 101, win: 65535, data: "AAAAAAAAAABBBBBBBBBBCCCCCCCCCCDDDDDDDDDD"})
	h.out(seg{flags: ".", seq: 101, ack: 341, win: 65495, opts: sack(301, 311)})
	h.none()
}

// AcceptToBufferSpace: with a 65700-byte buffer and no window scaling we
// offer 65535, but take segments up to the free buffer, as FreeBSD does:
// a RST at RCV.NXT+65600 gets the challenge ACK of an in-window RST
// (it is ignored as out of the window by default), and a RST at
// RCV.NXT+65700 is still outside.
func TestAcceptToBufferSpace_RSTPastOfferedWindow(t *testing.T) {
	cfg := plain
	cfg.ReceiveBufferSize = 65700
	h := established(t, cfg)
	h.in(seg{flags: "R", seq: 301 + 65600})
	h.none()
	cfg.AcceptToBufferSpace = true
	h = established(t, cfg)
	h.in(seg{flags: "R", seq: 301 + 65700})
	h.none()
	h.in(seg{flags: "R", seq: 301 + 65600})
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535})
	h.none()
	h.state(StateEstablished)
	cfg.InsecureRST = true
	h = established(t, cfg)
	h.in(seg{flags: "R", seq: 301 + 65699})
	h.none()
	h.state(StateClosed)
	h.err(syscall.ECONNRESET)
}

// FinWithClosingAck: the ACK of the peer's FIN in FIN-WAIT-1 (our FIN not
// yet acknowledged) carries our FIN again; by default it is a plain ACK.
func TestFinWithClosingAck(t *testing.T) {
	for _, on := range []bool{false, true} {
		cfg := plain
		cfg.FinWithClosingAck = on
		h := established(t, cfg)
		h.close()
		h.out(seg{flags: "F.", seq: 101, ack: 301, win: 65535})
		h.in(seg{flags: "F.", seq: 301, ack: 101, win: 65535})
		if on {
			h.out(seg{flags: "F.", seq: 101, ack: 302, win: 65535})
		} else {
			h.out(seg{flags: ".", seq: 102, ack: 302, win: 65535})
		}
		h.none()
		h.state(StateClosing)
		h.in(seg{flags: ".", seq: 302, ack: 102, win: 65535})
		h.state(StateTimeWait)
	}
}

// ECNAcceptOnly (tcp_ecn=2, ecn.enable=2): our SYN asks for no ECN, a
// peer's ECN-setup SYN is accepted with ECE on the SYN-ACK, and new data
// is then ECN-capable.
func TestECNAcceptOnly(t *testing.T) {
	cfg := plain
	cfg.ECNAcceptOnly = true
	h := active(t, cfg)
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: mss(1460)})
	h = passive(t, cfg, seg{flags: "SEW", seq: peer, win: 65535, opts: mss(1460)})
	h.out(seg{flags: "S.E", seq: iss, ack: peer + 1, win: 65535, opts: mss(1460)})
	h.in(seg{flags: ".", seq: peer + 1, ack: iss + 1, win: 65535})
	h.state(StateEstablished)
	h.write("hello")
	h.out(seg{flags: "P.", seq: 101, ack: 301, win: 65535, data: "hello", ect: true})
}
