package tcp

import (
	"strings"
	"testing"
)

// A writer stopped by a full send buffer is woken (Writable, poll's
// POLLOUT) only once the free space is at least half of what is queued, as
// Linux's sk_stream_write_space decides: here, with a 5840-byte buffer
// full, not when the ACK of one segment frees 1460 bytes (4380 queued),
// but when the ACK of the second leaves 2920 free for 2920 queued. Write
// itself takes data whenever there is room.
func TestSendBuffer_WakesWriterAtAThirdFree(t *testing.T) {
	cfg := plain
	cfg.SendBufferSize = 4 * 1460
	h := established(t, cfg)
	data := full(4)
	n, err := h.tcb.Write([]byte(data+"more"), h.now)
	h.check(n == len(data) && err == nil, "Write: %d, %v", n, err)
	h.collect()
	for off := 0; off < len(data); off += 1460 {
		flags := "."
		if off+1460 >= len(data) {
			flags = "P."
		}
		h.out(dataSeg(data, off, flags))
	}
	h.none()
	h.check(!h.tcb.Writable(), "Writable with a full buffer")

	h.in(seg{flags: ".", seq: peer + 1, ack: iss + 1 + 1460, win: 65535})
	h.none()
	h.check(h.tcb.sndBuf.Free() == 1460 && !h.tcb.Writable(), "Writable with 1460 bytes free for 4380 queued")

	h.in(seg{flags: ".", seq: peer + 1, ack: iss + 1 + 2*1460, win: 65535})
	h.none()
	h.check(h.tcb.Writable(), "not Writable with 2920 bytes free for 2920 queued")
	n, err = h.tcb.Write([]byte(strings.Repeat("z", 4000)), h.now)
	h.check(n == 2920 && err == nil, "Write: %d, %v", n, err)
}
