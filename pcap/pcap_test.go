package pcap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"testing"
	"time"
)

var t0 = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func TestFileHeaderGolden(t *testing.T) {
	var buf bytes.Buffer
	if _, err := NewWriter(&buf); err != nil {
		t.Fatal(err)
	}
	want := []byte{
		0x4d, 0x3c, 0xb2, 0xa1, // magic, nanosecond, little-endian
		0x02, 0x00, 0x04, 0x00, // version 2.4
		0x00, 0x00, 0x00, 0x00, // thiszone
		0x00, 0x00, 0x00, 0x00, // sigfigs
		0x00, 0x00, 0x04, 0x00, // snaplen 262144
		0x65, 0x00, 0x00, 0x00, // LINKTYPE_RAW
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("header\n got % x\nwant % x", buf.Bytes(), want)
	}
}

func TestRecordGolden(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Unix(0x01020304, 0x05060708)
	if err := w.WritePacket(ts, []byte{0x45, 0xaa}); err != nil {
		t.Fatal(err)
	}
	want := []byte{
		0x04, 0x03, 0x02, 0x01, // seconds
		0x08, 0x07, 0x06, 0x05, // nanoseconds
		0x02, 0x00, 0x00, 0x00, // captured length
		0x02, 0x00, 0x00, 0x00, // original length
		0x45, 0xaa,
	}
	if got := buf.Bytes()[fileHeaderLen:]; !bytes.Equal(got, want) {
		t.Fatalf("record\n got % x\nwant % x", got, want)
	}
}

type rec struct {
	ts  time.Time
	pkt []byte
}

func readAll(t *testing.T, b []byte) []rec {
	t.Helper()
	r, err := NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var out []rec
	for {
		ts, pkt, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec{ts, append([]byte(nil), pkt...)})
	}
}

func TestRoundTrip(t *testing.T) {
	in := []rec{
		{t0, []byte{0x45, 0, 0, 20}},
		{t0.Add(1500 * time.Microsecond), []byte{}},
		{t0.Add(time.Second + 7), bytes.Repeat([]byte{0x60, 1, 2}, 500)},
	}
	var buf bytes.Buffer
	w, err := NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range in {
		if err := w.WritePacket(p.ts, p.pkt); err != nil {
			t.Fatal(err)
		}
	}
	got := readAll(t, buf.Bytes())
	if len(got) != len(in) {
		t.Fatalf("read %d packets, want %d", len(got), len(in))
	}
	for i := range in {
		if !got[i].ts.Equal(in[i].ts) || !bytes.Equal(got[i].pkt, in[i].pkt) {
			t.Errorf("packet %d: got (%v, % x), want (%v, % x)", i, got[i].ts, got[i].pkt, in[i].ts, in[i].pkt)
		}
	}
}

func TestWriteTruncatesToSnapLen(t *testing.T) {
	var buf bytes.Buffer
	w, _ := NewWriter(&buf)
	big := make([]byte, SnapLen+10)
	if err := w.WritePacket(t0, big); err != nil {
		t.Fatal(err)
	}
	rh := buf.Bytes()[fileHeaderLen:]
	if incl, orig := binary.LittleEndian.Uint32(rh[8:]), binary.LittleEndian.Uint32(rh[12:]); incl != SnapLen || orig != SnapLen+10 {
		t.Fatalf("incl %d orig %d, want %d %d", incl, orig, SnapLen, SnapLen+10)
	}
	if got := len(readAll(t, buf.Bytes())[0].pkt); got != SnapLen {
		t.Fatalf("read %d bytes, want %d", got, SnapLen)
	}
}

func TestWriteTimestampRange(t *testing.T) {
	w, _ := NewWriter(io.Discard)
	if err := w.WritePacket(time.Unix(-1, 0), nil); err == nil {
		t.Error("no error for a timestamp before 1970")
	}
	if err := w.WritePacket(time.Unix(1<<32, 0), nil); err == nil {
		t.Error("no error for a timestamp after 2106")
	}
}

// capture builds a capture by hand in any byte order, resolution and link type.
func capture(order binary.AppendByteOrder, magic uint32, linkType uint32, recs ...[]byte) []byte {
	var b []byte
	b = order.AppendUint32(b, magic)
	b = order.AppendUint16(b, 2)
	b = order.AppendUint16(b, 4)
	b = append(b, make([]byte, 8)...)
	b = order.AppendUint32(b, 65535)
	b = order.AppendUint32(b, linkType)
	for i, r := range recs {
		b = order.AppendUint32(b, 946684800+uint32(i))
		b = order.AppendUint32(b, 250)
		b = order.AppendUint32(b, uint32(len(r)))
		b = order.AppendUint32(b, uint32(len(r)))
		b = append(b, r...)
	}
	return b
}

func TestReadVariants(t *testing.T) {
	ip4 := []byte{0x45, 1, 2, 3}
	ip6 := []byte{0x60, 4, 5, 6}
	eth := func(etype uint16, payload []byte) []byte {
		f := make([]byte, 12, 14+len(payload))
		f = binary.BigEndian.AppendUint16(f, etype)
		return append(f, payload...)
	}
	tests := []struct {
		name     string
		file     []byte
		wantPkts [][]byte
		wantNsec int
	}{
		{"big-endian µs raw", capture(binary.BigEndian, MagicMicroseconds, LinkTypeRaw, ip4), [][]byte{ip4}, 250000},
		{"little-endian µs raw", capture(binary.LittleEndian, MagicMicroseconds, LinkTypeRaw, ip4), [][]byte{ip4}, 250000},
		{"big-endian ns ipv6", capture(binary.BigEndian, MagicNanoseconds, LinkTypeIPv6, ip6), [][]byte{ip6}, 250},
		{"ipv4 link type", capture(binary.LittleEndian, MagicNanoseconds, LinkTypeIPv4, ip4), [][]byte{ip4}, 250},
		{"ethernet skips ARP", capture(binary.LittleEndian, MagicMicroseconds, LinkTypeEthernet,
			eth(0x0800, ip4), eth(0x0806, []byte{1, 2}), eth(0x86dd, ip6)), [][]byte{ip4, ip6}, 250000},
		{"FCS bits in link type", capture(binary.LittleEndian, MagicNanoseconds, 0x14000000|LinkTypeRaw, ip4), [][]byte{ip4}, 250},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := readAll(t, tt.file)
			var pkts [][]byte
			for _, r := range got {
				pkts = append(pkts, r.pkt)
			}
			if !reflect.DeepEqual(pkts, tt.wantPkts) {
				t.Fatalf("packets % x, want % x", pkts, tt.wantPkts)
			}
			if want := time.Unix(946684800, int64(tt.wantNsec)).UTC(); !got[0].ts.Equal(want) {
				t.Fatalf("timestamp %v, want %v", got[0].ts, want)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	good := capture(binary.LittleEndian, MagicNanoseconds, LinkTypeRaw, []byte{0x45, 0, 0, 0})
	badLen := bytes.Clone(good)
	binary.LittleEndian.PutUint32(badLen[fileHeaderLen+8:], 1<<30)
	badNsec := bytes.Clone(good)
	binary.LittleEndian.PutUint32(badNsec[fileHeaderLen+4:], 1e9)
	shortEth := capture(binary.LittleEndian, MagicNanoseconds, LinkTypeEthernet, []byte{1, 2, 3})
	tests := []struct {
		name string
		file []byte
	}{
		{"empty", nil},
		{"short header", good[:10]},
		{"bad magic", append([]byte{1, 2, 3, 4}, good[4:]...)},
		{"pcapng", append([]byte{0x0a, 0x0d, 0x0d, 0x0a}, good[4:]...)},
		{"link type", capture(binary.LittleEndian, MagicNanoseconds, 105)},
		{"truncated record header", good[:fileHeaderLen+5]},
		{"truncated record", good[:len(good)-1]},
		{"huge record", badLen},
		{"nanoseconds overflow", badNsec},
		{"short Ethernet frame", shortEth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(tt.file))
			for err == nil {
				_, _, err = r.Next()
			}
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v, want one wrapping ErrFormat", err)
			}
		})
	}
}

func FuzzReader(f *testing.F) {
	f.Add(capture(binary.LittleEndian, MagicNanoseconds, LinkTypeRaw, []byte{0x45, 0, 0, 0}))
	f.Add(capture(binary.BigEndian, MagicMicroseconds, LinkTypeEthernet, make([]byte, 20)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := NewReader(bytes.NewReader(b))
		if err != nil {
			return
		}
		for i := 0; i < 1000; i++ {
			if _, _, err := r.Next(); err != nil {
				return
			}
		}
	})
}
