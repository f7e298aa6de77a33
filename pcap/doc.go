// Package pcap reads and writes packet captures: the classic libpcap format
// tcpdump -w writes, and pcapng, the format of dumpcap, Wireshark and
// tshark.
//
// Writer always writes classic pcap with nanosecond timestamps (magic
// 0xa1b23c4d) in little-endian byte order with link type LINKTYPE_RAW: each
// record is a bare IPv4 or IPv6 packet, which is what a synack link carries.
//
// Reader takes either format, tells them apart by their first four bytes,
// and returns the IP packet inside each frame:
//
//   - classic pcap in either byte order, with microsecond or nanosecond
//     timestamps;
//   - pcapng in either byte order, with several sections and several
//     interfaces per file, each with its own link type and timestamp
//     resolution (if_tsresol, if_tsoffset); enhanced, simple and the
//     obsolete packet blocks; the direction an enhanced packet block's
//     flags record;
//   - the link types tcpdump and dumpcap write on Linux and the BSDs:
//     Ethernet (with 802.1Q and 802.1ad VLAN tags), Linux cooked capture
//     v1 and v2 ("tcpdump -i any", which also say whether a packet was
//     outgoing), raw IP (101, and DLT_RAW's 12 and 14), raw IPv4 (228),
//     raw IPv6 (229), BSD loopback (null, 0) and OpenBSD loopback (108).
//
// Frames that carry neither IPv4 nor IPv6 (ARP, LLDP, …) are skipped and
// counted. Malformed input gives an error wrapping ErrFormat, never a
// panic, and no length field can make the reader allocate more than a few
// megabytes.
package pcap

// Magic numbers of the classic pcap global header, as read in the byte
// order the file was written in.
const (
	MagicMicroseconds = 0xa1b2c3d4
	MagicNanoseconds  = 0xa1b23c4d
)

// Link types (https://www.tcpdump.org/linktypes.html) this package knows.
const (
	LinkTypeNull      = 0   // BSD loopback: 4-byte address family in the capturing host's byte order
	LinkTypeEthernet  = 1   // IEEE 802.3 Ethernet
	LinkTypeRaw       = 101 // raw IPv4 or IPv6, by the version nibble
	LinkTypeLoop      = 108 // OpenBSD loopback: 4-byte address family, big-endian
	LinkTypeLinuxSLL  = 113 // Linux cooked capture v1
	LinkTypeIPv4      = 228 // raw IPv4
	LinkTypeIPv6      = 229 // raw IPv6
	LinkTypeLinuxSLL2 = 276 // Linux cooked capture v2
)

// SnapLen is the snapshot length Writer declares and the largest packet it
// records whole; longer packets are truncated to it.
const SnapLen = 262144

// Sizes of the headers.
const (
	fileHeaderLen   = 24
	recordHeaderLen = 16
	ethernetLen     = 14
	sllLen          = 16
	sll2Len         = 20
	nullLen         = 4
)
