package wire

import (
	"errors"
	"testing"
)

func TestTruncatedAtEveryLength(t *testing.T) {
	for _, name := range []string{"goldenSYN4", "goldenSYNACK6", "goldenSACK4"} {
		pkt := unhex(t, map[string]string{
			"goldenSYN4": goldenSYN4, "goldenSYNACK6": goldenSYNACK6, "goldenSACK4": goldenSACK4,
		}[name])
		for n := range len(pkt) {
			if _, err := ParseIP(pkt[:n]); !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: ParseIP of %d bytes: err = %v, want ErrMalformed", name, n, err)
			}
			if _, _, _, err := ParseTCPPacket(pkt[:n]); !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: ParseTCPPacket of %d bytes: err = %v, want ErrMalformed", name, n, err)
			}
		}
		// The TCP segment alone: every length short of the full header fails.
		ip, _ := ParseIP(pkt)
		seg := ip.Payload
		hlen := int(seg[12]>>4) * 4
		for n := range hlen {
			if _, _, err := ParseTCP(seg[:n]); !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: ParseTCP of %d bytes: err = %v, want ErrMalformed", name, n, err)
			}
		}
		for n := hlen; n <= len(seg); n++ {
			if _, p, err := ParseTCP(seg[:n]); err != nil || len(p) != n-hlen {
				t.Errorf("%s: ParseTCP of %d bytes: payload %d, err %v", name, n, len(p), err)
			}
		}
	}
}

// mutate returns a copy of the golden IPv4 SYN changed by f, with the IP
// header checksum fixed up (and the TCP one when tcp is set).
func mutate(t *testing.T, tcp bool, f func(b []byte)) []byte {
	b := unhex(t, goldenSYN4)
	f(b)
	b[10], b[11] = 0, 0
	cs := Checksum(b[:int(b[0]&0xf)*4])
	b[10], b[11] = byte(cs>>8), byte(cs)
	if tcp {
		seg := b[20:]
		seg[16], seg[17] = 0, 0
		cs := ^fold(sum(pseudoHeaderSum(Endpoints{addrA4, addrB4}, ProtocolTCP, len(seg)), seg))
		seg[16], seg[17] = byte(cs>>8), byte(cs)
	}
	return b
}

func TestMalformedIP(t *testing.T) {
	tests := []struct {
		name string
		pkt  []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"version 5", mutate(t, false, func(b []byte) { b[0] = 0x55 }), ErrMalformed},
		{"version 0", mutate(t, false, func(b []byte) { b[0] = 0x05 }), ErrMalformed},
		{"ihl 4", mutate(t, false, func(b []byte) { b[0] = 0x44 }), ErrMalformed},
		{"ihl 0", []byte{0x40, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}, ErrMalformed},
		{"ihl past end", mutate(t, false, func(b []byte) { b[0] = 0x4f; b[2], b[3] = 0, 40 })[:40], ErrMalformed},
		{"total < ihl", mutate(t, false, func(b []byte) { b[2], b[3] = 0, 19 }), ErrMalformed},
		{"total past end", mutate(t, false, func(b []byte) { b[2], b[3] = 0, 61 }), ErrMalformed},
		{"bad ip checksum", func() []byte { b := unhex(t, goldenSYN4); b[11] ^= 1; return b }(), ErrChecksum},
		{"v6 payload past end", func() []byte { b := unhex(t, goldenSYNACK6); b[5]++; return b }(), ErrMalformed},
		{"v6 version 4 nibble in v6 slot", func() []byte { b := unhex(t, goldenSYNACK6); b[0] = 0x70; return b }(), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseIP(tt.pkt); !errors.Is(err, tt.want) {
				t.Errorf("ParseIP: err = %v, want %v", err, tt.want)
			}
			if _, _, _, err := ParseTCPPacket(tt.pkt); !errors.Is(err, tt.want) {
				t.Errorf("ParseTCPPacket: err = %v, want %v", err, tt.want)
			}
		})
	}
	// Each parser rejects the other family.
	if _, _, err := ParseIPv4(unhex(t, goldenSYNACK6)); !errors.Is(err, ErrMalformed) {
		t.Errorf("ParseIPv4 of an IPv6 packet: err = %v", err)
	}
	if _, _, err := ParseIPv6(append(unhex(t, goldenSYN4), make([]byte, 40)...)); !errors.Is(err, ErrMalformed) {
		t.Errorf("ParseIPv6 of an IPv4 packet: err = %v", err)
	}
	// A bad IP checksum is a checksum error, not a malformed packet.
	b := unhex(t, goldenSYN4)
	b[11] ^= 1
	if _, _, err := ParseIPv4(b); !errors.Is(err, ErrChecksum) || errors.Is(err, ErrMalformed) {
		t.Errorf("bad IP checksum: err = %v", err)
	}
}

func TestMalformedTCP(t *testing.T) {
	tests := []struct {
		name string
		pkt  []byte
		want error
	}{
		{"bad tcp checksum", func() []byte { b := unhex(t, goldenSYN4); b[37] ^= 0x80; return b }(), ErrChecksum},
		{"bad tcp checksum in payload", func() []byte { b := unhex(t, goldenSACK4); b[76] ^= 1; return b }(), ErrChecksum},
		{"data offset 4", mutate(t, true, func(b []byte) { b[32] = 0x40 }), ErrMalformed},
		{"data offset 0", mutate(t, true, func(b []byte) { b[32] = 0x00 }), ErrMalformed},
		{"data offset past end", mutate(t, true, func(b []byte) { b[32] = 0xb0 }), ErrMalformed},
		{"data offset 15", mutate(t, true, func(b []byte) { b[32] = 0xf0 }), ErrMalformed},
		{"mss len 5", mutate(t, true, func(b []byte) { b[41] = 5 }), ErrMalformed},
		{"option len 0", mutate(t, true, func(b []byte) { b[41] = 0 }), ErrMalformed},
		{"not tcp", mutate(t, false, func(b []byte) { b[9] = ProtocolUDP }), ErrNotTCP},
		{"fragment", mutate(t, false, func(b []byte) { b[6] = 0x20 }), ErrFragment},
		{"later fragment", mutate(t, false, func(b []byte) { b[6], b[7] = 0, 1 }), ErrFragment},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, _, err := ParseTCPPacket(tt.pkt); !errors.Is(err, tt.want) {
				t.Errorf("ParseTCPPacket: err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestMalformedOptions(t *testing.T) {
	tests := []struct {
		name string
		opts []byte
	}{
		{"kind without length", []byte{OptMSS}},
		{"unknown kind without length", []byte{1, 1, 1, 99}},
		{"length 0", []byte{99, 0}},
		{"length 1", []byte{99, 1, 0, 0}},
		{"unknown runs past end", []byte{99, 10, 1, 2, 3, 4, 5}},
		{"mss len 3", []byte{OptMSS, 3, 5, 0}},
		{"mss len 5", []byte{OptMSS, 5, 5, 0xb4, 0}},
		{"mss len 2", []byte{OptMSS, 2}},
		{"mss runs past end", []byte{OptMSS, 4, 5}},
		{"wscale len 2", []byte{OptWindowScale, 2, 1, 1}},
		{"wscale len 4", []byte{OptWindowScale, 4, 7, 0}},
		{"wscale runs past end", []byte{1, 1, OptWindowScale, 3}},
		{"sackOK len 3", []byte{OptSACKPermitted, 3, 0, 1}},
		{"sackOK len 4", []byte{OptSACKPermitted, 4, 0, 0}},
		{"sack len 2", []byte{OptSACK, 2, 1, 1}},
		{"sack len 9", append([]byte{OptSACK, 9}, make([]byte, 7)...)},
		{"sack len 11", append([]byte{OptSACK, 11}, make([]byte, 9)...)},
		{"sack 5 blocks", append([]byte{OptSACK, 42}, make([]byte, 40)...)},
		{"sack runs past end", append([]byte{OptSACK, 18}, make([]byte, 8)...)},
		{"ts len 9", append([]byte{OptTimestamps, 9}, make([]byte, 7)...)},
		{"ts len 11", append([]byte{OptTimestamps, 11}, make([]byte, 9)...)},
		{"ts runs past end", append([]byte{1, 1, OptTimestamps, 10}, make([]byte, 4)...)},
		{"bad option after good", []byte{OptMSS, 4, 5, 0xb4, OptWindowScale, 9, 7, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseTCPOptions(tt.opts); !errors.Is(err, ErrMalformed) {
				t.Errorf("ParseTCPOptions(% x): err = %v, want ErrMalformed", tt.opts, err)
			}
			if _, err := ParseTCPOptionList(tt.opts); !errors.Is(err, ErrMalformed) {
				t.Errorf("ParseTCPOptionList(% x): err = %v, want ErrMalformed", tt.opts, err)
			}
			// Inside a whole packet too, when padding to a word does not
			// change the meaning.
			if len(tt.opts)%4 != 0 {
				return
			}
			h := TCPHeader{SrcPort: 1, DstPort: 2, Flags: FlagACK}
			raw := AppendTCPWithOptions(nil, &h, tt.opts, nil, Endpoints{addrA4, addrB4})
			pkt := append(AppendIPv4(nil, &IPv4Header{TTL: 64, Protocol: ProtocolTCP, Src: addrA4, Dst: addrB4}, len(raw)), raw...)
			if _, _, _, err := ParseTCPPacket(pkt); !errors.Is(err, ErrMalformed) {
				t.Errorf("ParseTCPPacket: err = %v, want ErrMalformed", err)
			}
		})
	}
}

// ipv6Packet builds an IPv6 packet from its first next header and the
// bytes after the fixed header.
func ipv6Packet(next uint8, rest []byte) []byte {
	b := AppendIPv6(nil, &IPv6Header{NextHeader: next, HopLimit: 64, Src: addrA6, Dst: addrB6}, len(rest))
	return append(b, rest...)
}

func TestIPv6ExtensionHeaders(t *testing.T) {
	ep := Endpoints{addrA6, addrB6}
	h := TCPHeader{SrcPort: 1234, DstPort: 80, Seq: 1, Ack: 2, Flags: FlagACK, Window: 100}
	seg := AppendTCP(nil, &h, []byte("x"), ep)
	hbh := []byte{ProtocolDestOptions, 0, 1, 4, 0, 0, 0, 0}                          // hop-by-hop, PadN
	dstOpts := []byte{ProtocolRouting, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0} // 16 bytes
	routing := []byte{ProtocolFragment, 0, 0, 0, 0, 0, 0, 0}
	atomic := []byte{ProtocolTCP, 0, 0, 0, 0, 0, 0, 1}    // offset 0, M clear
	firstFrag := []byte{ProtocolTCP, 0, 0, 1, 0, 0, 0, 1} // offset 0, M set
	laterFrag := []byte{ProtocolTCP, 0, 0, 8, 0, 0, 0, 1} // offset 8, M clear
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	tests := []struct {
		name     string
		pkt      []byte
		proto    uint8
		payload  []byte
		fragment bool
		err      error // from ParseIP
		tcpErr   error // from ParseTCPPacket, when ParseIP succeeds
	}{
		{"plain", ipv6Packet(ProtocolTCP, seg), ProtocolTCP, seg, false, nil, nil},
		{"full chain", ipv6Packet(ProtocolHopByHop, cat(hbh, dstOpts, routing, atomic, seg)), ProtocolTCP, seg, false, nil, nil},
		{"first fragment", ipv6Packet(ProtocolFragment, cat(firstFrag, seg)), ProtocolTCP, seg, true, nil, ErrFragment},
		{"later fragment", ipv6Packet(ProtocolFragment, cat(laterFrag, []byte("abc"))), ProtocolTCP, []byte("abc"), true, nil, ErrFragment},
		{"no next header", ipv6Packet(ProtocolNoNext, []byte("junk")), ProtocolNoNext, []byte{}, false, nil, ErrNotTCP},
		{"udp after dest opts", ipv6Packet(ProtocolDestOptions, cat([]byte{ProtocolUDP, 0, 1, 4, 0, 0, 0, 0}, []byte("u"))), ProtocolUDP, []byte("u"), false, nil, ErrNotTCP},
		{"hop-by-hop truncated", ipv6Packet(ProtocolHopByHop, hbh[:7]), 0, nil, false, ErrMalformed, nil},
		{"dest opts length past end", ipv6Packet(ProtocolDestOptions, dstOpts[:8]), 0, nil, false, ErrMalformed, nil},
		{"chain truncated after routing", ipv6Packet(ProtocolRouting, cat(routing[:8], atomic[:4])), 0, nil, false, ErrMalformed, nil},
		{"fragment truncated", ipv6Packet(ProtocolFragment, atomic[:5]), 0, nil, false, ErrMalformed, nil},
		{"hop-by-hop not first", ipv6Packet(ProtocolDestOptions, cat([]byte{ProtocolHopByHop, 0, 1, 4, 0, 0, 0, 0}, hbh)), 0, nil, false, ErrMalformed, nil},
		{"empty chain", ipv6Packet(ProtocolHopByHop, nil), 0, nil, false, ErrMalformed, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ip, err := ParseIP(tt.pkt)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("ParseIP: err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseIP: %v", err)
			}
			if ip.Protocol != tt.proto || string(ip.Payload) != string(tt.payload) || ip.Fragment != tt.fragment ||
				ip.Version != 6 || ip.TTL != 64 || ip.Src != addrA6 || ip.Dst != addrB6 {
				t.Errorf("ParseIP = %+v; want protocol %d, payload % x, fragment %v", ip, tt.proto, tt.payload, tt.fragment)
			}
			_, got, payload, err := ParseTCPPacket(tt.pkt)
			if tt.tcpErr != nil {
				if !errors.Is(err, tt.tcpErr) {
					t.Errorf("ParseTCPPacket: err = %v, want %v", err, tt.tcpErr)
				}
				return
			}
			if err != nil || got != (TCPHeader{SrcPort: 1234, DstPort: 80, Seq: 1, Ack: 2, Flags: FlagACK, Window: 100, Checksum: got.Checksum}) || string(payload) != "x" {
				t.Errorf("ParseTCPPacket = %+v, %q, %v", got, payload, err)
			}
		})
	}
}
