package wire

import (
	"bytes"
	"reflect"
	"testing"
)

// A SYN as Linux sends it: 198.18.0.1:40000 > 198.18.0.2:80, seq 1000,
// win 64240, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], TTL 64,
// DF, ID 0. The checksums (IP ae94, TCP 206e) were computed independently
// of this package and agree with tshark.
const goldenSYN4 = `
45 00 00 3c 00 00 40 00 40 06 ae 94 c6 12 00 01 c6 12 00 02
9c 40 00 50 00 00 03 e8 00 00 00 00 a0 02 fa f0 20 6e 00 00
02 04 05 b4 04 02 08 0a 00 00 00 01 00 00 00 00 01 03 03 07`

var goldenSYN4Header = TCPHeader{
	SrcPort: 40000, DstPort: 80, Seq: 1000, Flags: FlagSYN, Window: 64240,
	Options: TCPOptions{
		MSS: 1460, HasMSS: true, SACKPermitted: true,
		TSVal: 1, TSEcr: 0, HasTimestamps: true,
		WindowScale: 7, HasWindowScale: true,
	},
}

// The SYN-ACK of an IPv6 handshake: [2001:db8::2]:80 > [2001:db8::1]:40000,
// seq 5000, ack 1001, win 65160, options [mss 1440,sackOK,TS val 7 ecr 1,
// nop,wscale 9], hop limit 64; TCP checksum 39fb.
const goldenSYNACK6 = `
60 00 00 00 00 28 06 40 20 01 0d b8 00 00 00 00 00 00 00 00
00 00 00 02 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01
00 50 9c 40 00 00 13 88 00 00 03 e9 a0 12 fe 88 39 fb 00 00
02 04 05 a0 04 02 08 0a 00 00 00 07 00 00 00 01 01 03 03 09`

var goldenSYNACK6Header = TCPHeader{
	SrcPort: 80, DstPort: 40000, Seq: 5000, Ack: 1001, Flags: FlagSYN | FlagACK, Window: 65160,
	Options: TCPOptions{
		MSS: 1440, HasMSS: true, SACKPermitted: true,
		TSVal: 7, TSEcr: 1, HasTimestamps: true,
		WindowScale: 9, HasWindowScale: true,
	},
}

// A data segment with an ACK carrying two SACK blocks: 198.18.0.1:40000 >
// 198.18.0.2:80, flags [P.], seq 1001:1006, ack 2001, win 502, options
// [nop,nop,TS val 100 ecr 200,nop,nop,sack 2 {3001:4001}{5001:6001}],
// payload "hello". Checksums: IP ae83, TCP 5ece.
const goldenSACK4 = `
45 00 00 4d 00 00 40 00 40 06 ae 83 c6 12 00 01 c6 12 00 02
9c 40 00 50 00 00 03 e9 00 00 07 d1 d0 18 01 f6 5e ce 00 00
01 01 08 0a 00 00 00 64 00 00 00 c8 01 01 05 12 00 00 0b b9
00 00 0f a1 00 00 13 89 00 00 17 71 68 65 6c 6c 6f`

var goldenSACK4Header = TCPHeader{
	SrcPort: 40000, DstPort: 80, Seq: 1001, Ack: 2001, Flags: FlagPSH | FlagACK, Window: 502,
	Options: TCPOptions{
		TSVal: 100, TSEcr: 200, HasTimestamps: true,
		NumSACK: 2, SACK: [MaxSACKBlocks]SACKBlock{{3001, 4001}, {5001, 6001}},
	},
}

func TestGoldenPackets(t *testing.T) {
	tests := []struct {
		name     string
		ep       Endpoints
		h        TCPHeader
		payload  string
		wire     string
		checksum uint16
	}{
		{"ipv4 syn", Endpoints{addrA4, addrB4}, goldenSYN4Header, "", goldenSYN4, 0x206e},
		{"ipv6 syn-ack", Endpoints{addrB6, addrA6}, goldenSYNACK6Header, "", goldenSYNACK6, 0x39fb},
		{"ipv4 sack", Endpoints{addrA4, addrB4}, goldenSACK4Header, "hello", goldenSACK4, 0x5ece},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := unhex(t, tt.wire)
			h := tt.h
			h.Checksum = 0xdead // AppendTCP must ignore it
			got := AppendTCPPacket(nil, tt.ep, 64, &h, []byte(tt.payload))
			if !bytes.Equal(got, want) {
				t.Fatalf("AppendTCPPacket:\n got % x\nwant % x", got, want)
			}
			ip, ph, payload, err := ParseTCPPacket(want)
			if err != nil {
				t.Fatalf("ParseTCPPacket: %v", err)
			}
			wantH := tt.h
			wantH.Checksum = tt.checksum
			if ph != wantH {
				t.Errorf("TCP header:\n got %+v\nwant %+v", ph, wantH)
			}
			if string(payload) != tt.payload {
				t.Errorf("payload = %q, want %q", payload, tt.payload)
			}
			if ip.Src != tt.ep.Src || ip.Dst != tt.ep.Dst || ip.Protocol != ProtocolTCP || ip.TTL != 64 || ip.Fragment {
				t.Errorf("IP summary = %+v", ip)
			}
			hlen := IPv4HeaderLen
			if ip.Version == 6 {
				hlen = IPv6HeaderLen
			}
			if !bytes.Equal(ip.Payload, want[hlen:]) {
				t.Errorf("IP payload = % x, want % x", ip.Payload, want[hlen:])
			}
			seg := want[hlen:]
			if !TCPChecksumValid(tt.ep, seg) {
				t.Errorf("TCPChecksumValid = false")
			}
			if refChecksum(seg) == 0 { // keep refChecksum honest too
				t.Errorf("reference checksum of a segment alone is 0")
			}
			// AppendTCP alone writes the segment.
			if seg2 := AppendTCP(nil, &h, []byte(tt.payload), tt.ep); !bytes.Equal(seg2, seg) {
				t.Errorf("AppendTCP:\n got % x\nwant % x", seg2, seg)
			}
			// Appending after existing bytes leaves them alone.
			prefix := []byte{1, 2, 3}
			got2 := AppendTCPPacket(prefix, tt.ep, 64, &h, []byte(tt.payload))
			if !bytes.Equal(got2[:3], prefix) || !bytes.Equal(got2[3:], want) {
				t.Errorf("AppendTCPPacket after a prefix: % x", got2)
			}
		})
	}
}

func TestGoldenIPv4Header(t *testing.T) {
	b := unhex(t, goldenSYN4)
	h, payload, err := ParseIPv4(b)
	if err != nil {
		t.Fatal(err)
	}
	want := IPv4Header{
		TotalLength: 60, DontFragment: true, TTL: 64, Protocol: ProtocolTCP,
		Checksum: 0xae94, Src: addrA4, Dst: addrB4,
	}
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("ParseIPv4:\n got %+v\nwant %+v", h, want)
	}
	if !bytes.Equal(payload, b[20:]) {
		t.Errorf("payload = % x", payload)
	}
	if got := AppendIPv4(nil, &h, len(payload)); !bytes.Equal(got, b[:20]) {
		t.Errorf("AppendIPv4:\n got % x\nwant % x", got, b[:20])
	}
	if refChecksum(b[:20]) != 0 {
		t.Errorf("reference checksum over the header is not 0")
	}
}

func TestIPv4OptionsRoundTrip(t *testing.T) {
	h := IPv4Header{
		TOS: 0x10, ID: 0x1234, MoreFragments: true, FragmentOffset: 1480, TTL: 3,
		Protocol: ProtocolUDP, Src: addrA4, Dst: addrB4,
		Options: []byte{0x94, 0x04, 0x00}, // router alert, one byte short of a word
	}
	b := AppendIPv4(nil, &h, 4)
	b = append(b, 9, 9, 9, 9, 0xee) // payload and a byte of link padding
	want := unhex(t, "46 10 00 1c 12 34 20 b9 03 11 00 00 c6 12 00 01 c6 12 00 02 94 04 00 00")
	cs := refChecksum(want)
	want[10], want[11] = byte(cs>>8), byte(cs)
	if !bytes.Equal(b[:24], want) {
		t.Fatalf("AppendIPv4:\n got % x\nwant % x", b[:24], want)
	}
	got, payload, err := ParseIPv4(b)
	if err != nil {
		t.Fatal(err)
	}
	h.TotalLength, h.Checksum = 28, cs
	h.Options = []byte{0x94, 0x04, 0x00, 0x00}
	if !reflect.DeepEqual(got, h) {
		t.Errorf("ParseIPv4:\n got %+v\nwant %+v", got, h)
	}
	if !bytes.Equal(payload, []byte{9, 9, 9, 9}) {
		t.Errorf("payload = % x, want 09 09 09 09 (trimmed to total length)", payload)
	}
	ip, err := ParseIP(b)
	if err != nil || !ip.Fragment || ip.Protocol != ProtocolUDP || ip.Version != 4 {
		t.Errorf("ParseIP = %+v, %v; want a UDP fragment", ip, err)
	}
	// Oversized options are cut at 40 bytes.
	h.Options = make([]byte, 50)
	if got := AppendIPv4(nil, &h, 0); len(got) != 60 || got[0] != 0x4f || h.Len() != 60 {
		t.Errorf("50 bytes of options: header len %d, first byte %#x, Len %d", len(got), got[0], h.Len())
	}
}

func TestIPv6RoundTrip(t *testing.T) {
	h := IPv6Header{
		TrafficClass: 0xb8, FlowLabel: 0xabcde, NextHeader: ProtocolUDP, HopLimit: 255,
		Src: addrA6, Dst: addrB6,
	}
	b := AppendIPv6(nil, &h, 3)
	b = append(b, 1, 2, 3, 0xee)
	want := unhex(t, `6b 8a bc de 00 03 11 ff
		20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01
		20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 02`)
	if !bytes.Equal(b[:40], want) {
		t.Fatalf("AppendIPv6:\n got % x\nwant % x", b[:40], want)
	}
	got, payload, err := ParseIPv6(b)
	if err != nil {
		t.Fatal(err)
	}
	h.PayloadLength = 3
	if got != h {
		t.Errorf("ParseIPv6:\n got %+v\nwant %+v", got, h)
	}
	if !bytes.Equal(payload, []byte{1, 2, 3}) {
		t.Errorf("payload = % x", payload)
	}
}
