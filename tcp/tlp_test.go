package tcp

import (
	"testing"
	"time"
)

// sendFour has the connection (SRTT 100 µs) send four full segments at
// 100 µs.
func sendFour(h *harness) string {
	h.t.Helper()
	data := full(4)
	h.write(data)
	for off := 0; off < len(data); off += 1460 {
		flags := "."
		if off+1460 >= len(data) {
			flags = "P."
		}
		h.out(dataSeg(data, off, flags))
	}
	h.none()
	return data
}

// With two full segments or more in flight the receiver has no reason to
// delay its ACK: the probe goes 2·SRTT plus the probe slack after the
// last send, as Linux's tcp_schedule_loss_probe does (2·SRTT +
// TCP_TIMEOUT_MIN, 2 ms at HZ=1000): here at 100 µs + 200 µs + 2 ms,
// resending the last segment. (With the old 40 ms floor it went at
// 40.1 ms, too late for Linux's shutdown-rdwr-* scripts.)
func TestTLP_ProbeAfterTwoSRTTPlusSlack(t *testing.T) {
	h := establishedSACK(t, sackReno, 100*time.Microsecond)
	data := sendFour(h)
	h.deadline(100*time.Microsecond + 200*time.Microsecond + DefaultProbeSlack)
	h.after(200*time.Microsecond + DefaultProbeSlack - time.Microsecond)
	h.none()
	h.after(time.Microsecond)
	h.out(dataSeg(data, 3*1460, "P."))
	h.none()
	h.check(h.info().TotalRetransmits == 1, "%+v", h.info())
}

// A stack running in real time gives the receiver's scheduling
// RealTimeProbeSlack (40 ms): an ACK 30 ms late, as a busy receiver's
// event loop makes it, comes before the probe, and nothing is
// retransmitted.
func TestTLP_RealTimeSlackWaitsForABusyReceiver(t *testing.T) {
	cfg := sackReno
	cfg.ProbeSlack = RealTimeProbeSlack
	h := establishedSACK(t, cfg, 100*time.Microsecond)
	sendFour(h)
	h.deadline(100*time.Microsecond + 200*time.Microsecond + RealTimeProbeSlack)
	h.after(30 * time.Millisecond)
	h.none()
	h.in(ack(101 + 4*1460))
	h.none()
	h.deadline(0)
	h.check(h.info().TotalRetransmits == 0, "%+v", h.info())
}

// An owner that calls HandleTimer late (its loop, or the whole process,
// was not running) gave the ACKs no chance to come in either: the probe
// timer is armed again from then instead of probing, and the ACK that
// was queued behind the stall ends it. A timer on time (within the clock
// granularity, 1 ms) probes, and so does one late past the RTO expiry.
func TestTLP_LateTimerArmsAgain(t *testing.T) {
	h := establishedSACK(t, sackReno, 100*time.Microsecond)
	sendFour(h)
	due := t0.Add(100*time.Microsecond + 200*time.Microsecond + DefaultProbeSlack)
	h.now = due.Add(5 * time.Millisecond) // the owner was descheduled
	h.log("      timer, 5 ms late")
	h.tcb.HandleTimer(h.now)
	h.collect()
	h.none()
	h.deadline(100*time.Microsecond + 200*time.Microsecond + DefaultProbeSlack + 5*time.Millisecond +
		200*time.Microsecond + DefaultProbeSlack)
	h.in(ack(101 + 4*1460))
	h.none()
	h.check(h.info().TotalRetransmits == 0, "%+v", h.info())

	h = establishedSACK(t, sackReno, 100*time.Microsecond)
	data := sendFour(h)
	h.now = due.Add(clockGranularity)
	h.tcb.HandleTimer(h.now)
	h.collect()
	h.out(dataSeg(data, 3*1460, "P."))

	// A stall past the RTO expiry too: the probe goes in the RTO's place
	// (one segment, the window kept), not the RTO.
	h = establishedSACK(t, sackReno, 100*time.Microsecond)
	data = sendFour(h)
	h.now = t0.Add(100*time.Microsecond + 250*time.Millisecond)
	h.log("      timer, past the RTO expiry")
	h.tcb.HandleTimer(h.now)
	h.collect()
	h.out(dataSeg(data, 3*1460, "P."))
	h.none()
	i := h.info()
	h.check(i.Cwnd == 14600 && i.TotalRetransmits == 1, "%+v", i)
}

// With one full segment and a small one in flight, a receiver that ACKs
// every second full-sized segment holds the ACK for its delayed-ACK time:
// the probe waits 2·SRTT plus the worst-case delayed ACK (200 ms), which
// falls after the RTO (200 ms): the probe goes at the RTO expiry. Two
// full segments are ACKed at once: the probe goes after 2·SRTT plus the
// probe slack.
func TestTLP_SmallFlightWaitsForDelayedACK(t *testing.T) {
	h := establishedSACK(t, sackReno, 10*time.Millisecond)
	data := full(1) + "tail"
	h.write(data)
	h.out(dataSeg(data, 0, "."))
	h.out(dataSeg(data, 1460, "P."))
	h.none()
	h.deadline(10*time.Millisecond + 200*time.Millisecond)

	h = establishedSACK(t, sackReno, 10*time.Millisecond)
	data = full(2)
	h.write(data)
	h.out(dataSeg(data, 0, "."))
	h.out(dataSeg(data, 1460, "P."))
	h.none()
	h.deadline(10*time.Millisecond + 20*time.Millisecond + DefaultProbeSlack)
}

// A lossless short path (100 µs round trip) and a writer that sends
// 3000 bytes at a time and waits for them to be acknowledged: each flight
// ends in a small segment whose ACK the receiver delays (40 ms), and now
// and then an ACK is held back 30 ms (a busy receiver, within the
// real-time probe slack). Nothing is lost, so nothing may be
// retransmitted. With the probe timeout at 2·SRTT floored at 1 ms, every
// delayed or held-back tail ACK drew a spurious probe; with Linux's 2 ms
// slack, the held-back ones do.
func TestNetPair_LosslessShortPathNoRetransmissions(t *testing.T) {
	for seed := range uint64(3) {
		cfg := Config{ProbeSlack: RealTimeProbeSlack}
		ab := impair{delay: 50 * time.Microsecond}
		ba := impair{delay: 50 * time.Microsecond, reorder: 0.05, extra: 30 * time.Millisecond}
		p := newNetPair(t, cfg, cfg, ab, ba, seed)
		data := testData(3000, uint32(seed))
		buf := make([]byte, 4096)
		for k := 0; k < 100; k++ {
			if n, err := p.a.Write(data, p.now); n != len(data) || err != nil {
				t.Fatalf("write: %d, %v", n, err)
			}
			p.collect()
			for steps := 0; ; steps++ {
				for {
					n, _ := p.b.Read(buf, p.now)
					if n == 0 {
						break
					}
				}
				p.collect()
				if i := p.a.Info(); i.SndUna == i.SndNxt {
					break
				}
				if steps > 10000 || !p.step(Config{}) {
					t.Fatalf("seed %d: stuck", seed)
				}
			}
		}
		if i := p.a.Info(); i.TotalRetransmits != 0 {
			t.Errorf("seed %d: %d retransmissions (%d spurious) on a lossless path", seed, i.TotalRetransmits, i.SpuriousRetransmits)
		}
	}
}
