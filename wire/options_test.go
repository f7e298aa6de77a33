package wire

import (
	"bytes"
	"reflect"
	"testing"
)

func sacks(n int) (o TCPOptions) {
	o.NumSACK = n
	for i := range min(n, MaxSACKBlocks) {
		o.SACK[i] = SACKBlock{uint32(1000 * (i + 1)), uint32(1000*(i+1) + 500)}
	}
	return o
}

func TestAppendTCPOptionsLayout(t *testing.T) {
	ts := func(o TCPOptions) TCPOptions { o.HasTimestamps, o.TSVal, o.TSEcr = true, 1, 2; return o }
	syn := func(o TCPOptions) TCPOptions { o.HasMSS, o.MSS = true, 1460; return o }
	ws := func(o TCPOptions) TCPOptions { o.HasWindowScale, o.WindowScale = true, 7; return o }
	sok := func(o TCPOptions) TCPOptions { o.SACKPermitted = true; return o }
	const (
		mss   = "02 04 05 b4 "
		tsv   = "08 0a 00 00 00 01 00 00 00 02 "
		wsc   = "01 03 03 07 "
		blk1  = "00 00 03 e8 00 00 05 dc "
		blk2  = "00 00 07 d0 00 00 09 c4 "
		blk3  = "00 00 0b b8 00 00 0d ac "
		blk4  = "00 00 0f a0 00 00 11 94 "
		nops  = "01 01 "
		sackK = "04 02 "
	)
	tests := []struct {
		name string
		o    TCPOptions
		want string
	}{
		{"none", TCPOptions{}, ""},
		{"linux syn", ws(sok(ts(syn(TCPOptions{})))), mss + sackK + tsv + "01 03 03 07"},
		{"syn mss only", syn(TCPOptions{}), mss},
		{"syn mss ts", ts(syn(TCPOptions{})), mss + nops + tsv},
		{"syn mss sackOK", sok(syn(TCPOptions{})), mss + nops + sackK},
		{"syn mss wscale", ws(syn(TCPOptions{})), mss + wsc},
		{"syn mss sackOK wscale", ws(sok(syn(TCPOptions{}))), mss + nops + sackK + wsc},
		{"ack ts", ts(TCPOptions{}), nops + tsv},
		{"ack ts 1 sack", ts(sacks(1)), nops + tsv + nops + "05 0a " + blk1},
		{"ack ts 3 sacks", ts(sacks(3)), nops + tsv + nops + "05 1a " + blk1 + blk2 + blk3},
		{"ack ts 4 sacks drops one", ts(sacks(4)), nops + tsv + nops + "05 1a " + blk1 + blk2 + blk3},
		{"ack 4 sacks", sacks(4), nops + "05 22 " + blk1 + blk2 + blk3 + blk4},
		{"ack 9 sacks clamps", sacks(9), nops + "05 22 " + blk1 + blk2 + blk3 + blk4},
		{"negative sacks", sacks(-1), ""},
		{"syn full with 4 sacks keeps 2", ws(sok(ts(syn(sacks(4))))), mss + sackK + tsv + wsc + nops + "05 12 " + blk1 + blk2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := unhex(t, tt.want)
			got := AppendTCPOptions([]byte{0xaa}, &tt.o)
			if got[0] != 0xaa || !bytes.Equal(got[1:], want) {
				t.Fatalf("AppendTCPOptions:\n got % x\nwant % x", got[1:], want)
			}
			if tt.o.Len() != len(want) || len(want)%4 != 0 || len(want) > MaxOptionsLen {
				t.Errorf("Len = %d, encoding %d bytes", tt.o.Len(), len(want))
			}
			// Parsing the encoding gives back the value, minus dropped blocks.
			back, err := ParseTCPOptions(want)
			if err != nil {
				t.Fatalf("ParseTCPOptions: %v", err)
			}
			exp := tt.o
			exp.NumSACK = tt.o.SACKBlocksSent()
			exp.SACK = [MaxSACKBlocks]SACKBlock{}
			copy(exp.SACK[:], tt.o.SACK[:exp.NumSACK])
			if back != exp {
				t.Errorf("ParseTCPOptions:\n got %+v\nwant %+v", back, exp)
			}
		})
	}
}

func TestParseTCPOptions(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want TCPOptions
	}{
		{"empty", "", TCPOptions{}},
		{"eol only", "00 00 00 00", TCPOptions{}},
		{"nops", "01 01 01 01", TCPOptions{}},
		{"linux syn", "02 04 05 b4 04 02 08 0a 00 00 00 01 00 00 00 00 01 03 03 07",
			TCPOptions{MSS: 1460, HasMSS: true, SACKPermitted: true, TSVal: 1, HasTimestamps: true, WindowScale: 7, HasWindowScale: true}},
		{"eol ends, garbage after ignored", "02 04 05 b4 00 ff 03 ff",
			TCPOptions{MSS: 1460, HasMSS: true}},
		{"unknown kinds skipped", "1e 04 aa bb 1f 02 fe 06 01 02 03 04 03 03 0e 00",
			TCPOptions{WindowScale: 14, HasWindowScale: true}},
		{"wscale above 14 kept", "03 03 ff 00", TCPOptions{WindowScale: 255, HasWindowScale: true}},
		{"repeated: last wins", "02 04 05 b4 02 04 02 18 03 03 01 03 03 02",
			TCPOptions{MSS: 536, HasMSS: true, WindowScale: 2, HasWindowScale: true}},
		{"repeated sack: later, shorter one replaces all blocks",
			"05 12 00 00 00 01 00 00 00 02 00 00 00 03 00 00 00 04 05 0a 00 00 00 09 00 00 00 0a",
			TCPOptions{NumSACK: 1, SACK: [MaxSACKBlocks]SACKBlock{{9, 10}}}},
		{"sack 4 blocks", "05 22" + " 00 00 00 01 00 00 00 02" + " 00 00 00 03 00 00 00 04" + " 00 00 00 05 00 00 00 06" + " 00 00 00 07 00 00 00 08",
			TCPOptions{NumSACK: 4, SACK: [MaxSACKBlocks]SACKBlock{{1, 2}, {3, 4}, {5, 6}, {7, 8}}}},
		{"ts max", "08 0a ff ff ff ff 80 00 00 00", TCPOptions{TSVal: 0xffffffff, TSEcr: 0x80000000, HasTimestamps: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTCPOptions(unhex(t, tt.in))
			if err != nil {
				t.Fatalf("ParseTCPOptions: %v", err)
			}
			if got != tt.want {
				t.Errorf("ParseTCPOptions:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseTCPOptionList(t *testing.T) {
	b := unhex(t, "02 04 05 b4 04 02 08 0a 00 00 00 01 00 00 00 00 01 03 03 07 1e 03 aa 00 02 04")
	got, err := ParseTCPOptionList(b)
	if err != nil {
		t.Fatal(err)
	}
	want := []RawOption{
		{OptMSS, []byte{0x05, 0xb4}},
		{OptSACKPermitted, []byte{}},
		{OptTimestamps, []byte{0, 0, 0, 1, 0, 0, 0, 0}},
		{OptNOP, nil},
		{OptWindowScale, []byte{7}},
		{0x1e, []byte{0xaa}},
		{OptEOL, nil},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseTCPOptionList:\n got %v\nwant %v", got, want)
	}
	// Re-encoding gives the bytes up to and including the EOL.
	if enc := AppendTCPOptionList(nil, got); !bytes.Equal(enc, b[:24]) {
		t.Errorf("AppendTCPOptionList:\n got % x\nwant % x", enc, b[:24])
	}
	if l, err := ParseTCPOptionList(nil); l != nil || err != nil {
		t.Errorf("ParseTCPOptionList(nil) = %v, %v", l, err)
	}
	// Oversized data is cut to what the length byte can say.
	if enc := AppendTCPOptionList(nil, []RawOption{{99, make([]byte, 300)}}); len(enc) != 255 || enc[1] != 255 {
		t.Errorf("oversized raw option: %d bytes, length byte %d", len(enc), enc[1])
	}
}

func TestAppendTCPWithOptions(t *testing.T) {
	// packetdrill's "<nop,nop,TS val 1 ecr 2,mss 1000>" order, which
	// AppendTCPOptions would not write, plus a 3-byte tail padded with EOL.
	ep := Endpoints{addrA4, addrB4}
	opts := AppendTCPOptionList(nil, []RawOption{
		{Kind: OptNOP}, {Kind: OptNOP}, {OptTimestamps, []byte{0, 0, 0, 1, 0, 0, 0, 2}},
		{OptMSS, []byte{0x03, 0xe8}}, {OptWindowScale, []byte{3}},
	})
	h := TCPHeader{SrcPort: 1, DstPort: 2, Seq: 3, Flags: FlagSYN, Window: 4}
	seg := AppendTCPWithOptions(nil, &h, opts, []byte("p"), ep)
	if len(seg) != 20+20+1 || seg[12] != 10<<4 {
		t.Fatalf("segment % x", seg)
	}
	if !bytes.Equal(seg[20:40], append(opts, 0)) {
		t.Errorf("options area % x, want % x 00", seg[20:40], opts)
	}
	if !TCPChecksumValid(ep, seg) {
		t.Errorf("bad checksum")
	}
	got, payload, err := ParseTCP(seg)
	want := TCPOptions{TSVal: 1, TSEcr: 2, HasTimestamps: true, MSS: 1000, HasMSS: true, WindowScale: 3, HasWindowScale: true}
	if err != nil || got.Options != want || string(payload) != "p" {
		t.Errorf("ParseTCP = %+v, %q, %v", got, payload, err)
	}
	// More than 40 bytes are cut.
	if seg := AppendTCPWithOptions(nil, &h, make([]byte, 44), nil, ep); len(seg) != 60 {
		t.Errorf("44 bytes of options gave a %d-byte header", len(seg))
	}
}

func TestFlagsString(t *testing.T) {
	tests := []struct {
		f    Flags
		want string
	}{
		{0, "none"},
		{FlagSYN, "S"},
		{FlagSYN | FlagACK, "S."},
		{FlagACK, "."},
		{FlagFIN | FlagACK, "F."},
		{FlagFIN | FlagPSH | FlagACK, "FP."},
		{FlagRST, "R"},
		{FlagRST | FlagACK, "R."},
		{FlagPSH | FlagACK, "P."},
		{FlagSYN | FlagECE | FlagCWR, "SEW"},
		{FlagACK | FlagURG, ".U"},
		{0xff, "FSRP.UEW"},
	}
	for _, tt := range tests {
		if got := tt.f.String(); got != tt.want {
			t.Errorf("Flags(%#x).String() = %q, want %q", uint8(tt.f), got, tt.want)
		}
	}
}

func TestTCPOptionsString(t *testing.T) {
	tests := []struct {
		o    TCPOptions
		want string
	}{
		{TCPOptions{}, ""},
		{goldenSYN4Header.Options, "mss 1460,sackOK,TS val 1 ecr 0,wscale 7"},
		{TCPOptions{HasTimestamps: true, TSVal: 100, TSEcr: 200}, "TS val 100 ecr 200"},
		{TCPOptions{NumSACK: 1, SACK: [MaxSACKBlocks]SACKBlock{{1001, 2001}}}, "sack 1 {1001:2001}"},
		{goldenSACK4Header.Options, "TS val 100 ecr 200,sack 2 {3001:4001}{5001:6001}"},
		{TCPOptions{SACKPermitted: true, HasWindowScale: true, WindowScale: 14}, "sackOK,wscale 14"},
		{TCPOptions{NumSACK: 7}, "sack 4 {0:0}{0:0}{0:0}{0:0}"},
		{TCPOptions{NumSACK: -3}, ""},
	}
	for _, tt := range tests {
		if got := tt.o.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.o, got, tt.want)
		}
	}
}
