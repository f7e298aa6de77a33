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
		i := h.tcb.Info()
		if i.SendBufferAllocated != snd || i.ReceiveBufferAllocated != rcv {
			h.fail("allocated: send %d, receive %d; want %d, %d", i.SendBufferAllocated, i.ReceiveBufferAllocated, snd, rcv)
		}
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
