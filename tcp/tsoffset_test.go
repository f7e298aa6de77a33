package tcp

import "testing"

// An active open takes Config.TSOffset as its TSval clock's offset (a
// stack sets one per pair of addresses); without one the offset comes
// from the ISS, per connection.
func TestTSOffset_ActiveOpenTakesConfig(t *testing.T) {
	cfg := Config{DisableSACK: true, DisableWScale: true, TSOffset: 7_000_000}
	h := active(t, cfg)
	v := uint32(h.now.UnixMilli()) + 7_000_000
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: o(mss(1460), ts(v, 0))})
	cfg.TSOffset = 0
	h2 := active(t, cfg)
	if got, want := h2.tsval(), uint32(h2.now.UnixMilli())+tsOffsetFor(iss); got != want {
		t.Fatalf("TSval without TSOffset %d, want %d (from the ISS)", got, want)
	}
}
