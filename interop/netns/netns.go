//go:build linux

// Package netns makes throw-away Linux network namespaces for synack's
// interoperability tests, and runs code, sockets and commands inside them.
//
// Nothing here touches the caller's own namespace: interfaces and
// addresses are made inside the namespaces, and Close deletes them.
package netns

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"runtime"
	"sync/atomic"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// NS is a named network namespace (visible to "ip netns").
type NS struct {
	Name string
	h    netns.NsHandle
}

var seq atomic.Uint32

// New creates a network namespace with a fresh name beginning with prefix
// and brings its loopback interface up. The caller must Close it.
func New(prefix string) (*NS, error) {
	name := fmt.Sprintf("%s-%d-%d", prefix, unix.Getpid(), seq.Add(1))
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("netns: current namespace: %w", err)
	}
	defer orig.Close()
	h, nerr := netns.NewNamed(name) // creates it and moves this thread in
	if err := netns.Set(orig); err != nil {
		// Keep the thread locked: it dies with this goroutine.
		return nil, fmt.Errorf("netns: back to the original namespace: %w", err)
	}
	runtime.UnlockOSThread()
	if nerr != nil {
		return nil, fmt.Errorf("netns: creating %s: %w", name, nerr)
	}
	n := &NS{Name: name, h: h}
	if err := n.setLoopbackUp(); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

func (n *NS) setLoopbackUp() error {
	h, err := n.Netlink()
	if err != nil {
		return err
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("netns: %s: lo: %w", n.Name, err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		return fmt.Errorf("netns: %s: lo up: %w", n.Name, err)
	}
	return nil
}

// Netlink returns an rtnetlink handle that works inside the namespace.
func (n *NS) Netlink() (*netlink.Handle, error) {
	h, err := netlink.NewHandleAt(n.h, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netns: netlink in %s: %w", n.Name, err)
	}
	return h, nil
}

// Close deletes the namespace. Interfaces in it go with it once no process
// holds it any more.
func (n *NS) Close() error {
	n.h.Close()
	if err := netns.DeleteNamed(n.Name); err != nil {
		return fmt.Errorf("netns: deleting %s: %w", n.Name, err)
	}
	return nil
}

// Do runs f on a thread inside the namespace. Sockets f creates stay in the
// namespace and may be used from any goroutine afterwards.
func (n *NS) Do(f func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns: current namespace: %w", err)
	}
	defer orig.Close()
	if err := netns.Set(n.h); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns: entering %s: %w", n.Name, err)
	}
	ferr := f()
	if err := netns.Set(orig); err != nil {
		return fmt.Errorf("netns: leaving %s: %w", n.Name, err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// Listen is net.Listen inside the namespace.
func (n *NS) Listen(network, address string) (net.Listener, error) {
	var l net.Listener
	err := n.Do(func() (err error) {
		l, err = net.Listen(network, address)
		return err
	})
	return l, err
}

// ListenPacket is net.ListenPacket inside the namespace.
func (n *NS) ListenPacket(network, address string) (net.PacketConn, error) {
	var c net.PacketConn
	err := n.Do(func() (err error) {
		c, err = net.ListenPacket(network, address)
		return err
	})
	return c, err
}

// DialContext is net.Dialer.DialContext inside the namespace.
func (n *NS) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	var c net.Conn
	err := n.Do(func() (err error) {
		var d net.Dialer
		c, err = d.DialContext(ctx, network, address)
		return err
	})
	return c, err
}

// Command returns a command that runs name with args inside the namespace
// (through "ip netns exec", which execs it: the process is the command).
func (n *NS) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// Veth connects a and b with a veth pair, interface name ifA in a and ifB in
// b, gives each end its addresses and brings both up. Both ends are created
// inside the namespaces.
func Veth(a *NS, ifA string, addrsA []netip.Prefix, b *NS, ifB string, addrsB []netip.Prefix) error {
	ha, err := a.Netlink()
	if err != nil {
		return err
	}
	defer ha.Close()
	v := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: ifA},
		PeerName:      ifB,
		PeerNamespace: netlink.NsFd(int(b.h)),
	}
	if err := ha.LinkAdd(v); err != nil {
		return fmt.Errorf("netns: veth %s/%s: %w", ifA, ifB, err)
	}
	hb, err := b.Netlink()
	if err != nil {
		return err
	}
	defer hb.Close()
	if err := configure(ha, ifA, addrsA); err != nil {
		return err
	}
	return configure(hb, ifB, addrsB)
}

// configure gives interface name its addresses (IPv6 without duplicate
// address detection) and brings it up.
func configure(h *netlink.Handle, name string, addrs []netip.Prefix) error {
	l, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("netns: %s: %w", name, err)
	}
	for _, p := range addrs {
		a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
		if p.Addr().Is6() {
			a.Flags = unix.IFA_F_NODAD
		}
		if err := h.AddrAdd(l, a); err != nil {
			return fmt.Errorf("netns: adding %v to %s: %w", p, name, err)
		}
	}
	if err := h.LinkSetUp(l); err != nil {
		return fmt.Errorf("netns: %s up: %w", name, err)
	}
	return nil
}
