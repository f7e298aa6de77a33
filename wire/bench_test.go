package wire

import "testing"

func TestHotPathDoesNotAllocate(t *testing.T) {
	pkt := unhex(t, goldenSACK4)
	h := goldenSACK4Header
	ep := Endpoints{addrA4, addrB4}
	ep6 := Endpoints{addrA6, addrB6}
	payload := []byte("hello")
	buf := make([]byte, 0, 256)
	pkt6 := AppendTCPPacket(nil, ep6, 64, &h, payload)
	tests := []struct {
		name string
		f    func()
	}{
		{"ParseTCPPacket v4", func() { _, _, _, _ = ParseTCPPacket(pkt) }},
		{"ParseTCPPacket v6", func() { _, _, _, _ = ParseTCPPacket(pkt6) }},
		{"ParseTCPPacket bad", func() { _, _, _, _ = ParseTCPPacket(pkt[:30]) }},
		{"AppendTCPPacket v4", func() { buf = AppendTCPPacket(buf[:0], ep, 64, &h, payload) }},
		{"AppendTCPPacket v6", func() { buf = AppendTCPPacket(buf[:0], ep6, 64, &h, payload) }},
	}
	for _, tt := range tests {
		if n := testing.AllocsPerRun(100, tt.f); n != 0 {
			t.Errorf("%s: %v allocations per run, want 0", tt.name, n)
		}
	}
}

func BenchmarkParseTCPPacket(b *testing.B) {
	pkt := unhex(b, goldenSACK4)
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if _, _, _, err := ParseTCPPacket(pkt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendTCPPacket(b *testing.B) {
	h := goldenSACK4Header
	ep := Endpoints{addrA4, addrB4}
	payload := make([]byte, 1448)
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		buf = AppendTCPPacket(buf[:0], ep, 64, &h, payload)
	}
}

func BenchmarkChecksum(b *testing.B) {
	data := make([]byte, 1500)
	for i := range data {
		data[i] = byte(i)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		_ = Checksum(data)
	}
}
