//go:build linux

// Package tun attaches a synack stack to a Linux TUN device: a layer-3
// network interface whose kernel side is an ordinary interface (addresses,
// routes, sockets, tcpdump) and whose other side is a file descriptor that
// reads and writes whole IP packets.
//
// Open creates the device (or opens an existing, persistent one) with
// IFF_TUN|IFF_NO_PI, optionally inside a network namespace, and can give
// the kernel side its addresses, MTU and bring it up. The *Device it
// returns is a link.Link: one goroutine reads packets and hands them to the
// stack; writes go straight to the file descriptor.
//
// Unless Options.DisableOffload is set, the device is opened with
// IFF_VNET_HDR and the offloads the kernel accepts (TUNSETOFFLOAD: checksum,
// TSO for IPv4 and IPv6, USO where the kernel has it; Device.Offloads says
// which). Every packet then carries a virtio-net header: the kernel hands
// over TCP super-segments of up to 64 KiB with their checksums left to
// complete, which go whole to a receiver that implements
// link.OffloadReceiver (a synack stack) and are split into MTU-sized
// packets with full checksums for any other; WritePackets
// (link.BatchWriter) joins consecutive TCP segments of one flow into one
// super-segment written with a single system call, checksum left to the
// kernel. A kernel that refuses every offload gets a plain device.
//
// Creating a TUN device needs CAP_NET_ADMIN; Open's errors then wrap
// os.ErrPermission, and fs.ErrNotExist when /dev/net/tun is missing.
package tun

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/synack/synack/link"
)

// Path is the clone device every TUN is opened through.
const Path = "/dev/net/tun"

// DefaultMTU is the MTU Open leaves a new device with when Options.MTU is 0
// (the kernel's own default for a TUN).
const DefaultMTU = 1500

// maxPacket is the largest packet a TUN read can return (IPv4 and IPv6
// without jumbograms top out at 64 KiB).
const maxPacket = 65535

// maxSuper is the largest packet a read of a device with offloads
// returns: an IPv6 header and 64 KiB of payload, with room to spare.
const maxSuper = 40 + 65535 + 1

// Options says which device to open and how to set up its kernel side.
type Options struct {
	// Name is the interface name (at most 15 bytes). Empty lets the kernel
	// choose ("tun0", "tun1", ...); Device.Name reports it. An existing
	// persistent device of that name is opened instead of created.
	Name string
	// NetNS, when set, is the network namespace the device is created in:
	// a name under /var/run/netns (as made by "ip netns add") or a path
	// such as /proc/PID/ns/net. The device's file descriptor keeps working
	// from the caller's namespace; only the interface lives in NetNS.
	NetNS string
	// MTU, when positive, is set on the interface; 0 keeps the device's
	// MTU (1500 for a new one).
	MTU int
	// Addrs are given to the kernel side of the interface; their prefixes
	// become on-link routes in NetNS. IPv6 addresses skip duplicate
	// address detection, which has no meaning on a point-to-point TUN.
	Addrs []netip.Prefix
	// Up brings the interface up (implied when Addrs is not empty).
	Up bool
	// Routes are added in NetNS through the interface once it is up: the
	// kernel then sends traffic for them into the device (a gateway's
	// clients reach any address in them through synack).
	Routes []netip.Prefix
	// DisableOffload opens the device without the virtio-net header: one
	// MTU-sized packet per read and write, checksums computed in full on
	// both sides.
	DisableOffload bool
}

// Device is an open TUN device. It implements link.Link.
type Device struct {
	f    *os.File
	name string
	mtu  int

	attach sync.Once
	done   chan struct{} // closed when the reader goroutine exits
	closed atomic.Bool

	offloads Offloads // zero: a plain device, no virtio-net header
	whole    bool     // the receiver takes super-segments whole (set by Attach)
	w        *vnetWriter

	rxPackets, txPackets, rxErrors atomic.Uint64
	rxSuper, rxSplit, txSuper      atomic.Uint64
}

var (
	_ link.Link        = (*Device)(nil)
	_ link.BatchWriter = (*Device)(nil)
)

// Open opens (creating if needed) the TUN device opts describes and
// configures its kernel side. The caller must Close it.
func Open(opts Options) (*Device, error) {
	if len(opts.Name) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("tun: interface name %q longer than %d bytes", opts.Name, unix.IFNAMSIZ-1)
	}
	if opts.MTU < 0 || opts.MTU > maxPacket {
		return nil, fmt.Errorf("tun: MTU %d out of range", opts.MTU)
	}
	for _, p := range opts.Addrs {
		if !p.IsValid() {
			return nil, fmt.Errorf("tun: invalid address %v", p)
		}
	}
	var (
		fd   int
		name string
		offl Offloads
	)
	err := inNetNS(opts.NetNS, func() error {
		var err error
		fd, name, offl, err = create(opts.Name, !opts.DisableOffload)
		return err
	})
	if err != nil {
		return nil, err
	}
	d := &Device{
		// A non-blocking descriptor joins the runtime's poller, so that a
		// blocked Read returns when the device is closed.
		f:        os.NewFile(uintptr(fd), Path),
		name:     name,
		done:     make(chan struct{}),
		offloads: offl,
	}
	if offl != 0 {
		if d.w, err = newVnetWriter(d.f); err != nil {
			d.f.Close()
			return nil, err
		}
	}
	mtu, err := configure(opts, name)
	if err != nil {
		d.f.Close()
		return nil, err
	}
	d.mtu = mtu
	return d, nil
}

// create opens the clone device and attaches it to interface name, in the
// calling thread's network namespace; with offload it asks for the
// virtio-net header and the offloads, and falls back to a plain device if
// the kernel accepts none.
func create(name string, offload bool) (int, string, Offloads, error) {
	if offload {
		fd, got, offl, err := createWith(name, true)
		if err != nil || offl != 0 {
			return fd, got, offl, err
		}
		unix.Close(fd) // nothing accepted: reopen plain
	}
	fd, got, _, err := createWith(name, false)
	return fd, got, 0, err
}

// offloadTries are the offload sets asked of TUNSETOFFLOAD, most first: a
// kernel without USO (before 6.2) or without TSO refuses the whole set
// with EINVAL.
var offloadTries = []Offloads{
	OffloadCsum | OffloadTSO4 | OffloadTSO6 | OffloadTSOECN | OffloadUSO4 | OffloadUSO6,
	OffloadCsum | OffloadTSO4 | OffloadTSO6 | OffloadTSOECN,
	OffloadCsum | OffloadTSO4 | OffloadTSO6,
	OffloadCsum,
}

func createWith(name string, vnet bool) (int, string, Offloads, error) {
	fd, err := unix.Open(Path, unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		// ENOENT and EACCES/EPERM match fs.ErrNotExist and os.ErrPermission.
		return -1, "", 0, fmt.Errorf("tun: open %s: %w", Path, err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return -1, "", 0, fmt.Errorf("tun: interface name %q: %w", name, err)
	}
	flags := uint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if vnet {
		flags |= unix.IFF_VNET_HDR
	}
	ifr.SetUint16(flags)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EPERM) {
			return -1, "", 0, fmt.Errorf("tun: creating %q needs CAP_NET_ADMIN: %w", name, err)
		}
		return -1, "", 0, fmt.Errorf("tun: TUNSETIFF %q: %w", name, err)
	}
	if !vnet {
		return fd, ifr.Name(), 0, nil
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TUNSETVNETHDRSZ, vnetHdrLen); err != nil {
		return fd, ifr.Name(), 0, nil
	}
	for _, o := range offloadTries {
		if err := unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, int(o.tunFlags())); err == nil {
			return fd, ifr.Name(), o, nil
		}
	}
	return fd, ifr.Name(), 0, nil
}

// Name returns the interface name.
func (d *Device) Name() string { return d.name }

// MTU implements link.Link.
func (d *Device) MTU() int { return d.mtu }

// Offloads returns the offloads the device uses; zero for a plain device
// (opened with Options.DisableOffload, or on a kernel that refused them).
func (d *Device) Offloads() Offloads { return d.offloads }

// WritePacket implements link.Link: it writes pkt, one IP packet, to the
// device, which hands it to the kernel as if it had arrived on the
// interface.
func (d *Device) WritePacket(pkt []byte) error {
	if d.closed.Load() {
		return fmt.Errorf("tun: write %s: %w", d.name, net.ErrClosed)
	}
	if d.w != nil {
		if err := d.w.writePacket(d, pkt); err != nil {
			return fmt.Errorf("tun: write %s: %w", d.name, err)
		}
		return nil
	}
	if _, err := d.f.Write(pkt); err != nil {
		return fmt.Errorf("tun: write %s: %w", d.name, err)
	}
	d.txPackets.Add(1)
	return nil
}

// WritePackets implements link.BatchWriter. With offloads, consecutive TCP
// segments of one flow (same headers but for the sequence number and PSH
// on the last, full-sized but for the last) go as one super-segment of up
// to 64 KiB whose checksum the kernel completes; everything else goes one
// packet per write.
func (d *Device) WritePackets(pkts [][]byte) (int, error) {
	if d.closed.Load() {
		return 0, fmt.Errorf("tun: write %s: %w", d.name, net.ErrClosed)
	}
	if d.w != nil {
		n, err := d.w.writePackets(d, pkts)
		if err != nil {
			err = fmt.Errorf("tun: write %s: %w", d.name, err)
		}
		return n, err
	}
	for i, p := range pkts {
		if _, err := d.f.Write(p); err != nil {
			return i, fmt.Errorf("tun: write %s: %w", d.name, err)
		}
		d.txPackets.Add(1)
	}
	return len(pkts), nil
}

var (
	_ link.PartialWriter  = (*Device)(nil)
	_ link.SuperSegmenter = (*Device)(nil)
)

// PartialChecksums implements link.PartialWriter: true when the device
// uses the checksum offload.
func (d *Device) PartialChecksums() bool { return d.offloads&OffloadCsum != 0 && d.w != nil }

// MaxSuperSegment implements link.SuperSegmenter: with the checksum and
// both TSO offloads, a stack may write TCP super-segments of up to
// link.MaxSuperPayload bytes of payload (WritePacketsPartial), which the
// kernel takes as GSO packets.
func (d *Device) MaxSuperSegment() int {
	if d.PartialChecksums() && d.offloads&(OffloadTSO4|OffloadTSO6) == OffloadTSO4|OffloadTSO6 {
		return link.MaxSuperPayload
	}
	return 0
}

// WritePacketsPartial implements link.PartialWriter: WritePackets for TCP
// packets whose checksums the kernel completes (NEEDS_CSUM), the
// super-segments among them (segSize[i] > 0) written as GSO packets of
// segments of segSize[i] bytes of payload.
func (d *Device) WritePacketsPartial(pkts [][]byte, segSize []int) (int, error) {
	if d.closed.Load() {
		return 0, fmt.Errorf("tun: write %s: %w", d.name, net.ErrClosed)
	}
	if !d.PartialChecksums() {
		return 0, fmt.Errorf("tun: write %s: partial checksums without the checksum offload: %w", d.name, errors.ErrUnsupported)
	}
	if segSize != nil && len(segSize) != len(pkts) {
		return 0, fmt.Errorf("tun: write %s: %d segment sizes for %d packets", d.name, len(segSize), len(pkts))
	}
	n, err := d.w.writePartial(d, pkts, segSize)
	if err != nil {
		err = fmt.Errorf("tun: write %s: %w", d.name, err)
	}
	return n, err
}

// Attach implements link.Link: it starts the goroutine that reads packets
// from the device and delivers them to r. Later calls do nothing. With
// offloads, a receiver that implements link.OffloadReceiver gets TCP
// super-segments whole and checksums unverified; any other gets them
// split, with checksums completed.
func (d *Device) Attach(r link.Receiver) {
	d.attach.Do(func() {
		or, ok := r.(link.OffloadReceiver)
		d.whole = ok && d.offloads != 0
		go d.read(r, or)
	})
}

// read delivers every packet the kernel sends through the device to r,
// until the device is closed.
func (d *Device) read(r link.Receiver, or link.OffloadReceiver) {
	defer close(d.done)
	var (
		buf     = make([]byte, vnetHdrLen+maxSuper)
		scratch []byte
		split   = func(p []byte) { d.rxPackets.Add(1); r.DeliverPacket(p) }
	)
	for {
		n, err := d.f.Read(buf)
		switch {
		case err == nil && n > 0 && d.offloads == 0:
			d.rxPackets.Add(1)
			r.DeliverPacket(buf[:n])
		case err == nil && n > 0:
			scratch = d.receive(buf[:n], r, or, scratch, split)
		case err == nil, errors.Is(err, unix.EINTR):
		case d.closed.Load(), errors.Is(err, os.ErrClosed), errors.Is(err, io.EOF),
			errors.Is(err, unix.EBADFD), errors.Is(err, unix.EIO):
			// Closed, or the interface went away (its namespace was
			// deleted): nothing more will come.
			return
		default:
			// A transient error (ENOBUFS, ...): count it and go on. The
			// loop cannot spin: the poller only wakes it when readable.
			d.rxErrors.Add(1)
		}
	}
}

// receive handles one read of a device with offloads: the virtio-net
// header and the packet behind it. Super-segments go whole to or when the
// device delivers whole, else through split (a packet at a time, built in
// scratch, which it returns for reuse). Malformed reads count as errors.
func (d *Device) receive(b []byte, r link.Receiver, or link.OffloadReceiver, scratch []byte, split func([]byte)) []byte {
	h, err := decodeVnetHdr(b)
	if err != nil {
		d.rxErrors.Add(1)
		return scratch
	}
	pkt := b[vnetHdrLen:]
	switch h.gsoType &^ gsoECN {
	case gsoNone:
		d.rxPackets.Add(1)
		switch {
		case d.whole && h.flags&(vnetNeedsCsum|vnetDataValid) != 0 && isTCP(pkt):
			or.DeliverOffloaded(pkt)
		case h.flags&vnetNeedsCsum != 0:
			if completeCsum(h, pkt) != nil {
				d.rxErrors.Add(1)
				return scratch
			}
			r.DeliverPacket(pkt)
		default:
			r.DeliverPacket(pkt)
		}
		return scratch
	case gsoTCPv4, gsoTCPv6:
		if d.whole {
			d.rxPackets.Add(1)
			d.rxSuper.Add(1)
			or.DeliverOffloaded(pkt)
			return scratch
		}
	}
	// UDP super-datagrams are split with their checksums (the receiver
	// trusts offloaded TCP only); so are TCP super-segments for a receiver
	// that takes none whole.
	d.rxSplit.Add(1)
	scratch, err = splitGSO(h, pkt, scratch, true, split)
	if err != nil {
		d.rxErrors.Add(1)
	}
	return scratch
}

// Stats are a device's packet counters.
type Stats struct {
	// RxPackets counts packets delivered to the receiver (a super-segment
	// handed whole counts once), TxPackets packets written (a
	// super-segment counts as the packets it joined), RxErrors failed or
	// malformed reads.
	RxPackets, TxPackets, RxErrors uint64
	// RxSuper counts super-segments delivered whole, RxSplit those split
	// into packets, TxSuper super-segments written.
	RxSuper, RxSplit, TxSuper uint64
}

// Stats returns the device's counters.
func (d *Device) Stats() Stats {
	return Stats{
		RxPackets: d.rxPackets.Load(), TxPackets: d.txPackets.Load(), RxErrors: d.rxErrors.Load(),
		RxSuper: d.rxSuper.Load(), RxSplit: d.rxSplit.Load(), TxSuper: d.txSuper.Load(),
	}
}

// Close implements link.Link. It closes the file descriptor, which removes
// a non-persistent device, and waits for the reader goroutine to finish.
func (d *Device) Close() error {
	if d.closed.Swap(true) {
		return fmt.Errorf("tun: close %s: %w", d.name, net.ErrClosed)
	}
	err := d.f.Close()
	d.attach.Do(func() { close(d.done) }) // never attached: no reader to wait for
	<-d.done
	if err != nil {
		return fmt.Errorf("tun: close %s: %w", d.name, err)
	}
	return nil
}
