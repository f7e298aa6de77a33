package tcp

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"
)

// Buffer auto-tuning (autotune.go) and the window it lets us offer.

// With window scaling, a window that is not a multiple of the scale is
// rounded up only when the buffer has room for the rounded window; when
// not, the right edge moves left by less than one unit (RFC 7323
// Appendix F). A reader that never reads therefore closes its window at
// exactly the buffer's size, and every byte offered is taken. Rounding up
// always would promise 8 more bytes with each ACK here, and the last
// segment would not fit.
func TestWindow_ScaleRoundingNeverPromisesMissingSpace(t *testing.T) {
	// 4096-byte buffer; the maximum of 1 MiB makes the shift 5 (32-byte
	// units). Every segment is acknowledged at once.
	cfg := Config{ReceiveBufferSize: 4096, MaxReceiveBufferSize: 1 << 20,
		DisableSACK: true, DisableTimestamps: true, DelayedACK: -1}
	h := passive(t, cfg, seg{flags: "S", seq: peer, win: 65535, opts: o(mss(1460), ws(0))})
	h.out(seg{flags: "S.", seq: iss, ack: peer + 1, win: 4096, opts: o(mss(1460), ws(5))})
	h.in(seg{flags: ".", seq: peer + 1, ack: iss + 1, win: 65535})
	h.none()
	data := strings.Repeat("d", 4096)
	// 3096 left: 96 units (3072) is all that fits; the edge moves 24
	// bytes left.
	h.in(seg{flags: ".", seq: 301, ack: 101, win: 65535, data: data[:1000]})
	h.out(seg{flags: ".", seq: 101, ack: 1301, win: 96})
	// 2096 free, 2072 of the window left: 65 units (2080) fit.
	h.in(seg{flags: ".", seq: 1301, ack: 101, win: 65535, data: data[1000:2000]})
	h.out(seg{flags: ".", seq: 101, ack: 2301, win: 65})
	// 1096 free, 1072 left: 34 units (1088) fit.
	h.in(seg{flags: ".", seq: 2301, ack: 101, win: 65535, data: data[2000:3000]})
	h.out(seg{flags: ".", seq: 101, ack: 3301, win: 34})
	// The peer fills the window offered; the 8 bytes left are less than
	// the receiver's SWS threshold: the window closes.
	h.in(seg{flags: ".", seq: 3301, ack: 101, win: 65535, data: data[3000:4088]})
	h.out(seg{flags: ".", seq: 101, ack: 4389, win: 0})
	h.none()
	i := h.info()
	h.check(i.RcvWnd == 0 && i.ReceiveBufferSize == 4096, "%+v", i)
	// The reader wakes: every byte is there, and the window reopens.
	got, err := h.read(8192)
	h.check(got == data[:4088] && err == nil, "read %d bytes, %v", len(got), err)
	h.out(seg{flags: ".", seq: 101, ack: 4389, win: 128})
	h.none()
}

// autotuneRun moves n bytes over a 100 ms RTT path without a rate limit,
// the receiver reading as data arrives, and records every size the
// receive and send buffers take.
func autotuneRun(t *testing.T, cfg Config, n int) (p *netPair, took time.Duration, rcvSizes, sndSizes []int) {
	return autotuneRunOn(t, impair{delay: 50 * time.Millisecond}, cfg, n)
}

// autotuneRunOn is autotuneRun over path (both ways).
func autotuneRunOn(t *testing.T, path impair, cfg Config, n int) (p *netPair, took time.Duration, rcvSizes, sndSizes []int) {
	p = newNetPair(t, cfg, cfg, path, path, 1)
	data := testData(n, 7)
	start := p.now
	rcvSizes = []int{p.b.ReceiveBufferSize()}
	sndSizes = []int{p.a.SendBufferSize()}
	got := p.runEach(t, data, func() {
		if s := p.b.ReceiveBufferSize(); s != rcvSizes[len(rcvSizes)-1] {
			rcvSizes = append(rcvSizes, s)
		}
		if s := p.a.SendBufferSize(); s != sndSizes[len(sndSizes)-1] {
			sndSizes = append(sndSizes, s)
		}
	})
	if !bytes.Equal(got, data) {
		t.Fatal("data corrupted")
	}
	return p, p.now.Sub(start), rcvSizes, sndSizes
}

// By default both buffers start at 256 KiB and grow with the transfer:
// the receive buffer ahead of what the reader takes per round trip, the
// send buffer to twice the congestion window; each stops at its maximum
// (6 MiB and 4 MiB). 32 MiB over a 100 ms path take 1.69 s instead of
// the 13.25 s that fixed 256 KiB buffers allow (a 256 KiB window per
// round trip).
func TestAutoTune_BuffersGrowWithTheTransfer(t *testing.T) {
	p, took, rcv, snd := autotuneRun(t, Config{}, 32<<20)
	// The receive buffer grows once per measured round trip in which the
	// reader took more than before (at most three times what it took),
	// the send buffer doubles four times.
	wantRcv := []int{256 << 10, 1112640, 4240320, 6 << 20}
	wantSnd := []int{256 << 10, 512 << 10, 1 << 20, 2 << 20, 4 << 20}
	if !slices.Equal(rcv, wantRcv) || !slices.Equal(snd, wantSnd) || took != 1690*time.Millisecond {
		t.Errorf("receive buffer sizes %v, want %v\nsend buffer sizes %v, want %v\ntook %v", rcv, wantRcv, snd, wantSnd, took)
	}
	if p.a.Info().TotalRetransmits != 0 {
		t.Errorf("%d retransmissions", p.a.Info().TotalRetransmits)
	}

	fixed := Config{SendBufferSize: 256 << 10, ReceiveBufferSize: 256 << 10}
	_, took, rcv, snd = autotuneRun(t, fixed, 32<<20)
	if len(rcv) != 1 || len(snd) != 1 || took != 13250*time.Millisecond {
		t.Errorf("fixed buffers: receive %v, send %v, took %d", rcv, snd, took)
	}
}

// A receiver that does not read never makes its buffer grow: the window
// closes at 256 KiB.
func TestAutoTune_NoReaderNoGrowth(t *testing.T) {
	path := impair{delay: 50 * time.Millisecond}
	p := newNetPair(t, Config{}, Config{}, path, path, 1)
	data := testData(4<<20, 3)
	sent := 0
	for steps := 0; p.now.Sub(t0) < 10*time.Second && steps < 100_000; steps++ {
		if sent < len(data) {
			w, _ := p.a.Write(data[sent:], p.now)
			sent += w
		}
		p.collect()
		if !p.step(Config{}) {
			break
		}
	}
	i := p.b.Info()
	// The window closed with 51 bytes free: less than one unit of the
	// scale (128) and than the receiver's SWS threshold.
	if i.ReceiveBufferSize != 256<<10 || i.RcvWnd != 0 || i.RcvNxt-i.IRS-1 != 256<<10-51 {
		t.Fatalf("receiver: buffer %d, window %d, %d bytes received", i.ReceiveBufferSize, i.RcvWnd, i.RcvNxt-i.IRS-1)
	}
}

// A buffer given a size keeps it, and offers the window scale that size
// needs (3 for 256 KiB); SetReceiveBufferSize and SetSendBufferSize fix a
// buffer on a live connection, never below what it holds.
func TestAutoTune_FixedSizes(t *testing.T) {
	h := active(t, Config{ReceiveBufferSize: 256 << 10, DisableSACK: true, DisableTimestamps: true})
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: o(mss(1460), ws(3))})
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 65535, opts: o(mss(1460), ws(0))})
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 32768})
	i := h.info()
	h.check(i.ReceiveBufferSize == 256<<10 && i.SendBufferSize == 256<<10, "%+v", i)
	h.tcb.SetSendBufferSize(1000)
	h.write(strings.Repeat("x", 900))
	h.out(seg{flags: "P.", seq: 101, ack: 301, win: 32768, data: strings.Repeat("x", 900)})
	h.tcb.SetSendBufferSize(10) // holds 900 unacknowledged bytes
	h.tcb.SetReceiveBufferSize(1<<20, h.now)
	i = h.info()
	h.check(i.SendBufferSize == 900 && i.ReceiveBufferSize == 1<<20, "%+v", i)
}

// On a path shorter than the timestamp clock resolves (a 20 µs round
// trip, 10 Gbit/s with a 128 KiB queue), the receiver sizes its buffer by
// its fine round trip (21 µs): it keeps its first 256 KiB, where sized
// for the millisecond the timestamps read it grew to 3.6 MB; the transfer
// is as fast either way, at the link's rate (55.79 ms for 64 MiB, 53.69
// at 10 Gbit/s exactly). The send buffer follows the peer's window, not
// the congestion window that grew past it (1 MiB before). (The queue
// drops some of slow start's bursts, before and after alike.)
func TestAutoTune_ShortPathSmallBuffers(t *testing.T) {
	path := impair{delay: 10 * time.Microsecond, rate: 10e9, queue: 128 << 10}
	p, took, rcv, snd := autotuneRunOn(t, path, Config{}, 64<<20)
	fine := time.Duration(p.b.rtune.fine) * fineUnit
	wantRcv, wantSnd := []int{256 << 10}, []int{256 << 10, 512 << 10}
	if !slices.Equal(rcv, wantRcv) || !slices.Equal(snd, wantSnd) || took != 55794981*time.Nanosecond ||
		fine != 21280*time.Nanosecond {
		t.Errorf("receive buffer sizes %v, want %v\nsend buffer sizes %v, want %v\ntook %v, fine round trip %v",
			rcv, wantRcv, snd, wantSnd, took, fine)
	}
}
