// Package wire parses and builds the packet formats synack speaks: IPv4 and
// IPv6 headers (and their fragments), TCP headers with every option, UDP,
// ICMP and ICMPv6 messages (with the packets their errors quote), and the
// Internet checksum.
//
// It keeps two worlds apart, as smoltcp does: raw bytes on one side and
// validated values (IPv4Header, IPv6Header, TCPHeader, TCPOptions, UDPHeader, ICMPMessage) on the
// other. The Parse* functions are the only way from bytes to values and the
// Append* functions the only way back. Parsing checks every length before it
// reads and never panics, whatever the input; malformed input returns an
// error wrapping ErrMalformed, a bad checksum one wrapping ErrChecksum.
// Rejecting a packet does not allocate, nor do ParseTCPPacket and, given a
// dst with room, AppendTCPPacket.
package wire
