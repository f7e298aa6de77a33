package wire

import (
	"bytes"
	"testing"
)

// TestFastOpenOptionRoundTrip checks the Fast Open option's encodings as
// Linux writes them: kind 34 with the cookie and two NOPs, kind 254 with
// the magic 0xF989, and the empty cookie request.
func TestFastOpenOptionRoundTrip(t *testing.T) {
	cookie := []byte{0x12, 0x34, 0xab, 0xcd, 0x56, 0x78, 0xdc, 0xba}
	for _, tc := range []struct {
		name   string
		cookie []byte
		exp    bool
		want   []byte
	}{
		{"FO request", []byte{}, false, []byte{34, 2, 1, 1}},
		{"FO cookie", cookie, false, append(append([]byte{34, 10}, cookie...), 1, 1)},
		{"FOEXP request", []byte{}, true, []byte{254, 4, 0xf9, 0x89}},
		{"FOEXP cookie", cookie, true, append([]byte{254, 12, 0xf9, 0x89}, cookie...)},
		{"FO 4", cookie[:4], false, append(append([]byte{34, 6}, cookie[:4]...), 1, 1)},
	} {
		var o TCPOptions
		o.SetFastOpen(tc.cookie, tc.exp)
		got := AppendTCPOptions(nil, &o)
		if !bytes.Equal(got, tc.want) || len(got) != o.Len() {
			t.Errorf("%s: encoded % x (Len %d), want % x", tc.name, got, o.Len(), tc.want)
			continue
		}
		p, err := ParseTCPOptions(got)
		if err != nil || !p.HasFastOpen || p.FastOpenExp != tc.exp || !bytes.Equal(p.FastOpen(), tc.cookie) {
			t.Errorf("%s: parsed %+v, %v", tc.name, p, err)
		}
	}
}

// TestFastOpenOptionSYNFits checks a SYN with every option and the
// longest cookie in the experimental form fills the 40 bytes exactly.
func TestFastOpenOptionSYNFits(t *testing.T) {
	o := TCPOptions{HasMSS: true, MSS: 1460, SACKPermitted: true, HasTimestamps: true, TSVal: 1, HasWindowScale: true, WindowScale: 7}
	o.SetFastOpen(bytes.Repeat([]byte{0xee}, 16), true)
	b := AppendTCPOptions(nil, &o)
	if len(b) != 40 || o.Len() != 40 {
		t.Fatalf("len %d (Len %d), want 40", len(b), o.Len())
	}
	p, err := ParseTCPOptions(b)
	if err != nil || !bytes.Equal(p.FastOpen(), o.FastOpen()) || !p.HasTimestamps {
		t.Fatalf("parsed %+v, %v", p, err)
	}
	if got := p.String(); got != "mss 1460,sackOK,TS val 1 ecr 0,wscale 7,FOEXP eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee" {
		t.Errorf("String() = %q", got)
	}
}

// TestFastOpenOptionOddLengths: other experiments on kind 254 are skipped,
// and an out-of-range cookie length is kept as sent for the engine to
// refuse.
func TestFastOpenOptionOddLengths(t *testing.T) {
	p, err := ParseTCPOptions([]byte{254, 6, 0x12, 0x34, 1, 2, 1, 1})
	if err != nil || p.HasFastOpen {
		t.Errorf("other experiment: %+v, %v", p, err)
	}
	long := append([]byte{34, 20}, bytes.Repeat([]byte{7}, 18)...)
	p, err = ParseTCPOptions(long)
	if err != nil || !p.HasFastOpen || p.FastOpenLen != 18 || len(p.FastOpen()) != 16 {
		t.Errorf("18-byte cookie: %+v, %v", p, err)
	}
	p, _ = ParseTCPOptions([]byte{34, 3, 9, 1})
	if !p.HasFastOpen || p.FastOpenLen != 1 {
		t.Errorf("1-byte cookie: %+v", p)
	}
}
