// Package wgnet is synack as the network stack of a userspace WireGuard
// peer: CreateNetTUN returns a wireguard-go tun.Device backed by a synack
// stack, and a Net whose methods are those of wireguard-go's
// tun/netstack.Net (DialContext, DialTCP, ListenTCP, DialUDP, ListenUDP,
// LookupHost, …). A program written against tun/netstack switches to
// synack by changing one import:
//
//	tdev, tnet, err := wgnet.CreateNetTUN(addrs, dns, 1420) // was netstack.CreateNetTUN
//	dev := device.NewDevice(tdev, conn.NewDefaultBind(), device.NewLogger(device.LogLevelError, ""))
//
// The package is a module of its own, so that synack's core module never
// depends on wireguard-go.
package wgnet

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/synack/synack/link"
	"github.com/synack/synack/stack"
	"golang.zx2c4.com/wireguard/tun"
)

// BatchSize is how many packets Device.Read and Device.Write move per
// call at most (wireguard-go's conn.IdealBatchSize).
const BatchSize = 128

// queueLen bounds the packets the stack has written that wireguard-go has
// not read yet; more are dropped, as a full device queue drops them.
const queueLen = 1024

// Device is a wireguard-go tun.Device whose far side is a synack stack:
// packets wireguard-go writes (decrypted, from the tunnel) are delivered
// to the stack; packets the stack sends are read by wireguard-go (to be
// encrypted and sent).
type Device struct {
	mtu    int
	stk    *stack.Stack
	out    chan *[]byte // packets from the stack, for Read
	events chan tun.Event
	closed chan struct{}
	once   sync.Once
	drops  atomic.Uint64
	recv   link.Receiver
}

var _ tun.Device = (*Device)(nil)

// pool recycles packet buffers between the stack's writes and Read.
var pool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// CreateNetTUN makes a synack stack with localAddresses (each as a host
// address; the stack's default routes point into the device) and returns
// the tun.Device to give wireguard-go and the Net to dial and listen on.
// dnsServers are used by Net.LookupHost and by DialContext for names
// (unless opts of CreateNetTUNWithOptions sets a Resolver). mtu
// is the tunnel's MTU (1420 is WireGuard's usual).
func CreateNetTUN(localAddresses, dnsServers []netip.Addr, mtu int) (tun.Device, *Net, error) {
	return CreateNetTUNWithOptions(localAddresses, dnsServers, mtu, stack.Options{})
}

// CreateNetTUNWithOptions is CreateNetTUN with the stack's options.
func CreateNetTUNWithOptions(localAddresses, dnsServers []netip.Addr, mtu int, opts stack.Options) (tun.Device, *Net, error) {
	if mtu < 1280 && hasV6(localAddresses) || mtu < 576 {
		return nil, nil, fmt.Errorf("wgnet: MTU %d is below what IP needs (576 for IPv4, 1280 for IPv6)", mtu)
	}
	dev := &Device{
		mtu:    mtu,
		out:    make(chan *[]byte, queueLen),
		events: make(chan tun.Event, 10),
		closed: make(chan struct{}),
	}
	if opts.Resolver == nil && len(dnsServers) > 0 {
		// Names are looked up through the tunnel (A and AAAA, 2 s per
		// try, 3 rounds: the first query may wait for the handshake).
		r := &stack.Resolver{Timeout: 2 * time.Second, Attempts: 3}
		for _, a := range dnsServers {
			r.Servers = append(r.Servers, netip.AddrPortFrom(a, 53))
		}
		opts.Resolver = r
	}
	dev.stk = stack.New(opts)
	var prefixes []netip.Prefix
	for _, a := range localAddresses {
		prefixes = append(prefixes, netip.PrefixFrom(a, a.BitLen()))
	}
	if err := dev.stk.AddLink(deviceLink{dev}, prefixes...); err != nil {
		dev.stk.Close()
		return nil, nil, fmt.Errorf("wgnet: %w", err)
	}
	dev.events <- tun.EventUp
	return dev, &Net{stk: dev.stk}, nil
}

func hasV6(addrs []netip.Addr) bool {
	for _, a := range addrs {
		if a.Is6() && !a.Is4In6() {
			return true
		}
	}
	return false
}

// Stack is the synack stack behind the device, for its statistics,
// connection table and options.
func (d *Device) Stack() *stack.Stack { return d.stk }

// Name implements tun.Device.
func (d *Device) Name() (string, error) { return "synack", nil }

// File implements tun.Device: there is no file descriptor.
func (d *Device) File() *os.File { return nil }

// Events implements tun.Device.
func (d *Device) Events() <-chan tun.Event { return d.events }

// MTU implements tun.Device.
func (d *Device) MTU() (int, error) { return d.mtu, nil }

// BatchSize implements tun.Device.
func (d *Device) BatchSize() int { return BatchSize }

// Read implements tun.Device: it waits for one packet the stack sent, then
// takes as many more as are waiting, up to len(bufs).
func (d *Device) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	var bp *[]byte
	select {
	case bp = <-d.out:
	case <-d.closed:
		return 0, os.ErrClosed
	}
	n := 0
	for {
		if p := *bp; len(p) > len(bufs[n])-offset {
			// Larger than the caller's buffer: dropped, as a TUN drops it.
			d.drops.Add(1)
		} else {
			sizes[n] = copy(bufs[n][offset:], p)
			n++
		}
		pool.Put(bp)
		if n == len(bufs) {
			return n, nil
		}
		select {
		case bp = <-d.out:
		default:
			return n, nil
		}
	}
}

// Write implements tun.Device: every packet goes to the stack, which copies
// what it keeps.
func (d *Device) Write(bufs [][]byte, offset int) (int, error) {
	select {
	case <-d.closed:
		return 0, os.ErrClosed
	default:
	}
	for _, b := range bufs {
		if len(b) <= offset {
			continue
		}
		pkt := b[offset:]
		if v := pkt[0] >> 4; v != 4 && v != 6 {
			return 0, fmt.Errorf("wgnet: packet of IP version %d: %w", v, errors.ErrUnsupported)
		}
		if r := d.recv; r != nil {
			r.DeliverPacket(pkt)
		}
	}
	return len(bufs), nil
}

// Close implements tun.Device: it closes the stack (connections are
// aborted) and the events channel.
func (d *Device) Close() error {
	d.once.Do(func() {
		close(d.closed)
		d.stk.Close()
		close(d.events)
	})
	return nil
}

// Dropped counts the packets dropped between the stack and wireguard-go:
// the queue was full, or a packet was larger than Read's buffer.
func (d *Device) Dropped() uint64 { return d.drops.Load() }

// deviceLink is the stack's side of the device.
type deviceLink struct{ d *Device }

func (l deviceLink) MTU() int { return l.d.mtu }

func (l deviceLink) Attach(r link.Receiver) { l.d.recv = r }

func (l deviceLink) Close() error { return nil }

// WritePacket queues a copy of pkt for Device.Read, or drops it when the
// queue is full (the stack's congestion control sees a loss).
func (l deviceLink) WritePacket(pkt []byte) error {
	d := l.d
	if len(pkt) > d.mtu {
		return fmt.Errorf("wgnet: %d-byte packet: %w", len(pkt), link.ErrTooBig)
	}
	bp := pool.Get().(*[]byte)
	*bp = append((*bp)[:0], pkt...)
	select {
	case d.out <- bp:
	case <-d.closed:
		return os.ErrClosed
	default:
		d.drops.Add(1)
		pool.Put(bp)
	}
	return nil
}
