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

// Offloads: optional interfaces a link and a receiver may implement so
// that one call moves many packets' worth of data (a TUN device with the
// virtio-net header, package link/tun). Links and receivers without them
// work as before; a link uses them only when the other side has them.

// BatchWriter is an optional interface of a Link that takes several
// packets per call: the stack hands it the segments one engine call
// produced, and the link may join consecutive TCP segments of one flow
// into one super-segment (GSO) that it splits, or has the far side split,
// as the wire requires.
type BatchWriter interface {
	// WritePackets transmits pkts in order, as that many WritePacket calls
	// would. It does not keep pkts or their bytes after it returns. It
	// returns how many of pkts were written (counting each one a
	// super-segment carries) and the first error, after which it stops.
	WritePackets(pkts [][]byte) (int, error)
}

// OffloadReceiver is an optional interface of a Receiver that takes
// packets as a link with offloads has them.
type OffloadReceiver interface {
	Receiver
	// DeliverOffloaded is DeliverPacket for an IP packet carrying TCP
	// whose checksum the receiver must not verify: the link has verified
	// it, or the packet comes from a local sender that left it to
	// offload, so that the checksum field may hold only the
	// pseudo-header's sum. The segment may be a super-segment of up to
	// 64 KiB, whatever the link's MTU: the receiver takes it as one.
	// (Packets of other protocols may come this way too; their checksums
	// are complete and verified as usual.)
	DeliverOffloaded(pkt []byte)
}

// SuperSegmenter is an optional interface of a Link that carries TCP
// super-segments (GSO): one IP packet larger than the MTU joining
// segments of one connection, which the link splits into packets of one
// MSS or whose far side takes whole. A stack sends super-segments only
// through Handoff (to a far side that adopts them) or
// PartialWriter.WritePacketsPartial, so a link implements this beside
// one of them; a link that does not implement it, or says 0, gets
// packets of one MSS only.
type SuperSegmenter interface {
	// MaxSuperSegment returns the most TCP payload bytes one
	// super-segment may carry now, or 0 when the link takes none.
	MaxSuperSegment() int
}

// MaxSuperPayload is the most TCP payload one super-segment may carry:
// what an IPv4 packet of 65535 bytes holds after the largest IPv4 and
// TCP headers a stack writes (20 + 60 bytes).
const MaxSuperPayload = 65535 - 20 - 60

// PartialWriter is an optional interface of a BatchWriter whose far side
// completes TCP checksums (a TUN with checksum offload: the kernel is
// told NEEDS_CSUM), so that a stack need not compute them.
type PartialWriter interface {
	BatchWriter
	// PartialChecksums reports whether WritePacketsPartial may be used.
	PartialChecksums() bool
	// WritePacketsPartial is WritePackets for TCP packets whose TCP
	// checksum the link leaves to the far side: the link may overwrite
	// the checksum field, whatever it holds. segSize[i] > 0 marks
	// pkts[i] as a super-segment (SuperSegmenter) joining segments of
	// segSize[i] payload bytes, the last maybe shorter.
	WritePacketsPartial(pkts [][]byte, segSize []int) (int, error)
}

// Send-side zero copy: a stack hands a TCP packet to a stack in the same
// process as its headers and a payload that lies elsewhere (in its send
// buffer), which the far side keeps by a reference instead of a copy.

// PayloadRef is a reference to the memory a packet's payload lies in:
// the payload's bytes do not change until Release, which its holder
// calls exactly once, from any goroutine.
type PayloadRef interface {
	Release()
}

// PayloadHandoff is an optional interface of a Handoff link that hands a
// packet over in two pieces.
type PayloadHandoff interface {
	Handoff
	// HandOffPayload is HandOff for the IP packet made of hdr (its IP
	// and TCP headers, whose lengths count the payload) and payload,
	// which ref keeps unchanged. After it returns true the caller must
	// not touch hdr again and ref is the far side's, which releases it
	// once done with payload. It returns false, having done nothing
	// (ref is still the caller's), when the far side is no Adopter.
	HandOffPayload(hdr, payload []byte, ref PayloadRef) (bool, error)
}

// PayloadAdopter is an optional interface of an Adopter that takes a
// packet in two pieces (PayloadHandoff).
type PayloadAdopter interface {
	Adopter
	// AdoptPayload is AdoptPacket for the packet made of hdr and
	// payload: the receiver takes hdr and ref, and releases ref once done
	// with payload.
	AdoptPayload(hdr, payload []byte, ref PayloadRef)
}
