package tcp

import (
	"testing"
	"time"
)

// superSeg is the super-segment carrying data[off:off+n] at 101+off, made
// of segments of 1460 bytes.
func superSeg(data string, off, n int, flags string) seg {
	return seg{flags: flags, seq: uint32(101 + off), ack: 301, win: 65535, data: data[off : off+n], gso: 1460}
}

// With super-segments allowed, the 10 segments of the initial window
// leave as one of 14600 bytes (GSO size 1460, PSH from the last), while
// the engine still keeps them one by one: after an ACK of 2 segments the
// next burst is the 4 that cwnd allows, cut into packets where push.go
// puts PSH (3 segments to a TSO packet at this RTT); a max below a run
// cuts it; and a retransmission after the RTO is one MSS-sized segment.
func TestSuperSegments(t *testing.T) {
	h := established(t, reno)
	h.super = 64 << 10
	data := full(20)
	h.write(data)
	h.out(superSeg(data, 0, 10*1460, "P."))
	h.none()
	h.at(50 * time.Millisecond)
	h.in(ack(101 + 2*1460))
	h.out(superSeg(data, 10*1460, 3*1460, "P."))
	h.out(dataSeg(data, 13*1460, ".")) // a run of one is no super-segment
	h.none()
	h.check(h.info().Cwnd == 17520, "cwnd %d", h.info().Cwnd)
	// Three more acknowledged: cwnd 21900 (slow start counts all three),
	// the last 6 segments go; a max of 2 segments cuts their runs.
	h.super = 2 * 1460
	h.in(ack(101 + 5*1460))
	h.out(superSeg(data, 14*1460, 2*1460, "."))
	h.out(superSeg(data, 16*1460, 2*1460, "P.")) // PSH ends a TSO packet of 4 (push.go)
	h.out(superSeg(data, 18*1460, 2*1460, "P.")) // and the write
	h.none()
	// Nothing acknowledged after that: the RTO resends one segment of
	// one MSS from SND.UNA.
	h.at(50*time.Millisecond + h.tcb.rto + time.Millisecond)
	h.out(dataSeg(data, 5*1460, "."))
	h.none()
}

// DrainOutput (max 0) joins nothing: the same burst leaves as 10 segments.
func TestSuperSegmentsOff(t *testing.T) {
	h := established(t, reno)
	data := full(20)
	h.write(data)
	for k := range 10 {
		h.out(dataSeg(data, k*1460, burst(k, 10, 44)))
	}
	h.none()
}
