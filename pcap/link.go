package pcap

import (
	"encoding/binary"
	"fmt"
)

// More link types, from DLT_ values some systems write in place of
// LINKTYPE_RAW.
const (
	linkTypeDLTRaw12 = 12
	linkTypeDLTRaw14 = 14
)

// EtherTypes a frame may carry.
const (
	etherTypeIPv4   = 0x0800
	etherTypeIPv6   = 0x86dd
	etherTypeVLAN   = 0x8100 // 802.1Q
	etherTypeQinQ   = 0x88a8 // 802.1ad
	etherTypeQinQ91 = 0x9100 // pre-standard double tagging
)

// Linux packet types (the sll_pkttype of a cooked capture).
const sllOutgoing = 4

// knownLinkType reports whether stripLink understands lt.
func knownLinkType(lt uint16) bool {
	switch lt {
	case LinkTypeNull, LinkTypeEthernet, LinkTypeRaw, linkTypeDLTRaw12, linkTypeDLTRaw14,
		LinkTypeLoop, LinkTypeLinuxSLL, LinkTypeIPv4, LinkTypeIPv6, LinkTypeLinuxSLL2:
		return true
	}
	return false
}

// stripLink removes the link-layer header of a frame of type lt. ip is
// false for a frame that carries neither IPv4 nor IPv6; a frame too short
// for its header is an error.
func stripLink(lt uint16, f []byte) (pkt []byte, dir Direction, ip bool, err error) {
	switch lt {
	case LinkTypeRaw, linkTypeDLTRaw12, linkTypeDLTRaw14, LinkTypeIPv4, LinkTypeIPv6:
		return f, DirUnknown, true, nil
	case LinkTypeEthernet:
		if len(f) < ethernetLen {
			return nil, 0, false, fmt.Errorf("%w: Ethernet frame of %d bytes", ErrFormat, len(f))
		}
		et, off := binary.BigEndian.Uint16(f[12:]), ethernetLen
		for et == etherTypeVLAN || et == etherTypeQinQ || et == etherTypeQinQ91 {
			if len(f) < off+4 {
				return nil, 0, false, fmt.Errorf("%w: VLAN-tagged frame of %d bytes", ErrFormat, len(f))
			}
			et, off = binary.BigEndian.Uint16(f[off+2:]), off+4
		}
		return f[off:], DirUnknown, isIP(et), nil
	case LinkTypeLinuxSLL:
		if len(f) < sllLen {
			return nil, 0, false, fmt.Errorf("%w: Linux cooked frame of %d bytes", ErrFormat, len(f))
		}
		return f[sllLen:], sllDirection(binary.BigEndian.Uint16(f[0:])), isIP(binary.BigEndian.Uint16(f[14:])), nil
	case LinkTypeLinuxSLL2:
		if len(f) < sll2Len {
			return nil, 0, false, fmt.Errorf("%w: Linux cooked v2 frame of %d bytes", ErrFormat, len(f))
		}
		return f[sll2Len:], sllDirection(uint16(f[10])), isIP(binary.BigEndian.Uint16(f[0:])), nil
	case LinkTypeNull, LinkTypeLoop:
		if len(f) < nullLen {
			return nil, 0, false, fmt.Errorf("%w: loopback frame of %d bytes", ErrFormat, len(f))
		}
		fam := binary.BigEndian.Uint32(f)
		if lt == LinkTypeNull && fam > 0xffff {
			// DLT_NULL's family is in the capturing host's byte order.
			fam = binary.LittleEndian.Uint32(f)
		}
		switch fam {
		case 2, // AF_INET
			10, 24, 28, 30: // AF_INET6: Linux, NetBSD/OpenBSD, FreeBSD, Darwin
			return f[nullLen:], DirUnknown, true, nil
		}
		return nil, DirUnknown, false, nil
	}
	return nil, 0, false, fmt.Errorf("%w: unsupported link type %d", ErrFormat, lt)
}

func isIP(etherType uint16) bool {
	return etherType == etherTypeIPv4 || etherType == etherTypeIPv6
}

func sllDirection(pktType uint16) Direction {
	if pktType == sllOutgoing {
		return DirOutbound
	}
	if pktType <= 3 {
		return DirInbound
	}
	return DirUnknown
}

// sll2Interface returns the interface index of a Linux cooked v2 frame
// (f is the whole frame, at least sll2Len bytes).
func sll2Interface(f []byte) int {
	if len(f) < sll2Len {
		return 0
	}
	return int(binary.BigEndian.Uint32(f[4:]))
}
