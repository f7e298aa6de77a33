package pcap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"time"
)

// ng builds a pcapng file block by block in one byte order.
type ng struct {
	o binary.AppendByteOrder
	b []byte
}

func (n *ng) block(typ uint32, body []byte) *ng {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	total := uint32(12 + len(body))
	n.b = n.o.AppendUint32(n.b, typ)
	n.b = n.o.AppendUint32(n.b, total)
	n.b = append(n.b, body...)
	n.b = n.o.AppendUint32(n.b, total)
	return n
}

func (n *ng) option(b []byte, code uint16, v []byte) []byte {
	b = n.o.AppendUint16(b, code)
	b = n.o.AppendUint16(b, uint16(len(v)))
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func (n *ng) shb() *ng {
	var body []byte
	body = n.o.AppendUint32(body, ngByteOrderMagic)
	body = n.o.AppendUint16(body, 1)
	body = n.o.AppendUint16(body, 0)
	body = n.o.AppendUint64(body, ^uint64(0)) // section length unknown
	return n.block(ngBlockSHB, body)
}

// idb describes an interface; tsresol 0 leaves the default (µs).
func (n *ng) idb(linkType uint16, tsresol byte, offset int64) *ng {
	var body []byte
	body = n.o.AppendUint16(body, linkType)
	body = n.o.AppendUint16(body, 0)
	body = n.o.AppendUint32(body, 0)
	if tsresol != 0 {
		body = n.option(body, ngOptTSResol, []byte{tsresol})
	}
	if offset != 0 {
		body = n.option(body, ngOptTSOff, n.o.AppendUint64(nil, uint64(offset)))
	}
	body = n.option(body, ngOptEnd, nil)
	return n.block(ngBlockIDB, body)
}

// epb records frame on interface id at ts units; flags 0 leaves them out.
func (n *ng) epb(id uint32, ts uint64, frame []byte, flags uint32) *ng {
	var body []byte
	body = n.o.AppendUint32(body, id)
	body = n.o.AppendUint32(body, uint32(ts>>32))
	body = n.o.AppendUint32(body, uint32(ts))
	body = n.o.AppendUint32(body, uint32(len(frame)))
	body = n.o.AppendUint32(body, uint32(len(frame))+7)
	body = append(body, frame...)
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	if flags != 0 {
		body = n.option(body, ngOptFlags, n.o.AppendUint32(nil, flags))
		body = n.option(body, ngOptEnd, nil)
	}
	return n.block(ngBlockEPB, body)
}

func (n *ng) spb(frame []byte) *ng {
	return n.block(ngBlockSPB, append(n.o.AppendUint32(nil, uint32(len(frame))), frame...))
}

func (n *ng) opb(id uint16, ts uint64, frame []byte) *ng {
	var body []byte
	body = n.o.AppendUint16(body, id)
	body = n.o.AppendUint16(body, 0)
	body = n.o.AppendUint32(body, uint32(ts>>32))
	body = n.o.AppendUint32(body, uint32(ts))
	body = n.o.AppendUint32(body, uint32(len(frame)))
	body = n.o.AppendUint32(body, uint32(len(frame)))
	return n.block(ngBlockOPB, append(body, frame...))
}

var (
	ip4 = []byte{0x45, 1, 2, 3}
	ip6 = []byte{0x60, 4, 5, 6}
)

func ether(payload []byte, types ...uint16) []byte {
	f := make([]byte, 12)
	for i, t := range types {
		f = binary.BigEndian.AppendUint16(f, t)
		if i < len(types)-1 {
			f = append(f, 0x0f, 0xff) // VLAN TCI
		}
	}
	return append(f, payload...)
}

func sll(pktType uint16, proto uint16, payload []byte) []byte {
	f := binary.BigEndian.AppendUint16(nil, pktType)
	f = append(f, make([]byte, 12)...)
	f = binary.BigEndian.AppendUint16(f, proto)
	return append(f, payload...)
}

func sll2(proto uint16, ifindex uint32, pktType byte, payload []byte) []byte {
	f := binary.BigEndian.AppendUint16(nil, proto)
	f = append(f, 0, 0)
	f = binary.BigEndian.AppendUint32(f, ifindex)
	f = append(f, 0, 1, pktType, 6)
	f = append(f, make([]byte, 8)...)
	return append(f, payload...)
}

func readPackets(t *testing.T, b []byte) []Packet {
	t.Helper()
	r, err := NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var out []Packet
	for {
		p, err := r.ReadPacket()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		p.Data = bytes.Clone(p.Data)
		out = append(out, p)
	}
}

// TestPcapng reads files with several interfaces, resolutions and link
// types in both byte orders.
func TestPcapng(t *testing.T) {
	base := uint64(946684800) // 2000-01-01
	for _, order := range []binary.AppendByteOrder{binary.LittleEndian, binary.BigEndian} {
		n := &ng{o: order}
		n.shb().
			idb(LinkTypeEthernet, 0, 0).       // 0: µs (the default)
			idb(LinkTypeLinuxSLL2, 9, 0).      // 1: ns
			idb(LinkTypeLinuxSLL, 0x80|10, 0). // 2: 2^-10 s
			idb(LinkTypeNull, 3, 100).         // 3: ms, 100 s offset
			idb(LinkTypeLoop, 12, 0).          // 4: ps
			epb(0, base*1e6+250, ether(ip4, etherTypeVLAN, etherTypeIPv4), 1).
			epb(0, base*1e6+251, ether([]byte{1}, 0x0806), 0). // ARP: skipped
			epb(1, base*1e9+7, sll2(etherTypeIPv6, 3, sllOutgoing, ip6), 0).
			epb(2, base<<10|512, sll(0, etherTypeIPv4, ip4), 0).
			block(5, make([]byte, 16)). // interface statistics: ignored
			epb(3, base*1e3+1, append([]byte{2, 0, 0, 0}, ip4...), 2).
			opb(4, 5e12+1500, append([]byte{0, 0, 0, 30}, ip6...)).
			spb(ether(ip6, etherTypeQinQ, etherTypeVLAN, etherTypeIPv6))
		// A second section starts over with its own interfaces.
		n.shb().idb(LinkTypeRaw, 9, 0).epb(0, base*1e9+42, ip4, 0)

		got := readPackets(t, n.b)
		sec := time.Unix(int64(base), 0).UTC()
		want := []Packet{
			{Time: sec.Add(250 * time.Microsecond), Data: ip4, Interface: 0, LinkType: LinkTypeEthernet, Direction: DirInbound, Truncated: true},
			{Time: sec.Add(7), Data: ip6, Interface: 1, LinkType: LinkTypeLinuxSLL2, Direction: DirOutbound, Truncated: true},
			{Time: sec.Add(500 * time.Millisecond), Data: ip4, Interface: 2, LinkType: LinkTypeLinuxSLL, Direction: DirInbound, Truncated: true},
			{Time: sec.Add(100*time.Second + time.Millisecond), Data: ip4, Interface: 3, LinkType: LinkTypeNull, Direction: DirOutbound, Truncated: true},
			{Time: time.Unix(5, 1).UTC(), Data: ip6, Interface: 4, LinkType: LinkTypeLoop},
			{Data: ip6, LinkType: LinkTypeEthernet},
			{Time: sec.Add(42), Data: ip4, LinkType: LinkTypeRaw, Truncated: true},
		}
		if len(got) != len(want) {
			t.Fatalf("%v: %d packets, want %d: %+v", order, len(got), len(want), got)
		}
		for i := range want {
			g, w := got[i], want[i]
			if !g.Time.Equal(w.Time) || !bytes.Equal(g.Data, w.Data) || g.Interface != w.Interface ||
				g.LinkType != w.LinkType || g.Direction != w.Direction || g.Truncated != w.Truncated {
				t.Errorf("%v: packet %d:\n got %+v\nwant %+v", order, i, g, w)
			}
		}
	}
}

// TestLinkTypesClassic reads the cooked, loopback and VLAN link layers
// from classic pcap files.
func TestLinkTypesClassic(t *testing.T) {
	tests := []struct {
		name string
		lt   uint32
		recs [][]byte
		want [][]byte
		dirs []Direction
	}{
		{"cooked v1", LinkTypeLinuxSLL, [][]byte{sll(sllOutgoing, etherTypeIPv4, ip4), sll(0, 0x0806, ip4), sll(0, etherTypeIPv6, ip6)},
			[][]byte{ip4, ip6}, []Direction{DirOutbound, DirInbound}},
		{"cooked v2", LinkTypeLinuxSLL2, [][]byte{sll2(etherTypeIPv6, 1, 0, ip6)}, [][]byte{ip6}, []Direction{DirInbound}},
		{"null little-endian", LinkTypeNull, [][]byte{append([]byte{2, 0, 0, 0}, ip4...), append([]byte{30, 0, 0, 0}, ip6...), {7, 0, 0, 0, 1}},
			[][]byte{ip4, ip6}, []Direction{0, 0}},
		{"null big-endian", LinkTypeNull, [][]byte{append([]byte{0, 0, 0, 2}, ip4...), append([]byte{0, 0, 0, 10}, ip6...)},
			[][]byte{ip4, ip6}, []Direction{0, 0}},
		{"loop", LinkTypeLoop, [][]byte{append([]byte{0, 0, 0, 24}, ip6...)}, [][]byte{ip6}, []Direction{0}},
		{"802.1Q", LinkTypeEthernet, [][]byte{ether(ip4, etherTypeVLAN, etherTypeIPv4)}, [][]byte{ip4}, []Direction{0}},
		{"DLT_RAW 12", linkTypeDLTRaw12, [][]byte{ip6}, [][]byte{ip6}, []Direction{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := readPackets(t, capture(binary.LittleEndian, MagicMicroseconds, tt.lt, tt.recs...))
			if len(got) != len(tt.want) {
				t.Fatalf("%d packets, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if !bytes.Equal(got[i].Data, tt.want[i]) || got[i].Direction != tt.dirs[i] {
					t.Errorf("packet %d: % x %v, want % x %v", i, got[i].Data, got[i].Direction, tt.want[i], tt.dirs[i])
				}
			}
		})
	}
}

func TestPcapngErrors(t *testing.T) {
	le := func() *ng { return &ng{o: binary.LittleEndian} }
	good := le().shb().idb(LinkTypeRaw, 0, 0).epb(0, 1, ip4, 0).b
	badTrailer := bytes.Clone(good)
	badTrailer[len(badTrailer)-1] = 9
	tests := []struct {
		name string
		file []byte
	}{
		{"truncated section header", good[:10]},
		{"bad byte-order magic", append(append([]byte{}, good[:8]...), 1, 2, 3, 4)},
		{"truncated block", good[:len(good)-3]},
		{"trailer mismatch", badTrailer},
		{"no interface", le().shb().epb(0, 1, ip4, 0).b},
		{"unknown interface", le().shb().idb(LinkTypeRaw, 0, 0).epb(1, 1, ip4, 0).b},
		{"unsupported link type", le().shb().idb(105, 0, 0).epb(0, 1, ip4, 0).b},
		{"short Ethernet", le().shb().idb(LinkTypeEthernet, 0, 0).epb(0, 1, []byte{1, 2}, 0).b},
		{"short VLAN", le().shb().idb(LinkTypeEthernet, 0, 0).epb(0, 1, ether(nil, etherTypeVLAN), 0).b},
		{"short cooked", le().shb().idb(LinkTypeLinuxSLL2, 0, 0).epb(0, 1, []byte{8, 0}, 0).b},
		{"resolution", le().shb().idb(LinkTypeRaw, 20, 0).b},
		{"caplen past block", le().shb().idb(LinkTypeRaw, 0, 0).block(ngBlockEPB, make([]byte, 20)).b[:0]},
		{"huge block", append(le().shb().b, 6, 0, 0, 0, 0, 0, 0, 0x40)},
		{"timestamp", le().shb().idb(LinkTypeRaw, 0x80, 0).epb(0, ^uint64(0), ip4, 0).b},
	}
	// caplen past block: an EPB whose caplen claims more than it holds.
	n := le().shb().idb(LinkTypeRaw, 0, 0)
	body := n.o.AppendUint32(nil, 0)
	body = n.o.AppendUint64(body, 0)
	body = n.o.AppendUint32(body, 100)
	body = n.o.AppendUint32(body, 100)
	tests[11].file = n.block(ngBlockEPB, body).b
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

func FuzzPcapng(f *testing.F) {
	f.Add((&ng{o: binary.LittleEndian}).shb().idb(LinkTypeEthernet, 9, 0).epb(0, 1, ether(ip4, etherTypeIPv4), 1).b)
	f.Add((&ng{o: binary.BigEndian}).shb().idb(LinkTypeLinuxSLL2, 0x83, 5).epb(0, 1, sll2(etherTypeIPv6, 1, 4, ip6), 2).spb(ip4).b)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := NewReader(bytes.NewReader(b))
		if err != nil {
			return
		}
		for i := 0; i < 1000; i++ {
			if _, err := r.ReadPacket(); err != nil {
				return
			}
		}
	})
}
