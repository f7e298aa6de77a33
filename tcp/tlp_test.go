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
