package stack

import (
	"net/netip"

	"github.com/synack/synack/link"
)

// route is one attached link and the addresses it carries.
type route struct {
	l        link.Link
	mtu      int
	addrs    []netip.Addr   // host addresses, in the order given
	prefixes []netip.Prefix // their on-link prefixes
}

// source returns the link's first address of dst's family.
func (r *route) source(dst netip.Addr) (netip.Addr, bool) {
	for _, a := range r.addrs {
		if a.Is4() == dst.Is4() {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// mss is the largest TCP payload the link carries towards dst.
func (r *route) mss(dst netip.Addr) int {
	if dst.Is4() {
		return r.mtu - 40
	}
	return r.mtu - 60
}

// routeTable is an immutable snapshot of the stack's links; AddLink
// replaces it, readers load it without a lock.
type routeTable struct {
	links []*route
	local map[netip.Addr]bool
}

// lookup picks the link towards dst: the first whose on-link prefix holds
// dst, else the default link (the first added) if it has an address of
// dst's family, else the first link that has one.
func (rt *routeTable) lookup(dst netip.Addr) *route {
	for _, r := range rt.links {
		for _, p := range r.prefixes {
			if p.Contains(dst) {
				return r
			}
		}
	}
	for _, r := range rt.links {
		if _, ok := r.source(dst); ok {
			return r
		}
	}
	return nil
}
