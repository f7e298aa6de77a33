package stack

import (
	"bytes"
	"net/netip"

	"github.com/synack/synack/wire"
)

// EchoRequest is an ICMP or ICMPv6 echo request that a promiscuous stack
// took for an address it does not own and handed to its echo forwarder
// (ForwardEcho) instead of answering it.
type EchoRequest struct {
	Src, Dst netip.Addr // the requester, and the address it pings
	ID, Seq  uint16     // the request's identifier and sequence number
	Data     []byte     // the request's data (the forwarder's own copy)

	s *Stack
}

// Reply answers the request as its destination would: an echo reply from
// Dst to Src with the request's identifier, sequence number and data.
func (r *EchoRequest) Reply() error {
	buf := make([]byte, 0, wire.IPv6HeaderLen+wire.ICMPHeaderLen+len(r.Data))
	_, err := r.s.sendEchoReply(r.Dst, r.Src, wire.NewICMPEcho(0, r.ID, r.Seq, r.Data), buf, nil)
	return err
}

// ForwardEcho installs handler as the stack's echo forwarder (nil removes
// it): every echo request a promiscuous stack takes for an address it
// does not own goes to handler instead of being answered by the stack
// (SetPromiscuousEcho decides without one), so that a gateway can ping
// the real destination and Reply only if it answers. handler runs on the
// stack's input path: it must not block, but start its work and return.
func (s *Stack) ForwardEcho(handler func(*EchoRequest)) {
	if handler == nil {
		s.fwd.echoHandler.Store(nil)
		return
	}
	s.fwd.echoHandler.Store(&handler)
}

// forwardEcho hands the echo request p to the echo forwarder, if there is
// one, and reports whether it did.
func (sh *shard) forwardEcho(p *inPacket) bool {
	h := sh.s.fwd.echoHandler.Load()
	if h == nil {
		return false
	}
	m := &p.icmp
	(*h)(&EchoRequest{Src: p.ip.Src.Unmap(), Dst: p.ip.Dst.Unmap(), ID: m.EchoID(), Seq: m.EchoSeq(),
		Data: bytes.Clone(m.Body), s: sh.s})
	return true
}
