package tcp

import (
	"syscall"
	"testing"
	"time"
)

// Opening a connection: RFC 9293 §3.5 and §3.10.7.2–3.

func TestTransition_Closed_SynSent_ActiveOpen(t *testing.T) {
	h := active(t, plain)
	h.state(StateSynSent)
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: mss(1460)})
	h.none()
	h.deadline(time.Second)
	i := h.info()
	h.check(i.SndUna == iss && i.SndNxt == iss+1, "SND.UNA=%d SND.NXT=%d", i.SndUna, i.SndNxt)
}

func TestTransition_SynSent_Established_SynAck(t *testing.T) {
	h := active(t, plain)
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: mss(1460)})
	h.after(30 * time.Millisecond)
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 29200, opts: mss(1400)})
	h.out(seg{flags: ".", seq: iss + 1, ack: peer + 1, win: 65535})
	h.none()
	h.state(StateEstablished)
	h.deadline(0)
	i := h.info()
	h.check(i.IRS == peer && i.RcvNxt == peer+1 && i.SndUna == iss+1 && i.SndWnd == 29200 &&
		i.SndMSS == 1400 && i.SndWL1 == peer && i.SndWL2 == iss+1, "%+v", i)
	// RFC 6298 §2.2: the handshake gave the first sample, 30 ms.
	h.check(i.SRTT == 30*time.Millisecond && i.RTTVar == 15*time.Millisecond && i.RTO == 200*time.Millisecond,
		"SRTT %v RTTVAR %v RTO %v", i.SRTT, i.RTTVar, i.RTO)
}

func TestTransition_Listen_SynReceived_Syn(t *testing.T) {
	h := passive(t, plain, seg{flags: "S", seq: peer, win: 65535, opts: mss(1460)})
	h.state(StateSynReceived)
	h.out(seg{flags: "S.", seq: iss, ack: peer + 1, win: 65535, opts: mss(1460)})
	h.none()
	h.deadline(time.Second)
	h.check(h.tcb.Passive(), "Passive() = false")
}

func TestTransition_SynReceived_Established_Ack(t *testing.T) {
	h := passive(t, plain, seg{flags: "S", seq: peer, win: 65535, opts: mss(1460)})
	h.out(seg{flags: "S.", seq: iss, ack: peer + 1, win: 65535, opts: mss(1460)})
	h.in(seg{flags: ".", seq: peer + 1, ack: iss + 1, win: 1000})
	h.none()
	h.state(StateEstablished)
	h.deadline(0)
	h.check(h.info().SndWnd == 1000, "SND.WND %d", h.info().SndWnd)
}

// A SYN-RECEIVED TCB answers an ACK that does not acknowledge its SYN with
// <SEQ=SEG.ACK><CTL=RST> and stays.
func TestSynReceived_BadAck_Reset(t *testing.T) {
	h := passive(t, plain, seg{flags: "S", seq: peer, win: 65535, opts: mss(1460)})
	h.out(seg{flags: "S.", seq: iss, ack: peer + 1, win: 65535, opts: mss(1460)})
	h.in(seg{flags: ".", seq: peer + 1, ack: 5000, win: 1000})
	h.out(seg{flags: "R", seq: 5000})
	h.none()
	h.state(StateSynReceived)
}

// A retransmitted SYN means our SYN-ACK was lost: it is sent again.
func TestSynReceived_DuplicateSyn_ResendsSynAck(t *testing.T) {
	h := passive(t, plain, seg{flags: "S", seq: peer, win: 65535, opts: mss(1460)})
	h.out(seg{flags: "S.", seq: iss, ack: peer + 1, win: 65535, opts: mss(1460)})
	h.after(500 * time.Millisecond)
	h.in(seg{flags: "S", seq: peer, win: 65535, opts: mss(1460)})
	h.out(seg{flags: "S.", seq: iss, ack: peer + 1, win: 65535, opts: mss(1460)})
	h.none()
	h.state(StateSynReceived)
	h.deadline(time.Second) // the retransmission timer is not restarted
}

func TestThirdAckCarriesData(t *testing.T) {
	h := passive(t, plain, seg{flags: "S", seq: peer, win: 65535, opts: mss(1460)})
	h.out(seg{flags: "S.", seq: iss, ack: peer + 1, win: 65535, opts: mss(1460)})
	h.in(seg{flags: "P.", seq: peer + 1, ack: iss + 1, win: 65535, data: "hello"})
	h.state(StateEstablished)
	h.none()                          // the ACK is delayed
	h.deadline(40 * time.Millisecond) // DelayedACK
	h.readAll("hello")
	h.at(40 * time.Millisecond)
	// The right edge stays put: reopening 5 bytes is below the receiver's
	// SWS threshold (RFC 9293 §3.8.6.2.2).
	h.out(seg{flags: ".", seq: iss + 1, ack: peer + 6, win: 65530})
	h.none()
}

// Data on a SYN is not delivered before ESTABLISHED: RCV.NXT = IRS+1 and
// the peer sends the data again.
func TestSynWithData_NotDelivered(t *testing.T) {
	h := passive(t, plain, seg{flags: "S", seq: peer, win: 65535, opts: mss(1460), data: "early"})
	h.out(seg{flags: "S.", seq: iss, ack: peer + 1, win: 65535, opts: mss(1460)})
	h.check(!h.tcb.Readable(), "readable in SYN-RECEIVED")
	h.in(seg{flags: ".", seq: peer + 1, ack: iss + 1, win: 65535})
	h.state(StateEstablished)
	got, err := h.read(10)
	h.check(got == "" && err == nil, "Read: %q, %v", got, err)
	h.in(seg{flags: "P.", seq: peer + 1, ack: iss + 1, win: 65535, data: "early"})
	h.readAll("early")
}

// The active side takes data on a SYN-ACK: RFC 9293 §3.10.7.3, SYN-SENT,
// "If there are other controls or text in the segment, then continue
// processing at the sixth step" — the ACK completing the handshake
// acknowledges it.
func TestSynAckWithData_Delivered(t *testing.T) {
	h := active(t, plain)
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: mss(1460)})
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 65535, opts: mss(1460), data: "early"})
	h.out(seg{flags: ".", seq: iss + 1, ack: peer + 6, win: 65530})
	h.state(StateEstablished)
	h.readAll("early")
}

// Simultaneous open (RFC 9293 Figure 7): both sides send a SYN, each
// answers the other's with a SYN-ACK, and each SYN-ACK completes the
// handshake. The SYN-ACK, a SYN in a synchronized state, is acknowledged
// at once (§3.10.7.4, RFC 5961 §4; Linux does): the peer may have lost
// our SYN-ACK.
func TestTransition_SynSent_SynReceived_SimultaneousOpen(t *testing.T) {
	h := active(t, plain)
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: mss(1460)})
	h.in(seg{flags: "S", seq: peer, win: 65535, opts: mss(1460)})
	h.state(StateSynReceived)
	h.out(seg{flags: "S.", seq: iss, ack: peer + 1, win: 65535, opts: mss(1460)})
	h.none()
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 65535, opts: mss(1460)})
	h.state(StateEstablished)
	h.out(seg{flags: ".", seq: iss + 1, ack: peer + 1, win: 65535})
	h.none()
	h.deadline(0)
	h.check(!h.tcb.Passive(), "Passive() = true")
}

// Simultaneous open where the other side's SYN-ACK is lost and its plain
// ACK arrives instead.
func TestSimultaneousOpen_AckCompletes(t *testing.T) {
	h := active(t, plain)
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: mss(1460)})
	h.in(seg{flags: "S", seq: peer, win: 65535, opts: mss(1460)})
	h.out(seg{flags: "S.", seq: iss, ack: peer + 1, win: 65535, opts: mss(1460)})
	h.in(seg{flags: ".", seq: peer + 1, ack: iss + 1, win: 65535})
	h.state(StateEstablished)
	h.none()
}

// RFC 9293 Figure 8 ("why three and not two"): an old duplicate SYN
// reaches the peer, whose SYN-ACK acknowledges a sequence number we never
// sent. We answer <SEQ=SEG.ACK><CTL=RST> and stay in SYN-SENT; the
// answer to our real SYN then completes the handshake.
func TestOldDuplicateSyn(t *testing.T) {
	h := active(t, plain)
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: mss(1460)})
	h.in(seg{flags: "S.", seq: 800, ack: 91, win: 65535, opts: mss(1460)})
	h.out(seg{flags: "R", seq: 91})
	h.none()
	h.state(StateSynSent)
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 65535, opts: mss(1460)})
	h.out(seg{flags: ".", seq: iss + 1, ack: peer + 1, win: 65535})
	h.state(StateEstablished)
}

// In SYN-SENT an ACK of our ISS itself (SEG.ACK =< ISS) is unacceptable too.
func TestSynSent_AckOfISS_Reset(t *testing.T) {
	h := active(t, plain)
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: mss(1460)})
	h.in(seg{flags: ".", seq: peer, ack: iss, win: 65535})
	h.out(seg{flags: "R", seq: iss})
	h.state(StateSynSent)
	// An unacceptable ACK on a RST is dropped without an answer.
	h.in(seg{flags: "R.", seq: peer, ack: iss + 5})
	h.none()
	h.state(StateSynSent)
	// So is an acceptable ACK without SYN or RST.
	h.in(seg{flags: ".", seq: peer, ack: iss + 1, win: 65535})
	h.none()
	h.state(StateSynSent)
}

func TestTransition_SynSent_Closed_RstRefused(t *testing.T) {
	h := active(t, plain)
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: mss(1460)})
	// RFC 5961 §3.2: a RST without an acceptable ACK is ignored.
	h.in(seg{flags: "R", seq: 0})
	h.none()
	h.state(StateSynSent)
	h.in(seg{flags: "R.", seq: 0, ack: iss + 1})
	h.none()
	h.state(StateClosed)
	h.err(syscall.ECONNREFUSED)
	h.check(h.tcb.Done(), "not Done")
	h.deadline(0)
	_, err := h.tcb.Write([]byte("x"), h.now)
	h.check(err == syscall.ECONNREFUSED, "Write: %v", err)
}

func TestTransition_SynSent_Closed_Close(t *testing.T) {
	h := active(t, plain)
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: mss(1460)})
	h.close()
	h.none()
	h.state(StateClosed)
	h.err(nil)
	h.deadline(0)
	h.check(h.tcb.Done(), "not Done")
}

// SYN retransmissions back off exponentially: 1s, 2s, 4s, ... from the
// first SYN; after SynRetries (6) the connect fails with ETIMEDOUT at 127s.
func TestTransition_SynSent_Closed_SynRetriesExhausted(t *testing.T) {
	h := active(t, plain)
	syn := seg{flags: "S", seq: iss, win: 65535, opts: mss(1460)}
	h.out(syn)
	at := time.Duration(0)
	for i, rto := range []time.Duration{1, 2, 4, 8, 16, 32} {
		at += rto * time.Second
		h.deadline(at)
		h.at(at - time.Millisecond)
		h.none()
		h.at(at)
		h.out(syn)
		h.none()
		h.check(h.info().Retransmits == i+1, "Retransmits %d", h.info().Retransmits)
	}
	h.deadline(127 * time.Second)
	h.at(127 * time.Second)
	h.none()
	h.state(StateClosed)
	h.err(syscall.ETIMEDOUT)
	h.deadline(0)
}

// After a retransmitted SYN the RTO starts at 3 s when data transmission
// begins (RFC 6298 §5.7), since Karn's rule forbade a sample.
func TestSynRetransmitted_RTOThreeSeconds(t *testing.T) {
	h := active(t, plain)
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: mss(1460)})
	h.at(time.Second)
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: mss(1460)})
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 65535, opts: mss(1460)})
	h.out(seg{flags: ".", seq: iss + 1, ack: peer + 1, win: 65535})
	i := h.info()
	h.check(i.RTO == 3*time.Second && i.SRTT == 0, "RTO %v SRTT %v", i.RTO, i.SRTT)
}

// A passive TCB retransmits its SYN-ACK SynAckRetries (5) times, then is
// dropped silently: CLOSED, Done, no error.
func TestSynAckRetriesExhausted(t *testing.T) {
	h := passive(t, plain, seg{flags: "S", seq: peer, win: 65535, opts: mss(1460)})
	synAck := seg{flags: "S.", seq: iss, ack: peer + 1, win: 65535, opts: mss(1460)}
	h.out(synAck)
	at := time.Duration(0)
	for _, rto := range []time.Duration{1, 2, 4, 8, 16} {
		at += rto * time.Second
		h.at(at)
		h.out(synAck)
	}
	h.deadline(63 * time.Second)
	h.at(63 * time.Second)
	h.none()
	h.state(StateClosed)
	h.err(nil)
	h.check(h.tcb.Done(), "not Done")
}

// Passive SYN-RECEIVED returns to LISTEN on a RST (§3.10.7.4, second): the
// TCB is Done and reports no error; the listener forgets it.
func TestTransition_SynReceived_Listen_Rst(t *testing.T) {
	h := passive(t, plain, seg{flags: "S", seq: peer, win: 65535, opts: mss(1460)})
	h.out(seg{flags: "S.", seq: iss, ack: peer + 1, win: 65535, opts: mss(1460)})
	h.in(seg{flags: "R", seq: peer + 1})
	h.none()
	h.state(StateListen)
	h.err(nil)
	h.deadline(0)
	h.check(h.tcb.Done(), "not Done")
}

// A new SYN inside the window of a passive SYN-RECEIVED TCB also returns
// it to LISTEN (§3.10.7.4, fourth).
func TestSynReceived_NewSyn_Listen(t *testing.T) {
	h := passive(t, plain, seg{flags: "S", seq: peer, win: 65535, opts: mss(1460)})
	h.out(seg{flags: "S.", seq: iss, ack: peer + 1, win: 65535, opts: mss(1460)})
	h.in(seg{flags: "S", seq: peer + 10, win: 65535, opts: mss(1460)})
	h.none()
	h.state(StateListen)
	h.check(h.tcb.Done(), "not Done")
}

// An active (simultaneous-open) TCB in SYN-RECEIVED is refused by a RST.
func TestTransition_SynReceived_Closed_RstActive(t *testing.T) {
	h := active(t, plain)
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: mss(1460)})
	h.in(seg{flags: "S", seq: peer, win: 65535, opts: mss(1460)})
	h.out(seg{flags: "S.", seq: iss, ack: peer + 1, win: 65535, opts: mss(1460)})
	h.in(seg{flags: "R", seq: peer + 1})
	h.none()
	h.state(StateClosed)
	h.err(syscall.ECONNREFUSED)
}

// CLOSE in SYN-RECEIVED with nothing queued sends a FIN at once
// (§3.10.4) and enters FIN-WAIT-1; the ACK of SYN and FIN ends in FIN-WAIT-2.
func TestTransition_SynReceived_FinWait1_Close(t *testing.T) {
	h := passive(t, plain, seg{flags: "S", seq: peer, win: 65535, opts: mss(1460)})
	h.out(seg{flags: "S.", seq: iss, ack: peer + 1, win: 65535, opts: mss(1460)})
	h.close()
	h.state(StateFinWait1)
	h.out(seg{flags: "F.", seq: iss + 1, ack: peer + 1, win: 65535})
	h.none()
	h.in(seg{flags: ".", seq: peer + 1, ack: iss + 2, win: 65535})
	h.none()
	h.state(StateFinWait2)
	h.deadline(60 * time.Second) // FinWait2Timeout after a full Close
}

func TestHandleListen(t *testing.T) {
	cases := []struct {
		name   string
		in     seg
		action ListenAction
		reply  seg
	}{
		{"RST is ignored", seg{flags: "R", seq: 5}, ListenDrop, seg{}},
		{"RST-ACK is ignored", seg{flags: "R.", seq: 5, ack: 9}, ListenDrop, seg{}},
		{"ACK is reset", seg{flags: ".", seq: 5, ack: 77}, ListenReset, seg{flags: "R", seq: 77}},
		{"SYN-ACK is reset", seg{flags: "S.", seq: 5, ack: 77}, ListenReset, seg{flags: "R", seq: 77}},
		{"SYN is accepted", seg{flags: "S", seq: 5}, ListenAccept, seg{}},
		{"FIN is dropped", seg{flags: "F", seq: 5}, ListenDrop, seg{}},
		{"bare data is dropped", seg{flags: "", seq: 5, data: "x"}, ListenDrop, seg{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := c.in.segment()
			a, r := HandleListen(&s)
			if a != c.action {
				t.Fatalf("action %d, want %d", a, c.action)
			}
			if a == ListenReset {
				if got := fromSegment(&r); got.String() != c.reply.String() {
					t.Fatalf("reply %s, want %s", got, c.reply)
				}
			}
		})
	}
}

func TestResetFor(t *testing.T) {
	cases := []struct {
		name string
		in   seg
		ok   bool
		want seg
	}{
		{"ACK", seg{flags: ".", seq: 5, ack: 77}, true, seg{flags: "R", seq: 77}},
		{"SYN", seg{flags: "S", seq: 5}, true, seg{flags: "R.", seq: 0, ack: 6}},
		{"SYN with data", seg{flags: "S", seq: 5, data: "abc"}, true, seg{flags: "R.", seq: 0, ack: 9}},
		{"FIN without ACK", seg{flags: "F", seq: 5, data: "ab"}, true, seg{flags: "R.", seq: 0, ack: 8}},
		{"RST", seg{flags: "R", seq: 5}, false, seg{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := c.in.segment()
			r, ok := ResetFor(&s)
			if ok != c.ok {
				t.Fatalf("ok %v, want %v", ok, c.ok)
			}
			if ok {
				if got := fromSegment(&r); got.String() != c.want.String() {
					t.Fatalf("got %s, want %s", got, c.want)
				}
			}
		})
	}
}

// A SYN-ACK that echoes a TSecr none of our SYNs carried is answered with
// <SEQ=SEG.ACK><CTL=RST> and the TCB keeps waiting, as Linux does (its
// fastopen/client/synack-data.pkt, TEST5); a RST that does so is dropped
// unanswered; the peer's real SYN-ACK then opens the connection.
func TestSynSent_ForgedEcho_Reset(t *testing.T) {
	cfg := plain
	cfg.DisableTimestamps = false
	h := active(t, cfg)
	syn := h.tsval()
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: o(mss(1460), ts(syn, 0))})
	h.after(10 * time.Millisecond)
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 29200, opts: o(mss(1400), ts(5000, syn+9999))})
	h.out(seg{flags: "R", seq: iss + 1})
	h.none()
	h.state(StateSynSent)
	h.in(seg{flags: "R.", seq: peer, ack: iss + 1, opts: ts(5000, syn-1)})
	h.none()
	h.state(StateSynSent)
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 29200, opts: o(mss(1400), ts(5000, syn))})
	h.out(seg{flags: ".", seq: iss + 1, ack: peer + 1, win: 65535, opts: ts(h.tsval(), 5000)})
	h.none()
	h.state(StateEstablished)
}
