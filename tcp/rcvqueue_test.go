package tcp

import (
	"strings"
	"testing"
	"time"
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

// establishedSmall is established with an 8 KiB receive buffer that
// does not auto-tune: SND.NXT=101, RCV.NXT=301, our window 8192.
func establishedSmall(t testing.TB) *harness {
	cfg := plain
	cfg.ReceiveBufferSize, cfg.MaxReceiveBufferSize = 8192, 8192
	h := active(t, cfg)
	h.out(seg{flags: "S", seq: iss, win: 8192, opts: mss(1460)})
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 65535, opts: mss(1460)})
	h.out(seg{flags: ".", seq: iss + 1, ack: peer + 1, win: 8192})
	h.state(StateEstablished)
	return h
}

// A large in-order payload is kept in its buffer, not copied: Read copies
// out of it and releases it once, when its last byte is read. A small one
// is copied. The kept buffer is charged its whole capacity, so the window
// does not open while it is held (copying, the ACK at 80ms would offer
// 8192-1100 = 7092), and opens fully once it is given back.
func TestZeroCopy_KeptUntilRead(t *testing.T) {
	h := establishedSmall(t)
	o := h.inOwned(seg{flags: "P.", seq: 301, ack: 101, win: 65535, data: text(0, 4000)}, 8000)
	h.out(seg{flags: ".", seq: 101, ack: 4301, win: 4192})
	o.check(h, 1, 0)
	h.kept(4000, 4000, 8000)
	got, err := h.read(3000)
	h.check(got == text(0, 3000) && err == nil, "read %q, %v", got, err)
	o.check(h, 1, 0)
	h.kept(1000, 1000, 8000)
	h.none()

	// 100 bytes in a 2 KiB buffer: under a quarter of it, copied into
	// the ring's first 512-byte slab.
	o2 := h.inOwned(seg{flags: "P.", seq: 4301, ack: 101, win: 65535, data: text(4000, 100)}, 2048)
	o2.check(h, 0, 0)
	h.kept(1100, 1000, 8000+512)
	h.after(40 * time.Millisecond)
	h.out(seg{flags: ".", seq: 101, ack: 4401, win: 4092})
	h.readAll(text(3000, 1100))
	o.check(h, 1, 1)
	h.kept(0, 0, 0)
	h.none()

	h.in(seg{flags: "P.", seq: 4401, ack: 101, win: 65535, data: text(4100, 100)})
	h.after(40 * time.Millisecond)
	h.out(seg{flags: ".", seq: 101, ack: 4501, win: 8092})
	h.readAll(text(4100, 100))
	h.none()
}

// Every kept buffer is released exactly once however the connection
// ends: Close and CloseRead release it with the data; ABORT, a peer's RST
// and TIME-WAIT copy what is unread into the ring first, so that it is
// still read (the owner scribbles over a released buffer: a read from it
// would show).
func TestZeroCopy_ReleasedOnceAtEveryEnd(t *testing.T) {
	data := text(0, 1000)
	t.Run("Close", func(t *testing.T) {
		h := establishedSmall(t)
		o := h.inOwned(seg{flags: "P.", seq: 301, ack: 101, win: 65535, data: data}, 2048)
		o.check(h, 1, 0)
		h.close()
		h.out(seg{flags: "R.", seq: 101, ack: 1301, win: 7192})
		o.check(h, 1, 1)
		h.kept(0, 0, 0)
		_ = h.tcb.Close(h.now)
		_, err := h.read(100)
		h.check(err != nil, "Read after Close: nil error")
		o.check(h, 1, 1)
	})
	t.Run("CloseRead", func(t *testing.T) {
		h := establishedSmall(t)
		o := h.inOwned(seg{flags: "P.", seq: 301, ack: 101, win: 65535, data: data}, 2048)
		h.check(h.tcb.CloseRead(h.now) == nil, "CloseRead failed")
		o.check(h, 1, 1)
		h.kept(0, 0, 0)
		// Later data is dropped, not kept.
		o2 := h.inOwned(seg{flags: "P.", seq: 1301, ack: 101, win: 65535, data: data}, 2048)
		o2.check(h, 0, 0)
	})
	t.Run("Abort", func(t *testing.T) {
		h := establishedSmall(t)
		o := h.inOwned(seg{flags: "P.", seq: 301, ack: 101, win: 65535, data: data}, 2048)
		h.abort()
		h.out(seg{flags: "R.", seq: 101, ack: 1301, win: 7192})
		o.check(h, 1, 1)
		h.kept(1000, 0, 1024)
		h.readAll(data)
		h.kept(0, 0, 0)
		o.check(h, 1, 1)
	})
	t.Run("RST", func(t *testing.T) {
		h := establishedSmall(t)
		o := h.inOwned(seg{flags: "P.", seq: 301, ack: 101, win: 65535, data: data}, 2048)
		h.in(seg{flags: "R", seq: 1301})
		h.state(StateClosed)
		o.check(h, 1, 1)
		h.readAll(data)
		_, err := h.read(10)
		h.check(err == errReset, "Read: %v", err)
		o.check(h, 1, 1)
	})
	t.Run("TIME-WAIT", func(t *testing.T) {
		h := establishedSmall(t)
		h.closeWrite()
		h.out(seg{flags: "F.", seq: 101, ack: 301, win: 8192})
		h.in(seg{flags: ".", seq: 301, ack: 102, win: 65535})
		h.state(StateFinWait2)
		o := h.inOwned(seg{flags: "P.", seq: 301, ack: 102, win: 65535, data: data}, 2048)
		o.check(h, 1, 0)
		h.kept(1000, 1000, 2048)
		h.in(seg{flags: "F.", seq: 1301, ack: 102, win: 65535})
		h.out(seg{flags: ".", seq: 102, ack: 1302, win: 7192})
		h.state(StateTimeWait)
		o.check(h, 1, 1)
		h.kept(1000, 0, 1024)
		h.readAll(data)
		o.check(h, 1, 1)
	})
}

// Kept and copied data are read in the order they arrived, across reads
// of any size; out-of-order data is copied, and so is in-order data while
// any is held out of order (the ring addresses it by offset), after
// which payloads are kept again.
func TestZeroCopy_OrderWithCopiesAndHoles(t *testing.T) {
	h := establishedSmall(t)
	var all []*owner
	in := func(seq uint32, k, n, size int) *owner {
		h.t.Helper()
		o := h.inOwned(seg{flags: "P.", seq: seq, ack: 101, win: 65535, data: text(k, n)}, size)
		all = append(all, o)
		return o
	}
	in(301, 0, 1000, 2048).check(h, 1, 0)     // kept
	in(1301, 1000, 100, 2048).check(h, 0, 0)  // copied: small
	in(1401, 1100, 1000, 2048).check(h, 1, 0) // kept
	h.kept(2100, 2000, 4096+512)
	in(2901, 2600, 500, 2000).check(h, 0, 0) // out of order: copied
	in(2401, 2100, 500, 2000).check(h, 0, 0) // fills the hole, with data held past it: copied
	h.kept(3100, 2000, 4096+4096)
	in(3401, 3100, 600, 2048).check(h, 1, 0) // nothing held out of order: kept again
	h.kept(3700, 2600, 6144+4096)
	h.check(h.info().ReceiveBufferAllocated == 6144+4096, "allocated")
	var got strings.Builder
	for _, n := range []int{700, 350, 1, 1049, 1600} {
		s, err := h.read(n)
		h.check(err == nil, "read: %v", err)
		got.WriteString(s)
	}
	h.check(got.String() == text(0, 3700), "read the wrong bytes (%d)", got.Len())
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
	h := establishedSmall(t)
	o := h.inOwned(seg{flags: "P.", seq: 301, ack: 101, win: 65535, data: text(0, 1000)}, 0)
	o.check(h, 1, 0)
	h.kept(1000, 1000, 1000)
	h.readAll(text(0, 1000))
	o.check(h, 1, 1)
	h.kept(0, 0, 0)
}
