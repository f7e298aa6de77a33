// Package pcap reads and writes the classic libpcap capture format, the one
// tcpdump -w writes and Wireshark, tshark and tcpdump -r read.
//
// Writer always writes nanosecond timestamps (magic 0xa1b23c4d) in
// little-endian byte order with link type LINKTYPE_RAW: each record is a
// bare IPv4 or IPv6 packet, which is what a synack link carries.
//
// Reader accepts both byte orders, microsecond and nanosecond timestamps,
// and the link types LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6 and
// LINKTYPE_ETHERNET (whose 14-byte header it strips). It returns an error,
// never a panic, on malformed input.
package pcap

// Magic numbers of the classic pcap global header, as read in the byte
// order the file was written in.
const (
	MagicMicroseconds = 0xa1b2c3d4
	MagicNanoseconds  = 0xa1b23c4d
)

// Link types (https://www.tcpdump.org/linktypes.html) this package knows.
const (
	LinkTypeEthernet = 1   // IEEE 802.3 Ethernet
	LinkTypeRaw      = 101 // raw IPv4 or IPv6, by the version nibble
	LinkTypeIPv4     = 228 // raw IPv4
	LinkTypeIPv6     = 229 // raw IPv6
)

// SnapLen is the snapshot length Writer declares and the largest packet it
// records whole; longer packets are truncated to it.
const SnapLen = 262144

// Sizes of the headers.
const (
	fileHeaderLen   = 24
	recordHeaderLen = 16
	ethernetLen     = 14
)
