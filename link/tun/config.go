//go:build linux

package tun

import (
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// configure sets the MTU, addresses and state of interface name in
// opts.NetNS over rtnetlink and returns its MTU.
func configure(opts Options, name string) (int, error) {
	ns := netns.None()
	if opts.NetNS != "" {
		var err error
		if ns, err = nsHandle(opts.NetNS); err != nil {
			return 0, err
		}
		defer ns.Close()
	}
	// A handle bound to the namespace talks to its rtnetlink without
	// moving any thread there.
	var (
		h   *netlink.Handle
		err error
	)
	if ns.IsOpen() {
		h, err = netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	} else {
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
	}
	if err != nil {
		return 0, fmt.Errorf("tun: netlink: %w", err)
	}
	defer h.Close()
	l, err := h.LinkByName(name)
	if err != nil {
		return 0, fmt.Errorf("tun: finding %s: %w", name, err)
	}
	if opts.MTU > 0 && opts.MTU != l.Attrs().MTU {
		if err := h.LinkSetMTU(l, opts.MTU); err != nil {
			return 0, fmt.Errorf("tun: setting the MTU of %s to %d: %w", name, opts.MTU, err)
		}
	}
	for _, p := range opts.Addrs {
		a := &netlink.Addr{IPNet: &net.IPNet{
			IP:   p.Addr().Unmap().AsSlice(),
			Mask: net.CIDRMask(p.Bits()-ifv4(p.Addr().Is4In6(), 96), p.Addr().Unmap().BitLen()),
		}}
		if p.Addr().Is6() && !p.Addr().Is4In6() {
			a.Flags = unix.IFA_F_NODAD
		}
		if err := h.AddrAdd(l, a); err != nil {
			return 0, fmt.Errorf("tun: adding %v to %s: %w", p, name, err)
		}
	}
	if opts.Up || len(opts.Addrs) > 0 || len(opts.Routes) > 0 {
		if err := h.LinkSetUp(l); err != nil {
			return 0, fmt.Errorf("tun: bringing %s up: %w", name, err)
		}
	}
	for _, p := range opts.Routes {
		p = p.Masked()
		r := &netlink.Route{LinkIndex: l.Attrs().Index, Scope: netlink.SCOPE_LINK, Dst: &net.IPNet{
			IP:   p.Addr().AsSlice(),
			Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen()),
		}}
		if err := h.RouteAdd(r); err != nil {
			return 0, fmt.Errorf("tun: adding a route to %v through %s: %w", p, name, err)
		}
	}
	l, err = h.LinkByName(name)
	if err != nil {
		return 0, fmt.Errorf("tun: finding %s: %w", name, err)
	}
	return l.Attrs().MTU, nil
}

func ifv4(b bool, n int) int {
	if b {
		return n
	}
	return 0
}
