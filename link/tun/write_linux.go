//go:build linux

package tun

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// vnetWriter writes packets with their virtio-net header to a device with
// offloads, one writev per packet or super-segment, without copying the
// payloads. One write is in flight at a time.
type vnetWriter struct {
	mu  sync.Mutex
	rc  syscall.RawConn
	fn  func(fd uintptr) bool // w.writev, bound once
	hdr []byte                // the header part of the write being made
	iov []unix.Iovec
	one [1][]byte // WritePacket's packet, as a batch
	n   int
	err error
}

func newVnetWriter(f *os.File) (*vnetWriter, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("tun: %w", err)
	}
	w := &vnetWriter{rc: rc, hdr: make([]byte, 0, 256), iov: make([]unix.Iovec, 0, 64)}
	w.fn = w.writev
	return w, nil
}

var errPartialNotTCP = errors.New("a packet without its checksum is not TCP")

// writev is the raw write of w.iov, for RawConn.Write.
func (w *vnetWriter) writev(fd uintptr) bool {
	for {
		r, _, e := unix.Syscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(unsafe.SliceData(w.iov))), uintptr(len(w.iov)))
		switch e {
		case 0:
			w.n, w.err = int(r), nil
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		w.n, w.err = 0, e
		return true
	}
}

func (w *vnetWriter) add(b []byte) {
	if len(b) == 0 {
		return
	}
	v := unix.Iovec{Base: unsafe.SliceData(b)}
	v.SetLen(len(b))
	w.iov = append(w.iov, v)
}

// writePacket writes one packet to d with an empty header.
func (w *vnetWriter) writePacket(d *Device, pkt []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.one[0] = pkt
	_, err := w.writeLocked(d, w.one[:], nil, false)
	w.one[0] = nil
	return err
}

// writePackets writes pkts to d: runs of TCP segments gsoRun accepts as
// one super-segment (when d's offloads allow it for their family), the
// rest one by one with a header saying nothing (their checksums are
// complete).
func (w *vnetWriter) writePackets(d *Device, pkts [][]byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writeLocked(d, pkts, nil, false)
}

// writePartial is writePackets for TCP packets whose checksums the
// kernel completes (NEEDS_CSUM) and, where segSize says so, that are
// super-segments of their own.
func (w *vnetWriter) writePartial(d *Device, pkts [][]byte, segSize []int) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writeLocked(d, pkts, segSize, true)
}

// writeLocked writes pkts; with partial set, every packet is TCP with a
// checksum left to the kernel, and segSize (when not nil) marks the
// super-segments.
func (w *vnetWriter) writeLocked(d *Device, pkts [][]byte, segSize []int, partial bool) (int, error) {
	defer func() {
		clear(w.iov) // drop the references to the packets
		w.iov = w.iov[:0]
	}()
	done := 0
	for len(pkts) > 0 {
		n, t0 := 1, tcpInfo{}
		size := 0
		if segSize != nil {
			size = segSize[0]
		}
		if len(pkts) > 1 && len(pkts[0]) > 0 && size == 0 {
			if v := pkts[0][0] >> 4; v == 4 && d.offloads&OffloadTSO4 != 0 || v == 6 && d.offloads&OffloadTSO6 != 0 {
				run := pkts
				for i := 1; segSize != nil && i < len(run); i++ {
					if segSize[i] != 0 {
						run = run[:i] // a super-segment goes alone
					}
				}
				n, t0 = gsoRun(run)
			}
		}
		w.iov = w.iov[:0]
		if n == 1 {
			w.hdr = append(w.hdr[:0], make([]byte, vnetHdrLen)...)
			if partial {
				h, ok := partialHeader(pkts[0], size)
				if !ok {
					return done, errPartialNotTCP
				}
				h.encode(w.hdr)
			}
			w.add(w.hdr)
			w.add(pkts[0])
		} else {
			w.hdr = appendGSOHeader(w.hdr[:0], pkts[:n], t0)
			w.add(w.hdr)
			for _, p := range pkts[:n] {
				w.add(p[t0.hdrLen:])
			}
		}
		if err := w.rc.Write(w.fn); err != nil {
			return done, err
		}
		if w.err != nil {
			if n > 1 {
				vh, _ := decodeVnetHdr(w.hdr)
				return done, fmt.Errorf("a super-segment of %d packets (%v): %w", n, vh, w.err)
			}
			return done, w.err
		}
		done += n
		switch {
		case n > 1:
			d.txPackets.Add(uint64(n))
			d.txSuper.Add(1)
		case size > 0 && len(pkts[0]) > d.mtu:
			// The stack's own super-segment: the packets it makes.
			h, _ := decodeVnetHdr(w.hdr)
			d.txPackets.Add(uint64((len(pkts[0]) - int(h.hdrLen) + size - 1) / size))
			d.txSuper.Add(1)
		default:
			d.txPackets.Add(1)
		}
		pkts = pkts[n:]
		if segSize != nil {
			segSize = segSize[n:]
		}
	}
	return done, nil
}
