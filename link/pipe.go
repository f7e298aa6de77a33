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

// Attach implements Link.
func (p *pipeEnd) Attach(r Receiver) { p.recv.set(r) }

// Close implements Link.
func (p *pipeEnd) Close() error {
	if p.closed.Swap(true) {
		return errClosed
	}
	return nil
}
