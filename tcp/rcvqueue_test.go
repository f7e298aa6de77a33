package tcp

import (
	"strings"
	"testing"
	"time"

	"github.com/synack/synack/wire"
)

// owner is a PayloadOwner that counts Retain and Release, fails the test
// on a Release without a Retain, and scribbles over its buffer once the
// last reference is given back, so that a read after Release shows.
type owner struct {
	t                  testing.TB
	buf                []byte
	size               int
	retained, released int
}

func (o *owner) Size() int { return o.size }
func (o *owner) Retain()   { o.retained++ }
func (o *owner) Release() {
	o.released++
	if o.released > o.retained {
		o.t.Errorf("Release %d of a buffer retained %d times", o.released, o.retained)
	}
	if o.released == o.retained {
		for i := range o.buf {
			o.buf[i] = '#'
		}
	}
}

// check fails unless the buffer was retained and released so many times.
func (o *owner) check(h *harness, retained, released int) {
	h.t.Helper()
	if o.retained != retained || o.released != released {
		h.fail("owner: retained %d, released %d; want %d, %d", o.retained, o.released, retained, released)
	}
}

// inOwned delivers s with its payload in a buffer of size bytes that the
// TCB may keep.
func (h *harness) inOwned(s seg, size int) *owner {
	h.t.Helper()
	o := &owner{t: h.t, buf: make([]byte, len(s.data), max(size, len(s.data))), size: size}
	copy(o.buf, s.data)
	h.log("  <-- %s (owned, %d-byte buffer)", s, size)
	x := s.segment()
	x.Payload, x.Owner = o.buf, o
	h.tcb.HandleSegment(&x, h.now)
	h.collect()
	return o
}

// text is n bytes of a pattern starting at byte k of it.
func text(k, n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteByte('a' + byte((k+i)%26))
	}
	return b.String()
}

// kept checks what the receive buffer holds: unread bytes, kept bytes
// and bytes of memory.
func (h *harness) kept(unread, kept, allocated int) {
	h.t.Helper()
	i := h.info()
	if u := h.tcb.Unread(); u != unread || i.ReceiveKept != kept || i.ReceiveBufferAllocated != allocated {
		h.fail("unread %d, kept %d, allocated %d; want %d, %d, %d",
			u, i.ReceiveKept, i.ReceiveBufferAllocated, unread, kept, allocated)
	}
}

// establishedBuf is established with a 60,000-byte receive buffer that
// does not auto-tune: SND.NXT=101, RCV.NXT=301, our window 60000.
func establishedBuf(t testing.TB) *harness {
	cfg := plain
	cfg.ReceiveBufferSize, cfg.MaxReceiveBufferSize = 60000, 60000
	h := active(t, cfg)
	h.out(seg{flags: "S", seq: iss, win: 60000, opts: mss(1460)})
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 65535, opts: mss(1460)})
	h.out(seg{flags: ".", seq: iss + 1, ack: peer + 1, win: 60000})
	h.state(StateEstablished)
	return h
}

// A large in-order payload is kept in its buffer, not copied: Read copies
// out of it and releases it once, when its last byte is read. A small one
// is copied. The kept buffer is charged its whole capacity, so the window
// does not open while it is held (copying, the ACK at 40ms would offer
// 60000-5100 = 54900), and opens fully once it is given back.
func TestZeroCopy_KeptUntilRead(t *testing.T) {
	h := establishedBuf(t)
	o := h.inOwned(seg{flags: "P.", seq: 301, ack: 101, win: 65535, data: text(0, 20000)}, 40000)
	h.out(seg{flags: ".", seq: 101, ack: 20301, win: 40000})
	o.check(h, 1, 0)
	h.kept(20000, 20000, 40000)
	got, err := h.read(15000)
	h.check(got == text(0, 15000) && err == nil, "read %d bytes, %v", len(got), err)
	o.check(h, 1, 0)
	h.kept(5000, 5000, 40000)
	h.none()

	// 100 bytes: under minKeep, copied into the ring's first 512-byte
	// slab.
	o2 := h.inOwned(seg{flags: "P.", seq: 20301, ack: 101, win: 65535, data: text(20000, 100)}, 400)
	o2.check(h, 0, 0)
	h.kept(5100, 5000, 40000+512)
	h.after(40 * time.Millisecond)
	h.out(seg{flags: ".", seq: 101, ack: 20401, win: 39900})
	h.readAll(text(15000, 5100))
	o.check(h, 1, 1)
	h.kept(0, 0, 0)
	h.none()

	h.in(seg{flags: "P.", seq: 20401, ack: 101, win: 65535, data: text(20100, 100)})
	h.after(40 * time.Millisecond)
	h.out(seg{flags: ".", seq: 101, ack: 20501, win: 59900})
	h.readAll(text(20100, 100))
	h.none()
}

// Every kept buffer is released exactly once however the connection
// ends: Close and CloseRead release it with the data; ABORT, a peer's RST
// and TIME-WAIT copy what is unread into the ring first, so that it is
// still read (the owner scribbles over a released buffer: a read from it
// would show).
func TestZeroCopy_ReleasedOnceAtEveryEnd(t *testing.T) {
	data := text(0, 5000)
	t.Run("Close", func(t *testing.T) {
		h := establishedBuf(t)
		o := h.inOwned(seg{flags: "P.", seq: 301, ack: 101, win: 65535, data: data}, 8192)
		o.check(h, 1, 0)
		h.out(seg{flags: ".", seq: 101, ack: 5301, win: 55000})
		h.close()
		h.out(seg{flags: "R.", seq: 101, ack: 5301, win: 60000}) // the buffer is empty again
		o.check(h, 1, 1)
		h.kept(0, 0, 0)
		_ = h.tcb.Close(h.now)
		_, err := h.read(100)
		h.check(err != nil, "Read after Close: nil error")
		o.check(h, 1, 1)
	})
	t.Run("CloseRead", func(t *testing.T) {
		h := establishedBuf(t)
		o := h.inOwned(seg{flags: "P.", seq: 301, ack: 101, win: 65535, data: data}, 8192)
		h.check(h.tcb.CloseRead(h.now) == nil, "CloseRead failed")
		o.check(h, 1, 1)
		h.kept(0, 0, 0)
		// Later data is dropped, not kept.
		o2 := h.inOwned(seg{flags: "P.", seq: 5301, ack: 101, win: 65535, data: data}, 8192)
		o2.check(h, 0, 0)
	})
	t.Run("Abort", func(t *testing.T) {
		h := establishedBuf(t)
		o := h.inOwned(seg{flags: "P.", seq: 301, ack: 101, win: 65535, data: data}, 8192)
		h.out(seg{flags: ".", seq: 101, ack: 5301, win: 55000})
		h.abort()
		h.out(seg{flags: "R.", seq: 101, ack: 5301, win: 55000})
		o.check(h, 1, 1)
		h.kept(5000, 0, 8192)
		h.readAll(data)
		h.kept(0, 0, 0)
		o.check(h, 1, 1)
	})
	t.Run("RST", func(t *testing.T) {
		h := establishedBuf(t)
		o := h.inOwned(seg{flags: "P.", seq: 301, ack: 101, win: 65535, data: data}, 8192)
		h.in(seg{flags: "R", seq: 5301})
		h.state(StateClosed)
		o.check(h, 1, 1)
		h.readAll(data)
		_, err := h.read(10)
		h.check(err == errReset, "Read: %v", err)
		o.check(h, 1, 1)
	})
	t.Run("TIME-WAIT", func(t *testing.T) {
		h := establishedBuf(t)
		h.closeWrite()
		h.out(seg{flags: "F.", seq: 101, ack: 301, win: 60000})
		h.in(seg{flags: ".", seq: 301, ack: 102, win: 65535})
		h.state(StateFinWait2)
		o := h.inOwned(seg{flags: "P.", seq: 301, ack: 102, win: 65535, data: data}, 8192)
		h.out(seg{flags: ".", seq: 102, ack: 5301, win: 55000})
		o.check(h, 1, 0)
		h.kept(5000, 5000, 8192)
		h.in(seg{flags: "F.", seq: 5301, ack: 102, win: 65535})
		h.out(seg{flags: ".", seq: 102, ack: 5302, win: 55000})
		h.state(StateTimeWait)
		o.check(h, 1, 1)
		h.kept(5000, 0, 8192)
		h.readAll(data)
		o.check(h, 1, 1)
	})
}

// Kept and copied data are read in the order they arrived, across reads
// of any size; out-of-order data is copied, and so is in-order data while
// any is held out of order (the ring addresses it by offset), after
// which payloads are kept again.
func TestZeroCopy_OrderWithCopiesAndHoles(t *testing.T) {
	h := establishedBuf(t)
	var all []*owner
	in := func(k, n, size int) *owner {
		h.t.Helper()
		o := h.inOwned(seg{flags: "P.", seq: 301 + uint32(k), ack: 101, win: 65535, data: text(k, n)}, size)
		all = append(all, o)
		return o
	}
	in(0, 5000, 8192).check(h, 1, 0)    // kept
	in(5000, 100, 8192).check(h, 0, 0)  // copied: small
	in(5100, 5000, 8192).check(h, 1, 0) // kept
	h.kept(10100, 10000, 16384+512)
	in(15100, 500, 8192).check(h, 0, 0)  // out of order: copied
	in(10100, 5000, 8192).check(h, 0, 0) // fills the hole, with data held past it: copied
	h.kept(15600, 10000, 16384+8192)
	in(15600, 5000, 8192).check(h, 1, 0) // nothing held out of order: kept again
	h.kept(20600, 15000, 24576+8192)
	var got strings.Builder
	for _, n := range []int{700, 4300, 1, 5999, 9600} {
		s, err := h.read(n)
		h.check(err == nil, "read: %v", err)
		got.WriteString(s)
	}
	h.check(got.String() == text(0, 20600), "read the wrong bytes (%d)", got.Len())
	h.kept(0, 0, 0)
	for _, o := range all {
		if o.retained != o.released {
			h.fail("a buffer retained %d times, released %d", o.retained, o.released)
		}
	}
}

// A buffer is charged at least the payload it holds, whatever its owner
// says its size is.
func TestZeroCopy_ChargeAtLeastPayload(t *testing.T) {
	h := establishedBuf(t)
	o := h.inOwned(seg{flags: "P.", seq: 301, ack: 101, win: 65535, data: text(0, 5000)}, 0)
	o.check(h, 1, 0)
	h.kept(5000, 5000, 5000)
	h.readAll(text(0, 5000))
	o.check(h, 1, 1)
	h.kept(0, 0, 0)
}

// A buffer whose charge overshoots the room left by less than an eighth
// of it is kept when its payload fits (the window then offers no more
// than it did); one that overshoots by more is copied.
func TestZeroCopy_NearlyFull(t *testing.T) {
	h := establishedBuf(t)
	o1 := h.inOwned(seg{flags: "P.", seq: 301, ack: 101, win: 65535, data: text(0, 20000)}, 40000)
	h.out(seg{flags: ".", seq: 101, ack: 20301, win: 40000})
	o1.check(h, 1, 0)
	// 20,000 bytes of room left: 18,000 bytes in a 22,000-byte buffer
	// overshoot it by 2,000 (under 22,000/8): kept.
	o2 := h.inOwned(seg{flags: "P.", seq: 20301, ack: 101, win: 65535, data: text(20000, 18000)}, 22000)
	h.out(seg{flags: ".", seq: 101, ack: 38301, win: 22000})
	o2.check(h, 1, 0)
	h.kept(38000, 38000, 62000)
	// No room left: 5,000 bytes in an 8 KiB buffer are copied.
	o3 := h.inOwned(seg{flags: "P.", seq: 38301, ack: 101, win: 65535, data: text(38000, 5000)}, 8192)
	o3.check(h, 0, 0)
	h.kept(43000, 38000, 62000+8192)
	h.readAll(text(0, 43000))
	o1.check(h, 1, 1)
	o2.check(h, 1, 1)
	h.kept(0, 0, 0)
}

// benchOwner is a PayloadOwner that only counts.
type benchOwner struct{ refs int }

func (o *benchOwner) Size() int { return 65664 }
func (o *benchOwner) Retain()   { o.refs++ }
func (o *benchOwner) Release()  { o.refs-- }

// BenchmarkReceive64K: an ESTABLISHED TCB receives in-order segments of
// 65,483 bytes (a 64 KiB packet's payload) and the application reads each
// into a 128 KiB buffer: copied into the ring and out of it, or kept in
// the packet's buffer (Segment.Owner) and copied out of it once. Run with
//
//	go test ./tcp -run '^$' -bench Receive64K -benchmem
func BenchmarkReceive64K(b *testing.B) {
	for _, kept := range []bool{false, true} {
		name := "copied"
		if kept {
			name = "kept"
		}
		b.Run(name, func(b *testing.B) {
			cfg := Config{ReceiveBufferSize: 1 << 20, MaxReceiveBufferSize: 1 << 20}
			tcb, now := benchEstablished(b, cfg)
			const n = 65483
			payload := make([]byte, n)
			rbuf := make([]byte, 128<<10)
			var o benchOwner
			seq := uint32(peer + 1)
			tsval, tsecr := uint32(1001), uint32(0)
			emit := func(s *Segment) { tsecr = s.Options.TSVal }
			b.SetBytes(n)
			b.ReportAllocs()
			for b.Loop() {
				now = now.Add(10 * time.Microsecond)
				tsval++
				seg := Segment{Seq: seq, Ack: iss + 1, Flags: wire.FlagACK, Window: 512,
					Options: ts(tsval, tsecr), Payload: payload}
				if kept {
					seg.Owner = &o
				}
				tcb.HandleSegment(&seg, now)
				seq += n
				if got, err := tcb.Read(rbuf, now); got != n || err != nil {
					b.Fatalf("Read: %d, %v", got, err)
				}
				if o.refs != 0 {
					b.Fatalf("%d references held after the read", o.refs)
				}
				tcb.DrainOutput(emit)
			}
			if kept && tcb.rcvBuf.ring.Allocated() != 0 {
				b.Fatal("the ring holds storage: payloads were copied")
			}
		})
	}
}
