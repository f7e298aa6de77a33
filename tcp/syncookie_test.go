package tcp

import (
	"net/netip"
	"testing"
	"time"

	"github.com/synack/synack/wire"
)

// The published SipHash-2-4 test vectors: key 00 01 .. 0f, message 00 01
// .. of the given length.
func TestSipHash24Vectors(t *testing.T) {
	msg := make([]byte, 64)
	for i := range msg {
		msg[i] = byte(i)
	}
	k0 := uint64(0x0706050403020100)
	k1 := uint64(0x0f0e0d0c0b0a0908)
	for _, tc := range []struct {
		n    int
		want uint64
	}{
		{0, 0x726fdb47dd0e0e31},
		{1, 0x74f839c593dc67fd},
		{7, 0xab0200f58b01d137},
		{8, 0x93f5f5799a932462},
		{15, 0xa129ca6149be45e5},
	} {
		if got := sipHash24(k0, k1, msg[:tc.n]); got != tc.want {
			t.Errorf("SipHash-2-4 of %d bytes = %#016x; want %#016x", tc.n, got, tc.want)
		}
	}
}

var (
	ckKey    = CookieKey{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	ckLocal  = netip.MustParseAddrPort("198.18.0.2:80")
	ckRemote = netip.MustParseAddrPort("198.18.0.1:40000")
)

// cookieACK is the ACK a peer whose SYN had sequence number peer sends
// for synAck.
func cookieACK(synAck *Segment, tsval uint32) Segment {
	a := Segment{Seq: peer + 1, Ack: synAck.Seq + 1, Flags: wire.FlagACK, Window: 1000}
	if synAck.Options.HasTimestamps {
		a.Options.HasTimestamps = true
		a.Options.TSVal, a.Options.TSEcr = tsval, synAck.Options.TSVal
	}
	return a
}

func TestCookieValue(t *testing.T) {
	syn := Segment{Seq: peer, Flags: wire.FlagSYN, Window: 65535, Options: mss(1460)}
	sa := CookieSynAck(plain, ckKey, ckLocal, ckRemote, &syn, t0)
	want := Segment{Seq: 0xaccabaa6, Ack: peer + 1, Flags: wire.FlagSYN | wire.FlagACK,
		Window: 65535, Options: mss(1460)}
	if fromSegment(&sa).String() != fromSegment(&want).String() {
		t.Errorf("cookie SYN-ACK %v; want %v", fromSegment(&sa), fromSegment(&want))
	}
	// Bits 2..0: 1460 is entry 6; bit 3: t0's counter is even.
	if sa.Seq&0xf != 6 {
		t.Errorf("low bits %#x; want 0x6", sa.Seq&0xf)
	}
	if NewCookieKey([]byte("secret")) == NewCookieKey([]byte("secreT")) {
		t.Error("NewCookieKey gives two secrets the same key")
	}
}

func TestCookieMSSTable(t *testing.T) {
	for _, tc := range []struct {
		peerMSS int // 0: no MSS option
		want    uint16
		idx     uint32
	}{
		{0, 536, 0}, {100, 536, 0}, {536, 536, 0}, {1219, 536, 0},
		{1220, 1220, 1}, {1299, 1220, 1},
		{1300, 1300, 2}, {1400, 1400, 3}, {1440, 1440, 4}, {1452, 1452, 5},
		{1460, 1460, 6}, {1500, 1460, 6}, {8960, 8960, 7}, {65535, 8960, 7},
	} {
		syn := Segment{Seq: peer, Flags: wire.FlagSYN, Window: 65535}
		if tc.peerMSS > 0 {
			syn.Options = mss(uint16(tc.peerMSS))
		}
		sa := CookieSynAck(plain, ckKey, ckLocal, ckRemote, &syn, t0)
		if sa.Seq&7 != tc.idx {
			t.Errorf("peer MSS %d: index %d; want %d", tc.peerMSS, sa.Seq&7, tc.idx)
		}
		ack := cookieACK(&sa, 0)
		ck, ok := CheckCookie(plain, ckKey, ckLocal, ckRemote, &ack, t0.Add(time.Second))
		if !ok || ck != (Cookie{MSS: tc.want}) {
			t.Errorf("peer MSS %d: CheckCookie = %+v, %v; want {MSS:%d}, true", tc.peerMSS, ck, ok, tc.want)
		}
	}
}

func TestCookieOptionBits(t *testing.T) {
	full := Config{ECN: true}
	ecnSetup := wire.FlagSYN | wire.FlagECE | wire.FlagCWR
	for _, tc := range []struct {
		name  string
		cfg   Config
		flags wire.Flags
		opts  wire.TCPOptions
		bits  uint32 // TSval's low six bits
		want  Cookie
		ece   bool
	}{
		{"all", full, ecnSetup, o(mss(1460), sackOK(), ts(5000, 0), ws(7)), 7 | 16 | 32,
			Cookie{MSS: 1460, Timestamps: true, HasWindowScale: true, WindowScale: 7, SACKPermitted: true, ECN: true}, true},
		{"no ECN asked", full, wire.FlagSYN, o(mss(1460), sackOK(), ts(5000, 0), ws(7)), 7 | 16,
			Cookie{MSS: 1460, Timestamps: true, HasWindowScale: true, WindowScale: 7, SACKPermitted: true}, false},
		{"ECN off here", Config{}, ecnSetup, o(mss(1460), sackOK(), ts(5000, 0), ws(7)), 7 | 16,
			Cookie{MSS: 1460, Timestamps: true, HasWindowScale: true, WindowScale: 7, SACKPermitted: true}, false},
		{"no wscale", full, wire.FlagSYN, o(mss(1460), sackOK(), ts(5000, 0)), 15 | 16,
			Cookie{MSS: 1460, Timestamps: true, SACKPermitted: true}, false},
		{"wscale 0, no SACK", full, wire.FlagSYN, o(mss(1460), ts(5000, 0), ws(0)), 0,
			Cookie{MSS: 1460, Timestamps: true, HasWindowScale: true}, false},
		{"wscale 14", full, wire.FlagSYN, o(mss(1460), ts(5000, 0), ws(14)), 14,
			Cookie{MSS: 1460, Timestamps: true, HasWindowScale: true, WindowScale: 14}, false},
		{"wscale 15 is 14", full, wire.FlagSYN, o(mss(1460), ts(5000, 0), ws(15)), 14,
			Cookie{MSS: 1460, Timestamps: true, HasWindowScale: true, WindowScale: 14}, false},
		{"SACK and wscale off here", Config{DisableSACK: true, DisableWScale: true}, wire.FlagSYN,
			o(mss(1460), sackOK(), ts(5000, 0), ws(7)), 15,
			Cookie{MSS: 1460, Timestamps: true}, false},
	} {
		syn := Segment{Seq: peer, Flags: tc.flags, Window: 65535, Options: tc.opts}
		now := t0.Add(1500 * time.Millisecond)
		sa := CookieSynAck(tc.cfg, ckKey, ckLocal, ckRemote, &syn, now)
		wantOpts := mss(1460)
		wantOpts.SACKPermitted = tc.want.SACKPermitted
		if tc.want.HasWindowScale {
			wantOpts.WindowScale, wantOpts.HasWindowScale = 7, true // the default
		}
		wantOpts.HasTimestamps = true
		wantOpts.TSVal, wantOpts.TSEcr = sa.Options.TSVal, 5000
		if sa.Options != wantOpts {
			t.Errorf("%s: SYN-ACK options %s; want %s", tc.name, formatOpts(sa.Options), formatOpts(wantOpts))
		}
		if got := sa.Options.TSVal & 63; got != tc.bits {
			t.Errorf("%s: TSval low bits %d; want %d", tc.name, got, tc.bits)
		}
		// The TSval is the connection's clock, at most 63 ms behind.
		clk := uint32(now.UnixMilli()) + tsOffsetFor(sa.Seq)
		if d := clk - sa.Options.TSVal; d > 63 {
			t.Errorf("%s: TSval %d is %d behind the clock %d", tc.name, sa.Options.TSVal, d, clk)
		}
		if got := sa.Flags&wire.FlagECE != 0; got != tc.ece {
			t.Errorf("%s: SYN-ACK ECE %v; want %v", tc.name, got, tc.ece)
		}
		ack := cookieACK(&sa, 6000)
		ck, ok := CheckCookie(tc.cfg, ckKey, ckLocal, ckRemote, &ack, now.Add(time.Millisecond))
		if !ok || ck != tc.want {
			t.Errorf("%s: CheckCookie = %+v, %v; want %+v, true", tc.name, ck, ok, tc.want)
		}
	}
}

// Without timestamps the SYN-ACK offers only the MSS, and the connection
// runs without window scaling, SACK and ECN.
func TestCookieWithoutTimestamps(t *testing.T) {
	syn := Segment{Seq: peer, Flags: wire.FlagSYN | wire.FlagECE | wire.FlagCWR, Window: 65535,
		Options: o(mss(1400), sackOK(), ws(7))}
	cfg := Config{ECN: true}
	sa := CookieSynAck(cfg, ckKey, ckLocal, ckRemote, &syn, t0)
	if sa.Options != mss(1460) || sa.Flags != wire.FlagSYN|wire.FlagACK || sa.Window != 65535 {
		t.Fatalf("SYN-ACK %v; want [S.] with only mss 1460, win 65535", fromSegment(&sa))
	}
	ack := cookieACK(&sa, 0)
	ck, ok := CheckCookie(cfg, ckKey, ckLocal, ckRemote, &ack, t0)
	if !ok || ck != (Cookie{MSS: 1400}) {
		t.Fatalf("CheckCookie = %+v, %v; want {MSS:1400}, true", ck, ok)
	}
	// Timestamps disabled here: the peer's are ignored, on the SYN and on
	// the ACK.
	syn.Options = o(mss(1400), sackOK(), ws(7), ts(5000, 0))
	cfg.DisableTimestamps = true
	sa = CookieSynAck(cfg, ckKey, ckLocal, ckRemote, &syn, t0)
	if sa.Options != mss(1460) {
		t.Fatalf("SYN-ACK options %s; want mss 1460", formatOpts(sa.Options))
	}
	ack = cookieACK(&sa, 0)
	ack.Options = ts(6000, 0xffff)
	if ck, ok := CheckCookie(cfg, ckKey, ckLocal, ckRemote, &ack, t0); !ok || ck != (Cookie{MSS: 1400}) {
		t.Fatalf("CheckCookie = %+v, %v; want {MSS:1400}, true", ck, ok)
	}
}

func TestCookieInvalid(t *testing.T) {
	syn := Segment{Seq: peer, Flags: wire.FlagSYN, Window: 65535, Options: o(mss(1460), ts(5000, 0))}
	made := t0.Add(10 * time.Second)
	sa := CookieSynAck(Config{}, ckKey, ckLocal, ckRemote, &syn, made)
	good := cookieACK(&sa, 6000)
	other := ckKey
	other[15] ^= 1
	for _, tc := range []struct {
		name          string
		key           CookieKey
		local, remote netip.AddrPort
		edit          func(a *Segment)
		at            time.Time
		ok            bool
	}{
		{"valid", ckKey, ckLocal, ckRemote, nil, made, true},
		{"valid with data", ckKey, ckLocal, ckRemote, func(a *Segment) { a.Payload = []byte("x"); a.Flags |= wire.FlagPSH }, made, true},
		{"valid with FIN", ckKey, ckLocal, ckRemote, func(a *Segment) { a.Flags |= wire.FlagFIN }, made, true},
		{"wrong key", other, ckLocal, ckRemote, nil, made, false},
		{"wrong local port", ckKey, netip.MustParseAddrPort("198.18.0.2:81"), ckRemote, nil, made, false},
		{"wrong local address", ckKey, netip.MustParseAddrPort("198.18.0.3:80"), ckRemote, nil, made, false},
		{"wrong remote port", ckKey, ckLocal, netip.MustParseAddrPort("198.18.0.1:40001"), nil, made, false},
		{"wrong remote address", ckKey, ckLocal, netip.MustParseAddrPort("[2001:db8::1]:40000"), nil, made, false},
		{"ack + 1", ckKey, ckLocal, ckRemote, func(a *Segment) { a.Ack++ }, made, false},
		{"ack - 1", ckKey, ckLocal, ckRemote, func(a *Segment) { a.Ack-- }, made, false},
		{"ack + 8", ckKey, ckLocal, ckRemote, func(a *Segment) { a.Ack += 8 }, made, false},
		{"seq + 1", ckKey, ckLocal, ckRemote, func(a *Segment) { a.Seq++ }, made, false},
		{"seq - 1", ckKey, ckLocal, ckRemote, func(a *Segment) { a.Seq-- }, made, false},
		{"SYN set", ckKey, ckLocal, ckRemote, func(a *Segment) { a.Flags |= wire.FlagSYN }, made, false},
		{"RST set", ckKey, ckLocal, ckRemote, func(a *Segment) { a.Flags |= wire.FlagRST }, made, false},
		{"ACK clear", ckKey, ckLocal, ckRemote, func(a *Segment) { a.Flags = 0 }, made, false},
		{"TSecr from the future", ckKey, ckLocal, ckRemote, func(a *Segment) { a.Options.TSEcr += 5000 }, made, false},
		{"next period", ckKey, ckLocal, ckRemote, nil, t0.Add(64 * time.Second), true},
		{"end of the next period", ckKey, ckLocal, ckRemote, nil, t0.Add(128*time.Second - time.Millisecond), true},
		{"two periods later", ckKey, ckLocal, ckRemote, nil, t0.Add(128 * time.Second), false},
		{"three periods later", ckKey, ckLocal, ckRemote, nil, t0.Add(192 * time.Second), false},
		{"before it was made", ckKey, ckLocal, ckRemote, nil, t0.Add(-time.Second), false},
	} {
		ack := good
		if tc.edit != nil {
			tc.edit(&ack)
		}
		if _, ok := CheckCookie(Config{}, tc.key, tc.local, tc.remote, &ack, tc.at); ok != tc.ok {
			t.Errorf("%s: CheckCookie ok = %v; want %v", tc.name, ok, tc.ok)
		}
	}
}

// The whole handshake, the server keeping no state between its SYN-ACK
// and the peer's ACK, which carries data.
func TestCookieHandshakeLadder(t *testing.T) {
	h := newHarness(t)
	h.log("      LISTEN (SYN queue full: cookies)")
	syn := seg{flags: "S", seq: peer, win: 65535, opts: o(mss(1400), sackOK(), ts(5000, 0), ws(7))}
	h.log("  <-- %s", syn)
	s := syn.segment()
	sa := CookieSynAck(Config{}, ckKey, ckLocal, ckRemote, &s, h.now)
	h.log("  --> %s", fromSegment(&sa))
	cookie := sa.Seq
	wantSA := seg{flags: "S.", seq: cookie, ack: peer + 1, win: 65535,
		opts: o(mss(1460), sackOK(), ts(sa.Options.TSVal, 5000), ws(7))}
	if fromSegment(&sa).String() != wantSA.String() {
		h.fail("SYN-ACK %v; want %v", fromSegment(&sa), wantSA)
	}
	h.check(sa.Options.TSVal&63 == 7|16, "TSval low bits %d; want 23", sa.Options.TSVal&63)
	h.log("      LISTEN (nothing kept)")

	h.now = h.now.Add(20 * time.Millisecond) // no TCB: the clock moves by hand
	ack := seg{flags: "P.", seq: peer + 1, ack: cookie + 1, win: 512, opts: ts(5020, sa.Options.TSVal), data: "hello"}
	h.log("  <-- %s", ack)
	a := ack.segment()
	ck, ok := CheckCookie(Config{}, ckKey, ckLocal, ckRemote, &a, h.now)
	h.check(ok, "CheckCookie failed")
	h.check(ck == Cookie{MSS: 1400, Timestamps: true, HasWindowScale: true, WindowScale: 7, SACKPermitted: true},
		"cookie %+v", ck)
	h.attach(NewFromCookie(Config{}, ck, &a, h.now))
	h.state(StateEstablished)
	// The first data of the connection starts quick-ACK mode (as on
	// Linux): it is acknowledged at once.
	h.out(seg{flags: ".", seq: cookie + 1, ack: peer + 6, win: 2047, opts: ts(h.tsval(), 5020)})
	h.readAll("hello")
	in := h.info()
	want := Info{ISS: cookie, IRS: peer, SndUna: cookie + 1, SndNxt: cookie + 1, SndWnd: 512 << 7,
		RcvNxt: peer + 6, SndMSS: 1400 - 12, SndWScale: 7, RcvWScale: 7, SACKPermitted: true, Timestamps: true}
	got := Info{ISS: in.ISS, IRS: in.IRS, SndUna: in.SndUna, SndNxt: in.SndNxt, SndWnd: in.SndWnd,
		RcvNxt: in.RcvNxt, SndMSS: in.SndMSS, SndWScale: in.SndWScale, RcvWScale: in.RcvWScale,
		SACKPermitted: in.SACKPermitted, Timestamps: in.Timestamps}
	h.check(got == want, "info %+v\nwant %+v", got, want)
	h.check(in.SRTT == 0 && in.RTO == time.Second, "SRTT %v, RTO %v; want no sample, 1s", in.SRTT, in.RTO)

	tsv := h.tsval()
	h.check(tsv-sa.Options.TSVal < 64+20, "TSval went from %d to %d", sa.Options.TSVal, tsv)
	h.write("world")
	// The window stays where the quick ACK put it (SWS avoidance: the read
	// opened it by less than an MSS).
	h.out(seg{flags: "P.", seq: cookie + 1, ack: peer + 6, win: 2047, opts: ts(tsv, 5020), data: "world"})
	h.none()
}

// A cookie ACK that carries a FIN: the connection is born in CLOSE-WAIT
// with the data readable and the FIN acknowledged.
func TestCookieACKWithFIN(t *testing.T) {
	s := Segment{Seq: peer, Flags: wire.FlagSYN, Window: 65535, Options: mss(1460)}
	sa := CookieSynAck(plain, ckKey, ckLocal, ckRemote, &s, t0)
	a := cookieACK(&sa, 0)
	a.Flags |= wire.FlagFIN
	a.Payload = []byte("bye")
	ck, ok := CheckCookie(plain, ckKey, ckLocal, ckRemote, &a, t0)
	if !ok {
		t.Fatal("CheckCookie failed")
	}
	h := newHarness(t)
	h.attach(NewFromCookie(plain, ck, &a, t0))
	h.state(StateCloseWait)
	h.out(seg{flags: ".", seq: sa.Seq + 1, ack: peer + 5, win: 65532})
	h.none()
	h.readAll("bye")
}

// With timestamps, a cookie SYN-ACK is the SYN-ACK NewPassive sends, but
// for its sequence number and TSval.
func TestCookieSynAckMatchesNewPassive(t *testing.T) {
	for _, cfg := range []Config{{}, {ECN: true}, {MSS: 1200, ReceiveBufferSize: 8192}, {DisableSACK: true, DisableWScale: true}} {
		syn := Segment{Seq: peer, Flags: wire.FlagSYN | wire.FlagECE | wire.FlagCWR, Window: 65535,
			Options: o(mss(1460), sackOK(), ts(5000, 0), ws(7))}
		sa := CookieSynAck(cfg, ckKey, ckLocal, ckRemote, &syn, t0)
		var normal Segment
		NewPassive(cfg, sa.Seq, &syn, t0).DrainOutput(func(s *Segment) { normal = *s })
		normal.Options.TSVal = sa.Options.TSVal
		if fromSegment(&sa).String() != fromSegment(&normal).String() || sa.Options != normal.Options {
			t.Errorf("%+v: cookie SYN-ACK %v; NewPassive sends %v", cfg, fromSegment(&sa), fromSegment(&normal))
		}
	}
}

func BenchmarkCookieSynAck(b *testing.B) {
	syn := Segment{Seq: peer, Flags: wire.FlagSYN, Window: 65535, Options: o(mss(1460), sackOK(), ts(5000, 0), ws(7))}
	for b.Loop() {
		CookieSynAck(Config{}, ckKey, ckLocal, ckRemote, &syn, t0)
	}
}

func BenchmarkCheckCookie(b *testing.B) {
	syn := Segment{Seq: peer, Flags: wire.FlagSYN, Window: 65535, Options: o(mss(1460), sackOK(), ts(5000, 0), ws(7))}
	sa := CookieSynAck(Config{}, ckKey, ckLocal, ckRemote, &syn, t0)
	ack := cookieACK(&sa, 6000)
	for b.Loop() {
		if _, ok := CheckCookie(Config{}, ckKey, ckLocal, ckRemote, &ack, t0); !ok {
			b.Fatal("invalid")
		}
	}
}
