package link

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
)

// Switch joins any number of links (ports) into one network: a packet
// written to a port is delivered, as a copy, to the port that owns the
// packet's destination address. It is a layer-3 switch with host routes
// only: no ARP, no TTL handling, no broadcast.
type Switch struct {
	mu    sync.RWMutex
	owner map[netip.Addr]*switchPort

	drops atomic.Uint64
}

// NewSwitch returns a switch with no ports.
func NewSwitch() *Switch {
	return &Switch{owner: make(map[netip.Addr]*switchPort)}
}

// Port adds a port with the given MTU that owns addrs: packets addressed to
// them are delivered to it. An address already owned by another port moves
// to the new one.
func (sw *Switch) Port(mtu int, addrs ...netip.Addr) Link {
	p := &switchPort{sw: sw, mtu: mtu}
	sw.mu.Lock()
	for _, a := range addrs {
		a = a.Unmap()
		p.addrs = append(p.addrs, a)
		sw.owner[a] = p
	}
	sw.mu.Unlock()
	return p
}

// Drops returns how many packets the switch dropped: no port owned the
// destination, the destination port was closed or had no receiver, the
// packet was larger than its MTU, or it was not an IP packet.
func (sw *Switch) Drops() uint64 { return sw.drops.Load() }

// forward delivers pkt to the port that owns its destination.
func (sw *Switch) forward(pkt []byte) {
	dst, ok := destination(pkt)
	if !ok {
		sw.drops.Add(1)
		return
	}
	sw.mu.RLock()
	p := sw.owner[dst]
	sw.mu.RUnlock()
	if p == nil || p.closed.Load() || len(pkt) > p.mtu {
		sw.drops.Add(1)
		return
	}
	r := p.recv.get()
	if r == nil {
		sw.drops.Add(1)
		return
	}
	deliverCopy(r, pkt)
}

// destination reads the destination address of an IPv4 or IPv6 packet. It
// checks only what it needs: the version nibble and the length.
func destination(pkt []byte) (netip.Addr, bool) {
	if len(pkt) == 0 {
		return netip.Addr{}, false
	}
	switch pkt[0] >> 4 {
	case 4:
		if len(pkt) < 20 {
			return netip.Addr{}, false
		}
		return netip.AddrFrom4([4]byte(pkt[16:20])), true
	case 6:
		if len(pkt) < 40 {
			return netip.Addr{}, false
		}
		return netip.AddrFrom16([16]byte(pkt[24:40])).Unmap(), true
	}
	return netip.Addr{}, false
}

// switchPort is one port of a Switch.
type switchPort struct {
	sw     *Switch
	mtu    int
	addrs  []netip.Addr
	recv   receiverSlot
	closed atomic.Bool
}

// MTU implements Link.
func (p *switchPort) MTU() int { return p.mtu }

// WritePacket implements Link.
func (p *switchPort) WritePacket(pkt []byte) error {
	if p.closed.Load() {
		return errClosed
	}
	if len(pkt) > p.mtu {
		return fmt.Errorf("link: switch port: %d bytes: %w", len(pkt), ErrTooBig)
	}
	p.sw.forward(pkt)
	return nil
}

// Attach implements Link.
func (p *switchPort) Attach(r Receiver) { p.recv.set(r) }

// Close implements Link: the port stops sending, and its addresses are
// released.
func (p *switchPort) Close() error {
	if p.closed.Swap(true) {
		return errClosed
	}
	p.sw.mu.Lock()
	for _, a := range p.addrs {
		if p.sw.owner[a] == p {
			delete(p.sw.owner, a)
		}
	}
	p.sw.mu.Unlock()
	return nil
}
