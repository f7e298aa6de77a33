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

// maxRecordLen bounds the bytes one record or block may claim, whatever the
// header says, so that a corrupt length cannot make the reader allocate
// gigabytes.
const maxRecordLen = 16 << 20

// Direction says which way a packet went through the capturing host's
// interface, when the capture recorded it (pcapng flags, Linux cooked
// captures).
type Direction uint8

// Directions.
const (
	DirUnknown  Direction = iota // the capture does not say
	DirInbound                   // received by the capturing host
	DirOutbound                  // sent by the capturing host
)

// String returns "unknown", "in" or "out".
func (d Direction) String() string {
	switch d {
	case DirInbound:
		return "in"
	case DirOutbound:
		return "out"
	}
	return "unknown"
}

// Packet is one IP packet of a capture, its link-layer header removed.
type Packet struct {
	Time time.Time
	// Data is the IP packet; it is valid until the next call to
	// ReadPacket or Next.
	Data []byte
	// Interface is the pcapng interface the packet was captured on (0 in
	// a classic pcap file), or the interface index a Linux cooked v2
	// header records.
	Interface int
	LinkType  int       // the link type of the frame
	Direction Direction // which way the packet went, if known
	// Truncated reports a frame captured shorter than it was on the wire
	// (a snapshot length below the packet's size).
	Truncated bool
	// Frame numbers the capture's frames from 1, counting the skipped
	// ones (as Wireshark's frame.number does).
	Frame int
}

// Reader reads the packets of a classic pcap or a pcapng capture. It is not
// safe for concurrent use.
type Reader struct {
	r       io.Reader
	ng      bool
	order   binary.ByteOrder
	skipped int
	frames  int

	// classic pcap
	nano     bool
	linkType uint16
	snapLen  uint32

	// pcapng: the interfaces of the current section
	ifaces []ngInterface

	hdr [recordHeaderLen]byte
	buf []byte
}

// NewReader reads the file header of a capture from r: the global header
// of a classic pcap file, or the first section header block of a pcapng
// file.
func NewReader(r io.Reader) (*Reader, error) {
	var magic [4]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: short file header", ErrFormat)
		}
		return nil, fmt.Errorf("pcap: reading file header: %w", err)
	}
	rd := &Reader{r: r}
	if binary.BigEndian.Uint32(magic[:]) == ngBlockSHB {
		rd.ng = true
		if err := rd.readSectionHeader(); err != nil {
			return nil, err
		}
		return rd, nil
	}
	var h [fileHeaderLen]byte
	copy(h[:], magic[:])
	if _, err := io.ReadFull(r, h[4:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: short file header", ErrFormat)
		}
		return nil, fmt.Errorf("pcap: reading file header: %w", err)
	}
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
		return nil, fmt.Errorf("%w: unknown magic %#x (neither pcap nor pcapng)", ErrFormat, h[0:4])
	}
	if major := rd.order.Uint16(h[4:]); major != 2 {
		return nil, fmt.Errorf("%w: version %d.%d", ErrFormat, major, rd.order.Uint16(h[6:]))
	}
	rd.snapLen = rd.order.Uint32(h[16:])
	// The upper bits of the link-type field may carry FCS information;
	// the link type proper is the low 16 bits.
	rd.linkType = uint16(rd.order.Uint32(h[20:]))
	if !knownLinkType(rd.linkType) {
		return nil, fmt.Errorf("%w: unsupported link type %d", ErrFormat, rd.linkType)
	}
	return rd, nil
}

// IsPcapng reports whether the capture is in the pcapng format.
func (r *Reader) IsPcapng() bool { return r.ng }

// LinkType returns the capture's link type: that of a classic pcap file,
// or of the first interface of a pcapng file (-1 before one is read).
func (r *Reader) LinkType() int {
	if !r.ng {
		return int(r.linkType)
	}
	if len(r.ifaces) == 0 {
		return -1
	}
	return int(r.ifaces[0].linkType)
}

// Skipped returns how many frames so far carried neither IPv4 nor IPv6.
func (r *Reader) Skipped() int { return r.skipped }

// Next returns the next IP packet and its timestamp. The packet is valid
// until the next call. It returns io.EOF after the last packet. Frames
// that carry neither IPv4 nor IPv6 are skipped.
func (r *Reader) Next() (ts time.Time, pkt []byte, err error) {
	p, err := r.ReadPacket()
	return p.Time, p.Data, err
}

// ReadPacket returns the next IP packet with what the capture says about
// it. It returns io.EOF after the last packet. Frames that carry neither
// IPv4 nor IPv6 are skipped and counted (Skipped).
func (r *Reader) ReadPacket() (Packet, error) {
	for {
		var (
			p   Packet
			ok  bool
			err error
		)
		if r.ng {
			p, ok, err = r.nextBlock()
		} else {
			p, ok, err = r.nextRecord()
		}
		if err != nil {
			return Packet{}, err
		}
		if !ok {
			continue
		}
		r.frames++
		p.Frame = r.frames
		data, dir, ip, err := stripLink(uint16(p.LinkType), p.Data)
		if err != nil {
			return Packet{}, err
		}
		if !ip {
			r.skipped++
			continue
		}
		if p.LinkType == LinkTypeLinuxSLL2 && !r.ng {
			p.Interface = sll2Interface(p.Data)
		}
		p.Data = data
		if dir != DirUnknown {
			p.Direction = dir
		}
		return p, nil
	}
}

// nextRecord reads one record of a classic pcap file.
func (r *Reader) nextRecord() (p Packet, ok bool, err error) {
	if _, err := io.ReadFull(r.r, r.hdr[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return Packet{}, false, io.EOF
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return Packet{}, false, fmt.Errorf("%w: truncated record header", ErrFormat)
		}
		return Packet{}, false, fmt.Errorf("pcap: reading record header: %w", err)
	}
	sec := r.order.Uint32(r.hdr[0:])
	frac := r.order.Uint32(r.hdr[4:])
	incl := r.order.Uint32(r.hdr[8:])
	orig := r.order.Uint32(r.hdr[12:])
	limit := max(r.snapLen, SnapLen)
	if incl > limit || incl > maxRecordLen {
		return Packet{}, false, fmt.Errorf("%w: record of %d bytes exceeds the snapshot length", ErrFormat, incl)
	}
	nsec := int64(frac)
	if r.nano {
		if frac >= 1e9 {
			return Packet{}, false, fmt.Errorf("%w: %d nanoseconds", ErrFormat, frac)
		}
	} else {
		if frac >= 1e6 {
			return Packet{}, false, fmt.Errorf("%w: %d microseconds", ErrFormat, frac)
		}
		nsec *= 1000
	}
	data, err := r.read(int(incl))
	if err != nil {
		return Packet{}, false, err
	}
	return Packet{
		Time:      time.Unix(int64(sec), nsec).UTC(),
		Data:      data,
		LinkType:  int(r.linkType),
		Truncated: orig > incl,
	}, true, nil
}

// read reads n bytes into the reader's buffer.
func (r *Reader) read(n int) ([]byte, error) {
	if cap(r.buf) < n {
		r.buf = make([]byte, n)
	}
	data := r.buf[:n]
	if _, err := io.ReadFull(r.r, data); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: truncated record", ErrFormat)
		}
		return nil, fmt.Errorf("pcap: reading record: %w", err)
	}
	return data, nil
}
