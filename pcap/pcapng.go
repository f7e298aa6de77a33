package pcap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"time"
)

// pcapng block types (draft-ietf-opsawg-pcapng).
const (
	ngBlockSHB = 0x0a0d0d0a // section header
	ngBlockIDB = 1          // interface description
	ngBlockOPB = 2          // packet (obsolete)
	ngBlockSPB = 3          // simple packet
	ngBlockEPB = 6          // enhanced packet

	ngByteOrderMagic = 0x1a2b3c4d

	ngOptEnd     = 0
	ngOptTSResol = 9  // if_tsresol
	ngOptTSOff   = 14 // if_tsoffset
	ngOptFlags   = 2  // epb_flags
)

// ngInterface is what an interface description block says.
type ngInterface struct {
	linkType uint16
	snapLen  uint32
	// A timestamp counts units of 10^-exp seconds, or 2^-exp when pow2.
	exp    uint8
	pow2   bool
	offset int64 // seconds added to every timestamp
}

// readSectionHeader reads a section header block whose type has been read.
func (r *Reader) readSectionHeader() error {
	var h [8]byte // block length, byte-order magic
	if _, err := io.ReadFull(r.r, h[:]); err != nil {
		return shortBlock(err)
	}
	switch {
	case binary.LittleEndian.Uint32(h[4:]) == ngByteOrderMagic:
		r.order = binary.LittleEndian
	case binary.BigEndian.Uint32(h[4:]) == ngByteOrderMagic:
		r.order = binary.BigEndian
	default:
		return fmt.Errorf("%w: pcapng section header with byte-order magic %#x", ErrFormat, h[4:])
	}
	n := r.order.Uint32(h[0:])
	if n < 28 || n%4 != 0 || n > maxRecordLen {
		return fmt.Errorf("%w: pcapng section header of %d bytes", ErrFormat, n)
	}
	body, err := r.read(int(n) - 12)
	if err != nil {
		return err
	}
	if major := r.order.Uint16(body[0:]); major != 1 {
		return fmt.Errorf("%w: pcapng version %d.%d", ErrFormat, major, r.order.Uint16(body[2:]))
	}
	if t := r.order.Uint32(body[len(body)-4:]); t != n {
		return fmt.Errorf("%w: pcapng block length %d, trailer says %d", ErrFormat, n, t)
	}
	r.ifaces = r.ifaces[:0]
	return nil
}

func shortBlock(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: truncated pcapng block", ErrFormat)
	}
	return fmt.Errorf("pcap: reading block: %w", err)
}

// nextBlock reads one pcapng block; ok reports a packet.
func (r *Reader) nextBlock() (p Packet, ok bool, err error) {
	var h [8]byte
	if _, err := io.ReadFull(r.r, h[:4]); err != nil {
		if errors.Is(err, io.EOF) {
			return Packet{}, false, io.EOF
		}
		return Packet{}, false, shortBlock(err)
	}
	if binary.BigEndian.Uint32(h[:4]) == ngBlockSHB {
		return Packet{}, false, r.readSectionHeader()
	}
	if _, err := io.ReadFull(r.r, h[4:]); err != nil {
		return Packet{}, false, shortBlock(err)
	}
	typ, n := r.order.Uint32(h[0:]), r.order.Uint32(h[4:])
	if n < 12 || n%4 != 0 || n > maxRecordLen {
		return Packet{}, false, fmt.Errorf("%w: pcapng block of %d bytes", ErrFormat, n)
	}
	body, err := r.read(int(n) - 8)
	if err != nil {
		return Packet{}, false, err
	}
	if t := r.order.Uint32(body[len(body)-4:]); t != n {
		return Packet{}, false, fmt.Errorf("%w: pcapng block length %d, trailer says %d", ErrFormat, n, t)
	}
	body = body[:len(body)-4]
	switch typ {
	case ngBlockIDB:
		return Packet{}, false, r.readInterface(body)
	case ngBlockEPB:
		return r.readEnhanced(body)
	case ngBlockSPB:
		return r.readSimple(body)
	case ngBlockOPB:
		return r.readObsolete(body)
	}
	return Packet{}, false, nil // statistics, name resolution, custom, …
}

func (r *Reader) readInterface(b []byte) error {
	if len(b) < 8 {
		return fmt.Errorf("%w: pcapng interface block of %d bytes", ErrFormat, len(b))
	}
	if len(r.ifaces) >= 1<<16 {
		return fmt.Errorf("%w: more than 65536 interfaces", ErrFormat)
	}
	ifc := ngInterface{linkType: r.order.Uint16(b[0:]), snapLen: r.order.Uint32(b[4:]), exp: 6}
	err := r.options(b[8:], func(code uint16, v []byte) error {
		switch {
		case code == ngOptTSResol && len(v) >= 1:
			ifc.exp, ifc.pow2 = v[0]&0x7f, v[0]&0x80 != 0
			if (!ifc.pow2 && ifc.exp > 19) || (ifc.pow2 && ifc.exp > 63) {
				return fmt.Errorf("%w: pcapng timestamp resolution %#x", ErrFormat, v[0])
			}
		case code == ngOptTSOff && len(v) >= 8:
			ifc.offset = int64(r.order.Uint64(v))
			if ifc.offset > 1<<40 || ifc.offset < -(1<<40) {
				return fmt.Errorf("%w: pcapng timestamp offset %d", ErrFormat, ifc.offset)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// An interface of an unknown link type is kept (to keep the indexes
	// right) and its packets are refused when they come.
	r.ifaces = append(r.ifaces, ifc)
	return nil
}

// options walks a pcapng options area.
func (r *Reader) options(b []byte, f func(code uint16, v []byte) error) error {
	for len(b) >= 4 {
		code, n := r.order.Uint16(b[0:]), int(r.order.Uint16(b[2:]))
		if code == ngOptEnd {
			return nil
		}
		padded := (n + 3) &^ 3
		if 4+padded > len(b) {
			return fmt.Errorf("%w: pcapng option %d of %d bytes runs past its block", ErrFormat, code, n)
		}
		if err := f(code, b[4:4+n]); err != nil {
			return err
		}
		b = b[4+padded:]
	}
	return nil
}

func (r *Reader) iface(id uint32) (*ngInterface, error) {
	if int64(id) >= int64(len(r.ifaces)) {
		return nil, fmt.Errorf("%w: packet on pcapng interface %d, of %d described", ErrFormat, id, len(r.ifaces))
	}
	ifc := &r.ifaces[id]
	if !knownLinkType(ifc.linkType) {
		return nil, fmt.Errorf("%w: unsupported link type %d (pcapng interface %d)", ErrFormat, ifc.linkType, id)
	}
	return ifc, nil
}

// packet makes the Packet of a block's timestamp and frame.
func (r *Reader) packet(id uint32, ifc *ngInterface, hi, lo uint32, data []byte, orig uint32) (Packet, error) {
	ts, err := ifc.time(uint64(hi)<<32 | uint64(lo))
	if err != nil {
		return Packet{}, err
	}
	return Packet{Time: ts, Data: data, Interface: int(id), LinkType: int(ifc.linkType), Truncated: orig > uint32(len(data))}, nil
}

func (r *Reader) readEnhanced(b []byte) (Packet, bool, error) {
	if len(b) < 20 {
		return Packet{}, false, fmt.Errorf("%w: pcapng enhanced packet block of %d bytes", ErrFormat, len(b))
	}
	id := r.order.Uint32(b[0:])
	ifc, err := r.iface(id)
	if err != nil {
		return Packet{}, false, err
	}
	caplen, orig := r.order.Uint32(b[12:]), r.order.Uint32(b[16:])
	if int64(caplen) > int64(len(b)-20) {
		return Packet{}, false, fmt.Errorf("%w: pcapng packet of %d bytes in a block of %d", ErrFormat, caplen, len(b))
	}
	p, err := r.packet(id, ifc, r.order.Uint32(b[4:]), r.order.Uint32(b[8:]), b[20:20+caplen], orig)
	if err != nil {
		return Packet{}, false, err
	}
	opts := b[min(20+(int(caplen)+3)&^3, len(b)):]
	err = r.options(opts, func(code uint16, v []byte) error {
		if code == ngOptFlags && len(v) >= 4 {
			switch r.order.Uint32(v) & 3 {
			case 1:
				p.Direction = DirInbound
			case 2:
				p.Direction = DirOutbound
			}
		}
		return nil
	})
	return p, err == nil, err
}

func (r *Reader) readSimple(b []byte) (Packet, bool, error) {
	if len(b) < 4 {
		return Packet{}, false, fmt.Errorf("%w: pcapng simple packet block of %d bytes", ErrFormat, len(b))
	}
	ifc, err := r.iface(0)
	if err != nil {
		return Packet{}, false, err
	}
	orig := r.order.Uint32(b[0:])
	n := min(int64(orig), int64(len(b)-4))
	if ifc.snapLen > 0 {
		n = min(n, int64(ifc.snapLen))
	}
	// A simple packet block has no timestamp.
	return Packet{Data: b[4 : 4+n], LinkType: int(ifc.linkType), Truncated: int64(orig) > n}, true, nil
}

func (r *Reader) readObsolete(b []byte) (Packet, bool, error) {
	if len(b) < 20 {
		return Packet{}, false, fmt.Errorf("%w: pcapng packet block of %d bytes", ErrFormat, len(b))
	}
	id := uint32(r.order.Uint16(b[0:]))
	ifc, err := r.iface(id)
	if err != nil {
		return Packet{}, false, err
	}
	caplen, orig := r.order.Uint32(b[12:]), r.order.Uint32(b[16:])
	if int64(caplen) > int64(len(b)-20) {
		return Packet{}, false, fmt.Errorf("%w: pcapng packet of %d bytes in a block of %d", ErrFormat, caplen, len(b))
	}
	p, err := r.packet(id, ifc, r.order.Uint32(b[4:]), r.order.Uint32(b[8:]), b[20:20+caplen], orig)
	return p, err == nil, err
}

// time converts a timestamp in the interface's units.
func (ifc *ngInterface) time(ts uint64) (time.Time, error) {
	var sec, nsec uint64
	if ifc.pow2 {
		sec = ts >> ifc.exp
		frac := ts & (1<<ifc.exp - 1)
		hi, lo := bits.Mul64(frac, 1e9)
		if ifc.exp > 0 {
			nsec = lo>>ifc.exp | hi<<(64-ifc.exp)
		}
	} else {
		unit := pow10(ifc.exp)
		sec = ts / unit
		frac := ts % unit
		if ifc.exp <= 9 {
			nsec = frac * pow10(9-ifc.exp)
		} else {
			nsec = frac / pow10(ifc.exp-9)
		}
	}
	if sec > 1<<40 {
		return time.Time{}, fmt.Errorf("%w: pcapng timestamp %d seconds", ErrFormat, sec)
	}
	return time.Unix(int64(sec)+ifc.offset, int64(nsec)).UTC(), nil
}

func pow10(n uint8) uint64 {
	p := uint64(1)
	for range n {
		p *= 10
	}
	return p
}
