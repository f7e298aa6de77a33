package tun

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The virtio-net header (struct virtio_net_hdr, include/uapi/linux/
// virtio_net.h) precedes every packet read from or written to a TUN opened
// with IFF_VNET_HDR. It says whether the packet's transport checksum is
// still to be completed (NEEDS_CSUM: the field holds the pseudo-header's
// sum, and csum_start/csum_offset say where summing starts and where the
// result goes) and whether the packet is a GSO super-segment, to be cut
// into pieces of gso_size bytes of payload. A TUN uses the host's byte
// order (little-endian here) unless told otherwise with TUNSETVNETBE,
// which this package never does.

// vnetHdrLen is the size of struct virtio_net_hdr (without the
// num_buffers field of the mergeable-buffers variant); TUNSETVNETHDRSZ
// sets it.
const vnetHdrLen = 10

// Flags of a virtio-net header.
const (
	vnetNeedsCsum = 1 // VIRTIO_NET_HDR_F_NEEDS_CSUM
	vnetDataValid = 2 // VIRTIO_NET_HDR_F_DATA_VALID
)

// GSO types of a virtio-net header.
const (
	gsoNone  = 0    // VIRTIO_NET_HDR_GSO_NONE
	gsoTCPv4 = 1    // VIRTIO_NET_HDR_GSO_TCPV4
	gsoUDP   = 3    // VIRTIO_NET_HDR_GSO_UDP (UFO, IPv4 fragmentation: never enabled)
	gsoTCPv6 = 4    // VIRTIO_NET_HDR_GSO_TCPV6
	gsoUDPL4 = 5    // VIRTIO_NET_HDR_GSO_UDP_L4 (USO)
	gsoECN   = 0x80 // VIRTIO_NET_HDR_GSO_ECN: the sender set CWR
)

// vnetHdr is a decoded virtio-net header.
type vnetHdr struct {
	flags      uint8
	gsoType    uint8
	hdrLen     uint16 // bytes of headers (a hint: Linux puts its linear part here)
	gsoSize    uint16 // payload bytes per segment
	csumStart  uint16 // where checksumming starts (the transport header)
	csumOffset uint16 // where the checksum goes, from csumStart
}

var errVnetShort = errors.New("tun: packet shorter than the virtio-net header")

// decodeVnetHdr reads the header at the start of b.
func decodeVnetHdr(b []byte) (vnetHdr, error) {
	if len(b) < vnetHdrLen {
		return vnetHdr{}, errVnetShort
	}
	return vnetHdr{
		flags:      b[0],
		gsoType:    b[1],
		hdrLen:     binary.LittleEndian.Uint16(b[2:]),
		gsoSize:    binary.LittleEndian.Uint16(b[4:]),
		csumStart:  binary.LittleEndian.Uint16(b[6:]),
		csumOffset: binary.LittleEndian.Uint16(b[8:]),
	}, nil
}

// encode writes h into the first vnetHdrLen bytes of b.
func (h vnetHdr) encode(b []byte) {
	_ = b[vnetHdrLen-1]
	b[0] = h.flags
	b[1] = h.gsoType
	binary.LittleEndian.PutUint16(b[2:], h.hdrLen)
	binary.LittleEndian.PutUint16(b[4:], h.gsoSize)
	binary.LittleEndian.PutUint16(b[6:], h.csumStart)
	binary.LittleEndian.PutUint16(b[8:], h.csumOffset)
}

// String describes h, for errors and tests.
func (h vnetHdr) String() string {
	return fmt.Sprintf("vnet{flags %#x gso %#x hdr %d size %d csum %d+%d}",
		h.flags, h.gsoType, h.hdrLen, h.gsoSize, h.csumStart, h.csumOffset)
}
