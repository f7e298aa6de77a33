package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// Golden ICMP and UDP messages; their checksums were computed with an
// independent RFC 1071 implementation (a few lines of Python).
const (
	// Echo request, id 0x1234, seq 1, data "abcd".
	goldenEcho4 = `08 00 21 04 12 34 00 01 61 62 63 64`
	// Fragmentation needed, next-hop MTU 1400, quoting the first 28
	// bytes of goldenSYN4.
	goldenFragNeeded4 = `03 04 57 0b 00 00 05 78 45 00 00 3c 00 00 40 00 40 06 ae 94
c6 12 00 01 c6 12 00 02 9c 40 00 50 00 00 03 e8`
	// ICMPv6 echo request 2001:db8::1 > 2001:db8::2, id 7, seq 9, data "hi".
	goldenEcho6 = `80 00 bb cc 00 07 00 09 68 69`
	// ICMPv6 packet too big 2001:db8::2 > 2001:db8::1, MTU 1280, 8 zero
	// bytes quoted.
	goldenPTB6 = `02 00 9d 40 00 00 05 00 00 00 00 00 00 00 00 00`
	// UDP 5353 > 53, "query", over IPv4 (198.18.0.1 > 198.18.0.2) and IPv6.
	goldenUDP4 = `14 e9 00 35 00 0d 0e a6 71 75 65 72 79`
	goldenUDP6 = `14 e9 00 35 00 0d 3f 59 71 75 65 72 79`
)

func TestICMPGolden(t *testing.T) {
	ep6 := Endpoints{addrA6, addrB6}
	echo := NewICMPEcho(ICMPv4EchoRequest, 0x1234, 1, []byte("abcd"))
	if got := AppendICMPv4(nil, &echo); !bytes.Equal(got, unhex(t, goldenEcho4)) {
		t.Errorf("echo4 = % x", got)
	}
	m, err := ParseICMPv4(unhex(t, goldenEcho4))
	if err != nil || m.Type != ICMPv4EchoRequest || m.Code != 0 || m.Checksum != 0x2104 ||
		m.EchoID() != 0x1234 || m.EchoSeq() != 1 || string(m.Body) != "abcd" {
		t.Errorf("ParseICMPv4(echo) = %+v, %v", m, err)
	}

	fn := ICMPMessage{Type: ICMPv4DestUnreachable, Code: ICMPv4FragmentationNeeded, Rest: 1400,
		Body: unhex(t, goldenSYN4)[:28]}
	if got := AppendICMPv4(nil, &fn); !bytes.Equal(got, unhex(t, goldenFragNeeded4)) {
		t.Errorf("frag needed = % x", got)
	}
	m, err = ParseICMPv4(unhex(t, goldenFragNeeded4))
	if err != nil || m.Type != 3 || m.Code != 4 || m.Rest != 1400 || len(m.Body) != 28 {
		t.Fatalf("ParseICMPv4(frag needed) = %+v, %v", m, err)
	}
	q, err := ParseQuote(m.Body)
	if err != nil || q.Version != 4 || q.Src != addrA4 || q.Dst != addrB4 || q.Protocol != ProtocolTCP || len(q.Transport) != 8 {
		t.Fatalf("ParseQuote = %+v, %v", q, err)
	}
	if sp, dp, ok := q.Ports(); sp != 40000 || dp != 80 || !ok {
		t.Errorf("Ports = %d, %d, %v", sp, dp, ok)
	}
	if seq, ok := q.TCPSeq(); seq != 1000 || !ok {
		t.Errorf("TCPSeq = %d, %v", seq, ok)
	}

	e6 := NewICMPEcho(ICMPv6EchoRequest, 7, 9, []byte("hi"))
	if got := AppendICMPv6(nil, &e6, ep6); !bytes.Equal(got, unhex(t, goldenEcho6)) {
		t.Errorf("echo6 = % x", got)
	}
	m, err = ParseICMPv6(unhex(t, goldenEcho6), ep6)
	if err != nil || m.Type != ICMPv6EchoRequest || m.EchoID() != 7 || m.EchoSeq() != 9 || string(m.Body) != "hi" {
		t.Errorf("ParseICMPv6(echo) = %+v, %v", m, err)
	}
	// The pseudo-header is covered: the same bytes between other
	// addresses fail.
	if _, err := ParseICMPv6(unhex(t, goldenEcho6), Endpoints{addrB6, addrA6}); err != nil {
		t.Errorf("swapped addresses: %v (the sum is symmetric)", err)
	}
	if _, err := ParseICMPv6(unhex(t, goldenEcho6), Endpoints{addrA6, addrA6}); !errors.Is(err, ErrChecksum) {
		t.Errorf("other addresses: err = %v, want ErrChecksum", err)
	}
	ptb := ICMPMessage{Type: ICMPv6PacketTooBig, Rest: 1280, Body: make([]byte, 8)}
	if got := AppendICMPv6(nil, &ptb, Endpoints{addrB6, addrA6}); !bytes.Equal(got, unhex(t, goldenPTB6)) {
		t.Errorf("ptb6 = % x", got)
	}
}

func TestICMPMalformed(t *testing.T) {
	b := unhex(t, goldenEcho4)
	for n := range ICMPHeaderLen {
		if _, err := ParseICMPv4(b[:n]); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseICMPv4 of %d bytes: %v", n, err)
		}
		if _, err := ParseICMPv6(b[:n], Endpoints{addrA6, addrB6}); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseICMPv6 of %d bytes: %v", n, err)
		}
	}
	b[len(b)-1] ^= 1
	if _, err := ParseICMPv4(b); !errors.Is(err, ErrChecksum) {
		t.Errorf("corrupted echo: %v", err)
	}
	for _, q := range [][]byte{nil, {0x45}, unhex(t, goldenSYN4)[:19], {0x46, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}, make([]byte, 40)} {
		if _, err := ParseQuote(q); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseQuote(% x) = %v", q, err)
		}
	}
}

func TestQuoteIPv6AndFragments(t *testing.T) {
	syn := unhex(t, goldenSYNACK6)
	q, err := ParseQuote(syn[:48])
	if err != nil || q.Version != 6 || q.Src != addrB6 || q.Dst != addrA6 || q.Protocol != ProtocolTCP || len(q.Transport) != 8 {
		t.Fatalf("ParseQuote(v6) = %+v, %v", q, err)
	}
	// A quoted non-first IPv4 fragment has no ports.
	frag := AppendIPv4(nil, &IPv4Header{TTL: 64, Protocol: ProtocolUDP, FragmentOffset: 1480, Src: addrA4, Dst: addrB4}, 8)
	frag = append(frag, 1, 2, 3, 4, 5, 6, 7, 8)
	q, err = ParseQuote(frag)
	if err != nil || q.Transport != nil {
		t.Fatalf("ParseQuote(fragment) = %+v, %v", q, err)
	}
	if _, _, ok := q.Ports(); ok {
		t.Error("Ports of a non-first fragment ok")
	}
}

func TestUDPGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		ep   Endpoints
		hex  string
		sum  uint16
	}{
		{"v4", Endpoints{addrA4, addrB4}, goldenUDP4, 0x0ea6},
		{"v6", Endpoints{addrA6, addrB6}, goldenUDP6, 0x3f59},
	} {
		h := UDPHeader{SrcPort: 5353, DstPort: 53}
		if got := AppendUDP(nil, &h, []byte("query"), tc.ep); !bytes.Equal(got, unhex(t, tc.hex)) {
			t.Errorf("%s: AppendUDP = % x", tc.name, got)
		}
		// Padding past the length field is ignored.
		b := append(unhex(t, tc.hex), 0, 0)
		h, p, err := ParseUDP(b, tc.ep)
		want := UDPHeader{SrcPort: 5353, DstPort: 53, Length: 13, Checksum: tc.sum}
		if err != nil || h != want || string(p) != "query" {
			t.Errorf("%s: ParseUDP = %+v, %q, %v", tc.name, h, p, err)
		}
		b[7] ^= 1
		if _, _, err := ParseUDP(b, tc.ep); !errors.Is(err, ErrChecksum) {
			t.Errorf("%s: bad checksum: %v", tc.name, err)
		}
		b[6], b[7] = 0, 0 // no checksum: fine over IPv4 only
		_, _, err = ParseUDP(b, tc.ep)
		if tc.name == "v4" && err != nil || tc.name == "v6" && !errors.Is(err, ErrChecksum) {
			t.Errorf("%s: zero checksum: %v", tc.name, err)
		}
	}
	b := unhex(t, goldenUDP4)
	for n := range UDPHeaderLen {
		if _, _, err := ParseUDP(b[:n], Endpoints{addrA4, addrB4}); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseUDP of %d bytes: %v", n, err)
		}
	}
	if _, _, err := ParseUDP(b[:12], Endpoints{addrA4, addrB4}); !errors.Is(err, ErrMalformed) {
		t.Errorf("ParseUDP cut inside the data: %v", err)
	}
	b[4], b[5] = 0, 7
	if _, _, err := ParseUDP(b, Endpoints{addrA4, addrB4}); !errors.Is(err, ErrMalformed) {
		t.Errorf("ParseUDP with length 7: %v", err)
	}
}

// udpPacket builds a whole IP packet carrying a UDP datagram of n bytes.
func udpPacket(ep Endpoints, n int) []byte {
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(i * 7)
	}
	h := UDPHeader{SrcPort: 1, DstPort: 2}
	var pkt []byte
	if ep.Src.Is4() {
		pkt = AppendIPv4(nil, &IPv4Header{TTL: 64, Protocol: ProtocolUDP, Src: ep.Src, Dst: ep.Dst}, UDPHeaderLen+n)
	} else {
		pkt = AppendIPv6(nil, &IPv6Header{NextHeader: ProtocolUDP, HopLimit: 64, Src: ep.Src, Dst: ep.Dst}, UDPHeaderLen+n)
	}
	return AppendUDP(pkt, &h, data, ep)
}

func TestFragmentAndReassemble(t *testing.T) {
	for _, ep := range []Endpoints{{addrA4, addrB4}, {addrA6, addrB6}} {
		pkt := udpPacket(ep, 3000)
		orig, _ := ParseIP(pkt)
		var frags [][]byte
		if err := Fragment(pkt, 1280, 0xabcd1234, func(f []byte) { frags = append(frags, bytes.Clone(f)) }); err != nil {
			t.Fatal(err)
		}
		// IPv4: 1256 data bytes per fragment (1260 rounded down to 8);
		// IPv6: 1232 (1280-40-8).
		wantN, step := 3, 1256
		if ep.Src.Is6() {
			step = 1232
		}
		if len(frags) != wantN {
			t.Fatalf("%d fragments, want %d", len(frags), wantN)
		}
		var data []byte
		var last IPPacket
		for i, f := range frags {
			if len(f) > 1280 {
				t.Errorf("fragment %d is %d bytes", i, len(f))
			}
			ip, err := ParseIP(f)
			if err != nil {
				t.Fatalf("fragment %d: %v", i, err)
			}
			wantID := uint32(0xabcd1234)
			if ep.Src.Is4() {
				wantID = 0x1234
			}
			if !ip.Fragment || int(ip.FragmentOffset) != i*step || ip.MoreFragments != (i < 2) ||
				ip.ID != wantID || ip.Protocol != ProtocolUDP {
				t.Errorf("fragment %d: %+v", i, ip)
			}
			if ep.Src.Is4() {
				if h, _, _ := ParseIPv4(f); h.DontFragment {
					t.Errorf("fragment %d has DF", i)
				}
			}
			data = append(data, ip.Payload...)
			last = ip
		}
		whole, err := last.Reassembled(data)
		if err != nil || whole.Fragment || whole.Protocol != ProtocolUDP || !bytes.Equal(whole.Payload, orig.Payload) {
			t.Fatalf("Reassembled = %+v, %v", whole, err)
		}
		if _, _, err := ParseUDP(whole.Payload, ep); err != nil {
			t.Errorf("reassembled datagram: %v", err)
		}
		// A packet that fits goes out unchanged.
		var n int
		if err := Fragment(pkt, 4000, 1, func(f []byte) {
			n++
			if !bytes.Equal(f, pkt) {
				t.Error("a packet that fits was changed")
			}
		}); err != nil || n != 1 {
			t.Errorf("Fragment of a packet that fits: %d, %v", n, err)
		}
		if err := Fragment(pkt, 27, 1, func([]byte) {}); !errors.Is(err, ErrMalformed) {
			t.Errorf("Fragment with a tiny MTU: %v", err)
		}
	}
}

func FuzzParseICMP(f *testing.F) {
	f.Add(unhex(f, goldenEcho4))
	f.Add(unhex(f, goldenFragNeeded4))
	f.Add(unhex(f, goldenEcho6))
	f.Add(unhex(f, goldenPTB6))
	f.Add([]byte{3, 3, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		ep := Endpoints{addrA6, addrB6}
		if m, err := ParseICMPv4(data); err == nil {
			if re := AppendICMPv4(nil, &m); !sameICMP(re, data) {
				t.Fatalf("ICMPv4 round trip: % x, want % x", re, data)
			}
			_, _ = ParseQuote(m.Body)
		}
		if m, err := ParseICMPv6(data, ep); err == nil {
			if re := AppendICMPv6(nil, &m, ep); !sameICMP(re, data) {
				t.Fatalf("ICMPv6 round trip: % x, want % x", re, data)
			}
		}
		if q, err := ParseQuote(data); err == nil {
			q.Ports()
			q.TCPSeq()
			if q.Version != 4 && q.Version != 6 {
				t.Fatalf("quote version %d", q.Version)
			}
		}
	})
}

// sameICMP compares two ICMP messages byte for byte, except that a
// checksum of 0x0000 and one of 0xffff are the same: both are a zero in
// one's complement, so a message carrying either verifies, and Append
// writes only one of them.
func sameICMP(a, b []byte) bool {
	if len(a) != len(b) || len(a) < ICMPHeaderLen {
		return bytes.Equal(a, b)
	}
	ca, cb := binary.BigEndian.Uint16(a[2:]), binary.BigEndian.Uint16(b[2:])
	zero := func(c uint16) bool { return c == 0 || c == 0xffff }
	if ca != cb && !(zero(ca) && zero(cb)) {
		return false
	}
	return bytes.Equal(a[:2], b[:2]) && bytes.Equal(a[4:], b[4:])
}

func FuzzParseUDP(f *testing.F) {
	f.Add(unhex(f, goldenUDP4), true)
	f.Add(unhex(f, goldenUDP6), false)
	f.Add([]byte{0, 1, 0, 2, 0, 8, 0, 0}, true)
	f.Fuzz(func(t *testing.T, data []byte, v4 bool) {
		ep := Endpoints{addrA6, addrB6}
		if v4 {
			ep = Endpoints{addrA4, addrB4}
		}
		h, p, err := ParseUDP(data, ep)
		if err != nil {
			return
		}
		re := AppendUDP(nil, &h, p, ep)
		h2, p2, err := ParseUDP(re, ep)
		if err != nil || h2.SrcPort != h.SrcPort || h2.DstPort != h.DstPort || h2.Length != h.Length || !bytes.Equal(p2, p) {
			t.Fatalf("UDP round trip: %+v %v, want %+v", h2, err, h)
		}
	})
}

func FuzzFragment(f *testing.F) {
	f.Add(udpPacket(Endpoints{addrA4, addrB4}, 100), 68)
	f.Add(udpPacket(Endpoints{addrA6, addrB6}, 2000), 1280)
	for _, s := range seedPackets(f) {
		f.Add(s, 60)
	}
	f.Fuzz(func(t *testing.T, pkt []byte, mtu int) {
		orig, err := ParseIP(pkt)
		var data []byte
		var last IPPacket
		n := 0
		ferr := Fragment(pkt, mtu, 7, func(b []byte) {
			n++
			if len(b) > max(mtu, 0) && len(b) != len(pkt) {
				t.Fatalf("fragment of %d bytes for MTU %d", len(b), mtu)
			}
			ip, err := ParseIP(b)
			if err != nil {
				t.Fatalf("fragment does not parse: %v", err)
			}
			data = append(data, ip.Payload...)
			last = ip
		})
		if err != nil {
			if ferr == nil {
				t.Fatal("Fragment accepted what ParseIP rejects")
			}
			return
		}
		if ferr != nil || n <= 1 || orig.Fragment || orig.Version != 4 {
			return
		}
		whole, err := last.Reassembled(data)
		if err != nil || !bytes.Equal(whole.Payload, orig.Payload) {
			t.Fatalf("reassembly differs: %v", err)
		}
	})
}
