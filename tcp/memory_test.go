package tcp

import (
	"testing"
	"time"
	"unsafe"
)

// The buffers hold memory only while they hold data: none after the
// handshake, a slab while a byte waits to be read or acknowledged, none
// again once it is read or acknowledged. The output queue goes with them.
func TestBuffers_MemoryOnlyWhileHoldingData(t *testing.T) {
	h := established(t, plain)
	alloc := func(snd, rcv int) {
		t.Helper()
		h.allocated(snd, rcv)
		if snd == 0 && rcv == 0 && h.tcb.outBox != nil {
			h.fail("idle, and the output queue is held")
		}
	}
	alloc(0, 0)
	h.in(seg{flags: "P.", seq: 301, ack: 101, win: 65535, data: "q"})
	alloc(0, 512)
	h.after(40 * time.Millisecond)
	h.out(seg{flags: ".", seq: 101, ack: 302, win: 65534})
	h.read(1)
	alloc(0, 0)
	h.write("a")
	h.out(seg{flags: "P.", seq: 101, ack: 302, win: 65534, data: "a"}) // SWS avoidance: the edge moves by an MSS
	alloc(512, 0)
	h.in(seg{flags: ".", seq: 302, ack: 102, win: 65535})
	alloc(0, 0)
	h.none()
}

// With Config.DeferReclaim the buffers keep their storage once drained,
// and the owner's ReclaimIdle gives it back once a look finds the
// connection unused since the one before. EventStorage comes once per
// spell of storage held: with the first byte held, and again after a
// ReclaimIdle gave storage back (a pure ACK's output queue does not
// count). Under memory pressure storage goes back at once, as without the
// setting.
func TestDeferReclaim(t *testing.T) {
	m := &Memory{Low: 1 << 20, Pressure: 2 << 20, High: 4 << 20}
	cfg := plain
	cfg.DeferReclaim = true
	cfg.Memory = m
	h := established(t, cfg)
	alloc := h.allocated
	storage := func(want bool) {
		t.Helper()
		if got := h.tcb.TakeEvents()&EventStorage != 0; got != want {
			h.fail("EventStorage %v, want %v", got, want)
		}
	}
	storage(false)
	h.write("a")
	h.out(seg{flags: "P.", seq: 101, ack: 301, win: 65535, data: "a"})
	alloc(512, 0)
	storage(true)
	h.in(seg{flags: "P.", seq: 301, ack: 102, win: 65535, data: "b"})
	alloc(512, 512) // "a" acknowledged: its page kept; "b" waits to be read
	h.read(1)
	alloc(512, 512) // read: the slab kept
	storage(false)  // reported already
	if !h.tcb.ReclaimIdle() {
		h.fail("ReclaimIdle after use: gave the storage back")
	}
	alloc(512, 512)
	if h.tcb.ReclaimIdle() {
		h.fail("ReclaimIdle after a quiet spell: kept the storage")
	}
	alloc(0, 0)
	if h.tcb.outBox != nil {
		h.fail("idle, and the output queue is held")
	}
	storage(false)
	// The next byte held is reported again; this time memory is under
	// pressure (other connections hold 3 MiB): the ACK that drains the
	// buffer gives its page back.
	h.after(40 * time.Millisecond)
	h.out(seg{flags: ".", seq: 102, ack: 302, win: 65534}) // the delayed ACK of "b" (SWS avoidance: the edge moves by an MSS)
	h.write("c")
	h.out(seg{flags: "P.", seq: 102, ack: 302, win: 65534, data: "c"})
	storage(true)
	m.charge(3<<20, growForced)
	h.in(seg{flags: ".", seq: 302, ack: 103, win: 65535})
	alloc(0, 0)
	h.none()
}

// A connection that carries no data holds no buffer storage, only the
// record of its FIN in flight: with Config.DeferReclaim it reports no
// EventStorage (the owner's sweep never looks at it) and gives the record
// back when the FIN is acknowledged, as it would without deferral.
func TestDeferReclaim_NoDataNoStorage(t *testing.T) {
	cfg := plain
	cfg.DeferReclaim = true
	h := established(t, cfg)
	h.close()
	h.out(seg{flags: "F.", seq: 101, ack: 301, win: 65535})
	if h.tcb.tx.segs == nil {
		h.fail("FIN in flight, and no record of it")
	}
	if h.tcb.TakeEvents()&EventStorage != 0 {
		h.fail("EventStorage for a FIN in flight")
	}
	h.in(seg{flags: ".", seq: 301, ack: 102, win: 65535})
	h.state(StateFinWait2)
	if h.tcb.tx.segs != nil {
		h.fail("FIN acknowledged: its record is still held")
	}
	if h.tcb.TakeEvents()&EventStorage != 0 {
		h.fail("EventStorage after the FIN was acknowledged")
	}
	h.none()
}

// Under memory pressure the window offered is the minimal window (four
// segments) less what is buffered, from the SYN on; it grows back once
// the pressure ends. The window already offered is never withdrawn.
func TestMemoryPressure_MinimalWindow(t *testing.T) {
	m := &Memory{Low: 1 << 20, Pressure: 2 << 20, High: 4 << 20}
	m.charge(3<<20, growForced) // other connections hold 3 MiB
	cfg := plain
	cfg.Memory = m
	h := active(t, cfg)
	h.out(seg{flags: "S", seq: iss, win: 5840, opts: mss(1460)})
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 65535, opts: mss(1460)})
	h.out(seg{flags: ".", seq: iss + 1, ack: peer + 1, win: 5840})
	h.in(seg{flags: "P.", seq: 301, ack: 101, win: 65535, data: full(1)})
	h.after(40 * time.Millisecond)
	h.out(seg{flags: ".", seq: 101, ack: 1761, win: 4380})
	h.read(1460)
	h.after(40 * time.Millisecond)
	h.none() // 4380 still offered, 5840 is not twice that: no update (windowUpdate)
	// Pressure ends (below Low): the next ACK offers the whole buffer.
	m.uncharge(3 << 20)
	h.in(seg{flags: "P.", seq: 1761, ack: 101, win: 65535, data: "x"})
	h.after(40 * time.Millisecond)
	h.out(seg{flags: ".", seq: 101, ack: 1762, win: 65535})
	h.none()
	// "x" is held in a slab of the class the last one had (2 KiB).
	if st := m.Stats(); st.PressureEvents != 1 || st.InUse != 2048 {
		t.Fatalf("memory: %+v", st)
	}
}

// The TCB's size is memory every idle connection pays: it must stay in the
// 1152-byte allocation class on 64-bit platforms. The runtime puts an
// 8-byte header in front of every object above 512 bytes that holds
// pointers, so the TCB itself may take 1144 bytes. It was 1536 bytes
// (1792 with the header's class) before its deadlines became 8-byte
// instants and the recovery and undo state moved behind pointers taken
// when needed; 1088 then, leaving 56 for new fields. A new field that
// pushes it past goes into a padding hole, or is allocated only when
// needed (as lossState and undoState are). BenchmarkIdleConn (stack)
// shows the class: 5,274 bytes per idle connection pair at 1536 bytes,
// 4,250 at 1152, 3,994 at 1112.
func TestTCBSize(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("sizes are for 64-bit platforms")
	}
	if n := unsafe.Sizeof(TCB{}); n > 1152-mallocHeader {
		t.Errorf("TCB is %d bytes: with its %d-byte allocation header, past the 1152-byte class", n, mallocHeader)
	}
}

// mallocHeader is what the Go allocator adds to an object with pointers
// larger than 512 bytes on 64-bit platforms.
const mallocHeader = 8

// allocated checks the storage the send and receive buffers hold.
func (h *harness) allocated(snd, rcv int) {
	h.t.Helper()
	i := h.tcb.Info()
	if i.SendBufferAllocated != snd || i.ReceiveBufferAllocated != rcv {
		h.fail("allocated: send %d, receive %d; want %d, %d", i.SendBufferAllocated, i.ReceiveBufferAllocated, snd, rcv)
	}
}
