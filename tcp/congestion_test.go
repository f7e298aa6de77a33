package tcp

import (
	"strings"
	"testing"
	"time"

	"github.com/synack/synack/tcp/cc"
)

// Congestion control and loss recovery: the initial window (RFC 6928),
// slow start (RFC 5681), fast retransmit and NewReno recovery (RFC 6582),
// and the timeout's go-back from SND.UNA.

var reno = Config{DisableSACK: true, DisableTimestamps: true, DisableWScale: true, CongestionControl: "newreno"}

// full returns n full-sized (1460-byte) segments of data, each filled
// with its own letter.
func full(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(strings.Repeat(string(rune('a'+i%26)), 1460))
	}
	return b.String()
}

// dataSeg is the segment carrying data[off:off+1460] at 101+off.
func dataSeg(data string, off int, flags string) seg {
	end := min(off+1460, len(data))
	return seg{flags: flags, seq: uint32(101 + off), ack: 301, win: 65535, data: data[off:end]}
}

func ack(n uint32) seg { return seg{flags: ".", seq: 301, ack: n, win: 65535} }

// The initial window is 10 segments (RFC 6928: min(10·MSS,
// max(2·MSS, 14600))); each ACK in slow start grows cwnd by the bytes it
// delivers (Linux's tcp_slow_start).
func TestCC_InitialWindowAndSlowStart(t *testing.T) {
	h := established(t, reno)
	i := h.info()
	h.check(i.Cwnd == 14600 && i.Ssthresh == cc.InfiniteSsthresh && i.CongestionControl == "newreno", "%+v", i)
	data := full(20)
	h.write(data)
	for k := range 10 {
		h.out(dataSeg(data, k*1460, burst(k, 10, 44)))
	}
	h.none()
	h.at(50 * time.Millisecond)
	// Two segments acknowledged: cwnd 14600+2920; 8 in flight, so 4 more.
	// (SRTT 6.25 ms: 3 segments to a TSO packet, push.go.)
	h.in(ack(101 + 2*1460))
	for k := 10; k < 14; k++ {
		h.out(dataSeg(data, k*1460, burst(k-10, 4, 3)))
	}
	h.none()
	h.check(h.info().Cwnd == 17520, "cwnd %d", h.info().Cwnd)
	// One segment acknowledged: +1460, two more go.
	h.in(ack(101 + 3*1460))
	h.out(dataSeg(data, 14*1460, "."))
	h.out(dataSeg(data, 15*1460, "P."))
	h.none()
	h.check(h.info().Cwnd == 18980, "cwnd %d", h.info().Cwnd)
}

// The first two duplicate ACKs each send one new segment (Limited
// Transmit, RFC 3042, cwnd unchanged); the third retransmits the first
// segment (RFC 5681 §3.2): ssthresh = FlightSize/2 (the Limited Transmit
// segments not counted), cwnd = ssthresh + 3·SMSS, inflated by one SMSS
// per further duplicate; a partial ACK retransmits the next hole and
// deflates (RFC 6582 §3.2 step 5); the ACK of the recovery point ends
// recovery with cwnd = ssthresh.
func TestCC_FastRetransmitNewReno(t *testing.T) {
	h := established(t, reno)
	data := full(20)
	h.write(data)
	for k := range 10 {
		h.out(dataSeg(data, k*1460, burst(k, 10, 44)))
	}
	h.at(50 * time.Millisecond)
	// Segments 1 and 3 are lost: 2 and 4..10 cause duplicate ACKs.
	h.in(ack(101))
	h.out(dataSeg(data, 10*1460, ".")) // Limited Transmit
	h.none()
	h.in(ack(101))
	h.out(dataSeg(data, 11*1460, "."))
	h.none()
	h.check(h.info().Cwnd == 14600, "cwnd %d", h.info().Cwnd)
	h.in(ack(101))
	h.out(dataSeg(data, 0, "."))
	h.none()
	i := h.info()
	h.check(i.InRecovery && i.Ssthresh == 7300 && i.Cwnd == 7300+3*1460 && i.TotalRetransmits == 1, "%+v", i)
	h.in(ack(101)) // cwnd 13140
	h.in(ack(101)) // 14600
	h.in(ack(101)) // 16060
	h.in(ack(101)) // 17520
	h.none()
	h.in(ack(101)) // 18980: one new segment fits (12 in flight)
	h.out(dataSeg(data, 12*1460, "."))
	h.none()
	// The retransmission arrives; segment 3 is still missing: a partial
	// ACK of 2 segments. The window deflates by 2920 and gets one SMSS
	// back (18980 − 2920 + 1460 = 17520); segment 3 goes again at once,
	// and with pipe 16060 one new segment fits.
	h.at(150 * time.Millisecond)
	h.in(ack(101 + 2*1460))
	h.out(dataSeg(data, 2*1460, "."))
	h.out(dataSeg(data, 13*1460, "."))
	h.none()
	i = h.info()
	h.check(i.InRecovery && i.Cwnd == 17520 && i.TotalRetransmits == 2, "%+v", i)
	// The ACK of everything sent before recovery began (RecoveryPoint
	// 17621) ends it: cwnd = ssthresh = 7300, two segments in flight, so
	// three new ones go (4380 bytes).
	h.at(300 * time.Millisecond)
	h.in(ack(101 + 12*1460))
	for k := 14; k < 17; k++ {
		h.out(dataSeg(data, k*1460, burst(k-14, 3, 44)))
	}
	h.none()
	i = h.info()
	h.check(!i.InRecovery && i.Cwnd == 7300 && i.Ssthresh == 7300, "%+v", i)
}

// A stretch ACK (here one ACK of the whole initial window, as from a
// receiver that coalesces ACKs, GRO, or an ACK decimator) grows cwnd in
// slow start by everything it delivers, as Linux's tcp_slow_start does:
// 10 segments, to 20, so 20 new segments go at once (RFC 3465's ABC with
// L = 2·SMSS gave 12). With either controller.
func TestCC_SlowStartStretchAckCountsAllDelivered(t *testing.T) {
	for _, name := range []string{"newreno", "cubic"} {
		cfg := reno
		cfg.CongestionControl = name
		h := established(t, cfg)
		data := full(40)
		h.write(data)
		for k := range 10 {
			h.out(dataSeg(data, k*1460, burst(k, 10, 44)))
		}
		h.none()
		h.at(50 * time.Millisecond)
		h.in(ack(101 + 10*1460))
		for k := 10; k < 30; k++ {
			h.out(dataSeg(data, k*1460, burst(k-10, 20, 6))) // PSH ends TSO packets of 6 (push.go)
		}
		h.none()
		i := h.info()
		h.check(i.Cwnd == 20*1460 && i.Ssthresh == cc.InfiniteSsthresh && i.CongestionControl == name,
			"%s: %+v", name, i)
	}
}

// A timeout collapses cwnd to one segment and retransmits from SND.UNA
// everything that is not acknowledged, as slow start reopens the window
// (RFC 5681 §3.1, RFC 6298 §5.4), before any new data.
func TestCC_TimeoutGoesBackFromSndUna(t *testing.T) {
	h := established(t, reno)
	data := full(7)
	h.write(data)
	for k := range 6 {
		h.out(dataSeg(data, k*1460, burst(k, 7, 44)))
	}
	h.out(dataSeg(data, 6*1460, "P."))
	h.none()
	h.deadline(200 * time.Millisecond)
	h.at(200 * time.Millisecond)
	h.out(dataSeg(data, 0, "."))
	h.none()
	i := h.info()
	h.check(i.InRecovery && i.Cwnd == 1460 && i.Ssthresh == 7*1460/2 && i.TotalRetransmits == 1 && i.Retransmits == 1, "%+v", i)
	h.at(250 * time.Millisecond)
	h.in(ack(101 + 1460)) // cwnd 2920: two more retransmissions
	h.out(dataSeg(data, 1*1460, "."))
	h.out(dataSeg(data, 2*1460, "."))
	h.none()
	// Slow start stops at ssthresh (Linux's tcp_slow_start): cwnd 5110,
	// the other 730 bytes count in congestion avoidance; three more.
	h.in(ack(101 + 3*1460))
	h.out(dataSeg(data, 3*1460, "."))
	h.out(dataSeg(data, 4*1460, "."))
	h.out(dataSeg(data, 5*1460, "."))
	h.none()
	h.check(h.info().Cwnd == 5110, "%+v", h.info())
	h.in(ack(101 + 4*1460)) // the last
	h.out(dataSeg(data, 6*1460, "P."))
	h.none()
	h.in(ack(101 + 7*1460))
	i = h.info()
	h.check(!i.InRecovery && i.TotalRetransmits == 7 && i.Retransmits == 0, "%+v", i)
	h.deadline(0)
}

// Quick-ACK mode: the first segments of a connection are acknowledged
// one by one, then every second full segment (or after the delayed-ACK
// timeout); out-of-order data starts quick-ACK mode again.
func TestDelayedAck_QuickAckAtStartAndAfterReordering(t *testing.T) {
	cfg := reno
	cfg.QuickAcks = 2
	h := established(t, cfg)
	d := full(8)
	in := func(k int) {
		h.in(seg{flags: ".", seq: uint32(301 + k*1460), ack: 101, win: 65535, data: d[k*1460 : (k+1)*1460]})
	}
	in(0)
	h.out(seg{flags: ".", seq: 101, ack: 301 + 1460, win: 65535})
	in(1)
	h.out(seg{flags: ".", seq: 101, ack: 301 + 2*1460, win: 65535})
	in(2)
	h.none()
	in(3)
	h.out(seg{flags: ".", seq: 101, ack: 301 + 4*1460, win: 65535})
	in(5) // out of order: ACKed at once
	h.out(seg{flags: ".", seq: 101, ack: 301 + 4*1460, win: 65535})
	in(4) // fills the hole: ACKed at once
	h.out(seg{flags: ".", seq: 101, ack: 301 + 6*1460, win: 65535})
	in(6) // quick-ACK mode again
	h.out(seg{flags: ".", seq: 101, ack: 301 + 7*1460, win: 65535})
	in(7)
	h.none()
	h.after(40 * time.Millisecond)
	h.out(seg{flags: ".", seq: 101, ack: 301 + 8*1460, win: 65535})
}

// Pacing: segments leave at 2·cwnd/SRTT in slow start: with cwnd 14600
// and SRTT 100 ms, one 1460-byte segment every 5 ms.
func TestPacing_SpreadsTheWindow(t *testing.T) {
	cfg := sackReno
	cfg.Pacing = true
	h := establishedSACK(t, cfg, 100*time.Millisecond)
	data := full(3)
	h.write(data)
	h.out(dataSeg(data, 0, "."))
	h.none()
	h.deadline(105 * time.Millisecond)
	h.at(105 * time.Millisecond)
	h.out(dataSeg(data, 1460, "."))
	h.none()
	h.at(110 * time.Millisecond)
	h.out(dataSeg(data, 2920, "P."))
	h.none()
	h.deadline(312 * time.Millisecond) // now the tail loss probe, 2·SRTT + 2 ms after the last send
}
