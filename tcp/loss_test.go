package tcp

import (
	"testing"
	"time"
)

// The loss detector is chosen once, when the SYNs settle SACK: RACK with
// SACK, RFC 6675 with SACK and RACK off, NewReno's third duplicate ACK
// without SACK. Before the options are known it is NewReno's.
func TestLoss_DetectorChosenAtNegotiation(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		sack bool
		want lossAlg
	}{
		{"rack", sackReno, true, lossRACK},
		{"rfc6675", Config{DisableTimestamps: true, DisableWScale: true, DisableRACK: true}, true, lossSACK},
		{"newreno", plain, false, lossReno},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var h *harness
			if c.sack {
				h = active(t, c.cfg)
				if h.tcb.lossAlg != lossReno {
					t.Fatalf("before the SYN-ACK: loss detector %d, want NewReno's", h.tcb.lossAlg)
				}
				h.out(seg{flags: "S", seq: iss, win: 65535, opts: o(mss(1460), sackOK())})
				h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 65535, opts: o(mss(1460), sackOK())})
				h.out(seg{flags: ".", seq: iss + 1, ack: peer + 1, win: 65535})
			} else {
				h = established(t, c.cfg)
			}
			if h.tcb.lossAlg != c.want {
				t.Errorf("loss detector %d, want %d", h.tcb.lossAlg, c.want)
			}
			if got := h.tcb.loss().probes(); got != (c.want == lossRACK) {
				t.Errorf("tail loss probes %v with detector %d", got, c.want)
			}
		})
	}
}

// The recovery state (PRR, F-RTO, NewReno inflation) exists only while
// it is needed, and the undo state from the first retransmission on:
// none before the first loss, one from the ACK that starts
// fast recovery, none again once recovery has ended and everything sent
// is acknowledged. The ladder is prrLadder's: segment 10 lost, its loss
// found on the ACK of segment 13.
func TestLoss_StateTakenForRecoveryAndGivenBack(t *testing.T) {
	h, c := prrLadder(t, sackReno)
	if h.tcb.lossState != nil || h.tcb.undoState != nil {
		h.fail("lossState or undoState before any loss")
	}
	if got := c.run(3); got != "11:new30 12:new31 13:rtx10" {
		h.fail("got %s", got)
	}
	if h.tcb.lossState == nil || !h.info().InRecovery {
		h.fail("no lossState in recovery: %+v", h.info())
	}
	for len(c.wire) > 0 {
		c.step()
	}
	i := h.info()
	h.check(!i.InRecovery && i.SndUna == i.SndNxt && i.SndNxt == 101+60*1460, "%+v", i)
	if h.tcb.lossState != nil {
		h.fail("lossState kept after recovery with nothing in flight")
	}
	// The undo state and the counters stay once there was a retransmission.
	if h.tcb.undoState == nil || i.TotalRetransmits != 1 || h.tcb.RetransmitCauses().Recovery != 1 {
		h.fail("undo state %v, retransmissions %d", h.tcb.undoState != nil, i.TotalRetransmits)
	}
	// The next loss takes it again, from zero.
	h.write(full(20))
	h.pending = nil                      // the whole flight is lost
	h.at(h.now.Sub(t0) + 10*time.Second) // the RTO: goBack takes it
	if h.tcb.lossState == nil || h.tcb.recState != recRTO {
		h.fail("no lossState after a timeout: recState %d", h.tcb.recState)
	}
}
