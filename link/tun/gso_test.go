package tun

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"testing"

	"github.com/synack/synack/wire"
)

var (
	src4 = netip.MustParseAddr("198.18.0.1")
	dst4 = netip.MustParseAddr("198.18.0.2")
	src6 = netip.MustParseAddr("fd00:5ac::1")
	dst6 = netip.MustParseAddr("fd00:5ac::2")
)

// pattern returns n bytes that differ from offset to offset.
func pattern(n, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + seed)
	}
	return b
}

// tcpPacket builds a whole IP packet (IPv4 or IPv6 by src) with a correct
// checksum, the way the stack does, and IPv4 identification id.
func tcpPacket(src, dst netip.Addr, seq uint32, flags wire.Flags, id uint16, payload []byte) []byte {
	h := wire.TCPHeader{
		SrcPort: 5001, DstPort: 40000, Seq: seq, Ack: 0x01020304, Flags: flags, Window: 512,
		Options: wire.TCPOptions{HasTimestamps: true, TSVal: 1000, TSEcr: 2000},
	}
	p := wire.AppendTCPPacket(nil, wire.Endpoints{Src: src, Dst: dst}, 64, &h, payload)
	if src.Is4() {
		binary.BigEndian.PutUint16(p[ipv4ID:], id)
		p[ipv4Csum], p[ipv4Csum+1] = 0, 0
		binary.BigEndian.PutUint16(p[ipv4Csum:], wire.Checksum(p[:20]))
	}
	return p
}

// partial replaces pkt's transport checksum (at l4off+off) by the
// pseudo-header's sum, as a sender that leaves it to offload does.
func partial(pkt []byte, l4off, off int, proto uint8) {
	binary.BigEndian.PutUint16(pkt[l4off+off:], pseudoSum(pkt, proto, len(pkt)-l4off))
}

// checkTCP parses pkt with package wire (IP header checksum, TCP
// checksum) and returns its header and payload.
func checkTCP(t *testing.T, pkt []byte) (wire.TCPHeader, []byte) {
	t.Helper()
	_, h, payload, err := wire.ParseTCPPacket(pkt)
	if err != nil {
		t.Fatalf("segment does not parse: %v\n%s", err, hex.EncodeToString(pkt))
	}
	return h, payload
}

func TestVnetHdrCodec(t *testing.T) {
	h := vnetHdr{flags: vnetNeedsCsum, gsoType: gsoTCPv6, hdrLen: 72, gsoSize: 1428, csumStart: 40, csumOffset: 16}
	b := make([]byte, vnetHdrLen)
	h.encode(b)
	// Little-endian u16s after two bytes, as struct virtio_net_hdr on x86.
	if got, want := hex.EncodeToString(b), "010448009405280010"+"00"; got != want {
		t.Errorf("encoded %s, want %s", got, want)
	}
	got, err := decodeVnetHdr(append(b, 0xee))
	if err != nil || got != h {
		t.Errorf("decoded %v, %v; want %v", got, err, h)
	}
	if _, err := decodeVnetHdr(b[:9]); !errors.Is(err, errVnetShort) {
		t.Errorf("9 bytes: %v, want errVnetShort", err)
	}
	if s := h.String(); s != "vnet{flags 0x1 gso 0x4 hdr 72 size 1428 csum 40+16}" {
		t.Errorf("String() = %q", s)
	}
}

func TestOffloadsString(t *testing.T) {
	for o, want := range map[Offloads]string{
		0: "none",
		OffloadCsum | OffloadTSO4 | OffloadTSO6 | OffloadTSOECN | OffloadUSO4 | OffloadUSO6: "csum+tso4+tso6+tso-ecn+uso4+uso6",
		OffloadCsum | OffloadTSO6: "csum+tso6",
		0x80:                      "?",
	} {
		if got := o.String(); got != want {
			t.Errorf("Offloads(%#x).String() = %q, want %q", uint8(o), got, want)
		}
	}
	// TUN_F_CSUM 0x01, TSO4 0x02, TSO6 0x04, TSO_ECN 0x08, USO4 0x20, USO6 0x40.
	if got := (OffloadCsum | OffloadTSO4 | OffloadTSO6 | OffloadTSOECN | OffloadUSO4 | OffloadUSO6).tunFlags(); got != 0x6f {
		t.Errorf("tunFlags = %#x, want 0x6f", got)
	}
}

// TestSplitTCPv4 cuts a 3000-byte IPv4 super-segment (ACK|PSH|FIN|CWR,
// checksum left partial) into 1448, 1448 and 104 bytes: IDs count up, the
// sequence numbers follow the payload, CWR stays on the first segment,
// PSH and FIN go to the last, and every checksum verifies.
func TestSplitTCPv4(t *testing.T) {
	payload := pattern(3000, 1)
	super := tcpPacket(src4, dst4, 1000, wire.FlagACK|wire.FlagPSH|wire.FlagFIN|wire.FlagCWR, 7, payload)
	partial(super, 20, tcpCsum, protoTCP)
	orig := bytes.Clone(super)
	h := vnetHdr{flags: vnetNeedsCsum, gsoType: gsoTCPv4 | gsoECN, hdrLen: 52, gsoSize: 1448, csumStart: 20, csumOffset: 16}
	var segs [][]byte
	_, err := splitGSO(h, super, nil, true, func(p []byte) { segs = append(segs, bytes.Clone(p)) })
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(super, orig) {
		t.Error("splitGSO modified its input")
	}
	want := []struct {
		seq   uint32
		flags wire.Flags
		n     int
	}{
		{1000, wire.FlagACK | wire.FlagCWR, 1448},
		{2448, wire.FlagACK, 1448},
		{3896, wire.FlagACK | wire.FlagPSH | wire.FlagFIN, 104},
	}
	if len(segs) != len(want) {
		t.Fatalf("%d segments, want %d", len(segs), len(want))
	}
	var got []byte
	for i, s := range segs {
		th, p := checkTCP(t, s)
		if th.Seq != want[i].seq || th.Flags != want[i].flags || len(p) != want[i].n {
			t.Errorf("segment %d: seq %d flags %v len %d; want %d %v %d", i, th.Seq, th.Flags, len(p), want[i].seq, want[i].flags, want[i].n)
		}
		if id := binary.BigEndian.Uint16(s[ipv4ID:]); id != uint16(7+i) {
			t.Errorf("segment %d: IP ID %d, want %d", i, id, 7+i)
		}
		if th.Ack != 0x01020304 || th.Window != 512 || th.Options.TSVal != 1000 {
			t.Errorf("segment %d: header %+v", i, th)
		}
		got = append(got, p...)
	}
	if !bytes.Equal(got, payload) {
		t.Error("the segments' payloads do not rebuild the super-segment's")
	}
	// The last segment, byte for byte: IPv4 (total 156, ID 9, DF, TTL 64,
	// its checksum), TCP (seq 3896 = 0xf38, ACK|PSH|FIN, window 512,
	// checksum), timestamps, and the last 104 bytes of the payload.
	wantHdr := "4500009c000940004006ae2bc6120001c6120002" +
		"13899c4000000f38010203048019020086650000" + "0101080a000003e8000007d0"
	if g := hex.EncodeToString(segs[2][:52]); g != wantHdr {
		t.Errorf("last segment's headers\n got %s\nwant %s", g, wantHdr)
	}
}

// TestSplitTCPv6 splits an IPv6 super-segment whose payload is an exact
// multiple of the segment size.
func TestSplitTCPv6(t *testing.T) {
	payload := pattern(3*1000, 2)
	super := tcpPacket(src6, dst6, 0xfffffc00, wire.FlagACK|wire.FlagPSH, 0, payload) // the sequence wraps
	partial(super, 40, tcpCsum, protoTCP)
	h := vnetHdr{flags: vnetNeedsCsum, gsoType: gsoTCPv6, hdrLen: 72, gsoSize: 1000, csumStart: 40, csumOffset: 16}
	var seqs []uint32
	var got []byte
	_, err := splitGSO(h, super, make([]byte, 0, 10), true, func(p []byte) {
		th, pl := checkTCP(t, p)
		if len(p) != 72+1000 || binary.BigEndian.Uint16(p[ipv6PayLen:]) != 32+1000 {
			t.Errorf("segment of %d bytes, payload length %d", len(p), binary.BigEndian.Uint16(p[ipv6PayLen:]))
		}
		if th.Flags&wire.FlagPSH != 0 != (len(seqs) == 2) {
			t.Errorf("segment %d flags %v", len(seqs), th.Flags)
		}
		seqs = append(seqs, th.Seq)
		got = append(got, pl...)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seqs) != 3 || seqs[0] != 0xfffffc00 || seqs[1] != 0xffffffe8 || seqs[2] != 1000-24 {
		t.Errorf("sequence numbers %#x", seqs)
	}
	if !bytes.Equal(got, payload) {
		t.Error("payloads differ")
	}
}

// TestSplitUDP splits a UDP_L4 (USO) super-datagram over IPv4 and IPv6:
// each datagram gets its own length and a checksum that verifies.
func TestSplitUDP(t *testing.T) {
	for _, ep := range []wire.Endpoints{{Src: src4, Dst: dst4}, {Src: src6, Dst: dst6}} {
		payload := pattern(2500, 3)
		var ip []byte
		udp := wire.AppendUDP(nil, &wire.UDPHeader{SrcPort: 53, DstPort: 5353}, payload, ep)
		l4off := 20
		if ep.Src.Is4() {
			ip = wire.AppendIPv4(nil, &wire.IPv4Header{TTL: 64, Protocol: protoUDP, Src: ep.Src, Dst: ep.Dst}, len(udp))
		} else {
			ip = wire.AppendIPv6(nil, &wire.IPv6Header{HopLimit: 64, NextHeader: protoUDP, Src: ep.Src, Dst: ep.Dst}, len(udp))
			l4off = 40
		}
		super := append(ip, udp...)
		partial(super, l4off, udpCsum, protoUDP)
		h := vnetHdr{flags: vnetNeedsCsum, gsoType: gsoUDPL4, gsoSize: 1200, csumStart: uint16(l4off), csumOffset: udpCsum}
		var sizes []int
		var got []byte
		_, err := splitGSO(h, super, nil, true, func(p []byte) {
			pkt, err := wire.ParseIP(p)
			if err != nil {
				t.Fatalf("%v: %v", ep, err)
			}
			_, data, err := wire.ParseUDP(pkt.Payload, ep)
			if err != nil {
				t.Fatalf("%v: datagram %d: %v", ep, len(sizes), err)
			}
			sizes = append(sizes, len(data))
			got = append(got, data...)
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(sizes) != 3 || sizes[0] != 1200 || sizes[1] != 1200 || sizes[2] != 100 {
			t.Errorf("%v: datagrams of %v bytes, want 1200 1200 100", ep, sizes)
		}
		if !bytes.Equal(got, payload) {
			t.Errorf("%v: payloads differ", ep)
		}
	}
}

// TestSplitRejects: malformed super-segments are reported and nothing of
// them is delivered.
func TestSplitRejects(t *testing.T) {
	good := tcpPacket(src4, dst4, 1, wire.FlagACK, 1, pattern(100, 0))
	good6 := tcpPacket(src6, dst6, 1, wire.FlagACK, 1, pattern(100, 0))
	tcp4 := vnetHdr{gsoType: gsoTCPv4, gsoSize: 40}
	mod := func(b []byte, f func([]byte)) []byte { b = bytes.Clone(b); f(b); return b }
	for name, c := range map[string]struct {
		h   vnetHdr
		pkt []byte
	}{
		"empty":          {tcp4, nil},
		"short IPv4":     {tcp4, good[:19]},
		"IPv4 length":    {tcp4, good[:len(good)-1]},
		"IPv6 length":    {vnetHdr{gsoType: gsoTCPv6, gsoSize: 40}, good6[:len(good6)-1]},
		"version 5":      {tcp4, mod(good, func(b []byte) { b[0] = 0x55 })},
		"IHL 4":          {tcp4, mod(good, func(b []byte) { b[0] = 0x44 })},
		"fragment":       {tcp4, mod(good, func(b []byte) { b[ipv4Frag] |= 0x20 })},
		"TCPv6 on IPv4":  {vnetHdr{gsoType: gsoTCPv6, gsoSize: 40}, good},
		"TCPv4 on IPv6":  {tcp4, good6},
		"UDP on TCP":     {vnetHdr{gsoType: gsoUDPL4, gsoSize: 40}, good},
		"UFO":            {vnetHdr{gsoType: gsoUDP, gsoSize: 40}, good},
		"zero size":      {vnetHdr{gsoType: gsoTCPv4}, good},
		"data offset 4":  {tcp4, mod(good, func(b []byte) { b[20+tcpDataOff] = 0x40 })},
		"data offset 15": {tcp4, mod(good[:20+40], func(b []byte) { b[20+tcpDataOff] = 0xf0; binary.BigEndian.PutUint16(b[2:], 60) })},
	} {
		_, err := splitGSO(c.h, c.pkt, nil, true, func([]byte) { t.Errorf("%s: a segment was delivered", name) })
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestCompleteCsum finishes partial TCP and UDP checksums.
func TestCompleteCsum(t *testing.T) {
	p := tcpPacket(src6, dst6, 9, wire.FlagACK|wire.FlagPSH, 0, pattern(333, 4))
	want := bytes.Clone(p)
	partial(p, 40, tcpCsum, protoTCP)
	if bytes.Equal(p, want) {
		t.Fatal("the partial checksum is the full one")
	}
	if err := completeCsum(vnetHdr{flags: vnetNeedsCsum, csumStart: 40, csumOffset: 16}, p); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p, want) {
		t.Errorf("completed checksum %x, want %x", p[56:58], want[56:58])
	}
	for _, h := range []vnetHdr{{csumStart: uint16(len(p))}, {csumStart: 40, csumOffset: uint16(len(p) - 41)}} {
		if completeCsum(h, p) == nil {
			t.Errorf("%v: no error", h)
		}
	}
	// A UDP checksum that sums to zero is sent as 0xffff: payload chosen
	// so that the sum of the pseudo-header, header and data is 0xffff.
	ep := wire.Endpoints{Src: src4, Dst: dst4}
	udp := wire.AppendUDP(nil, &wire.UDPHeader{SrcPort: 1, DstPort: 2}, []byte{0, 0}, ep)
	c := binary.BigEndian.Uint16(udp[udpCsum:])
	binary.BigEndian.PutUint16(udp[8:], c) // the data now adds what the checksum did
	ip := wire.AppendIPv4(nil, &wire.IPv4Header{TTL: 64, Protocol: protoUDP, Src: src4, Dst: dst4}, len(udp))
	pkt := append(ip, udp...)
	partial(pkt, 20, udpCsum, protoUDP)
	if err := completeCsum(vnetHdr{csumStart: 20, csumOffset: udpCsum}, pkt); err != nil {
		t.Fatal(err)
	}
	if got := binary.BigEndian.Uint16(pkt[20+udpCsum:]); got != 0xffff {
		t.Errorf("UDP checksum %#04x, want 0xffff", got)
	}
	if _, _, err := wire.ParseUDP(pkt[20:], ep); err != nil {
		t.Error(err)
	}
}

// segments builds n consecutive IPv4 or IPv6 segments of size bytes
// (the last one last bytes) from seq, consecutive IDs, flags on all but
// the last, lastFlags on the last.
func segments(v6 bool, n, size, last int, flags, lastFlags wire.Flags) ([][]byte, []byte) {
	src, dst := src4, dst4
	if v6 {
		src, dst = src6, dst6
	}
	var pkts [][]byte
	var all []byte
	seq := uint32(5000)
	for i := range n {
		sz, f := size, flags
		if i == n-1 {
			sz, f = last, lastFlags
		}
		p := pattern(sz, i)
		all = append(all, p...)
		pkts = append(pkts, tcpPacket(src, dst, seq, f, uint16(100+i), p))
		seq += uint32(sz)
	}
	return pkts, all
}

// TestCoalesce joins four segments (the last shorter, with PSH) into one
// super-segment: the virtio-net header and the headers byte for byte; the
// kernel's completion of its checksum verifies; and splitting it again
// gives back the four packets exactly.
func TestCoalesce(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		pkts, all := segments(v6, 4, 1448, 500, wire.FlagACK, wire.FlagACK|wire.FlagPSH)
		n, t0 := gsoRun(pkts)
		if n != 4 {
			t.Fatalf("v6 %v: run of %d, want 4", v6, n)
		}
		hdr := appendGSOHeader([]byte("x"), pkts, t0)[1:]
		super := append(bytes.Clone(hdr[vnetHdrLen:]), all...)
		vh, _ := decodeVnetHdr(hdr)
		l4 := 20
		wantVnet := vnetHdr{flags: vnetNeedsCsum, gsoType: gsoTCPv4, hdrLen: 52, gsoSize: 1448, csumStart: 20, csumOffset: 16}
		// IPv4: total 52+4844 = 4896 (0x1320), ID 100, DF, TTL 64, the
		// header checksum; TCP seq 5000 (0x1388), ACK|PSH, window 512, the
		// pseudo-header's sum (not complemented) in the checksum field.
		wantHdr := "450013200064400040069b4cc6120001c6120002" +
			"13899c400000138801020304801802009f3a0000" + "0101080a000003e8000007d0"
		if v6 {
			l4 = 40
			wantVnet = vnetHdr{flags: vnetNeedsCsum, gsoType: gsoTCPv6, hdrLen: 72, gsoSize: 1448, csumStart: 40, csumOffset: 16}
			// IPv6: payload length 32+4844 = 4876 (0x130c).
			wantHdr = "60000000130c0640fd0005ac000000000000000000000001fd0005ac000000000000000000000002" +
				"13899c40000013880102030480180200186f0000" + "0101080a000003e8000007d0"
		}
		if vh != wantVnet {
			t.Errorf("v6 %v: virtio-net header %v, want %v", v6, vh, wantVnet)
		}
		if got := hex.EncodeToString(super[:t0.hdrLen]); got != wantHdr {
			t.Errorf("v6 %v: super-segment headers\n got %s\nwant %s", v6, got, wantHdr)
		}
		if binary.BigEndian.Uint16(super[l4+tcpCsum:]) != pseudoSum(super, protoTCP, len(super)-l4) {
			t.Errorf("v6 %v: the checksum field is not the pseudo-header's sum", v6)
		}
		// What the kernel does with NEEDS_CSUM, then a full check.
		full := bytes.Clone(super)
		if err := completeCsum(vh, full); err != nil {
			t.Fatal(err)
		}
		th, payload := checkTCP(t, full)
		if th.Seq != 5000 || th.Flags != wire.FlagACK|wire.FlagPSH || !bytes.Equal(payload, all) {
			t.Errorf("v6 %v: super-segment seq %d flags %v, %d bytes", v6, th.Seq, th.Flags, len(payload))
		}
		// Split again: the very packets we started from.
		var back [][]byte
		if _, err := splitGSO(vh, super, nil, true, func(p []byte) { back = append(back, bytes.Clone(p)) }); err != nil {
			t.Fatal(err)
		}
		if len(back) != len(pkts) {
			t.Fatalf("v6 %v: split into %d, want %d", v6, len(back), len(pkts))
		}
		for i := range back {
			if !bytes.Equal(back[i], pkts[i]) {
				t.Errorf("v6 %v: packet %d after the round trip\n got %x\nwant %x", v6, i, back[i][:t0.hdrLen], pkts[i][:t0.hdrLen])
			}
		}
	}
}

// TestCoalesceRuns: what ends a run of segments.
func TestCoalesceRuns(t *testing.T) {
	base := func() [][]byte {
		p, _ := segments(false, 4, 1000, 1000, wire.FlagACK, wire.FlagACK)
		return p
	}
	set := func(pkts [][]byte, i int, f func(p []byte)) [][]byte {
		f(pkts[i])
		// Keep the packet valid: the IPv4 header checksum again.
		pkts[i][ipv4Csum], pkts[i][ipv4Csum+1] = 0, 0
		binary.BigEndian.PutUint16(pkts[i][ipv4Csum:], wire.Checksum(pkts[i][:20]))
		return pkts
	}
	// 52 bytes of headers and 45×1448 bytes of payload fit in 65,535; 46 do not.
	big, _ := segments(false, 50, 1448, 1448, wire.FlagACK, wire.FlagACK)
	mixed := base()
	mixed[2] = tcpPacket(src6, dst6, 7000, wire.FlagACK, 0, pattern(1000, 2))
	for name, c := range map[string]struct {
		pkts [][]byte
		want int
	}{
		"all":                {base(), 4},
		"one":                {base()[:1], 1},
		"PSH in the middle":  {set(base(), 1, func(p []byte) { p[20+tcpFlags] |= tcpPSH }), 2},
		"PSH first":          {set(base(), 0, func(p []byte) { p[20+tcpFlags] |= tcpPSH }), 1},
		"FIN first":          {set(base(), 0, func(p []byte) { p[20+tcpFlags] |= tcpFIN }), 1},
		"FIN second":         {set(base(), 1, func(p []byte) { p[20+tcpFlags] |= tcpFIN }), 1},
		"SYN":                {set(base(), 0, func(p []byte) { p[20+tcpFlags] |= tcpSYN }), 1},
		"no ACK":             {set(base(), 0, func(p []byte) { p[20+tcpFlags] = tcpPSH }), 1},
		"URG":                {set(base(), 0, func(p []byte) { p[20+tcpFlags] |= tcpURG }), 1},
		"CWR on the second":  {set(base(), 1, func(p []byte) { p[20+tcpFlags] |= tcpCWR }), 1},
		"sequence gap":       {set(base(), 2, func(p []byte) { p[20+tcpSeq+3]++ }), 2},
		"other ACK":          {set(base(), 2, func(p []byte) { p[20+8]++ }), 2},
		"other window":       {set(base(), 3, func(p []byte) { p[20+14]++ }), 3},
		"other timestamp":    {set(base(), 1, func(p []byte) { p[20+20+7]++ }), 1},
		"other port":         {set(base(), 1, func(p []byte) { p[20]++ }), 1},
		"other TTL":          {set(base(), 1, func(p []byte) { p[8]-- }), 1},
		"other TOS":          {set(base(), 1, func(p []byte) { p[1] = 1 }), 1},
		"other family":       {mixed, 2},
		"longer":             {append(base()[:2], tcpPacket(src4, dst4, 7000, wire.FlagACK, 0, pattern(1001, 0))), 2},
		"shorter, then more": {append(base()[:1], append(segsFrom(6000, 999), base()[2:]...)...), 2},
		"no payload":         {[][]byte{tcpPacket(src4, dst4, 5000, wire.FlagACK, 0, nil), base()[0]}, 1},
		"64 KiB":             {big, 45},
		"not TCP":            {[][]byte{{0x45}, base()[0]}, 1},
	} {
		n, _ := gsoRun(c.pkts)
		if n != c.want {
			t.Errorf("%s: run of %d, want %d", name, n, c.want)
		}
	}
}

// segsFrom is one IPv4 segment of n bytes at seq, as segments builds them.
func segsFrom(seq uint32, n int) [][]byte {
	return [][]byte{tcpPacket(src4, dst4, seq, wire.FlagACK, 0, pattern(n, 1))}
}

// FuzzSplitGSO feeds arbitrary virtio-net headers and packets to the
// receive path's parser and splitter: it must never panic, and whatever it
// delivers must be well-formed IP no larger than the headers plus one
// segment, carrying between them exactly the super-segment's payload.
func FuzzSplitGSO(f *testing.F) {
	add := func(h vnetHdr, pkt []byte) {
		b := make([]byte, vnetHdrLen)
		h.encode(b)
		f.Add(append(b, pkt...))
	}
	p4 := tcpPacket(src4, dst4, 1, wire.FlagACK|wire.FlagFIN, 1, pattern(3000, 0))
	p6 := tcpPacket(src6, dst6, 1, wire.FlagACK, 1, pattern(2000, 0))
	add(vnetHdr{flags: vnetNeedsCsum, gsoType: gsoTCPv4, gsoSize: 1448, csumStart: 20, csumOffset: 16}, p4)
	add(vnetHdr{flags: vnetNeedsCsum, gsoType: gsoTCPv6 | gsoECN, gsoSize: 500, csumStart: 40, csumOffset: 16}, p6)
	add(vnetHdr{gsoType: gsoUDPL4, gsoSize: 100}, p4)
	add(vnetHdr{flags: vnetNeedsCsum, csumStart: 20, csumOffset: 16}, p4[:100])
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := decodeVnetHdr(b)
		if err != nil {
			return
		}
		pkt := bytes.Clone(b[vnetHdrLen:])
		if h.gsoType == gsoNone {
			completeCsum(h, pkt)
			return
		}
		total, count := 0, 0
		_, err = splitGSO(h, pkt, nil, count%2 == 0, func(p []byte) {
			count++
			ip, err := wire.ParseIP(p)
			if err != nil {
				t.Fatalf("segment %d does not parse: %v", count, err)
			}
			l4off, _, _ := ipHeader(p)
			hl := l4off + 8
			if ip.Protocol == protoTCP {
				hl = l4off + int(p[l4off+tcpDataOff]>>4)*4
			}
			if len(p)-hl > int(h.gsoSize) {
				t.Fatalf("segment %d carries %d bytes, more than %d", count, len(p)-hl, h.gsoSize)
			}
			total += len(p) - hl
		})
		if err != nil {
			if count != 0 {
				t.Fatalf("error %v after %d segments", err, count)
			}
			return
		}
		l4off, proto, _ := ipHeader(pkt)
		hl := l4off + 8
		if proto == protoTCP {
			hl = l4off + int(pkt[l4off+tcpDataOff]>>4)*4
		}
		if total != len(pkt)-hl {
			t.Fatalf("segments carry %d bytes, the super-segment %d", total, len(pkt)-hl)
		}
	})
}

// FuzzCoalesce cuts arbitrary bytes into packets and runs the send path's
// coalescing over them: it must never panic, and a run it accepts must
// build a super-segment that splits back into the same packets.
func FuzzCoalesce(f *testing.F) {
	pkts, _ := segments(false, 3, 1000, 400, wire.FlagACK, wire.FlagACK|wire.FlagPSH)
	var seed []byte
	for _, p := range pkts {
		seed = append(seed, byte(len(p)>>8), byte(len(p)))
		seed = append(seed, p...)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, b []byte) {
		var pkts [][]byte
		for len(b) >= 2 {
			n := min(int(b[0])<<8|int(b[1]), len(b)-2)
			pkts = append(pkts, b[2:2+n])
			b = b[2+n:]
		}
		for len(pkts) > 0 {
			n, t0 := gsoRun(pkts)
			if n < 1 || n > len(pkts) {
				t.Fatalf("run of %d in %d packets", n, len(pkts))
			}
			if n > 1 {
				hdr := appendGSOHeader(nil, pkts[:n], t0)
				vh, err := decodeVnetHdr(hdr)
				if err != nil {
					t.Fatal(err)
				}
				super := bytes.Clone(hdr[vnetHdrLen:])
				for _, p := range pkts[:n] {
					super = append(super, p[t0.hdrLen:]...)
				}
				i := 0
				_, err = splitGSO(vh, super, nil, false, func(p []byte) {
					// Checksums aside (the inputs' may be anything), the
					// same packets.
					want := pkts[i]
					if len(p) != len(want) || !bytes.Equal(p[t0.l4off+tcpCsum+2:], want[t0.l4off+tcpCsum+2:]) ||
						!bytes.Equal(p[t0.l4off:t0.l4off+tcpCsum], want[t0.l4off:t0.l4off+tcpCsum]) {
						t.Fatalf("packet %d of the run came back as\n%x\nwant\n%x", i, p, want)
					}
					i++
				})
				if err != nil || i != n {
					t.Fatalf("the super-segment of %d packets split into %d: %v", n, i, err)
				}
			}
			pkts = pkts[n:]
		}
	})
}
