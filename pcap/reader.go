package pcap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// ErrFormat is wrapped by every error that reports a malformed capture.
var ErrFormat = errors.New("pcap: malformed capture")

// maxRecordLen bounds the bytes one record may claim, whatever the header
// says, so that a corrupt length cannot make the reader allocate gigabytes.
const maxRecordLen = 16 << 20

// Reader reads the packets of a capture. It is not safe for concurrent use.
type Reader struct {
	r        io.Reader
	order    binary.ByteOrder
	nano     bool
	linkType uint16
	snapLen  uint32
	hdr      [recordHeaderLen]byte
	buf      []byte
}

// NewReader reads the global header of a classic pcap capture from r.
func NewReader(r io.Reader) (*Reader, error) {
	var h [fileHeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: short file header", ErrFormat)
		}
		return nil, fmt.Errorf("pcap: reading file header: %w", err)
	}
	rd := &Reader{r: r}
	switch {
	case binary.LittleEndian.Uint32(h[0:]) == MagicMicroseconds:
		rd.order = binary.LittleEndian
	case binary.LittleEndian.Uint32(h[0:]) == MagicNanoseconds:
		rd.order, rd.nano = binary.LittleEndian, true
	case binary.BigEndian.Uint32(h[0:]) == MagicMicroseconds:
		rd.order = binary.BigEndian
	case binary.BigEndian.Uint32(h[0:]) == MagicNanoseconds:
		rd.order, rd.nano = binary.BigEndian, true
	default:
		return nil, fmt.Errorf("%w: unknown magic %#x (pcapng is not supported)", ErrFormat, h[0:4])
	}
	if major := rd.order.Uint16(h[4:]); major != 2 {
		return nil, fmt.Errorf("%w: version %d.%d", ErrFormat, major, rd.order.Uint16(h[6:]))
	}
	rd.snapLen = rd.order.Uint32(h[16:])
	// The upper bits of the link-type field may carry FCS information;
	// the link type proper is the low 16 bits.
	rd.linkType = uint16(rd.order.Uint32(h[20:]))
	switch rd.linkType {
	case LinkTypeRaw, LinkTypeIPv4, LinkTypeIPv6, LinkTypeEthernet:
	default:
		return nil, fmt.Errorf("%w: unsupported link type %d", ErrFormat, rd.linkType)
	}
	return rd, nil
}

// LinkType returns the capture's link type.
func (r *Reader) LinkType() int { return int(r.linkType) }

// Next returns the next IP packet and its timestamp. The packet is valid
// until the next call. It returns io.EOF after the last packet. Ethernet
// frames that carry neither IPv4 nor IPv6 are skipped.
func (r *Reader) Next() (ts time.Time, pkt []byte, err error) {
	for {
		var skip bool
		ts, pkt, skip, err = r.next()
		if !skip {
			return ts, pkt, err
		}
	}
}

// next reads one record; skip reports a frame that is not IP.
func (r *Reader) next() (ts time.Time, pkt []byte, skip bool, err error) {
	if _, err := io.ReadFull(r.r, r.hdr[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return time.Time{}, nil, false, io.EOF
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return time.Time{}, nil, false, fmt.Errorf("%w: truncated record header", ErrFormat)
		}
		return time.Time{}, nil, false, fmt.Errorf("pcap: reading record header: %w", err)
	}
	sec := r.order.Uint32(r.hdr[0:])
	frac := r.order.Uint32(r.hdr[4:])
	incl := r.order.Uint32(r.hdr[8:])
	limit := max(r.snapLen, SnapLen)
	if incl > limit || incl > maxRecordLen {
		return time.Time{}, nil, false, fmt.Errorf("%w: record of %d bytes exceeds the snapshot length", ErrFormat, incl)
	}
	nsec := int64(frac)
	if r.nano {
		if frac >= 1e9 {
			return time.Time{}, nil, false, fmt.Errorf("%w: %d nanoseconds", ErrFormat, frac)
		}
	} else {
		if frac >= 1e6 {
			return time.Time{}, nil, false, fmt.Errorf("%w: %d microseconds", ErrFormat, frac)
		}
		nsec *= 1000
	}
	ts = time.Unix(int64(sec), nsec).UTC()
	if cap(r.buf) < int(incl) {
		r.buf = make([]byte, incl)
	}
	data := r.buf[:incl]
	if _, err := io.ReadFull(r.r, data); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return time.Time{}, nil, false, fmt.Errorf("%w: truncated record", ErrFormat)
		}
		return time.Time{}, nil, false, fmt.Errorf("pcap: reading record: %w", err)
	}
	if r.linkType != LinkTypeEthernet {
		return ts, data, false, nil
	}
	if len(data) < ethernetLen {
		return time.Time{}, nil, false, fmt.Errorf("%w: Ethernet frame of %d bytes", ErrFormat, len(data))
	}
	switch binary.BigEndian.Uint16(data[12:]) {
	case 0x0800, 0x86dd: // IPv4, IPv6
		return ts, data[ethernetLen:], false, nil
	}
	return ts, nil, true, nil
}
