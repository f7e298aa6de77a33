// Package link defines how a stack meets a network: a Link carries whole IP
// packets (layer 3, no Ethernet) in both directions. It also provides the
// in-memory links (Pipe, Switch) and Sniff, which taps any link (for pcap).
package link

// Link carries IP packets between a stack and a network.
type Link interface {
	// MTU is the largest IP packet, in bytes, that the link carries.
	MTU() int
	// WritePacket transmits one IP packet. The link does not keep pkt
	// after it returns. It must not call back into the sending stack
	// synchronously.
	WritePacket(pkt []byte) error
	// Attach sets the receiver of inbound packets. It is called once,
	// before packets flow.
	Attach(r Receiver)
	// Close detaches the link; later writes fail.
	Close() error
}

// Receiver takes inbound packets from a link.
type Receiver interface {
	// DeliverPacket hands one inbound IP packet to the receiver, which
	// copies what it keeps: pkt is not valid after DeliverPacket returns.
	DeliverPacket(pkt []byte)
}

// Direction says which way a sniffed packet went, seen from the stack.
type Direction uint8

// Directions of a sniffed packet.
const (
	Outbound Direction = iota // written by the stack
	Inbound                   // delivered to the stack
)
