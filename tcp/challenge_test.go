package tcp

import (
	"testing"
	"time"
)

// RFC 5961 §7: one challenge ACK per connection per 500 ms, whatever
// provokes it (in-window RST, SYN, unacceptable ACK); the others are
// counted as suppressed.
func TestChallengeACK_PerConnection(t *testing.T) {
	cfg := plain
	cfg.Shared = NewShared([]byte("k"), -1) // no stack-wide limit
	h := established(t, cfg)
	for range 100 {
		h.in(seg{flags: "R", seq: 302}) // in the window, not exact
	}
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535})
	h.none()
	h.after(DefaultChallengeACKInterval - time.Millisecond)
	h.in(seg{flags: "S", seq: 5000, win: 65535, opts: mss(1460)})
	h.in(seg{flags: "P.", seq: 301, ack: sub(101, 65536), win: 65535, data: "ancient"})
	h.none()
	h.after(time.Millisecond)
	h.in(seg{flags: "S", seq: 5000, win: 65535, opts: mss(1460)})
	h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535})
	h.none()
	h.state(StateEstablished)
	sh := cfg.Shared
	h.check(sh.ChallengeACKs.Load() == 2 && sh.ChallengeACKsSuppressed.Load() == 101,
		"ChallengeACKs %d, suppressed %d; want 2, 101", sh.ChallengeACKs.Load(), sh.ChallengeACKsSuppressed.Load())
}

// A negative ChallengeACKInterval lifts the per-connection limit.
func TestChallengeACK_NoPerConnectionLimit(t *testing.T) {
	cfg := plain
	cfg.ChallengeACKInterval = -1
	h := established(t, cfg)
	for range 3 {
		h.in(seg{flags: "R", seq: 302})
		h.out(seg{flags: ".", seq: 101, ack: 301, win: 65535})
	}
	h.none()
}

// The stack-wide budget: many connections together send at most the
// budget of each second, which is drawn anew every second between half
// and one and a half times the limit; the next second gives a new one.
func TestChallengeACK_StackWide(t *testing.T) {
	const limit = 10
	sh := NewShared([]byte("stack secret"), limit)
	cfg := plain
	cfg.Shared = sh
	var hs []*harness
	for range 3 * limit {
		hs = append(hs, established(t, cfg))
	}
	budgets := map[uint64]bool{}
	for sec := range 5 {
		sent := sh.ChallengeACKs.Load()
		for _, h := range hs {
			h.at(time.Duration(sec) * time.Second)
			h.in(seg{flags: "R", seq: 302})
			h.collect()
			h.pending = nil
		}
		n := sh.ChallengeACKs.Load() - sent
		if n < limit/2 || n >= 3*limit/2 {
			t.Errorf("second %d: %d challenge ACKs; want in [%d, %d)", sec, n, limit/2, 3*limit/2)
		}
		budgets[n] = true
	}
	if len(budgets) < 2 {
		t.Errorf("the same budget every second: %v", budgets)
	}
	if got := sh.ChallengeACKs.Load() + sh.ChallengeACKsSuppressed.Load(); got != 5*3*limit {
		t.Errorf("sent+suppressed = %d; want %d", got, 5*3*limit)
	}
}

// The peer's MSS is raised to MinMSS (48 by default, CVE-2019-11479): a
// SYN-ACK announcing MSS 1 makes 48-byte segments, not 1-byte ones.
func TestMSSClamp(t *testing.T) {
	for _, tc := range []struct {
		min, want int
	}{{0, 48}, {100, 100}} {
		cfg := plain
		cfg.MinMSS = tc.min
		cfg.Shared = NewShared(nil, 0)
		h := active(t, cfg)
		h.out(seg{flags: "S", seq: iss, win: 65535, opts: mss(1460)})
		h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 65535, opts: mss(1)})
		h.out(seg{flags: ".", seq: iss + 1, ack: peer + 1, win: 65535})
		h.check(h.info().SndMSS == tc.want, "MinMSS %d: SndMSS %d; want %d", tc.min, h.info().SndMSS, tc.want)
		h.check(cfg.Shared.MSSClamps.Load() == 1, "MSSClamps %d; want 1", cfg.Shared.MSSClamps.Load())
	}
}

// A SYN+FIN to a listener is dropped (Linux discards it), not accepted.
func TestListen_SynFinDropped(t *testing.T) {
	s := seg{flags: "SF", seq: 300, win: 65535}.segment()
	if a, _ := HandleListen(&s); a != ListenDrop {
		t.Errorf("SYN+FIN: action %d; want ListenDrop", a)
	}
	s = seg{flags: "S", seq: 300, win: 65535}.segment()
	if a, _ := HandleListen(&s); a != ListenAccept {
		t.Errorf("SYN: action %d; want ListenAccept", a)
	}
}
