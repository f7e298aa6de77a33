package stack

import (
	"net/netip"
	"sync"
	"testing"

	"github.com/synack/synack/link"
	"github.com/synack/synack/wire"
)

// recorder is a Pipe end whose far side keeps the TCP headers the stack
// sends.
type recorder struct {
	mu   sync.Mutex
	segs []wire.TCPHeader
}

func (r *recorder) link(mtu int) link.Link {
	a, b := link.Pipe(mtu)
	b.Attach(link.ReceiverFunc(func(p []byte) {
		if _, h, _, err := wire.ParseTCPPacket(p); err == nil {
			r.mu.Lock()
			r.segs = append(r.segs, h)
			r.mu.Unlock()
		}
	}))
	return a
}

func (r *recorder) sent() []wire.TCPHeader {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]wire.TCPHeader(nil), r.segs...)
}

// Closing a listener drops a half-open (SYN-RECEIVED) connection
// silently, as Linux does; the peer's next segment reaches no connection
// and gets <SEQ=SEG.ACK><CTL=RST>.
//
//	peer                               listener
//	SYN seq=7000               -->     SYN-RECEIVED
//	                           <--     SYN,ACK seq=ISS ack=7001
//	                                   close(): nothing sent
//	ACK seq=7001 ack=ISS+1     -->     no connection
//	                           <--     RST seq=ISS+1
func TestListenerCloseDropsHalfOpen(t *testing.T) {
	_, sv := pair(t, Options{}, Options{})
	var rec recorder
	if err := sv.AddLink(rec.link(1500), netip.MustParsePrefix("198.19.0.1/16")); err != nil {
		t.Fatal(err)
	}
	ln, err := sv.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	peer := netip.MustParseAddr("198.19.1.1")
	sv.DeliverPacket(synPacket(peer, 6000, serverAddr))
	eventually(t, "the SYN-ACK", func() bool { return len(rec.sent()) == 1 })
	synAck := rec.sent()[0]
	if synAck.Flags != wire.FlagSYN|wire.FlagACK || synAck.Ack != 7001 {
		t.Fatalf("got %v ack %d; want SYN|ACK ack 7001", synAck.Flags, synAck.Ack)
	}
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the half-open connection to go", func() bool { return sv.Stats().Connections == 0 })
	if got := rec.sent(); len(got) != 1 {
		t.Fatalf("closing the listener sent %v %d:%d; want nothing", got[1].Flags, got[1].Seq, got[1].Ack)
	}
	h := wire.TCPHeader{
		SrcPort: 6000, DstPort: 80, Seq: 7001, Ack: synAck.Seq + 1,
		Flags: wire.FlagACK, Window: 65535,
	}
	sv.DeliverPacket(wire.AppendTCPPacket(nil, wire.Endpoints{Src: peer, Dst: serverAddr}, 64, &h, nil))
	eventually(t, "the RST", func() bool { return len(rec.sent()) == 2 })
	rst := rec.sent()[1]
	if rst.Flags != wire.FlagRST || rst.Seq != synAck.Seq+1 || rst.Ack != 0 {
		t.Fatalf("got %v seq %d ack %d; want RST seq %d ack 0", rst.Flags, rst.Seq, rst.Ack, synAck.Seq+1)
	}
}
