package stack

import "sync"

// Inbound packets are copied into pooled buffers of a few size classes,
// so that a link with a large MTU (a 64 KiB packet on an MTU-65535 pipe)
// reuses its buffers as a 1500-byte link does, while small packets do not
// pin 64 KiB each.

// packetClasses are the buffer capacities of the pools, smallest first:
// an Ethernet-sized packet, a jumbo frame, and the largest IP packet
// (an IPv6 header and 65,535 bytes of payload) with room to spare.
var packetClasses = [...]int{2048, 9216, 40 + 65535 + 89}

var packetPools [len(packetClasses)]sync.Pool

func init() {
	for i, size := range packetClasses {
		packetPools[i].New = func() any { return &inPacket{buf: make([]byte, 0, size)} }
	}
}

// packetClass returns the index of the smallest class that holds n
// bytes, or -1 when none does.
func packetClass(n int) int {
	for i, size := range packetClasses {
		if n <= size {
			return i
		}
	}
	return -1
}

// getPacket returns a cleared inPacket whose buffer holds n bytes without
// growing (when n fits a class).
func getPacket(n int) *inPacket {
	i := packetClass(n)
	if i < 0 {
		i = len(packetClasses) - 1
	}
	return packetPools[i].Get().(*inPacket)
}

// putPacket clears p and returns it to the pool of its buffer's class. A
// buffer that grew past its class (a reassembled datagram) goes to the
// class it still fills; one larger than every class is dropped.
func putPacket(p *inPacket) {
	buf := p.buf[:0]
	i := len(packetClasses) - 1
	for i >= 0 && cap(buf) < packetClasses[i] {
		i--
	}
	switch {
	case i < 0: // smaller than the smallest class (not from a pool)
		i = 0
		buf = make([]byte, 0, packetClasses[0])
	case cap(buf) > packetClasses[len(packetClasses)-1]:
		buf = make([]byte, 0, packetClasses[0])
		i = 0
	}
	*p = inPacket{buf: buf}
	packetPools[i].Put(p)
}

// packetHolders keeps inPackets without a buffer: a shard gives a
// packet's buffer away to a stack that adopts it (link.Handoff) and keeps
// the holder; the adopting stack takes a holder for the buffer it got.
var packetHolders sync.Pool

// putHolder returns an inPacket whose buffer was given away.
func putHolder(p *inPacket) {
	*p = inPacket{}
	packetHolders.Put(p)
}

// adoptPacket wraps buf, which the caller gives up, in an inPacket.
func adoptPacket(buf []byte) *inPacket {
	p, _ := packetHolders.Get().(*inPacket)
	if p == nil {
		p = new(inPacket)
	}
	p.buf = buf
	return p
}
