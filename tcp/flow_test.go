package tcp

import (
	"io"
	"strings"
	"testing"
	"time"
)

// Flow control (RFC 9293 §3.8.6): the send window, Nagle and SWS
// avoidance, the receive window and window updates.

// Nothing is sent beyond SND.UNA+SND.WND.
func TestSendWindow_Limit(t *testing.T) {
	h := established(t, plain)
	h.in(seg{flags: ".", seq: 301, ack: 101, win: 1000})
	data := strings.Repeat("d", 2500)
	h.write(data)
	// Window-limited with nothing in flight: the 1000 bytes go.
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535, data: data[:1000]})
	h.none()
	h.in(seg{flags: ".", seq: 301, ack: 601, win: 1000})
	// 500 bytes fit, but data is in flight and 500 < MSS: sender SWS
	// avoidance waits.
	h.none()
	h.in(seg{flags: ".", seq: 301, ack: 1101, win: 1000})
	h.out(seg{flags: ".", seq: 1101, ack: 301, win: 65535, data: data[1000:2000]})
	h.in(seg{flags: ".", seq: 301, ack: 2101, win: 1000})
	h.out(seg{flags: "P.", seq: 2101, ack: 301, win: 65535, data: data[2000:]})
	h.none()
}

// Nagle's algorithm: a small segment waits while data is unacknowledged.
func TestNagle(t *testing.T) {
	h := established(t, plain)
	h.write("a")
	h.out(seg{flags: "P.", seq: 101, ack: 301, win: 65535, data: "a"})
	h.write("b")
	h.write("c")
	h.none()
	h.in(seg{flags: ".", seq: 301, ack: 102, win: 65535})
	h.out(seg{flags: "P.", seq: 102, ack: 301, win: 65535, data: "bc"})
	h.none()
	// A full-sized segment is not held.
	full := strings.Repeat("f", 1460)
	h.write(full)
	h.out(seg{flags: "P.", seq: 104, ack: 301, win: 65535, data: full})
	h.none()
}

// Nagle in Minshall's variant, as Linux applies it (tcp_nagle_check,
// tcp_minshall_check): the small tail of a write goes at once behind
// full-sized segments still in flight; only a later small segment waits,
// and only until the earlier small one is acknowledged.
func TestNagle_Minshall(t *testing.T) {
	h := established(t, plain)
	data := strings.Repeat("m", 1460*2+200)
	h.write(data)
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535, data: data[:1460]})
	h.out(seg{flags: ".", seq: 1561, ack: 301, win: 65535, data: data[1460:2920]})
	h.out(seg{flags: "P.", seq: 3021, ack: 301, win: 65535, data: data[2920:]})
	h.none()
	// The 200-byte segment (ending at 3221) is unacknowledged: "x" waits,
	// also after an ACK of the full-sized segments only.
	h.write("x")
	h.none()
	h.in(seg{flags: ".", seq: 301, ack: 3021, win: 65535})
	h.none()
	h.in(seg{flags: ".", seq: 301, ack: 3221, win: 65535})
	h.out(seg{flags: "P.", seq: 3221, ack: 301, win: 65535, data: "x"})
	h.none()
	// A full-sized segment in flight does not hold a small one back.
	h.in(seg{flags: ".", seq: 301, ack: 3222, win: 65535})
	full := strings.Repeat("f", 1460)
	h.write(full)
	h.out(seg{flags: "P.", seq: 3222, ack: 301, win: 65535, data: full})
	h.write("y")
	h.out(seg{flags: "P.", seq: 4682, ack: 301, win: 65535, data: "y"})
	h.write("z")
	h.none()
	// A segment that ends the data with the FIN is not held.
	h.close()
	h.out(seg{flags: "FP.", seq: 4683, ack: 301, win: 65535, data: "z"})
	h.none()
}

func TestNoDelay(t *testing.T) {
	h := established(t, plain)
	h.tcb.SetNoDelay(true)
	h.write("a")
	h.out(seg{flags: "P.", seq: 101, ack: 301, win: 65535, data: "a"})
	h.write("b")
	h.out(seg{flags: "P.", seq: 102, ack: 301, win: 65535, data: "b"})
	h.none()
}

// The receive window is the free buffer space; the receiver's SWS
// avoidance moves the right edge only by min(MSS, buffer/2) or more, and
// a Read that allows that sends a window update.
func TestReceiveWindow_SWSAndUpdate(t *testing.T) {
	cfg := plain
	cfg.ReceiveBufferSize = 4000
	h := active(t, cfg)
	h.out(seg{flags: "S", seq: iss, win: 4000, opts: mss(1460)})
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 65535, opts: mss(1460)})
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 4000})
	data := strings.Repeat("r", 3000)
	h.in(seg{flags: ".", seq: 301, ack: 101, win: 65535, data: data[:1460]})
	h.in(seg{flags: ".", seq: 1761, ack: 101, win: 65535, data: data[1460:2920]})
	h.out(seg{flags: ".", seq: 101, ack: 3221, win: 1080})
	h.in(seg{flags: "P.", seq: 3221, ack: 101, win: 65535, data: data[2920:]})
	h.none()
	got, _ := h.read(1000)
	h.check(len(got) == 1000, "read %d", len(got))
	h.none() // 1000 bytes free beyond the 1000 offered: below 1460
	got, _ = h.read(500)
	h.check(len(got) == 500, "read %d", len(got))
	// Now 2500 free, 1000 offered: the edge moves by 1500 >= 1460.
	h.out(seg{flags: ".", seq: 101, ack: 3301, win: 2500})
	h.none()
	h.deadline(0) // the update carried the delayed ACK
}

// The right edge never moves left, even when the buffer fills with data
// the application does not read.
func TestReceiveWindow_NeverShrinks(t *testing.T) {
	cfg := plain
	cfg.ReceiveBufferSize = 4000
	cfg.DelayedACK = -1
	h := active(t, cfg)
	h.out(seg{flags: "S", seq: iss, win: 4000, opts: mss(1460)})
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 65535, opts: mss(1460)})
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 4000})
	for i, want := range []uint16{3000, 2000, 1000, 0} {
		s := uint32(301 + 1000*i)
		h.in(seg{flags: ".", seq: s, ack: 101, win: 65535, data: strings.Repeat("x", 1000)})
		h.out(seg{flags: ".", seq: 101, ack: s + 1000, win: want})
	}
	// Beyond the window: trimmed away, ACKed.
	h.in(seg{flags: ".", seq: 4301, ack: 101, win: 65535, data: "over"})
	h.out(seg{flags: ".", seq: 101, ack: 4301, win: 0})
}

// Write takes what fits in the send buffer.
func TestSendBuffer_Full(t *testing.T) {
	cfg := plain
	cfg.SendBufferSize = 10
	h := established(t, cfg)
	h.in(seg{flags: ".", seq: 301, ack: 101, win: 0})
	n, err := h.tcb.Write([]byte("0123456789abcdef"), h.now)
	h.check(n == 10 && err == nil, "Write: %d, %v", n, err)
	h.check(!h.tcb.Writable(), "Writable with a full buffer")
	n, err = h.tcb.Write([]byte("x"), h.now)
	h.check(n == 0 && err == nil, "Write: %d, %v", n, err)
	h.in(seg{flags: ".", seq: 301, ack: 101, win: 100})
	h.out(seg{flags: "P.", seq: 101, ack: 301, win: 65535, data: "0123456789"})
	h.in(seg{flags: ".", seq: 301, ack: 111, win: 100})
	h.check(h.tcb.Writable(), "not Writable after the ACK")
}

func TestReadableWritable(t *testing.T) {
	h := established(t, plain)
	h.check(!h.tcb.Readable() && h.tcb.Writable(), "fresh connection")
	h.in(seg{flags: "P.", seq: 301, ack: 101, win: 65535, data: "x"})
	h.check(h.tcb.Readable(), "data but not Readable")
	h.readAll("x")
	h.check(!h.tcb.Readable(), "Readable after reading all")
	h.in(seg{flags: "F.", seq: 302, ack: 101, win: 65535})
	h.check(h.tcb.Readable(), "FIN but not Readable")
}

// CloseRead drops what is buffered and what comes later, still ACKing it.
func TestCloseRead(t *testing.T) {
	h := established(t, plain)
	h.in(seg{flags: "P.", seq: 301, ack: 101, win: 65535, data: "dropped"})
	if err := h.tcb.CloseRead(h.now); err != nil {
		t.Fatal(err)
	}
	h.collect()
	h.none()
	h.at(40 * time.Millisecond)
	h.out(seg{flags: ".", seq: 101, ack: 308, win: 65528})
	_, err := h.read(10)
	h.check(err == io.EOF, "Read after CloseRead: %v", err)
	h.in(seg{flags: "P.", seq: 308, ack: 101, win: 65535, data: "more"})
	h.at(80 * time.Millisecond)
	h.out(seg{flags: ".", seq: 101, ack: 312, win: 65524})
	h.state(StateEstablished)
}

// A window update the peer does not need yet waits for the delayed ACK, so
// a reply written at once carries it: request, reply, and no bare ACK in
// between. (The SYN-ACK could offer only 65535; the buffer holds 256 KiB.)
func TestWindowUpdate_RidesOnReply(t *testing.T) {
	cfg := plain
	cfg.DisableWScale = false
	h := passive(t, cfg, seg{flags: "S", seq: peer, win: 65535, opts: o(mss(1460), ws(7))})
	h.out(seg{flags: "S.", seq: iss, ack: peer + 1, win: 65535, opts: o(mss(1460), ws(7))})
	h.in(seg{flags: ".", seq: peer + 1, ack: iss + 1, win: 512})
	h.in(seg{flags: "P.", seq: peer + 1, ack: iss + 1, win: 512, data: "request"})
	h.none()
	h.readAll("request")
	h.none() // 65528 still offered: far from stalled
	h.deadline(40 * time.Millisecond)
	h.write("reply")
	h.out(seg{flags: "P.", seq: iss + 1, ack: peer + 8, win: 2048, data: "reply"})
	h.none()
}
