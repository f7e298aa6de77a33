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
}

// Device is an open TUN device. It implements link.Link.
type Device struct {
	f    *os.File
	name string
	mtu  int

	attach sync.Once
	done   chan struct{} // closed when the reader goroutine exits
	closed atomic.Bool

	rxPackets, txPackets, rxErrors atomic.Uint64
}

var _ link.Link = (*Device)(nil)

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
	)
	err := inNetNS(opts.NetNS, func() error {
		var err error
		fd, name, err = create(opts.Name)
		return err
	})
	if err != nil {
		return nil, err
	}
	d := &Device{
		// A non-blocking descriptor joins the runtime's poller, so that a
		// blocked Read returns when the device is closed.
		f:    os.NewFile(uintptr(fd), Path),
		name: name,
		done: make(chan struct{}),
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
// calling thread's network namespace.
func create(name string) (int, string, error) {
	fd, err := unix.Open(Path, unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		// ENOENT and EACCES/EPERM match fs.ErrNotExist and os.ErrPermission.
		return -1, "", fmt.Errorf("tun: open %s: %w", Path, err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return -1, "", fmt.Errorf("tun: interface name %q: %w", name, err)
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EPERM) {
			return -1, "", fmt.Errorf("tun: creating %q needs CAP_NET_ADMIN: %w", name, err)
		}
		return -1, "", fmt.Errorf("tun: TUNSETIFF %q: %w", name, err)
	}
	return fd, ifr.Name(), nil
}

// Name returns the interface name.
func (d *Device) Name() string { return d.name }

// MTU implements link.Link.
func (d *Device) MTU() int { return d.mtu }

// WritePacket implements link.Link: it writes pkt, one IP packet, to the
// device, which hands it to the kernel as if it had arrived on the
// interface.
func (d *Device) WritePacket(pkt []byte) error {
	if d.closed.Load() {
		return fmt.Errorf("tun: write %s: %w", d.name, net.ErrClosed)
	}
	if _, err := d.f.Write(pkt); err != nil {
		return fmt.Errorf("tun: write %s: %w", d.name, err)
	}
	d.txPackets.Add(1)
	return nil
}

// Attach implements link.Link: it starts the goroutine that reads packets
// from the device and delivers them to r. Later calls do nothing.
func (d *Device) Attach(r link.Receiver) {
	d.attach.Do(func() { go d.read(r) })
}

// read delivers every packet the kernel sends through the device to r,
// until the device is closed.
func (d *Device) read(r link.Receiver) {
	defer close(d.done)
	buf := make([]byte, maxPacket)
	for {
		n, err := d.f.Read(buf)
		switch {
		case err == nil && n > 0:
			d.rxPackets.Add(1)
			r.DeliverPacket(buf[:n])
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

// Stats are a device's packet counters.
type Stats struct {
	RxPackets, TxPackets, RxErrors uint64
}

// Stats returns the device's counters: packets read from the kernel,
// packets written to it, and failed reads.
func (d *Device) Stats() Stats {
	return Stats{RxPackets: d.rxPackets.Load(), TxPackets: d.txPackets.Load(), RxErrors: d.rxErrors.Load()}
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
