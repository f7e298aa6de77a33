package tcp

import (
	"testing"
	"time"
)

// Heavy loss: our data arrives, every ACK of it is lost, and the
// retransmission timer backs off. A retransmission then reaches the peer
// as an old duplicate, and the ACK it draws echoes TS.Recent — the TSval
// of the original, sent before every timeout (RFC 7323 §4.3). now − TSecr
// would be a "round trip" of 1.5 s on a 100 ms path; the echo is older
// than the retransmission, so the sample is ambiguous and not taken. An
// echo of the retransmission itself is a true sample.
func TestRTT_StaleEchoAfterBackoffIsNoSample(t *testing.T) {
	h := active(t, tsOnly)
	v := h.tsval()
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: o(mss(1460), ts(v, 0))})
	h.at(100 * time.Millisecond)
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 65535, opts: o(mss(1460), ts(500, v))})
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535, opts: ts(v+100, 500)})
	h.write("x")
	h.out(seg{flags: "P.", seq: 101, ack: 301, win: 65535, opts: ts(v+100, 500), data: "x"})
	// The peer takes "x" (TS.Recent = v+100); its ACK is lost. Timeouts
	// at 400 ms and 1000 ms (RTO 300 ms, doubled).
	h.at(400 * time.Millisecond)
	h.out(seg{flags: "P.", seq: 101, ack: 301, win: 65535, opts: ts(v+400, 500), data: "x"})
	h.at(1000 * time.Millisecond)
	h.out(seg{flags: "P.", seq: 101, ack: 301, win: 65535, opts: ts(v+1000, 500), data: "x"})
	h.none()
	// The second retransmission arrives as an old duplicate; the ACK
	// echoes the original's TSval.
	h.at(1100 * time.Millisecond)
	h.in(seg{flags: ".", seq: 301, ack: 102, win: 65535, opts: ts(600, v+100)})
	i := h.info()
	h.check(i.SRTT == 100*time.Millisecond && i.RTTVar == 50*time.Millisecond, "stale echo sampled: %+v", i)
	// New data, answered at once: a sample of 100 ms.
	h.write("y")
	h.out(seg{flags: "P.", seq: 102, ack: 301, win: 65535, opts: ts(v+1100, 600), data: "y"})
	h.at(1200 * time.Millisecond)
	h.in(seg{flags: ".", seq: 301, ack: 103, win: 65535, opts: ts(700, v+1100)})
	i = h.info()
	h.check(i.SRTT == 100*time.Millisecond && i.RTTVar == 37500*time.Microsecond, "%+v", i)
	// A retransmission answered by an echo of itself is sampled.
	h.write("z")
	h.out(seg{flags: "P.", seq: 103, ack: 301, win: 65535, opts: ts(v+1200, 700), data: "z"})
	h.at(1450 * time.Millisecond) // RTO = 100 + 4·37.5 = 250 ms
	h.out(seg{flags: "P.", seq: 103, ack: 301, win: 65535, opts: ts(v+1450, 700), data: "z"})
	h.at(1530 * time.Millisecond)
	h.in(seg{flags: ".", seq: 301, ack: 104, win: 65535, opts: ts(800, v+1450)})
	i = h.info()
	h.check(i.SRTT == 97500*time.Microsecond && i.TotalRetransmits == 3, "%+v", i)
}

// Karn's rule for the handshake holds with timestamps: after our SYN was
// sent again, the SYN-ACK may be the peer's retransmission answering our
// last SYN late (its own timer backed off), so it gives no sample, and the
// RTO starts from 3 s (RFC 6298 §5.7).
func TestRTT_NoSampleFromHandshakeAfterSYNRetransmission(t *testing.T) {
	h := active(t, tsOnly)
	v := h.tsval()
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: o(mss(1460), ts(v, 0))})
	h.at(time.Second)
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: o(mss(1460), ts(v+1000, 0))})
	h.at(2900 * time.Millisecond)
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 65535, opts: o(mss(1460), ts(500, v+1000))})
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535, opts: ts(v+2900, 500)})
	i := h.info()
	h.check(i.SRTT == 0 && i.RTO == 3*time.Second, "%+v", i)
}

// At 30% loss both ways on a 50 ms path, the smoothed RTT stays within a
// small factor of the path's round trip, over several seeds: no sample
// carries a retransmission backoff (before staleEcho, SRTT reached tens of
// seconds and the RTO its maximum, and transfers stalled).
func TestNetPair_HeavyLossSRTTStaysNearPathRTT(t *testing.T) {
	const pathRTT = 50 * time.Millisecond
	for seed := uint64(1); seed <= 8; seed++ {
		cfg := Config{CongestionControl: "newreno"}
		path := impair{delay: pathRTT / 2, loss: 0.3}
		p := newNetPair(t, cfg, cfg, path, path, seed)
		data := testData(96<<10, uint32(seed))
		var worst time.Duration
		got := p.runEach(t, data, func() { worst = max(worst, p.a.Info().SRTT) })
		if string(got) != string(data) {
			t.Fatalf("seed %d: data corrupted", seed)
		}
		if worst > 4*pathRTT {
			t.Errorf("seed %d: SRTT reached %v on a %v path (%d retransmissions)",
				seed, worst, pathRTT, p.a.Info().TotalRetransmits)
		}
	}
}
