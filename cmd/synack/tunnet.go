package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/synack/synack/link"
	"github.com/synack/synack/link/tun"
	"github.com/synack/synack/pcap"
	"github.com/synack/synack/stack"
	"github.com/synack/synack/tcp"
)

// The addresses dial and get give synack when --addr is not set.
var defaultAddrs = []netip.Prefix{
	netip.MustParsePrefix("198.18.0.2/24"),
	netip.MustParsePrefix("fd00:5ac::2/64"),
}

// tunFlags are the flags serve, dial and get share: which TUN device,
// synack's addresses on it and the kernel side's.
type tunFlags struct {
	name  string
	netns string
	mtu   int
	addrs prefixList
	peers addrList
	pcap  string
	// noOffload opens the device without the virtio-net header.
	noOffload bool
	// routes are added on the kernel side through the device (gateway).
	routes prefixList
	trace  traceFlag
}

func (f *tunFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.name, "tun", "", "TUN device `NAME` to create or open (required)")
	fs.StringVar(&f.netns, "netns", "", "create the TUN device in network namespace `NS` (a name from \"ip netns\" or a path)")
	fs.IntVar(&f.mtu, "mtu", 0, "set the device's `MTU` (default: keep it, 1500 for a new device)")
	fs.Var(&f.addrs, "addr", "synack's own `ADDR/PREFIX` on the device (repeatable, IPv4 and IPv6)")
	fs.Var(&f.peers, "peer", "give the kernel side of the device `KERNEL_ADDR` (repeatable; inside the prefix of synack's --addr of the same family, not that address), and bring it up")
	fs.StringVar(&f.pcap, "pcap", "", "write every packet on the device to this pcap `FILE`")
	fs.BoolVar(&f.noOffload, "no-offload", false, "open the device without offloads (virtio-net header, TSO, checksum): one MTU-sized packet per read and write, complete checksums for a tcpdump of the kernel's side")
	f.trace.register(fs)
}

// minMTU4 is the smallest --mtu that carries TCP over IPv4: a 20-byte
// IPv4 header, a 20-byte TCP header and the 64 bytes of the smallest MSS
// synack uses (tcp.Config raises a smaller one to 64), so that no segment
// has to be fragmented. IPv6 needs its own minimum link MTU, 1280 (RFC
// 8200 §5).
const (
	minMTU4 = 20 + 20 + 64
	minMTU6 = 1280
)

// check validates the flags; defaults fills in --addr when it is optional.
func (f *tunFlags) check(defaults []netip.Prefix) error {
	if f.name == "" {
		return errors.New("--tun is required")
	}
	if len(f.addrs) == 0 {
		if defaults == nil {
			return errors.New("--addr is required")
		}
		f.addrs = defaults
	}
	for _, p := range f.peers {
		pp, ok := f.prefixFor(p)
		switch {
		case !ok:
			return fmt.Errorf("--peer %v: no --addr of its family", p)
		case p == pp.Addr():
			return fmt.Errorf("--peer %v is synack's own address (--addr %v); give the kernel another address of %v", p, pp, pp.Masked())
		case !pp.Contains(p):
			return fmt.Errorf("--peer %v is outside synack's prefix %v (--addr %v); the kernel would not reach synack on the device", p, pp.Masked(), pp)
		}
	}
	if f.mtu != 0 {
		lo := minMTU4
		for _, p := range f.addrs {
			if p.Addr().Is6() {
				lo = minMTU6
			}
		}
		switch {
		case f.mtu < 0 || f.mtu > 65535:
			return fmt.Errorf("--mtu %d: want 0 (keep the device's) or %d to 65535", f.mtu, lo)
		case f.mtu < lo && lo == minMTU6:
			return fmt.Errorf("--mtu %d is below IPv6's minimum of %d (RFC 8200); with an IPv6 --addr give at least %d", f.mtu, minMTU6, minMTU6)
		case f.mtu < lo:
			return fmt.Errorf("--mtu %d is too small: TCP over IPv4 needs %d (20-byte IPv4 header, 20-byte TCP header, 64-byte smallest MSS)", f.mtu, minMTU4)
		}
	}
	return nil
}

// prefixFor returns the --addr prefix of a's family.
func (f *tunFlags) prefixFor(a netip.Addr) (netip.Prefix, bool) {
	for _, p := range f.addrs {
		if p.Addr().Is4() == a.Is4() {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// netStack is a synack stack attached to a TUN device.
type netStack struct {
	*stack.Stack
	dev     *tun.Device
	capture *os.File
	trace   *traceWriter
}

// open opens the device, configures its kernel side and attaches a new
// stack to it.
func (f *tunFlags) open() (*netStack, error) {
	var kernel []netip.Prefix
	for _, p := range f.peers {
		pp, _ := f.prefixFor(p)
		kernel = append(kernel, netip.PrefixFrom(p, pp.Bits()))
	}
	dev, err := tun.Open(tun.Options{Name: f.name, NetNS: f.netns, MTU: f.mtu, Addrs: kernel, Up: true, Routes: f.routes, DisableOffload: f.noOffload})
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrPermission):
			return nil, fmt.Errorf("%w (run as root, or grant CAP_NET_ADMIN)", err)
		case errors.Is(err, fs.ErrNotExist) && f.netns == "":
			return nil, fmt.Errorf("%w (is the tun module loaded? modprobe tun)", err)
		case errors.Is(err, syscall.EBUSY):
			return nil, fmt.Errorf("TUN device %q is taken (another synack serve, dial or get holds it?): give this one another name with --tun NAME (%w)", f.name, err)
		}
		return nil, err
	}
	n := &netStack{dev: dev}
	var l link.Link = dev
	if f.pcap != "" {
		if n.capture, err = os.Create(f.pcap); err != nil {
			dev.Close()
			return nil, err
		}
		w, err := pcap.NewWriter(n.capture)
		if err != nil {
			n.capture.Close()
			dev.Close()
			return nil, err
		}
		l = link.Sniff(dev, func(_ link.Direction, pkt []byte) { w.WritePacket(time.Now(), pkt) })
	}
	if n.trace, err = f.trace.open(time.Now()); err != nil {
		n.Close()
		return nil, err
	}
	var opts stack.Options
	n.trace.hook("synack", &opts)
	n.Stack = stack.New(opts)
	if err := n.AddLink(l, f.addrs...); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// describe says where the stack is, for the log.
func (n *netStack) describe(f *tunFlags) string {
	var as []string
	for _, p := range f.addrs {
		as = append(as, p.String())
	}
	s := fmt.Sprintf("tun %s (MTU %d, offloads %v), synack %s", n.dev.Name(), n.dev.MTU(), n.dev.Offloads(), strings.Join(as, " "))
	if len(f.peers) > 0 {
		var ps []string
		for _, p := range f.peers {
			ps = append(ps, p.String())
		}
		s += ", kernel " + strings.Join(ps, " ")
	}
	if f.netns != "" {
		s += ", netns " + f.netns
	}
	return s
}

// Close closes the stack, then the device and the capture.
func (n *netStack) Close() error {
	if n.Stack != nil {
		n.Stack.Close()
	}
	err := n.dev.Close()
	if n.capture != nil {
		if cerr := n.capture.Close(); err == nil {
			err = cerr
		}
	}
	if cerr := n.trace.Close(); err == nil {
		err = cerr
	}
	return err
}

// settle waits, at most d, until every conn has finished its closing
// handshake (TIME-WAIT or CLOSED), so that closing the stack afterwards
// sends no RST.
func settle(ctx context.Context, d time.Duration, conns ...*stack.Conn) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		done := true
		for _, c := range conns {
			switch c.State() {
			case tcp.StateTimeWait, tcp.StateClosed:
			default:
				done = false
			}
		}
		if done {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// prefixList is a repeatable ADDR/PREFIX flag.
type prefixList []netip.Prefix

func (l *prefixList) String() string { return joinStrings(*l) }

func (l *prefixList) Set(s string) error {
	for _, part := range strings.Split(s, ",") {
		p, err := netip.ParsePrefix(strings.TrimSpace(part))
		if err != nil {
			return fmt.Errorf("want ADDR/PREFIX: %w", err)
		}
		*l = append(*l, p)
	}
	return nil
}

// addrList is a repeatable address flag.
type addrList []netip.Addr

func (l *addrList) String() string { return joinStrings(*l) }

func (l *addrList) Set(s string) error {
	for _, part := range strings.Split(s, ",") {
		a, err := netip.ParseAddr(strings.Trim(strings.TrimSpace(part), "[]"))
		if err != nil {
			return err
		}
		*l = append(*l, a)
	}
	return nil
}

func joinStrings[T fmt.Stringer](xs []T) string {
	var ss []string
	for _, x := range xs {
		ss = append(ss, x.String())
	}
	return strings.Join(ss, ",")
}
