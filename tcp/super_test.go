package tcp

import (
	"strings"
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

// establishedMSS is established with both ends announcing an MSS of m.
func establishedMSS(t testing.TB, cfg Config, m uint16) *harness {
	h := active(t, cfg)
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: mss(m)})
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 65535, opts: mss(m)})
	h.out(seg{flags: ".", seq: iss + 1, ack: peer + 1, win: 65535})
	h.state(StateEstablished)
	return h
}

// With Config.PageSegments, a segment that would span two pages of the
// send buffer is cut where the first page ends, so that each goes by
// reference to its page (send-side zero copy); the short piece carries no
// PSH, and Nagle's algorithm neither holds it back nor counts it as a
// short segment sent. A write of 20000 bytes takes a 32 KiB page
// (sndpages.go's page classes); with 4000 of them unacknowledged, one of
// 40000 fills that page to 32768 and takes a 64 KiB one, so at MSS 16000
// the segment from 20000 crosses the boundary. Without the setting it
// goes whole.
func TestPageSegments(t *testing.T) {
	data := strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyz!", 60000/37+1)[:60000]
	at := func(off, end int, flags string) seg {
		return seg{flags: flags, seq: uint32(101 + off), ack: 301, win: 65535, data: data[off:end]}
	}
	for _, cut := range []bool{true, false} {
		cfg := reno
		cfg.MSS = 16000
		cfg.PageSegments = cut
		h := establishedMSS(t, cfg, 16000)
		h.write(data[:20000])
		h.out(at(0, 16000, "."))
		h.out(at(16000, 20000, "P."))
		h.none()
		h.at(10 * time.Millisecond)
		h.in(ack(101 + 16000))
		h.write(data[20000:])
		h.check(h.tcb.sndBuf.pageRest(0) == 32768-16000, "the first page holds %d bytes from SND.UNA; want %d",
			h.tcb.sndBuf.pageRest(0), 32768-16000)
		if cut {
			h.out(at(20000, 32768, "."))
			h.out(at(32768, 48768, "P.")) // PSH ends the burst (push.go)
		} else {
			h.out(at(20000, 36000, "."))
			h.out(at(36000, 52000, "P."))
		}
		// The rest is short of a segment, with the 4000 bytes from
		// 16000 (a short segment) unacknowledged: Nagle holds it. The
		// cut piece was no short segment to Nagle: once those 4000 are
		// acknowledged, the rest goes.
		h.none()
		h.at(20 * time.Millisecond)
		h.in(ack(101 + 20000))
		if cut {
			h.out(at(48768, 60000, "P."))
		} else {
			h.out(at(52000, 60000, "P."))
		}
		h.none()
	}
}

// With Config.PageSegments, a super-segment does not join segments across
// a send-buffer page's end: the piece cut at the end of the 32 KiB page
// (20000 to 32768) and the short rest after it (to 36768, in the next
// page) go as two segments, each by reference to its page, where joined
// into one run of 16768 bytes the payload would have been copied.
func TestPageSegments_SuperSegmentStaysInItsPage(t *testing.T) {
	data := strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyz!", 60000/37+1)[:60000]
	at := func(off, end int, flags string) seg {
		return seg{flags: flags, seq: uint32(101 + off), ack: 301, win: 65535, data: data[off:end]}
	}
	cfg := reno
	cfg.MSS = 16000
	cfg.PageSegments = true
	cfg.NoDelay = true
	h := establishedMSS(t, cfg, 16000)
	h.write(data[:20000])
	h.out(at(0, 16000, "."))
	h.out(at(16000, 20000, "P."))
	h.none()
	h.at(10 * time.Millisecond)
	h.in(ack(101 + 16000))
	h.super = 64 << 10
	h.write(data[20000:36768])
	h.out(at(20000, 32768, "."))
	h.out(at(32768, 36768, "P."))
	h.none()
}
