package tcp

import (
	"testing"
	"time"
)

// A D-SACK proves spurious only the retransmission it reports. One that
// belongs to an earlier, finished recovery episode must not undo the
// window reduction of the episode in progress, whose own retransmission
// repaired a real loss (RFC 3522 §3, RFC 2883 §5: undo only when every
// retransmission of the episode was spurious).
func TestUndo_DSACKOfAnEarlierEpisodeUndoesNothing(t *testing.T) {
	h := establishedSACK(t, sackReno, 100*time.Millisecond)
	data := full(20)
	h.write(data[:10*1460])
	drop := func() { h.collect(); h.pending = nil }
	drop()
	// Episode 1: segment 0 is presumed lost by RACK and sent again.
	h.at(200 * time.Millisecond)
	h.in(sackAck(101, 1561, 3021))
	h.at(225 * time.Millisecond)
	drop()
	i := h.info()
	h.check(i.InRecovery && i.TotalRetransmits == 1, "%+v", i)
	// Everything is acknowledged, with no word yet on the duplicate.
	una := uint32(101 + 10*1460)
	h.at(300 * time.Millisecond)
	h.in(sackAck(una))
	i = h.info()
	h.check(!i.InRecovery && i.Cwnd == 7300, "%+v", i)
	drop()
	// Episode 2: the first new segment is really lost.
	h.write(data[10*1460:])
	drop()
	h.at(400 * time.Millisecond)
	h.in(sackAck(una, una+1460, una+2*1460))
	h.at(425 * time.Millisecond)
	drop()
	i = h.info()
	// PRR's window: pipe (6 segments less the SACKed and the lost one)
	// plus the retransmission.
	h.check(i.InRecovery && i.Ssthresh == 3650 && i.Cwnd == 5*1460 && i.TotalRetransmits == 2, "%+v", i)
	// Episode 1's retransmission is reported as a duplicate, late.
	h.at(430 * time.Millisecond)
	h.in(sackAck(una, 101, 1561, una+1460, una+2*1460))
	i = h.info()
	h.check(i.InRecovery && i.Ssthresh == 3650 && i.SpuriousRetransmits == 1, "%+v", i)
}
