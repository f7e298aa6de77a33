package tcp

import (
	"strings"
	"testing"
	"time"

	"github.com/synack/synack/tcp/cc"
)

// SACK (RFC 2018, D-SACK RFC 2883), SACK-based recovery (RFC 6675),
// RACK-TLP (RFC 8985) and spurious-retransmission undo.

var sackReno = Config{DisableTimestamps: true, DisableWScale: true, CongestionControl: "newreno"}

// establishedSACK opens a connection with SACK permitted; the SYN-ACK
// comes after rtt, so SRTT = rtt.
func establishedSACK(t *testing.T, cfg Config, rtt time.Duration) *harness {
	h := active(t, cfg)
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: o(mss(1460), sackOK())})
	h.at(rtt)
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 65535, opts: o(mss(1460), sackOK())})
	h.out(seg{flags: ".", seq: iss + 1, ack: peer + 1, win: 65535})
	h.state(StateEstablished)
	return h
}

func sackAck(n uint32, blocks ...uint32) seg {
	return seg{flags: ".", seq: 301, ack: n, win: 65535, opts: sack(blocks...)}
}

// Out-of-order data is acknowledged at once with SACK blocks, the block
// of the latest segment first; a duplicate is reported in a D-SACK block
// first (followed by the block that holds it), also below the ACK.
func TestSACK_ReceiverBlocksAndDSACK(t *testing.T) {
	h := establishedSACK(t, sackReno, 0)
	h.in(seg{flags: ".", seq: 311, ack: 101, win: 65535, data: "BBBBBBBBBB"})
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535, opts: sack(311, 321)})
	h.in(seg{flags: ".", seq: 331, ack: 101, win: 65535, data: "DDDDDDDDDD"})
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535, opts: sack(331, 341, 311, 321)})
	h.in(seg{flags: ".", seq: 351, ack: 101, win: 65535, data: "FFFFFFFFFF"})
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535, opts: sack(351, 361, 331, 341, 311, 321)})
	// A duplicate of the first block.
	h.in(seg{flags: ".", seq: 311, ack: 101, win: 65535, data: "BBBBBBBBBB"})
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535, opts: sack(311, 321, 311, 321, 351, 361, 331, 341)})
	// The hole fills: RCV.NXT jumps to 321.
	h.in(seg{flags: ".", seq: 301, ack: 101, win: 65535, data: "AAAAAAAAAA"})
	h.out(seg{flags: ".", seq: 101, ack: 321, win: 65515, opts: sack(351, 361, 331, 341)})
	// A duplicate below RCV.NXT.
	h.in(seg{flags: ".", seq: 301, ack: 101, win: 65535, data: "AAAAAAAAAA"})
	h.out(seg{flags: ".", seq: 101, ack: 321, win: 65515, opts: sack(301, 311, 351, 361, 331, 341)})
	h.none()
	h.readAll("AAAAAAAAAABBBBBBBBBB")
}

// RFC 6675 without RACK: a segment is lost once DupThresh segments above
// it are SACKed; then cwnd = ssthresh = FlightSize/2 and pipe decides
// what may go. Before that, each SACK lets one new segment out as pipe
// falls (limited transmit, RFC 3042). FlightSize is capped at cwnd (10
// segments here, not the 12 outstanding): the two limited-transmit
// segments do not raise the threshold. The retransmission goes first, new
// data when pipe allows.
func TestSACK_RFC6675Recovery(t *testing.T) {
	cfg := sackReno
	cfg.DisableRACK = true
	cfg.DisablePRR = true // RFC 6675's own cwnd − pipe rule (PRR: prr_test.go)
	h := establishedSACK(t, cfg, 0)
	data := full(20)
	h.write(data)
	for k := range 10 {
		h.out(dataSeg(data, k*1460, burst(k, 10, 44)))
	}
	h.at(50 * time.Millisecond)
	h.in(sackAck(101, 1561, 3021))
	h.out(dataSeg(data, 10*1460, "."))
	h.in(sackAck(101, 1561, 4481))
	h.out(dataSeg(data, 11*1460, "."))
	h.none()
	h.in(sackAck(101, 1561, 5941)) // three segments above the first: lost
	h.out(dataSeg(data, 0, "."))
	h.none()
	i := h.info()
	h.check(i.InRecovery && i.Ssthresh == 7300 && i.Cwnd == 7300, "%+v", i)
	h.in(sackAck(101, 1561, 7401))  // pipe 11680
	h.in(sackAck(101, 1561, 8861))  // pipe 10220
	h.in(sackAck(101, 1561, 10321)) // pipe 8760
	h.in(sackAck(101, 1561, 11781)) // pipe 7300
	h.none()
	h.in(sackAck(101, 1561, 13241)) // pipe 5840: one new segment
	h.out(dataSeg(data, 12*1460, "."))
	h.none()
	h.at(100 * time.Millisecond)
	h.in(ack(101 + 12*1460)) // RecoveryPoint: cwnd = ssthresh, 1 segment in flight
	for k := 13; k < 17; k++ {
		h.out(dataSeg(data, k*1460, burst(k-13, 4, 44)))
	}
	h.none()
	i = h.info()
	h.check(!i.InRecovery && i.Cwnd == 7300 && i.TotalRetransmits == 1 && i.SpuriousRetransmits == 0, "%+v", i)
}

// RACK: a segment sent before one that was delivered is lost once
// RACK.rtt + reo_wnd (min_RTT/4 = 25 ms) has passed since it was sent; the
// reordering timer fires at that instant. The D-SACK that shows it only
// was late counts the retransmission as spurious and undoes the window
// reduction.
func TestRACK_ReorderTimerAndDSACKUndo(t *testing.T) {
	h := establishedSACK(t, sackReno, 100*time.Millisecond)
	data := full(5)
	h.write(data)
	for k := range 4 {
		h.out(dataSeg(data, k*1460, burst(k, 5, 2)))
	}
	h.out(dataSeg(data, 4*1460, "P."))
	h.none()
	h.deadline(302 * time.Millisecond) // the probe (2·SRTT + 2 ms) before the RTO (400 ms)
	h.at(200 * time.Millisecond)
	h.in(sackAck(101, 1561, 3021))
	h.none()
	h.deadline(225 * time.Millisecond)
	h.at(224 * time.Millisecond)
	h.none()
	h.at(225 * time.Millisecond)
	h.out(dataSeg(data, 0, "."))
	h.none()
	i := h.info()
	// PRR's window on entering recovery by the timer: pipe (5 segments
	// less the SACKed and the lost one) plus the fast retransmit.
	h.check(i.InRecovery && i.Cwnd == 4*1460 && i.Ssthresh == 3650 && i.MinRTT == 100*time.Millisecond, "%+v", i)
	// The original arrives after all: everything is acknowledged and the
	// retransmission is reported as a duplicate. The window is restored
	// and grows by the four segments this ACK delivered (the second was
	// delivered by the SACK before, in recovery, where nothing grows).
	h.at(300 * time.Millisecond)
	h.in(sackAck(101+5*1460, 101, 1561))
	h.none()
	i = h.info()
	h.check(!i.InRecovery && i.TotalRetransmits == 1 && i.SpuriousRetransmits == 1 &&
		i.Ssthresh == cc.InfiniteSsthresh && i.Cwnd == 14600+4*1460, "%+v", i)
}

// The tail loss probe (RFC 8985 §7): 2·SRTT plus the probe slack (2 ms,
// Linux's TCP_TIMEOUT_MIN) after the last send, with no new data to
// send, the last segment goes again; the RTO is re-armed.
func TestTLP_ProbeRetransmitsLastSegment(t *testing.T) {
	h := establishedSACK(t, sackReno, 100*time.Millisecond)
	data := full(3)
	h.write(data)
	h.out(dataSeg(data, 0, "."))
	h.out(dataSeg(data, 1460, "P."))
	h.out(dataSeg(data, 2920, "P."))
	h.none()
	h.deadline(302 * time.Millisecond)
	h.at(301 * time.Millisecond)
	h.none()
	h.at(302 * time.Millisecond)
	h.out(dataSeg(data, 2920, "P."))
	h.none()
	h.deadline(602 * time.Millisecond)
	h.check(h.info().TotalRetransmits == 1, "%+v", h.info())
	// It was not needed: the D-SACK says so.
	h.at(350 * time.Millisecond)
	h.in(sackAck(101+3*1460, 2921, 4481))
	h.deadline(0)
	h.check(h.info().SpuriousRetransmits == 1, "%+v", h.info())
}

// tlpEpisode sends eight segments 100 ms after the handshake (SRTT 100
// ms), lets the tail loss probe resend the last at 302 ms, and has every
// byte up to TLP.end_seq acknowledged at 350 ms: whether the original
// or the probe delivered the last segment is not known yet.
func tlpEpisode(t *testing.T) *harness {
	h := establishedSACK(t, sackReno, 100*time.Millisecond)
	data := full(8)
	h.write(data)
	for i := range 7 {
		h.out(dataSeg(data, i*1460, burst(i, 8, 2)))
	}
	h.out(dataSeg(data, 7*1460, "P."))
	h.none()
	h.at(302 * time.Millisecond)
	h.out(dataSeg(data, 7*1460, "P."))
	h.none()
	h.at(350 * time.Millisecond)
	h.in(sackAck(101 + 8*1460))
	h.none()
	// Slow start grew the window by the eight segments delivered (Linux's
	// tcp_slow_start, no per-ACK limit); no reduction yet.
	i := h.info()
	h.check(i.Cwnd == 14600+8*1460 && i.Ssthresh == cc.InfiniteSsthresh && i.TLPRepairs == 0, "%+v", i)
	return h
}

// tlpNewData sends one more segment and has it acknowledged: an ACK
// beyond TLP.end_seq (11781).
func tlpNewData(h *harness) {
	more := strings.Repeat("z", 1460)
	h.write(more)
	h.out(seg{flags: "P.", seq: 11781, ack: 301, win: 65535, data: more})
	h.none()
	h.at(450 * time.Millisecond)
	h.in(sackAck(11781 + 1460))
	h.none()
}

// RFC 8985 §7.4: when no D-SACK says the probe was a duplicate by the
// time an ACK goes beyond TLP.end_seq, the probe repaired a loss (of the
// last segment, or of its ACK) that no recovery answered, and congestion
// control answers it as it would any loss: here NewReno's ssthresh =
// cwnd = FlightSize/2, from the eight segments the probe was sent after.
func TestTLP_RepairedLossReducesWindow(t *testing.T) {
	h := tlpEpisode(t)
	tlpNewData(h)
	i := h.info()
	h.check(i.Cwnd == 4*1460 && i.Ssthresh == 4*1460 && i.TLPRepairs == 1 && !i.InRecovery &&
		i.TotalRetransmits == 1 && i.SpuriousRetransmits == 0, "%+v", i)
}

// The original arrived after all: the receiver reports the probe in a
// D-SACK on the ACK after the one that reached TLP.end_seq. Nothing was
// lost, and the window stays.
func TestTLP_DSACKedProbeKeepsWindow(t *testing.T) {
	h := tlpEpisode(t)
	h.in(sackAck(101+8*1460, 101+7*1460, 101+8*1460))
	h.none()
	tlpNewData(h)
	i := h.info()
	h.check(i.Cwnd == 14600+8*1460 && i.Ssthresh == cc.InfiniteSsthresh && i.TLPRepairs == 0 &&
		i.SpuriousRetransmits == 1, "%+v", i)
}

// A receiver without D-SACK answers the duplicate probe with a pure
// duplicate ACK of TLP.end_seq: nothing was lost either.
func TestTLP_DuplicateAckKeepsWindow(t *testing.T) {
	h := tlpEpisode(t)
	h.in(sackAck(101 + 8*1460))
	h.none()
	tlpNewData(h)
	i := h.info()
	h.check(i.Cwnd == 14600+8*1460 && i.Ssthresh == cc.InfiniteSsthresh && i.TLPRepairs == 0, "%+v", i)
}
