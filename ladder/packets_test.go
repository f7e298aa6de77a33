package ladder

import (
	"net/netip"
	"testing"

	"github.com/synack/synack/wire"
)

var (
	client = netip.MustParseAddrPort("198.18.0.1:49152")
	server = netip.MustParseAddrPort("198.18.0.2:80")
	other  = netip.MustParseAddrPort("198.18.0.1:49153")
)

func packet(src, dst netip.AddrPort, f wire.Flags, seq, ack uint32, payload string) []byte {
	h := wire.TCPHeader{SrcPort: src.Port(), DstPort: dst.Port(), Seq: seq, Ack: ack, Flags: f, Window: 1000}
	if f&wire.FlagSYN != 0 {
		h.Options = wire.TCPOptions{HasMSS: true, MSS: 1460}
	}
	return wire.AppendTCPPacket(nil, wire.Endpoints{Src: src.Addr(), Dst: dst.Addr()}, 64, &h, []byte(payload))
}

func TestFromPackets(t *testing.T) {
	bad := packet(server, client, ack|psh, 501, 11, "hi")
	bad[len(bad)-1] ^= 0xff // the payload no longer matches the checksum
	pkts := []Packet{
		{Time: ms(0), Data: packet(client, server, syn, 10, 0, "")},
		{Time: ms(0.5), Data: []byte{0x45, 0}},
		{Time: ms(1), Data: packet(server, client, syn|ack, 500, 11, ""), Lost: true},
		{Time: ms(2), Data: packet(other, server, syn, 77, 0, "")},
		{Time: ms(3), Data: bad},
	}
	convs, skipped := FromPackets(pkts)
	if skipped != 1 {
		t.Errorf("skipped %d packets, want 1", skipped)
	}
	if len(convs) != 2 {
		t.Fatalf("%d conversations, want 2", len(convs))
	}
	if convs[0].Left != client || convs[0].Right != server || convs[1].Left != other || convs[1].Right != server {
		t.Errorf("endpoints %v↔%v and %v↔%v", convs[0].Left, convs[0].Right, convs[1].Left, convs[1].Right)
	}
	mss := wire.TCPOptions{HasMSS: true, MSS: 1460}
	want := []Event{
		{Time: ms(0), Kind: Segment, Side: Left, Seg: SegmentInfo{Flags: syn, Seq: 10, Window: 1000, Options: mss}},
		{Time: ms(1), Kind: Segment, Side: Right, Seg: SegmentInfo{Flags: syn | ack, Seq: 500, Ack: 11, Window: 1000, Options: mss}, Lost: true},
		{Time: ms(3), Kind: Segment, Side: Right, Seg: SegmentInfo{Flags: ack | psh, Seq: 501, Ack: 11, Window: 1000, Len: 2, BadChecksum: true}},
	}
	got := convs[0].Events
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func TestParseSegmentErrors(t *testing.T) {
	for _, b := range [][]byte{nil, {0x45}, {0x60, 0, 0}} {
		if _, _, _, err := ParseSegment(b); err == nil {
			t.Errorf("ParseSegment(% x) = nil error", b)
		}
	}
}

func FuzzRenderPackets(f *testing.F) {
	f.Add(packet(client, server, syn, 10, 0, ""))
	f.Fuzz(func(t *testing.T, b []byte) {
		convs, _ := FromPackets([]Packet{{Time: ms(0), Data: b}, {Time: ms(1), Data: b}})
		for _, c := range convs {
			var sb stringsBuilder
			if err := Render(&sb, c.Left.String(), c.Right.String(), c.Events, Options{}); err != nil {
				t.Fatal(err)
			}
		}
	})
}

type stringsBuilder struct{ n int }

func (s *stringsBuilder) Write(p []byte) (int, error) { s.n += len(p); return len(p), nil }
