package pcap

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"sync"
	"time"
)

// Writer writes a capture. It is safe for concurrent use: each packet's
// record goes to the underlying writer in a single Write call.
type Writer struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

// NewWriter writes the global header of a nanosecond-resolution,
// LINKTYPE_RAW capture to w and returns a Writer for its packets.
func NewWriter(w io.Writer) (*Writer, error) {
	if _, err := w.Write(FileHeader()); err != nil {
		return nil, fmt.Errorf("pcap: writing file header: %w", err)
	}
	return &Writer{w: w}, nil
}

// FileHeader returns the 24-byte global header Writer writes.
func FileHeader() []byte {
	h := make([]byte, fileHeaderLen)
	le := binary.LittleEndian
	le.PutUint32(h[0:], MagicNanoseconds)
	le.PutUint16(h[4:], 2) // version 2.4
	le.PutUint16(h[6:], 4)
	// h[8:16]: thiszone and sigfigs, both zero
	le.PutUint32(h[16:], SnapLen)
	le.PutUint32(h[20:], LinkTypeRaw)
	return h
}

// WritePacket records pkt, an IPv4 or IPv6 packet, captured at ts. A packet
// longer than SnapLen is truncated, its original length kept. ts must lie
// between 1970 and 2106 (the format's 32-bit seconds field).
func (w *Writer) WritePacket(ts time.Time, pkt []byte) error {
	sec := ts.Unix()
	if sec < 0 || sec > math.MaxUint32 {
		return fmt.Errorf("pcap: timestamp %v out of the format's range", ts)
	}
	if uint64(len(pkt)) > math.MaxUint32 {
		return fmt.Errorf("pcap: packet of %d bytes too long", len(pkt))
	}
	incl := min(len(pkt), SnapLen)

	w.mu.Lock()
	defer w.mu.Unlock()
	b := w.buf[:0]
	b = binary.LittleEndian.AppendUint32(b, uint32(sec))
	b = binary.LittleEndian.AppendUint32(b, uint32(ts.Nanosecond()))
	b = binary.LittleEndian.AppendUint32(b, uint32(incl))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(pkt)))
	b = append(b, pkt[:incl]...)
	w.buf = b
	if _, err := w.w.Write(b); err != nil {
		return fmt.Errorf("pcap: writing packet: %w", err)
	}
	return nil
}
