package tcp

import (
	"testing"
	"time"

	"github.com/synack/synack/tcp/cc"
)

// F-RTO (RFC 5682): spurious retransmission timeouts without timestamps.

// frtoFlight sends 10 segments at 100 ms on a connection with a 100 ms
// RTT (RTO 300 ms) and lets the timeout fire with no ACK back: the first
// segment goes again, alone (step 1), the window collapses to one
// segment. RACK is off, and with it the tail loss probe that would come
// before the timeout.
func frtoFlight(t *testing.T, cfg Config, data string) *harness {
	cfg.DisableRACK = true
	h := establishedSACK(t, cfg, 100*time.Millisecond)
	h.write(data)
	for k := range 10 {
		h.out(dataSeg(data, k*1460, burst(k, 10, 2)))
	}
	h.none()
	h.deadline(400 * time.Millisecond)
	h.at(400 * time.Millisecond)
	h.out(dataSeg(data, 0, "."))
	h.none()
	i := h.info()
	h.check(i.InRecovery && i.Cwnd == 1460 && i.Ssthresh == 5*1460 && i.TotalRetransmits == 1, "%+v", i)
	return h
}

// A delay spike: the ACKs of the original flight arrive after the
// timeout. The first (step 2) advances SND.UNA without reaching the
// recovery point: two new segments go instead of retransmissions
// (step 2b). The second acknowledges a segment sent before the timeout
// and never resent (step 3b): the timeout was spurious, the window
// reduction is undone (cwnd 10 segments, ssthresh back to infinite), and
// the rest of the flight is not sent again. Slow start goes on from the
// restored window, this ACK included (one segment acknowledged: one more
// in the window). The receiver's D-SACK for the needless
// retransmission, later, counts nothing twice.
func TestFRTO_SpuriousTimeoutUndone(t *testing.T) {
	data := full(20)
	h := frtoFlight(t, sackReno, data)
	h.at(450 * time.Millisecond)
	h.in(ack(101 + 1460))
	h.out(dataSeg(data, 10*1460, "."))
	h.out(dataSeg(data, 11*1460, "P."))
	h.none()
	i := h.info()
	h.check(i.InRecovery && i.Cwnd == 2*1460 && i.TotalRetransmits == 1, "%+v", i)
	h.in(ack(101 + 2*1460))
	h.out(dataSeg(data, 12*1460, "."))
	h.none()
	i = h.info()
	h.check(!i.InRecovery && i.Cwnd == 11*1460 && i.Ssthresh == cc.InfiniteSsthresh &&
		i.TotalRetransmits == 1 && i.SpuriousRetransmits == 1, "%+v", i)
	h.in(ack(101 + 3*1460))
	h.out(dataSeg(data, 13*1460, "."))
	h.out(dataSeg(data, 14*1460, "P."))
	h.none()
	// The retransmission arrives as a duplicate.
	h.in(sackAck(101+3*1460, 101, 1561))
	h.none()
	i = h.info()
	h.check(i.Cwnd == 12*1460 && i.TotalRetransmits == 1 && i.SpuriousRetransmits == 1, "%+v", i)
}

// A real loss: the whole flight was lost. The retransmission's ACK
// advances SND.UNA (step 2b: two new segments), but the next ACK SACKs
// only new data, above the recovery point (step 3a): conventional
// recovery resends what was sent before the timeout, as slow start from
// one segment allows; nothing is undone.
func TestFRTO_RealTimeoutFallsBack(t *testing.T) {
	data := full(20)
	h := frtoFlight(t, sackReno, data)
	h.at(500 * time.Millisecond)
	h.in(ack(101 + 1460))
	h.out(dataSeg(data, 10*1460, "."))
	h.out(dataSeg(data, 11*1460, "P."))
	h.none()
	h.at(600 * time.Millisecond)
	h.in(sackAck(101+1460, 101+10*1460, 101+11*1460))
	h.out(dataSeg(data, 1*1460, ".")) // cwnd 2 segments, pipe 1
	h.none()
	i := h.info()
	h.check(i.InRecovery && i.Cwnd == 2*1460 && i.Ssthresh == 5*1460 &&
		i.TotalRetransmits == 2 && i.SpuriousRetransmits == 0, "%+v", i)
	h.in(sackAck(101+1460, 101+10*1460, 101+12*1460))
	h.out(dataSeg(data, 2*1460, "."))
	h.none()
	h.at(700 * time.Millisecond)
	h.in(sackAck(101+2*1460, 101+10*1460, 101+12*1460))
	h.out(dataSeg(data, 3*1460, "."))
	h.out(dataSeg(data, 4*1460, "."))
	h.none()
	i = h.info()
	h.check(i.InRecovery && i.Cwnd == 3*1460 && i.TotalRetransmits == 5 && i.SpuriousRetransmits == 0, "%+v", i)
}

// Without SACK, the basic algorithm (RFC 5682 §2.1) decides the same
// way: the second ACK after the timeout advances the window (step 3b).
func TestFRTO_SpuriousTimeoutWithoutSACK(t *testing.T) {
	cfg := reno
	data := full(20)
	h := established(t, cfg)
	h.write(data)
	for k := range 10 {
		h.out(dataSeg(data, k*1460, burst(k, 10, 44)))
	}
	h.at(200 * time.Millisecond) // RTO: 200 ms (MinRTO)
	h.out(dataSeg(data, 0, "."))
	h.none()
	h.at(250 * time.Millisecond)
	h.in(ack(101 + 1460))
	h.out(dataSeg(data, 10*1460, "."))
	h.out(dataSeg(data, 11*1460, "P."))
	h.none()
	h.in(ack(101 + 2*1460))
	h.out(dataSeg(data, 12*1460, "."))
	h.none()
	i := h.info()
	h.check(!i.InRecovery && i.Cwnd == 11*1460 && i.SpuriousRetransmits == 1 && i.TotalRetransmits == 1, "%+v", i)
}

// Turned off, the same delay spike sends the whole flight again.
func TestFRTO_DisabledGoesBack(t *testing.T) {
	cfg := sackReno
	cfg.DisableFRTO = true
	data := full(20)
	h := frtoFlight(t, cfg, data)
	h.at(450 * time.Millisecond)
	h.in(ack(101 + 1460))
	h.out(dataSeg(data, 1*1460, "."))
	h.out(dataSeg(data, 2*1460, "."))
	h.none()
	i := h.info()
	h.check(i.InRecovery && i.TotalRetransmits == 3 && i.SpuriousRetransmits == 0, "%+v", i)
}
