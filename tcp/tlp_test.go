package tcp

import (
	"testing"
	"time"
)

// On a short path (SRTT 100 µs) 2·SRTT is far below the time the peer may
// hold its ACK. The probe timeout is floored at 40 ms (minPTO): an ACK
// 30 ms late, as a peer's delayed ACK or a busy receiver makes it, comes
// before any probe, and nothing is retransmitted. (With the old 1 ms
// floor a probe went out at 1.1 ms, spurious.)
func TestTLP_FloorAboveThePeersDelay(t *testing.T) {
	h := establishedSACK(t, sackReno, 100*time.Microsecond)
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
	h.deadline(100*time.Microsecond + minPTO)
	h.after(30 * time.Millisecond)
	h.none()
	h.in(ack(101 + 4*1460))
	h.none()
	h.check(h.info().TotalRetransmits == 0, "%+v", h.info())
}

// With one full segment and a small one in flight, a receiver that ACKs
// every second full-sized segment holds the ACK for its delayed-ACK time:
// the probe waits 2·SRTT plus the worst-case delayed ACK (200 ms), which
// falls after the RTO (200 ms): the probe goes at the RTO expiry. Two
// full segments are ACKed at once: the probe goes after 40 ms (minPTO).
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
	h.deadline(10*time.Millisecond + minPTO)
}

// A lossless short path (100 µs round trip) and a writer that sends
// 3000 bytes at a time and waits for them to be acknowledged: each flight
// ends in a small segment whose ACK the receiver delays (40 ms), and now
// and then an ACK is held back 30 ms (a busy receiver). Nothing is lost,
// so nothing may be retransmitted. With the probe timeout at 2·SRTT
// floored at 1 ms, every delayed or held-back tail ACK drew a spurious
// probe.
func TestNetPair_LosslessShortPathNoRetransmissions(t *testing.T) {
	for seed := range uint64(3) {
		cfg := Config{}
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
