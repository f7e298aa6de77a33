package tcp

import (
	"strings"
	"testing"
	"time"
)

// Option negotiation: MSS (RFC 9293 §3.7.1), window scale and timestamps
// (RFC 7323), SACK-permitted (RFC 2018).

// With defaults our SYN offers everything; the SYN-ACK's answers are
// recorded and used from the third segment on.
func TestOptions_ActiveNegotiatesAll(t *testing.T) {
	h := active(t, Config{})
	v := h.tsval()
	// The receive buffer may grow to 6 MiB (auto-tuning): the smallest shift
	// with 6291456>>s <= 65535 is 7. It starts at 256 KiB.
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: o(mss(1460), sackOK(), ts(v, 0), ws(7))})
	h.after(10 * time.Millisecond)
	// The SYN-ACK's window is not scaled even though it carries wscale.
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 1000, opts: o(mss(1400), sackOK(), ts(7000, v), ws(7))})
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 262144 >> 7, opts: ts(v+10, 7000)})
	h.none()
	i := h.info()
	h.check(i.SndWScale == 7 && i.RcvWScale == 7 && i.SACKPermitted && i.Timestamps &&
		i.SndMSS == 1400-12 && i.SndWnd == 1000, "%+v", i)
	// From now on the peer's window is scaled by 2^7.
	h.in(seg{flags: ".", seq: 301, ack: 101, win: 100, opts: ts(7001, v+10)})
	h.check(h.info().SndWnd == 12800, "SND.WND %d", h.info().SndWnd)
	// With timestamps a full segment carries MSS−12 bytes, and each
	// carries TSecr = TS.Recent (7001 now).
	data := strings.Repeat("x", 3000)
	h.write(data)
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 2048, opts: ts(v+10, 7001), data: data[:1388]})
	h.out(seg{flags: "P.", seq: 1489, ack: 301, win: 2048, opts: ts(v+10, 7001), data: data[1388:2776]})
	// The small rest goes too: no earlier small segment is in flight.
	h.out(seg{flags: "P.", seq: 2877, ack: 301, win: 2048, opts: ts(v+10, 7001), data: data[2776:]})
	h.none()
}

// A peer that offers nothing: MSS 536, no scaling, no timestamps.
func TestOptions_PeerOffersNothing(t *testing.T) {
	h := active(t, Config{})
	v := h.tsval()
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: o(mss(1460), sackOK(), ts(v, 0), ws(7))})
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 8192})
	// Our window is not scaled either, so it is capped at 65535.
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535})
	i := h.info()
	h.check(i.SndWScale == 0 && i.RcvWScale == 0 && !i.SACKPermitted && !i.Timestamps &&
		i.SndMSS == 536 && i.SndWnd == 8192, "%+v", i)
}

// The SYN-ACK answers only what the SYN offered.
func TestOptions_PassiveAnswersOnlyOffers(t *testing.T) {
	h := passive(t, Config{}, seg{flags: "S", seq: peer, win: 65535, opts: o(mss(1460), ws(2))})
	h.out(seg{flags: "S.", seq: iss, ack: peer + 1, win: 65535, opts: o(mss(1460), ws(7))})
	h.in(seg{flags: ".", seq: peer + 1, ack: iss + 1, win: 1000})
	i := h.info()
	h.check(i.SndWScale == 2 && i.RcvWScale == 7 && !i.SACKPermitted && !i.Timestamps &&
		i.SndWnd == 4000 && i.SndMSS == 1460, "%+v", i)

	h = passive(t, Config{}, seg{flags: "S", seq: peer, win: 65535, opts: o(mss(1200), sackOK(), ts(42, 0))})
	v := h.tsval()
	h.out(seg{flags: "S.", seq: iss, ack: peer + 1, win: 65535, opts: o(mss(1460), sackOK(), ts(v, 42))})
	i = h.info()
	h.check(i.SndWScale == 0 && i.RcvWScale == 0 && i.SACKPermitted && i.Timestamps && i.SndMSS == 1188, "%+v", i)
}

// Disabled options are neither offered nor accepted.
func TestOptions_Disabled(t *testing.T) {
	all := o(mss(9000), sackOK(), ts(42, 0), ws(9))
	h := passive(t, plain, seg{flags: "S", seq: peer, win: 65535, opts: all})
	h.out(seg{flags: "S.", seq: iss, ack: peer + 1, win: 65535, opts: mss(1460)})
	i := h.info()
	h.check(!i.SACKPermitted && !i.Timestamps && i.SndWScale == 0 && i.SndMSS == 1460, "%+v", i)
}

func TestOptions_WindowScaleShift(t *testing.T) {
	for _, c := range []struct {
		buf   int
		shift uint8
	}{{1000, 0}, {65535, 0}, {65536, 1}, {131070, 1}, {131071, 1}, {131072, 2}, {1 << 20, 5}, {1 << 30, 14}} {
		if got := wscaleFor(c.buf); got != c.shift {
			t.Errorf("wscaleFor(%d) = %d, want %d", c.buf, got, c.shift)
		}
	}
	h := active(t, Config{ReceiveBufferSize: 1 << 20, DisableSACK: true, DisableTimestamps: true})
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: o(mss(1460), ws(5))})
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 65535, opts: o(mss(1460), ws(0))})
	h.out(seg{flags: ".", seq: 101, ack: 301, win: (1 << 20) >> 5})
}

// A configured MSS is what we offer; the send MSS is the smaller of the two.
func TestOptions_MSS(t *testing.T) {
	h := active(t, Config{MSS: 1000, DisableSACK: true, DisableTimestamps: true, DisableWScale: true})
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: mss(1000)})
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 65535, opts: mss(1460)})
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535})
	h.check(h.info().SndMSS == 1000, "SndMSS %d", h.info().SndMSS)
}

// TSval is a millisecond clock with a per-connection offset; TS.Recent
// follows RFC 7323 §4.3: a segment's TSval is taken when it is not older
// and SEG.SEQ =< Last.ACK.sent.
func TestOptions_TimestampClockAndRecent(t *testing.T) {
	h := active(t, Config{DisableSACK: true, DisableWScale: true, QuickAcks: -1})
	v := h.tsval()
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: o(mss(1460), ts(v, 0))})
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 65535, opts: o(mss(1460), ts(500, v))})
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535, opts: ts(v, 500)})
	h.at(1500 * time.Millisecond)
	// In order (SEG.SEQ = Last.ACK.sent): TS.Recent = 600.
	h.in(seg{flags: "P.", seq: 301, ack: 101, win: 65535, opts: ts(600, v), data: "a"})
	// Out of order (SEG.SEQ > Last.ACK.sent): TS.Recent stays 600.
	h.in(seg{flags: "P.", seq: 303, ack: 101, win: 65535, opts: ts(700, v), data: "c"})
	h.out(seg{flags: ".", seq: 101, ack: 302, win: 65534, opts: ts(v+1500, 600)})
	// An older TSval is an old duplicate to PAWS (RFC 7323 §5.3): it is
	// dropped and answered with an ACK.
	h.in(seg{flags: "P.", seq: 302, ack: 101, win: 65535, opts: ts(550, v), data: "b"})
	h.out(seg{flags: ".", seq: 101, ack: 302, win: 65534, opts: ts(v+1500, 600)})
	// TSval equal to TS.Recent passes, and TS.Recent stays.
	h.in(seg{flags: "P.", seq: 302, ack: 101, win: 65535, opts: ts(600, v), data: "b"})
	h.out(seg{flags: ".", seq: 101, ack: 304, win: 65532, opts: ts(v+1500, 600)})
	h.readAll("abc")
	// Different connections (ISS) get different offsets.
	h.check(tsOffsetFor(1) != tsOffsetFor(2), "same TS offset for ISS 1 and 2")
}
