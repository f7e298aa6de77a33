package wire

import (
	"fmt"
	"testing"
)

// Parse and checksum at the sizes bulk transfer moves: a full 1500-byte
// segment (1448 bytes of data after IPv4, TCP and timestamps) and a 64 KiB
// one (an MTU-65535 link), IPv4 and IPv6. ParseTCPPacket verifies the TCP
// checksum, so its cost grows with the payload. Run with
//
//	go test ./wire -run '^$' -bench 'Sized' -benchmem

var benchSizes = []int{1448, 65535 - 20 - 32}

func benchData(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

func BenchmarkSizedParseTCPPacket(b *testing.B) {
	h := TCPHeader{SrcPort: 40000, DstPort: 80, Seq: 1, Ack: 2, Flags: FlagACK, Window: 512,
		Options: TCPOptions{TSVal: 1, TSEcr: 2, HasTimestamps: true}}
	for _, ep := range []Endpoints{{addrA4, addrB4}, {addrA6, addrB6}} {
		for _, n := range benchSizes {
			if ep.Src.Is6() {
				n -= 20
			}
			pkt := AppendTCPPacket(nil, ep, 64, &h, benchData(n))
			name := fmt.Sprintf("v4/%d", len(pkt))
			if ep.Src.Is6() {
				name = fmt.Sprintf("v6/%d", len(pkt))
			}
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(pkt)))
				for b.Loop() {
					if _, _, p, err := ParseTCPPacket(pkt); err != nil || len(p) != n {
						b.Fatalf("%d bytes of payload, %v", len(p), err)
					}
				}
			})
		}
	}
}

func BenchmarkSizedAppendTCPPacket(b *testing.B) {
	h := TCPHeader{SrcPort: 40000, DstPort: 80, Seq: 1, Ack: 2, Flags: FlagACK, Window: 512,
		Options: TCPOptions{TSVal: 1, TSEcr: 2, HasTimestamps: true}}
	ep := Endpoints{addrA4, addrB4}
	for _, n := range benchSizes {
		payload := benchData(n)
		buf := make([]byte, 0, n+128)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for b.Loop() {
				buf = AppendTCPPacket(buf[:0], ep, 64, &h, payload)
			}
		})
	}
}

func BenchmarkSizedChecksum(b *testing.B) {
	for _, n := range []int{20, 1500, 65535} {
		data := benchData(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for b.Loop() {
				_ = Checksum(data)
			}
		})
	}
}
