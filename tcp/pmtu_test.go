package tcp

import (
	"strings"
	"testing"
)

// A path MTU decrease (the caller checked the ICMP message against the
// connection) lowers the MSS: the segments in flight that were too big
// are sent again at once, cut to the new size, the ones that fit are not,
// and new data goes in segments of the new size.
func TestHandlePathMTU(t *testing.T) {
	h := established(t, plain)
	h.write(strings.Repeat("a", 1460) + strings.Repeat("b", 1460) + strings.Repeat("c", 500))
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535, data: strings.Repeat("a", 1460)})
	h.out(seg{flags: ".", seq: 1561, ack: 301, win: 65535, data: strings.Repeat("b", 1460)})
	h.out(seg{flags: "P.", seq: 3021, ack: 301, win: 65535, data: strings.Repeat("c", 500)})
	h.none()
	if !h.tcb.HandlePathMTU(1000, h.now) {
		t.Fatal("HandlePathMTU(1000) reported no change")
	}
	h.collect()
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535, data: strings.Repeat("a", 1000)})
	h.out(seg{flags: ".", seq: 1101, ack: 301, win: 65535, data: strings.Repeat("a", 460)})
	h.out(seg{flags: ".", seq: 1561, ack: 301, win: 65535, data: strings.Repeat("b", 1000)})
	h.out(seg{flags: ".", seq: 2561, ack: 301, win: 65535, data: strings.Repeat("b", 460)})
	h.none()
	h.check(h.info().SndMSS == 1000, "SndMSS %d; want 1000", h.info().SndMSS)
	// A larger MTU, or the same, changes nothing.
	h.check(!h.tcb.HandlePathMTU(1400, h.now) && !h.tcb.HandlePathMTU(1000, h.now), "a larger MSS was taken")
	h.in(seg{flags: ".", seq: 301, ack: 3521, win: 65535})
	h.write(strings.Repeat("d", 1500))
	h.out(seg{flags: ".", seq: 3521, ack: 301, win: 65535, data: strings.Repeat("d", 1000)})
	h.out(seg{flags: "P.", seq: 4521, ack: 301, win: 65535, data: strings.Repeat("d", 500)})
	h.none()
	// Never below MinMSS.
	h.tcb.HandlePathMTU(8, h.now)
	h.check(h.info().SndMSS == DefaultMinMSS, "SndMSS %d; want %d", h.info().SndMSS, DefaultMinMSS)
}
