package tun

import "strings"

// Offloads is a set of offloads a Device uses (TUNSETOFFLOAD's flags).
// With any of them the device carries the virtio-net header on every
// packet; the zero value is a plain device.
type Offloads uint8

// The offloads. OffloadCsum lets checksums be left to the other side, both
// ways; the TSO ones let the kernel hand over TCP super-segments of up to
// 64 KiB (the ECN one: also those whose first segment carries CWR); the
// USO ones UDP super-datagrams (UDP_SEGMENT senders; Linux 6.2 and later).
// Sending super-segments needs only the header: the device joins TCP
// segments into one when OffloadTSO4 (IPv4) or OffloadTSO6 (IPv6) is on.
const (
	OffloadCsum Offloads = 1 << iota
	OffloadTSO4
	OffloadTSO6
	OffloadTSOECN
	OffloadUSO4
	OffloadUSO6
)

var offloadNames = [...]string{"csum", "tso4", "tso6", "tso-ecn", "uso4", "uso6"}

// String lists the offloads joined by "+", or says "none".
func (o Offloads) String() string {
	if o == 0 {
		return "none"
	}
	var b strings.Builder
	for i, n := range offloadNames {
		if o&(1<<i) != 0 {
			if b.Len() > 0 {
				b.WriteByte('+')
			}
			b.WriteString(n)
		}
	}
	if o>>len(offloadNames) != 0 {
		if b.Len() > 0 {
			b.WriteByte('+')
		}
		b.WriteString("?")
	}
	return b.String()
}

// tunFlags returns o as TUNSETOFFLOAD's argument (TUN_F_CSUM, TUN_F_TSO4,
// TUN_F_TSO6, TUN_F_TSO_ECN, TUN_F_USO4, TUN_F_USO6 of linux/if_tun.h).
func (o Offloads) tunFlags() uint {
	var f uint
	for i, v := range [...]uint{0x01, 0x02, 0x04, 0x08, 0x20, 0x40} {
		if o&(1<<i) != 0 {
			f |= v
		}
	}
	return f
}
