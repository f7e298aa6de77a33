package wire

import "encoding/binary"

// IPv6FragmentHeaderLen is the length of an IPv6 fragment header.
const IPv6FragmentHeaderLen = 8

// MaxIPPayload is the largest payload a reassembled IP packet can carry:
// fragment offsets and lengths are bounded by the 16-bit length fields.
const MaxIPPayload = 65535

// Fragment splits the IP packet pkt into fragments of at most mtu bytes
// and calls emit with each, in order (RFC 791 §3.2 for IPv4, RFC 8200 §4.5
// for IPv6). The slice emit gets is only valid during the call.
//
// A packet that fits in mtu is passed to emit unchanged. IPv4 fragments
// carry id as their identification (its low 16 bits) with DF clear; the
// header, options included, is copied into each fragment, and a packet
// that was itself a fragment keeps its offset and MF bit. IPv6 fragments
// get a fragment header with identification id after the unfragmentable
// part (the fixed header and any hop-by-hop and routing headers); an IPv6
// packet that is already a fragment is refused. It returns an error wrapping ErrMalformed if
// pkt does not parse or mtu leaves room for fewer than 8 bytes of data.
func Fragment(pkt []byte, mtu int, id uint32, emit func(frag []byte)) error {
	ip, err := ParseIP(pkt)
	if err != nil {
		return err
	}
	if len(pkt) <= mtu {
		emit(pkt)
		return nil
	}
	switch pkt[0] >> 4 {
	case 4:
		h, payload, err := ParseIPv4(pkt)
		if err != nil {
			return err
		}
		hlen := int(pkt[0]&0x0f) * 4
		step := (mtu - hlen) &^ 7
		if step < 8 {
			return errFragmentMTU
		}
		buf := make([]byte, 0, hlen+step)
		fh := h
		fh.DontFragment = false
		fh.ID = uint16(id)
		for off := 0; off < len(payload); off += step {
			end := min(off+step, len(payload))
			fh.FragmentOffset = h.FragmentOffset + uint16(off)
			fh.MoreFragments = end < len(payload) || h.MoreFragments
			buf = AppendIPv4(buf[:0], &fh, end-off)
			buf = append(buf, payload[off:end]...)
			emit(buf)
		}
		return nil
	case 6:
		if ip.Fragment {
			return errFragmentAgain
		}
		h, payload, err := ParseIPv6(pkt)
		if err != nil {
			return err
		}
		// The unfragmentable part: the fixed header, then a hop-by-hop
		// header and routing headers if any (RFC 8200 §4.5).
		next, unfrag := h.NextHeader, 0
		for (next == ProtocolHopByHop && unfrag == 0) || next == ProtocolRouting {
			n := (int(payload[unfrag+1]) + 1) * 8 // ParseIP checked the lengths
			next, unfrag = payload[unfrag], unfrag+n
		}
		head, payload := payload[:unfrag], payload[unfrag:]
		step := (mtu - IPv6HeaderLen - len(head) - IPv6FragmentHeaderLen) &^ 7
		if step < 8 {
			return errFragmentMTU
		}
		buf := make([]byte, 0, IPv6HeaderLen+len(head)+IPv6FragmentHeaderLen+step)
		for off := 0; off < len(payload); off += step {
			end := min(off+step, len(payload))
			buf = AppendIPv6(buf[:0], &h, len(head)+IPv6FragmentHeaderLen+end-off)
			buf = append(buf, head...)
			// The fragment header takes the place of next in the chain.
			if unfrag == 0 {
				buf[6] = ProtocolFragment
			} else {
				buf[IPv6HeaderLen+lastHeaderAt(head)] = ProtocolFragment
			}
			var f [IPv6FragmentHeaderLen]byte
			f[0] = next
			offM := uint16(off)
			if end < len(payload) {
				offM |= 1
			}
			binary.BigEndian.PutUint16(f[2:], offM)
			binary.BigEndian.PutUint32(f[4:], id)
			buf = append(buf, f[:]...)
			buf = append(buf, payload[off:end]...)
			emit(buf)
		}
		return nil
	}
	return errIPVersion
}

// lastHeaderAt returns the offset in head, a chain of extension headers,
// of the last one.
func lastHeaderAt(head []byte) int {
	at := 0
	for {
		n := (int(head[at+1]) + 1) * 8
		if at+n >= len(head) {
			return at
		}
		at += n
	}
}

// Reassembled returns the packet whose fragments ip was one of, given the
// reassembled payload: Fragment and the fragment fields cleared, Payload
// set to payload. For IPv6, ip.Protocol is the fragment header's next
// header, so extension headers that followed it are walked (and skipped)
// as ParseIP does; a second fragment header there is malformed.
func (ip IPPacket) Reassembled(payload []byte) (IPPacket, error) {
	ip.Fragment, ip.FragmentOffset, ip.MoreFragments, ip.ID = false, 0, false, 0
	ip.Payload = payload
	if ip.Version != 6 {
		return ip, nil
	}
	proto, p, frag, err := walkIPv6(ip.Protocol, payload)
	if err != nil {
		return IPPacket{}, err
	}
	if frag.ok {
		return IPPacket{}, errFragmentNested
	}
	ip.Protocol, ip.Payload = proto, p
	return ip, nil
}
