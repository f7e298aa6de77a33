package tcp

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Proportional Rate Reduction (RFC 6937): what fast recovery sends on
// each ACK.

// ackClock plays the path and the receiver for a TCB that sends full
// segments of data: segments are delivered one by one in the order they
// were sent (except those dropped), and the receiver acknowledges each
// at once, with one SACK block, the run holding the segment that arrived
// (RFC 2018 §4: the most recent first). Segment k is data[k·1460:].
type ackClock struct {
	h     *harness
	data  string
	wire  []int        // segments on their way to the receiver, in order
	got   map[int]bool // segments the receiver has
	sent  int          // segments sent so far (the next new one)
	drop  map[int]bool // segments lost on their first transmission
	steps []string     // what each ACK released: "13:rtx10", "16:new32", "14:-"
}

func newAckClock(h *harness, data string, drop ...int) *ackClock {
	c := &ackClock{h: h, data: data, got: map[int]bool{}, drop: map[int]bool{}}
	for _, k := range drop {
		c.drop[k] = true
	}
	c.take()
	return c
}

// take moves what the TCB emitted onto the wire, naming each segment.
func (c *ackClock) take() string {
	var names []string
	for _, s := range c.h.pending {
		k := int(s.seq-101) / 1460
		if k >= c.sent {
			c.sent = k + 1
			names = append(names, fmt.Sprintf("new%d", k))
		} else {
			names = append(names, fmt.Sprintf("rtx%d", k))
		}
		if c.drop[k] {
			delete(c.drop, k)
			continue
		}
		c.wire = append(c.wire, k)
	}
	c.h.pending = nil
	if len(names) == 0 {
		return "-"
	}
	return strings.Join(names, ",")
}

// step delivers the next segment, 1 ms after the last, and feeds the
// receiver's ACK to the TCB.
func (c *ackClock) step() {
	c.h.t.Helper()
	k := c.wire[0]
	c.wire = c.wire[1:]
	c.got[k] = true
	una := 0
	for c.got[una] {
		una++
	}
	a := ack(uint32(101 + una*1460))
	if k > una {
		lo, hi := k, k+1
		for c.got[lo-1] {
			lo--
		}
		for c.got[hi] {
			hi++
		}
		a.opts = sack(uint32(101+lo*1460), uint32(101+hi*1460))
	}
	c.h.after(time.Millisecond)
	c.h.in(a)
	c.steps = append(c.steps, fmt.Sprintf("%d:%s", k, c.take()))
}

// run steps until n ACKs have been fed; it returns their steps.
func (c *ackClock) run(n int) string {
	c.h.t.Helper()
	c.steps = c.steps[:0]
	for range n {
		c.step()
	}
	return strings.Join(c.steps, " ")
}

// prrLadder grows the window to 20 segments in slow start, then loses
// the first segment of the next flight (segment 10) and feeds the ACKs
// of the rest with SACK, as they arrive. RFC 6675's DupThresh rule finds
// the loss (RACK off, so that the ACK that starts recovery is fixed).
func prrLadder(t *testing.T, cfg Config) (*harness, *ackClock) {
	cfg.DisableRACK = true
	h := establishedSACK(t, cfg, 100*time.Millisecond)
	h.write(full(60))
	c := newAckClock(h, full(60), 10)
	// Slow start: each ACK of one segment releases two.
	if got, want := c.run(10), "0:new10,new11 1:new12,new13 2:new14,new15 3:new16,new17 "+
		"4:new18,new19 5:new20,new21 6:new22,new23 7:new24,new25 8:new26,new27 9:new28,new29"; got != want {
		h.fail("slow start:\n got %s\nwant %s", got, want)
	}
	i := h.info()
	h.check(i.Cwnd == 20*1460 && !i.InRecovery, "%+v", i)
	return h, c
}

// NewReno (β = 1/2). Each step is "segment delivered:what its ACK
// released". The two SACKs before the third each let one new segment out
// (pipe fell below cwnd); the third starts recovery with ssthresh = 10
// segments from the 20 in flight and RecoverFS = 20 segments (22
// outstanding, less the 2 SACKed before this ACK). The retransmission
// goes at once (prr_out = 1 segment); then, while pipe > ssthresh, one
// new segment goes for every two delivered: sndcnt =
// ⌈prr_delivered·ssthresh / RecoverFS⌉ − prr_out is 0 on ACK 14, half a
// segment on 15, a whole one on 16. On ACK 28 pipe has come down to
// ssthresh (28 outstanding, 18 SACKed); from then on each ACK delivers
// one segment and releases one (PRR-CRB: min(ssthresh − pipe, ...)). The
// ACK of the retransmission covers the recovery point (segment 32) and
// ends recovery with cwnd = ssthresh: 9 segments in flight, one more
// goes.
func TestPRR_NewRenoSendsOneSegmentPerTwoACKs(t *testing.T) {
	h, c := prrLadder(t, sackReno)
	want := "11:new30 12:new31 13:rtx10 14:- 15:- 16:new32 17:- 18:new33 19:- 20:new34 21:- " +
		"22:new35 23:- 24:new36 25:- 26:new37 27:- 28:- 29:new38 30:new39 31:new40 10:new41"
	if got := c.run(22); got != want {
		h.fail("recovery:\n got %s\nwant %s", got, want)
	}
	i := h.info()
	h.check(!i.InRecovery && i.Ssthresh == 10*1460 && i.Cwnd == 10*1460 && i.TotalRetransmits == 1, "%+v", i)
}

// CUBIC (β = 0.7): ssthresh = 14 segments, and seven segments go for
// every ten delivered: from ACK 13 to ACK 22, the retransmission and six
// new segments (sndcnt in bytes, 0.7·1460 per delivered segment, so the
// sends fall on ACKs 15, 17, 18, 20, 21, 22). On ACK 24 pipe reaches
// ssthresh; after that one segment per ACK.
func TestPRR_CubicSendsSevenSegmentsPerTenACKs(t *testing.T) {
	cfg := sackReno
	cfg.CongestionControl = "cubic"
	h, c := prrLadder(t, cfg)
	want := "11:new30 12:new31 13:rtx10 14:- 15:new32 16:- 17:new33 18:new34 19:- 20:new35 21:new36 " +
		"22:new37 23:- 24:- 25:new38 26:new39 27:new40 28:new41 29:new42 30:new43 31:new44 10:new45"
	if got := c.run(22); got != want {
		h.fail("recovery:\n got %s\nwant %s", got, want)
	}
	i := h.info()
	h.check(!i.InRecovery && i.Ssthresh == 14*1460 && i.Cwnd == 14*1460, "%+v", i)
}

// Without PRR (RFC 6675 alone) the same loss silences the sender for
// nine ACKs, until pipe has fallen below ssthresh, and then sends one
// segment per ACK: the same segments go, bunched in the second half of
// the round trip instead of spread over it.
func TestPRR_DisabledWaitsForPipe(t *testing.T) {
	cfg := sackReno
	cfg.DisablePRR = true
	h, c := prrLadder(t, cfg)
	want := "11:new30 12:new31 13:rtx10 14:- 15:- 16:- 17:- 18:- 19:- 20:- 21:- 22:- " +
		"23:new32 24:new33 25:new34 26:new35 27:new36 28:new37 29:new38 30:new39 31:new40 10:new41"
	if got := c.run(22); got != want {
		h.fail("recovery:\n got %s\nwant %s", got, want)
	}
	i := h.info()
	h.check(!i.InRecovery && i.Cwnd == 10*1460, "%+v", i)
}
