package tcp

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// Timers: retransmission (RFC 6298), keepalive (RFC 1122 §4.2.3.6),
// delayed ACK (RFC 9293 §3.8.6.3) and zero-window probes (§3.8.6.1).
// established() took a 0 ms RTT sample, so its RTO starts at MinRTO.

func TestRTO_Samples(t *testing.T) {
	h := active(t, plain)
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: mss(1460)})
	h.at(100 * time.Millisecond)
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 65535, opts: mss(1460)})
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535})
	// First sample R=100ms: SRTT=R, RTTVAR=R/2, RTO=SRTT+4·RTTVAR.
	i := h.info()
	h.check(i.SRTT == 100*time.Millisecond && i.RTTVar == 50*time.Millisecond && i.RTO == 300*time.Millisecond,
		"SRTT %v RTTVAR %v RTO %v", i.SRTT, i.RTTVar, i.RTO)
	h.write("x")
	h.out(seg{flags: "P.", seq: 101, ack: 301, win: 65535, data: "x"})
	h.deadline(400 * time.Millisecond)
	h.at(300 * time.Millisecond)
	h.in(seg{flags: ".", seq: 301, ack: 102, win: 65535})
	h.deadline(0)
	// R=200ms: RTTVAR = 3/4·50 + 1/4·|100−200| = 62.5; SRTT = 7/8·100 + 1/8·200 = 112.5.
	i = h.info()
	h.check(i.SRTT == 112500*time.Microsecond && i.RTTVar == 62500*time.Microsecond &&
		i.RTO == 362500*time.Microsecond, "SRTT %v RTTVAR %v RTO %v", i.SRTT, i.RTTVar, i.RTO)
}

// Data is retransmitted from SND.UNA with the timer doubling each time;
// the ACK of a retransmission gives no RTT sample (Karn's rule).
func TestRetransmission_BackoffAndKarn(t *testing.T) {
	h := established(t, plain)
	h.write("hello")
	h.out(seg{flags: "P.", seq: 101, ack: 301, win: 65535, data: "hello"})
	for _, at := range []time.Duration{200, 600, 1400} {
		h.deadline(at * time.Millisecond)
		h.at(at * time.Millisecond)
		h.out(seg{flags: "P.", seq: 101, ack: 301, win: 65535, data: "hello"})
		h.none()
	}
	h.deadline(3000 * time.Millisecond)
	h.check(h.info().Retransmits == 3 && h.info().RTO == 1600*time.Millisecond, "%+v", h.info())
	h.at(1500 * time.Millisecond)
	h.in(seg{flags: ".", seq: 301, ack: 106, win: 65535})
	h.deadline(0)
	i := h.info()
	h.check(i.Retransmits == 0 && i.SRTT == 0 && i.RTO == 1600*time.Millisecond, "%+v", i)
}

// Only up to one MSS is retransmitted, from SND.UNA.
func TestRetransmission_OneSegmentFromSndUna(t *testing.T) {
	cfg := plain
	cfg.NoDelay = true
	h := established(t, cfg)
	data := strings.Repeat("a", 1460) + strings.Repeat("b", 1460)
	h.write(data)
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535, data: data[:1460]})
	h.out(seg{flags: "P.", seq: 1561, ack: 301, win: 65535, data: data[1460:]})
	h.at(100 * time.Millisecond)
	h.in(seg{flags: ".", seq: 301, ack: 1561, win: 65535}) // the timer restarts: 300 ms
	h.deadline(300 * time.Millisecond)
	h.at(300 * time.Millisecond)
	h.out(seg{flags: "P.", seq: 1561, ack: 301, win: 65535, data: data[1460:]})
	h.none()
}

func TestRetransmission_MaxRetries_TimedOut(t *testing.T) {
	cfg := plain
	cfg.MaxRetries = 3
	h := established(t, cfg)
	h.write("hello")
	h.out(seg{flags: "P.", seq: 101, ack: 301, win: 65535, data: "hello"})
	h.at(1400 * time.Millisecond)
	for range 3 {
		h.out(seg{flags: "P.", seq: 101, ack: 301, win: 65535, data: "hello"})
	}
	h.deadline(3000 * time.Millisecond)
	h.at(3000 * time.Millisecond)
	h.none()
	h.state(StateClosed)
	h.err(syscall.ETIMEDOUT)
	_, err := h.tcb.Write([]byte("x"), h.now)
	h.check(err == syscall.ETIMEDOUT, "Write: %v", err)
}

// The RTO never exceeds MaxRTO.
func TestRetransmission_MaxRTO(t *testing.T) {
	cfg := plain
	cfg.MaxRTO = time.Second
	h := established(t, cfg)
	h.write("x")
	h.out(seg{flags: "P.", seq: 101, ack: 301, win: 65535, data: "x"})
	h.at(1400 * time.Millisecond) // 200, 600 (+400), 1400 (+800)
	h.deadline(2400 * time.Millisecond)
	h.check(h.info().RTO == time.Second, "RTO %v", h.info().RTO)
}

func TestRetransmission_Fin(t *testing.T) {
	h := established(t, plain)
	h.close()
	h.out(seg{flags: "F.", seq: 101, ack: 301, win: 65535})
	h.at(200 * time.Millisecond)
	h.out(seg{flags: "F.", seq: 101, ack: 301, win: 65535})
	h.none()
	h.state(StateFinWait1)
}

// SYN-ACK retransmission and SYN-RECEIVED's timer.
func TestRetransmission_SynAck(t *testing.T) {
	h := passive(t, plain, seg{flags: "S", seq: peer, win: 65535, opts: mss(1460)})
	h.out(seg{flags: "S.", seq: iss, ack: peer + 1, win: 65535, opts: mss(1460)})
	h.at(time.Second)
	h.out(seg{flags: "S.", seq: iss, ack: peer + 1, win: 65535, opts: mss(1460)})
	h.deadline(3 * time.Second)
	h.in(seg{flags: ".", seq: peer + 1, ack: iss + 1, win: 65535})
	h.state(StateEstablished)
	h.deadline(0)
}

func kaConfig() Config {
	cfg := plain
	cfg.KeepAlive = KeepAliveConfig{Enable: true, Idle: 10 * time.Second, Interval: 2 * time.Second, Count: 3}
	return cfg
}

// Keepalive probes go out at exact instants: Idle after the last segment
// from the peer, then every Interval; an answer starts over.
func TestKeepAlive_ProbesAndTimeout(t *testing.T) {
	h := established(t, kaConfig())
	probe := seg{flags: ".", seq: 100, ack: 301, win: 65535} // SEQ=SND.NXT−1
	h.deadline(10 * time.Second)
	h.at(10*time.Second - time.Millisecond)
	h.none()
	h.at(10 * time.Second)
	h.out(probe)
	h.none()
	h.deadline(12 * time.Second)
	h.at(11 * time.Second)
	h.in(seg{flags: ".", seq: 301, ack: 101, win: 65535}) // the answer
	h.none()
	h.deadline(21 * time.Second)
	h.at(21 * time.Second)
	h.out(probe)
	h.at(23 * time.Second)
	h.out(probe)
	h.at(25 * time.Second)
	h.out(probe)
	h.none()
	h.deadline(27 * time.Second)
	h.at(27 * time.Second)
	h.out(seg{flags: "R.", seq: 101, ack: 301, win: 65535})
	h.none()
	h.state(StateClosed)
	h.err(syscall.ETIMEDOUT)
}

func TestKeepAlive_Defaults(t *testing.T) {
	h := established(t, plain)
	h.deadline(0)
	h.tcb.SetKeepAlive(KeepAliveConfig{Enable: true}, h.now)
	h.deadline(2 * time.Hour)
	h.at(2 * time.Hour)
	h.out(seg{flags: ".", seq: 100, ack: 301, win: 65535})
	h.deadline(2*time.Hour + 75*time.Second)
	h.tcb.SetKeepAlive(KeepAliveConfig{}, h.now)
	h.deadline(0)
}

// Any segment from the peer, data included, restarts the idle time.
func TestKeepAlive_RestartedByData(t *testing.T) {
	h := established(t, kaConfig())
	h.at(5 * time.Second)
	h.in(seg{flags: "P.", seq: 301, ack: 101, win: 65535, data: "x"})
	h.deadline(5*time.Second + 40*time.Millisecond) // the delayed ACK first
	h.at(5*time.Second + 40*time.Millisecond)
	h.out(seg{flags: ".", seq: 101, ack: 302, win: 65534})
	h.deadline(15 * time.Second)
}

func TestDelayedAck_Timer(t *testing.T) {
	h := established(t, plain)
	h.in(seg{flags: "P.", seq: 301, ack: 101, win: 65535, data: "one"})
	h.none()
	h.deadline(40 * time.Millisecond)
	h.at(39 * time.Millisecond)
	h.in(seg{flags: "P.", seq: 304, ack: 101, win: 65535, data: "two"})
	h.none()
	h.deadline(40 * time.Millisecond) // not restarted by the second segment
	h.at(40 * time.Millisecond)
	h.out(seg{flags: ".", seq: 101, ack: 307, win: 65529})
	h.none()
	h.deadline(0)
}

// At least every second full-sized segment is ACKed at once.
func TestDelayedAck_EverySecondFullSegment(t *testing.T) {
	h := established(t, plain)
	full := strings.Repeat("z", 1460)
	h.in(seg{flags: ".", seq: 301, ack: 101, win: 65535, data: full})
	h.none()
	h.in(seg{flags: ".", seq: 1761, ack: 101, win: 65535, data: full})
	// 256 KiB of buffer, unscaled: the window stays at 65535.
	h.out(seg{flags: ".", seq: 101, ack: 3221, win: 65535})
	h.none()
	h.deadline(0)
}

// A negative DelayedACK ACKs every segment at once.
func TestDelayedAck_Disabled(t *testing.T) {
	cfg := plain
	cfg.DelayedACK = -1
	h := established(t, cfg)
	h.in(seg{flags: "P.", seq: 301, ack: 101, win: 65535, data: "one"})
	h.out(seg{flags: ".", seq: 101, ack: 304, win: 65532})
	h.none()
}

// Outgoing data carries the pending ACK and cancels the timer.
func TestDelayedAck_Piggyback(t *testing.T) {
	h := established(t, plain)
	h.in(seg{flags: "P.", seq: 301, ack: 101, win: 65535, data: "ping"})
	h.none()
	h.at(10 * time.Millisecond)
	h.readAll("ping")
	h.write("pong")
	h.out(seg{flags: "P.", seq: 101, ack: 305, win: 65531, data: "pong"})
	h.none()
	h.deadline(210 * time.Millisecond) // only the retransmission timer
}

// Out-of-order data is ACKed at once (a duplicate ACK), held, and
// delivered when the hole is filled.
func TestOutOfOrder_Reassembly(t *testing.T) {
	h := established(t, plain)
	h.in(seg{flags: "P.", seq: 306, ack: 101, win: 65535, data: "world"})
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535})
	h.in(seg{flags: "P.", seq: 316, ack: 101, win: 65535, data: "!"})
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535})
	h.check(!h.tcb.Readable(), "readable with a hole")
	h.in(seg{flags: "P.", seq: 301, ack: 101, win: 65535, data: "hello"})
	h.out(seg{flags: ".", seq: 101, ack: 311, win: 65525})
	h.in(seg{flags: "P.", seq: 311, ack: 101, win: 65535, data: "12345"})
	h.out(seg{flags: ".", seq: 101, ack: 317, win: 65519})
	h.readAll("helloworld12345!")
}

// Reassembly keeps any number of ranges (the buffer bounds them), merges
// neighbours and reports duplicates.
func TestReassemblyRanges(t *testing.T) {
	var a reassembly
	for i := range uint32(100) {
		if a.insert(10+20*i, 20+20*i) {
			t.Fatalf("range %d reported as a duplicate", i)
		}
	}
	if len(a.r) != 100 {
		t.Fatalf("%d ranges, want 100", len(a.r))
	}
	if !a.insert(12, 18) || !a.insert(30, 40) || a.insert(25, 31) {
		t.Fatal("duplicate detection")
	}
	a.insert(15, 35) // merges the first two
	if len(a.r) != 99 || a.r[0].start != 10 || a.r[0].end != 40 {
		t.Fatalf("after merge: %+v", a.r[:2])
	}
	if end, ok := a.take(12); !ok || end != 40 || len(a.r) != 98 {
		t.Fatalf("take(12) = %d, %v; %d ranges", end, ok, len(a.r))
	}
	if _, ok := a.take(45); ok || len(a.r) != 98 {
		t.Fatalf("take(45): %d ranges", len(a.r))
	}
}

// A zero window stops sending; probes of one byte go out with backoff
// until the window opens, then the data follows.
func TestPersist_ZeroWindowProbes(t *testing.T) {
	h := established(t, plain)
	h.in(seg{flags: ".", seq: 301, ack: 101, win: 0})
	h.write("hello")
	h.none()
	h.deadline(200 * time.Millisecond)
	h.at(200 * time.Millisecond)
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535, data: "h"})
	h.none()
	h.deadline(600 * time.Millisecond)
	h.at(250 * time.Millisecond)
	h.in(seg{flags: ".", seq: 301, ack: 101, win: 0}) // probe refused
	h.none()
	h.at(600 * time.Millisecond)
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535, data: "h"})
	h.deadline(1400 * time.Millisecond)
	h.at(700 * time.Millisecond)
	h.in(seg{flags: ".", seq: 301, ack: 101, win: 1000}) // the window opens
	h.out(seg{flags: "P.", seq: 101, ack: 301, win: 65535, data: "hello"})
	h.none()
	h.deadline(900 * time.Millisecond) // the retransmission timer, no persist
}

// A probe the peer takes moves SND.UNA; probing continues with the next byte.
func TestPersist_ProbeAccepted(t *testing.T) {
	h := established(t, plain)
	h.in(seg{flags: ".", seq: 301, ack: 101, win: 0})
	h.write("ab")
	h.at(200 * time.Millisecond)
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535, data: "a"})
	h.in(seg{flags: ".", seq: 301, ack: 102, win: 0})
	h.none()
	h.deadline(600 * time.Millisecond)
	h.at(600 * time.Millisecond)
	h.out(seg{flags: "P.", seq: 102, ack: 301, win: 65535, data: "b"})
	h.in(seg{flags: ".", seq: 301, ack: 103, win: 0})
	h.deadline(0)
}
