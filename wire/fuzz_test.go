package wire

import (
	"bytes"
	"testing"
)

// seedPackets are valid and broken packets every packet fuzzer starts from.
func seedPackets(f *testing.F) [][]byte {
	ep6 := Endpoints{addrA6, addrB6}
	h := goldenSACK4Header
	seg := AppendTCP(nil, &h, []byte("data"), ep6)
	seeds := [][]byte{
		unhex(f, goldenSYN4),
		unhex(f, goldenSYNACK6),
		unhex(f, goldenSACK4),
		ipv6Packet(ProtocolHopByHop, append([]byte{ProtocolFragment, 0, 1, 4, 0, 0, 0, 0, ProtocolTCP, 0, 0, 0, 0, 0, 0, 1}, seg...)),
		ipv6Packet(ProtocolFragment, append([]byte{ProtocolTCP, 0, 0, 1, 0, 0, 0, 1}, seg...)),
		ipv6Packet(ProtocolNoNext, nil),
		ipv6Packet(ProtocolDestOptions, []byte{ProtocolTCP, 1, 0}),
		{},
		{0x45},
		{0x60, 0, 0, 0},
	}
	bad := unhex(f, goldenSYN4)
	bad[11] ^= 0xff // IP checksum
	seeds = append(seeds, bad)
	bad = unhex(f, goldenSACK4)
	bad[76] ^= 0xff // TCP checksum
	seeds = append(seeds, bad)
	seeds = append(seeds, unhex(f, goldenSYN4)[:50])
	return seeds
}

func FuzzParseIP(f *testing.F) {
	for _, s := range seedPackets(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ip, err := ParseIP(data)
		if err != nil {
			return
		}
		var re []byte
		switch ip.Version {
		case 4:
			h, p, err := ParseIPv4(data)
			if err != nil {
				t.Fatalf("ParseIP accepted what ParseIPv4 rejects: %v", err)
			}
			re = append(AppendIPv4(nil, &h, len(p)), p...)
			h2, p2, err := ParseIPv4(re)
			if err != nil {
				t.Fatalf("re-encoded IPv4 does not parse: %v\n% x", err, re)
			}
			h2.Checksum = h.Checksum // differs when the reserved flag was set
			if h2.TOS != h.TOS || h2.TotalLength != h.TotalLength || h2.ID != h.ID ||
				h2.DontFragment != h.DontFragment || h2.MoreFragments != h.MoreFragments ||
				h2.FragmentOffset != h.FragmentOffset || h2.TTL != h.TTL || h2.Protocol != h.Protocol ||
				h2.Src != h.Src || h2.Dst != h.Dst || !bytes.Equal(h2.Options, h.Options) || !bytes.Equal(p2, p) {
				t.Fatalf("IPv4 round trip:\n got %+v\nwant %+v", h2, h)
			}
		case 6:
			h, p, err := ParseIPv6(data)
			if err != nil {
				t.Fatalf("ParseIP accepted what ParseIPv6 rejects: %v", err)
			}
			re = append(AppendIPv6(nil, &h, len(p)), p...)
			h2, p2, err := ParseIPv6(re)
			if err != nil || h2 != h || !bytes.Equal(p2, p) {
				t.Fatalf("IPv6 round trip:\n got %+v, %v\nwant %+v", h2, err, h)
			}
		default:
			t.Fatalf("ParseIP returned version %d", ip.Version)
		}
		ip2, err := ParseIP(re)
		if err != nil || ip2.Version != ip.Version || ip2.Src != ip.Src || ip2.Dst != ip.Dst ||
			ip2.Protocol != ip.Protocol || ip2.TTL != ip.TTL || ip2.Fragment != ip.Fragment ||
			!bytes.Equal(ip2.Payload, ip.Payload) {
			t.Fatalf("ParseIP of the re-encoding:\n got %+v, %v\nwant %+v", ip2, err, ip)
		}
	})
}

// sentOptions is o as AppendTCPOptions writes it: SACK blocks that do not
// fit dropped, a Fast Open cookie cut to MaxFastOpenCookie bytes.
func sentOptions(o TCPOptions) TCPOptions {
	n := o.SACKBlocksSent()
	for i := n; i < MaxSACKBlocks; i++ {
		o.SACK[i] = SACKBlock{}
	}
	o.NumSACK = n
	// A Fast Open cookie is kept and sent up to MaxFastOpenCookie bytes;
	// a longer one parsed from the wire goes out cut to that.
	o.FastOpenLen = min(o.FastOpenLen, MaxFastOpenCookie)
	return o
}

func FuzzParseTCPOptions(f *testing.F) {
	f.Add([]byte{})
	f.Add(unhex(f, "02 04 05 b4 04 02 08 0a 00 00 00 01 00 00 00 00 01 03 03 07"))
	f.Add(unhex(f, "01 01 08 0a 00 00 00 64 00 00 00 c8 01 01 05 1a 00 00 00 01 00 00 00 02 00 00 00 03 00 00 00 04 00 00 00 05 00 00 00 06"))
	f.Add(unhex(f, "02 04 05 b4 00 ff 03 ff"))
	f.Add(unhex(f, "1e 04 aa bb 22 02 fe 06 01 02 03 04 03 03 0e 00"))
	f.Add(unhex(f, "05 22 00 00 00 01 00 00 00 02 00 00 00 03 00 00 00 04 00 00 00 05 00 00 00 06 00 00 00 07 00 00 00 08"))
	f.Add([]byte{OptMSS, 3, 5})
	f.Add([]byte{OptSACK, 9, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{99, 1})
	f.Add([]byte{OptTimestamps})
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := ParseTCPOptions(data)
		list, errList := ParseTCPOptionList(data)
		if (err == nil) != (errList == nil) {
			t.Fatalf("ParseTCPOptions err %v, ParseTCPOptionList err %v", err, errList)
		}
		_ = o.String()
		if err != nil {
			return
		}
		// The listed options are a prefix of data and mean the same.
		raw := AppendTCPOptionList(nil, list)
		if !bytes.HasPrefix(data, raw) {
			t.Fatalf("option list re-encodes to % x, not a prefix of % x", raw, data)
		}
		if o2, err := ParseTCPOptions(raw); err != nil || o2 != o {
			t.Fatalf("option list prefix parses to %+v, %v; want %+v", o2, err, o)
		}
		enc := AppendTCPOptions(nil, &o)
		if len(enc) != o.Len() || len(enc)%4 != 0 || len(enc) > MaxOptionsLen {
			t.Fatalf("AppendTCPOptions wrote %d bytes, Len %d", len(enc), o.Len())
		}
		o2, err := ParseTCPOptions(enc)
		if err != nil {
			t.Fatalf("encoding % x does not parse: %v", enc, err)
		}
		if want := sentOptions(o); o2 != want {
			t.Fatalf("round trip:\n got %+v\nwant %+v", o2, want)
		}
		if enc2 := AppendTCPOptions(nil, &o2); !bytes.Equal(enc2, enc) {
			t.Fatalf("second encoding % x differs from % x", enc2, enc)
		}
	})
}

func FuzzParseTCPPacket(f *testing.F) {
	for _, s := range seedPackets(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ip, h, payload, err := ParseTCPPacket(data)
		if err != nil {
			return
		}
		_ = h.Flags.String()
		_ = h.Options.String()
		ep := Endpoints{ip.Src, ip.Dst}
		re := AppendTCPPacket(nil, ep, ip.TTL, &h, payload)
		ip2, h2, p2, err := ParseTCPPacket(re)
		if err != nil {
			t.Fatalf("re-encoded packet does not parse: %v\n% x", err, re)
		}
		if ip2.Version != ip.Version || ip2.Src != ip.Src || ip2.Dst != ip.Dst || ip2.TTL != ip.TTL ||
			ip2.Protocol != ProtocolTCP || ip2.Fragment {
			t.Fatalf("IP round trip:\n got %+v\nwant %+v", ip2, ip)
		}
		want := h
		want.Checksum = h2.Checksum
		want.Options = sentOptions(h.Options)
		if h2 != want {
			t.Fatalf("TCP round trip:\n got %+v\nwant %+v", h2, want)
		}
		if !bytes.Equal(p2, payload) {
			t.Fatalf("payload round trip: got % x, want % x", p2, payload)
		}
		if re2 := AppendTCPPacket(nil, ep, ip.TTL, &h2, p2); !bytes.Equal(re2, re) {
			t.Fatalf("second encoding differs:\n% x\n% x", re2, re)
		}
	})
}

// FuzzParseTCP fuzzes the segment parser alone, past the checksum that
// stops most inputs of FuzzParseTCPPacket.
func FuzzParseTCP(f *testing.F) {
	for _, s := range seedPackets(f) {
		if ip, err := ParseIP(s); err == nil {
			f.Add(ip.Payload)
		}
	}
	f.Add(make([]byte, 20))
	f.Add([]byte{0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0x60, 0x12, 0, 0, 0, 0, 0, 0, 3, 3, 7, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		h, payload, err := ParseTCP(data)
		if err != nil {
			return
		}
		for _, ep := range []Endpoints{{addrA4, addrB4}, {addrA6, addrB6}} {
			seg := AppendTCP(nil, &h, payload, ep)
			if !TCPChecksumValid(ep, seg) {
				t.Fatalf("AppendTCP wrote a bad checksum: % x", seg)
			}
			h2, p2, err := ParseTCP(seg)
			if err != nil {
				t.Fatalf("re-encoded segment does not parse: %v\n% x", err, seg)
			}
			want := h
			want.Checksum = h2.Checksum
			want.Options = sentOptions(h.Options)
			if h2 != want || !bytes.Equal(p2, payload) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", h2, want)
			}
		}
	})
}
