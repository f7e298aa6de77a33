package tcp

import (
	"testing"
	"time"

	"github.com/synack/synack/wire"
)

// Microbenchmarks of the engine's per-segment work, on one TCB driven
// directly (no stack, no links): the receiver of in-order and of
// out-of-order data, and the timer queries. Run with
//
//	go test ./tcp -run '^$' -bench 'Receive|Deadline' -benchmem

const benchMSS = 1448

// benchEstablished returns a TCB that did an active open with every
// option on (MSS 1460, SACK, timestamps, window scale 7 both ways), and
// the time it was established at.
func benchEstablished(b *testing.B, cfg Config) (*TCB, time.Time) {
	b.Helper()
	now := t0
	tcb := NewActive(cfg, iss, now)
	var syn Segment
	tcb.DrainOutput(func(s *Segment) { syn = *s })
	now = now.Add(time.Millisecond)
	sa := Segment{Seq: peer, Ack: iss + 1, Flags: wire.FlagSYN | wire.FlagACK, Window: 65535,
		Options: o(mss(1460), sackOK(), ws(7), ts(1000, syn.Options.TSVal))}
	tcb.HandleSegment(&sa, now)
	tcb.DrainOutput(func(*Segment) {})
	if tcb.State() != StateEstablished {
		b.Fatalf("state %s after the handshake, want ESTABLISHED", tcb.State())
	}
	return tcb, now
}

// benchReceiver feeds data segments to a TCB in the order order gives
// (offsets in segments within groups of len(order)), reading everything
// the TCB makes readable and running its due timers, and reports the
// segments it sent per segment received.
func benchReceiver(b *testing.B, order []int) {
	tcb, now := benchEstablished(b, Config{})
	payload := make([]byte, benchMSS)
	rbuf := make([]byte, 256<<10)
	base := uint32(peer + 1)
	tsval, tsecr := uint32(1001), uint32(0)
	sent, read := 0, 0
	emit := func(s *Segment) {
		sent++
		tsecr = s.Options.TSVal
	}
	g := len(order)
	i := 0
	b.SetBytes(benchMSS)
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(10 * time.Microsecond)
		tsval++
		k := i/g*g + order[i%g]
		i++
		seg := Segment{Seq: base + uint32(k)*benchMSS, Ack: iss + 1, Flags: wire.FlagACK, Window: 512,
			Options: ts(tsval, tsecr), Payload: payload}
		tcb.HandleSegment(&seg, now)
		for tcb.Readable() {
			n, err := tcb.Read(rbuf, now)
			if err != nil || n == 0 {
				b.Fatalf("Read: %d, %v", n, err)
			}
			read += n
		}
		if d := tcb.Deadline(); !d.IsZero() && !d.After(now) {
			tcb.HandleTimer(now)
		}
		tcb.DrainOutput(emit)
	}
	// Every whole group delivered is readable.
	if want := i / g * g * benchMSS; read < want {
		b.Fatalf("read %d bytes, want at least %d", read, want)
	}
	b.ReportMetric(float64(sent)/float64(i), "sent/seg")
}

// BenchmarkReceiveInOrder: an ESTABLISHED TCB receives in-order 1448-byte
// segments (timestamps on) and answers with ACKs (one per two segments,
// or one per segment in quick-ACK mode); the data is read as it arrives.
func BenchmarkReceiveInOrder(b *testing.B) {
	benchReceiver(b, []int{0})
}

// BenchmarkReceiveOutOfOrder: in every group of four segments the first
// arrives last, so three of four go through reassembly and are SACKed,
// and the fourth fills the hole and releases the group.
func BenchmarkReceiveOutOfOrder(b *testing.B) {
	benchReceiver(b, []int{1, 2, 3, 0})
}

// BenchmarkDeadline: the earliest of a sending TCB's timers, asked after
// every call by the stack, with data in flight (retransmission and
// probe timers armed).
func BenchmarkDeadline(b *testing.B) {
	tcb, now := benchEstablished(b, Config{})
	if _, err := tcb.Write(make([]byte, 16*benchMSS), now); err != nil {
		b.Fatal(err)
	}
	tcb.DrainOutput(func(*Segment) {})
	if tcb.Deadline().IsZero() {
		b.Fatal("no timer armed with data in flight")
	}
	b.ReportAllocs()
	var d time.Time
	for b.Loop() {
		d = tcb.Deadline()
	}
	if d.IsZero() {
		b.Fatal("no deadline")
	}
}
