package tcp

import (
	"strings"
	"testing"
	"time"
)

// The figures below were measured on Linux 6.18 (x86-64) with
// packetdrill in a network namespace, reading sk_wmem_queued (ss -tm,
// skmem w) after each step, with the numbers of Linux's
// blocking/blocking-write script: SO_SNDBUF 21000 (sk_sndbuf 42000), the
// peer's MSS 1000 and window 50000, tcp_min_tso_segs 10, an RTT of
// 100 ms (README, difference 9).

// linuxMem is an active open under Linux's send-buffer memory with those
// numbers: the SYN-ACK comes 100 ms after the SYN.
func linuxMem(t *testing.T) *harness {
	cfg := plain
	cfg.SendBufferSize = 42000
	cfg.SendBufferOverhead = LinuxSkbOverhead
	cfg.MinTSOSegs = 10
	h := active(t, cfg)
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: mss(1460)})
	h.after(100 * time.Millisecond)
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 50000, opts: mss(1000)})
	h.out(seg{flags: ".", seq: iss + 1, ack: peer + 1, win: 65535})
	h.state(StateEstablished)
	return h
}

// memAck delivers the ACK of sequence number 1+a (the script's numbering)
// 100 ms after the last step, drops what it sends, and checks SND.NXT,
// the memory charged and whether a blocked writer is woken.
func (h *harness) memAck(a uint32, delay time.Duration, sent uint32, mem int, writable bool) {
	h.t.Helper()
	h.after(delay)
	h.in(seg{flags: ".", seq: peer + 1, ack: iss + a, win: 50000})
	h.pending = nil
	h.memCheck(sent, mem, writable)
}

// memCheck checks SND.NXT (as 1+sent), the memory charged and Writable.
func (h *harness) memCheck(sent uint32, mem int, writable bool) {
	h.t.Helper()
	if got := h.tcb.sndNxt - iss; got != 1+sent {
		h.fail("SND.NXT at %d, want %d", got, 1+sent)
	}
	if got := h.tcb.SendQueueMemory(); got != mem {
		h.fail("send queue memory %d, want %d", got, mem)
	}
	if got := h.tcb.Writable(); got != writable {
		h.fail("Writable %v, want %v", got, writable)
	}
}

// Linux's blocking-write: a write of 61000 bytes takes 60000 into a
// 42000-byte buffer (2 skbs of 5000 sent, 2 of 25000 waiting: 63328),
// and the writer is woken by the first ACK that leaves the queue at
// 28000 bytes of memory or less: 34497, not 34496 (the kernel: the write
// returns at the ACK of 34497, is still blocked after 34496).
func TestSendMemory_LinuxBlockingWriteWakePoint(t *testing.T) {
	for _, c := range []struct {
		ack      uint32
		mem      int
		writable bool
	}{
		{34496, 25505 + 3*LinuxSkbOverhead, false}, // 28001
		{34497, 25504 + 3*LinuxSkbOverhead, true},  // 28000
		{35001, 25000 + 3*LinuxSkbOverhead, true},  // Linux's comment says 35001 does not wake: it does on 6.18
	} {
		h := linuxMem(t)
		n, err := h.tcb.Write([]byte(strings.Repeat("x", 61000)), h.now)
		h.check(n == 60000 && err == nil, "Write: %d, %v; want 60000", n, err)
		h.collect()
		h.pending = nil
		h.memCheck(10000, 60000+4*LinuxSkbOverhead, false) // 63328
		h.check(h.tcb.SendBufferSize() == 42000 && h.info().SendBufferSize == 42000,
			"send buffer size %d, Info %d; want 42000", h.tcb.SendBufferSize(), h.info().SendBufferSize)
		// 2 skbs freed; 20 segments go in 2 skbs, 5000 and 25000 wait.
		h.memAck(10001, 100*time.Millisecond, 30000, 50000+4*LinuxSkbOverhead, false) // 53328
		// 2 freed; the 30000 go in 3 skbs of 10 segments (the first
		// grown from the 5000 and 5000 of the next).
		h.memAck(30001, 100*time.Millisecond, 60000, 30000+3*LinuxSkbOverhead, false) // 32496
		h.memAck(c.ack, 100*time.Millisecond, 60000, c.mem, c.writable)
		if c.writable {
			n, err = h.tcb.Write([]byte(strings.Repeat("y", 1000)), h.now)
			h.check(n == 1000 && err == nil, "Write after the wake-up: %d, %v", n, err)
		}
	}
}

// An ACK frees the skbs it covers entirely; one it covers in part keeps
// its overhead (measured: 27496 at 35001, 16664 at 45001, 5832 at 55001).
func TestSendMemory_PartialAckKeepsOverhead(t *testing.T) {
	h := linuxMem(t)
	n, _ := h.tcb.Write([]byte(strings.Repeat("x", 61000)), h.now)
	h.check(n == 60000, "Write: %d", n)
	h.collect()
	h.pending = nil
	h.memAck(10001, 100*time.Millisecond, 30000, 53328, false)
	h.memAck(30001, 100*time.Millisecond, 60000, 32496, false)
	h.memAck(35001, 100*time.Millisecond, 60000, 27496, true)
	h.memAck(45001, 0, 60000, 16664, true)
	h.memAck(55001, 0, 60000, 5832, true)
	h.memAck(60001, 0, 60000, 0, true)
}

// One write on a fresh connection: cwnd 10 sends two skbs of 5 segments
// (tcp_cwnd_test's half cwnd), the rest waits in one skb of up to the
// size goal (25000, half the peer's window). Measured w for each size.
func TestSendMemory_OneWrite(t *testing.T) {
	for _, c := range []struct{ n, mem int }{
		{5000, 5832}, {10000, 11664}, {11000, 13496}, {15000, 17496},
		{20000, 22496}, {25000, 27496}, {26000, 28496}, {40000, 43328},
	} {
		h := linuxMem(t)
		h.write(strings.Repeat("x", c.n))
		h.pending = nil
		if got := h.tcb.SendQueueMemory(); got != c.mem {
			t.Errorf("write %d: send queue memory %d, want %d", c.n, got, c.mem)
		}
	}
}

// Without SendBufferOverhead (the default) the buffer holds
// SendBufferSize bytes of data, and SendQueueMemory is those bytes.
func TestSendMemory_OffByDefault(t *testing.T) {
	cfg := plain
	cfg.SendBufferSize = 42000
	h := established(t, cfg)
	n, err := h.tcb.Write([]byte(strings.Repeat("x", 61000)), h.now)
	h.check(n == 42000 && err == nil, "Write: %d, %v; want 42000", n, err)
	h.check(h.tcb.SendQueueMemory() == 42000, "send queue memory %d", h.tcb.SendQueueMemory())
}

// The size goal is at most 64 KiB less headers: with a window of
// 65535·2^7 and an MSS of 1000, skbs of 65 segments. A write of 75000
// bytes sends 10000 (2 skbs) and leaves one of 65000 (3 skbs, 77496 on
// Linux); 75001 needs a fourth skb (78329).
func TestSendMemory_SizeGoalBelow64KiB(t *testing.T) {
	for _, c := range []struct{ n, mem int }{{75000, 77496}, {75001, 78329}} {
		cfg := plain
		cfg.DisableWScale = false
		cfg.SendBufferSize = 400000
		cfg.SendBufferOverhead = LinuxSkbOverhead
		cfg.MinTSOSegs = 10
		h := active(t, cfg)
		h.after(100 * time.Millisecond)
		h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 65535, opts: o(mss(1000), ws(7))})
		h.in(seg{flags: ".", seq: peer + 1, ack: iss + 1, win: 65535}) // the scaled window
		h.pending = nil
		h.write(strings.Repeat("x", c.n))
		h.pending = nil
		h.memCheck(10000, c.mem, true)
	}
}

// memConn is an active open under Linux's send-buffer memory with
// sk_sndbuf 30000, the peer's MSS 1000 and window 40000, skbs of 2
// segments (tcp_min_tso_segs 2), SACK if sack; the SYN-ACK comes 100 ms
// after the SYN.
func memConn(t *testing.T, sack bool) *harness {
	cfg := plain
	cfg.SendBufferSize = 30000
	cfg.SendBufferOverhead = LinuxSkbOverhead
	cfg.MinTSOSegs = 2
	opts := mss(1000)
	if sack {
		cfg.DisableSACK = false
		opts = o(opts, sackOK())
	}
	h := active(t, cfg)
	h.after(100 * time.Millisecond)
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 40000, opts: opts})
	h.pending = nil
	return h
}

// Retransmissions split skbs as Linux's do (measured with ss -tm): the
// timeout resends one segment, split off its skb (34992 → 35824); the
// ACK of it frees that skb and F-RTO sends two new segments in skbs of
// one (cwnd 2: half of it per skb), 35656. A tail loss probe (with SACK)
// splits the last segment off its skb: 10000 bytes in 5 skbs, 14160,
// then 14992; the ACK of 4001 frees two skbs, 9328.
func TestSendMemory_RetransmissionSplits(t *testing.T) {
	h := memConn(t, false)
	h.write(strings.Repeat("x", 30000))
	h.pending = nil
	h.memCheck(10000, 30000+6*LinuxSkbOverhead, false) // 34992
	h.after(350 * time.Millisecond)                    // the timeout, at 300 ms
	h.pending = nil
	h.memCheck(10000, 35824, false)
	h.memAck(1001, 0, 12000, 35656, false)

	h = memConn(t, true)
	h.write(strings.Repeat("x", 10000))
	h.pending = nil
	h.memCheck(10000, 14160, true)
	h.after(250 * time.Millisecond) // the probe, at 2·SRTT and a bit
	h.pending = nil
	h.memCheck(10000, 14992, true)
	h.memAck(4001, 0, 10000, 9328, true)
}

// With timestamps the segments carry 988 bytes (Linux's mss_now), and
// so do the size goal (20 of them in half the window of 40000) and the
// skbs (measured: the write of 50000 takes 29640 bytes, 34632; then
// 28080, 14040 and 7137 after the ACKs of 9881, 19761 and 25000).
func TestSendMemory_Timestamps(t *testing.T) {
	cfg := plain
	cfg.DisableTimestamps = false
	cfg.SendBufferSize = 30000
	cfg.SendBufferOverhead = LinuxSkbOverhead
	cfg.MinTSOSegs = 2
	h := active(t, cfg)
	h.after(100 * time.Millisecond)
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 40000, opts: o(mss(1000), ts(100, 0))})
	h.pending = nil
	n, err := h.tcb.Write([]byte(strings.Repeat("x", 50000)), h.now)
	h.check(n == 29640 && err == nil, "Write: %d, %v; want 29640", n, err)
	h.collect()
	h.pending = nil
	h.memCheck(9880, 34632, false)
	for i, c := range []struct {
		ack  uint32
		sent uint32
		mem  int
	}{{9881, 29640, 28080}, {19761, 29640, 14040}, {25000, 29640, 7137}} {
		h.after(100 * time.Millisecond)
		h.in(seg{flags: ".", seq: peer + 1, ack: iss + c.ack, win: 40000, opts: ts(101+uint32(i), 0)})
		h.pending = nil
		h.memCheck(c.sent, c.mem, c.mem <= 20000)
	}
}
