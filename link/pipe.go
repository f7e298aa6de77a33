package link

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
)

// ErrTooBig is wrapped by the error WritePacket returns for a packet larger
// than the link's MTU.
var ErrTooBig = errors.New("packet larger than the MTU")

var errClosed = fmt.Errorf("link: %w", net.ErrClosed)

// receiverSlot holds a link's Receiver; Attach may race with delivery from
// the far side, so it is read and written atomically.
type receiverSlot struct {
	p atomic.Pointer[Receiver]
}

func (s *receiverSlot) set(r Receiver) { s.p.Store(&r) }

func (s *receiverSlot) get() Receiver {
	if p := s.p.Load(); p != nil {
		return *p
	}
	return nil
}

// bufPool recycles the copies the in-memory links hand to receivers.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// deliverCopy hands a private copy of pkt to r, so that a receiver that
// scribbles on its packet cannot touch the sender's buffer.
func deliverCopy(r Receiver, pkt []byte) {
	bp := bufPool.Get().(*[]byte)
	b := append((*bp)[:0], pkt...)
	r.DeliverPacket(b)
	*bp = b
	bufPool.Put(bp)
}

// pipeEnd is one side of a Pipe.
type pipeEnd struct {
	mtu    int
	gso    bool // PipeGSO: TCP super-segments go to an Adopter whole
	recv   receiverSlot
	peer   *pipeEnd
	closed atomic.Bool
}

// Pipe returns two links joined back to back: a packet written to one is
// delivered, synchronously and as a copy, to the Receiver attached to the
// other. Packets reaching a side with no Receiver yet are dropped. Closing
// either side makes writes on both fail.
func Pipe(mtu int) (Link, Link) {
	a := &pipeEnd{mtu: mtu}
	b := &pipeEnd{mtu: mtu, peer: a}
	a.peer = b
	return a, b
}

// PipeGSO is Pipe whose ends also carry TCP super-segments (up to
// MaxSuperPayload bytes of payload, whatever the MTU) to a far side that
// is an Adopter, which takes them whole, as a stack takes a TUN's TSO
// super-segments: both ends implement SuperSegmenter. Packets written
// with WritePacket, or to a far side that is no Adopter, are held to the
// MTU as by Pipe.
func PipeGSO(mtu int) (Link, Link) {
	a := &pipeEnd{mtu: mtu, gso: true}
	b := &pipeEnd{mtu: mtu, gso: true, peer: a}
	a.peer = b
	return a, b
}

var _ SuperSegmenter = (*pipeEnd)(nil)

// MaxSuperSegment implements SuperSegmenter: MaxSuperPayload for a PipeGSO
// end whose far side adopts packets, else 0.
func (p *pipeEnd) MaxSuperSegment() int {
	if p.gso && p.PeerAdopts() {
		return MaxSuperPayload
	}
	return 0
}

// MTU implements Link.
func (p *pipeEnd) MTU() int { return p.mtu }

// WritePacket implements Link.
func (p *pipeEnd) WritePacket(pkt []byte) error {
	if p.closed.Load() || p.peer.closed.Load() {
		return errClosed
	}
	if len(pkt) > p.mtu {
		return fmt.Errorf("link: pipe: %d bytes: %w", len(pkt), ErrTooBig)
	}
	if r := p.peer.recv.get(); r != nil {
		deliverCopy(r, pkt)
	}
	return nil
}

// Adopter is a Receiver that can take ownership of a packet's buffer
// instead of copying it: a stack on the far side of a Pipe.
type Adopter interface {
	Receiver
	// AdoptPacket takes pkt, which the caller must not touch again.
	// Its TCP checksum was not computed (checksum offload, as over the
	// kernel's loopback): the bytes never left memory.
	AdoptPacket(pkt []byte)
}

// Handoff is implemented by links that can pass a packet's buffer to the
// receiver on the far side without a copy (a Pipe whose far side is an
// Adopter). Wrappers such as Sniff do not implement it, so what they see
// always carries full checksums.
type Handoff interface {
	// PeerAdopts reports whether HandOff would hand the buffer over.
	PeerAdopts() bool
	// HandOff gives pkt, whose TCP checksum may be left uncomputed, to
	// the far side's Adopter: after it returns true the caller must not
	// touch pkt again. It returns false, having done nothing, when the
	// far side is no Adopter (the caller then writes the packet with
	// WritePacket, checksummed). Unlike WritePacket, HandOff may call
	// back into the sending stack before it returns.
	HandOff(pkt []byte) (bool, error)
}

var _ Handoff = (*pipeEnd)(nil)

// PeerAdopts implements Handoff.
func (p *pipeEnd) PeerAdopts() bool {
	_, ok := p.peer.recv.get().(Adopter)
	return ok
}

// HandOff implements Handoff.
func (p *pipeEnd) HandOff(pkt []byte) (bool, error) {
	a, ok := p.peer.recv.get().(Adopter)
	if !ok {
		return false, nil
	}
	if p.closed.Load() || p.peer.closed.Load() {
		return false, errClosed
	}
	if len(pkt) > p.mtu && !(p.gso && len(pkt) <= 65535+40) {
		return false, fmt.Errorf("link: pipe: %d bytes: %w", len(pkt), ErrTooBig)
	}
	a.AdoptPacket(pkt)
	return true, nil
}

var _ PayloadHandoff = (*pipeEnd)(nil)

// HandOffPayload implements PayloadHandoff. A far side that is an Adopter
// but no PayloadAdopter gets the packet joined into a buffer of its own.
func (p *pipeEnd) HandOffPayload(hdr, payload []byte, ref PayloadRef) (bool, error) {
	a, ok := p.peer.recv.get().(Adopter)
	if !ok {
		return false, nil
	}
	if p.closed.Load() || p.peer.closed.Load() {
		return false, errClosed
	}
	if n := len(hdr) + len(payload); n > p.mtu && !(p.gso && n <= 65535+40) {
		return false, fmt.Errorf("link: pipe: %d bytes: %w", n, ErrTooBig)
	}
	if pa, ok := a.(PayloadAdopter); ok {
		pa.AdoptPayload(hdr, payload, ref)
		return true, nil
	}
	pkt := make([]byte, 0, len(hdr)+len(payload))
	pkt = append(append(pkt, hdr...), payload...)
	ref.Release()
	a.AdoptPacket(pkt)
	return true, nil
}

// Attach implements Link.
func (p *pipeEnd) Attach(r Receiver) { p.recv.set(r) }

// Close implements Link.
func (p *pipeEnd) Close() error {
	if p.closed.Swap(true) {
		return errClosed
	}
	return nil
}
