package tun_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/synack/synack/link"
	"github.com/synack/synack/link/tun"
	"github.com/synack/synack/wire"
)

// WritePacketsPartial hands the kernel one TCP super-segment of 4
// segments with no checksum computed (the field garbled): the kernel
// takes it as one GSO packet whose checksum it completes, so its TCP
// answers (a RST: no socket has the port) rather than dropping it as
// corrupt; the device counts 4 packets in 1 super-segment.
func TestWritePartialSuperSegment(t *testing.T) {
	needRoot(t)
	ns := newNS(t)
	kern := netip.MustParsePrefix("198.18.0.1/24")
	d, err := tun.Open(tun.Options{Name: "tuntest1", NetNS: ns.Name, MTU: 1400, Addrs: []netip.Prefix{kern}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.MaxSuperSegment() != link.MaxSuperPayload || !d.PartialChecksums() {
		t.Fatalf("offloads %v: MaxSuperSegment %d, PartialChecksums %v", d.Offloads(), d.MaxSuperSegment(), d.PartialChecksums())
	}
	rst := make(chan wire.TCPHeader, 4)
	d.Attach(link.ReceiverFunc(func(pkt []byte) {
		if _, h, _, err := wire.ParseTCPPacket(pkt); err == nil && h.Flags&wire.FlagRST != 0 {
			rst <- h
		}
	}))
	ep := wire.Endpoints{Src: netip.MustParseAddr("198.18.0.2"), Dst: kern.Addr()}
	h := wire.TCPHeader{SrcPort: 40000, DstPort: 9, Seq: 5000, Ack: 777000, Flags: wire.FlagACK, Window: 1000}
	pkt := wire.AppendTCPPacket(nil, ep, 64, &h, make([]byte, 3*1360+10))
	pkt[20+16] ^= 0x5a
	if n, err := d.WritePacketsPartial([][]byte{pkt}, []int{1360}); n != 1 || err != nil {
		t.Fatalf("WritePacketsPartial = %d, %v; want 1, nil", n, err)
	}
	select {
	case r := <-rst:
		if r.Seq != 777000 || r.SrcPort != 9 || r.DstPort != 40000 {
			t.Errorf("RST seq %d ports %d -> %d; want seq 777000, 9 -> 40000", r.Seq, r.SrcPort, r.DstPort)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no RST from the kernel within 5s: the super-segment was dropped")
	}
	if s := d.Stats(); s.TxSuper != 1 || s.TxPackets != 4 {
		t.Errorf("stats %+v; want TxSuper 1, TxPackets 4", s)
	}
}
