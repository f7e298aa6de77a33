package stack

import (
	"cmp"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"

	"github.com/synack/synack/link"
)

// Route is one entry of a stack's route table: packets to an address in
// Prefix leave through Link. Lookups take the longest matching prefix;
// among equal prefixes, the route added first.
type Route struct {
	// Prefix holds the destinations the route covers (masked);
	// 0.0.0.0/0 and ::/0 are default routes.
	Prefix netip.Prefix
	// Link is the attached link the packets leave through.
	Link link.Link
	// Gateway is the next hop, if any. synack's links carry IP packets
	// (layer 3), so there is nothing to resolve: it is kept for display
	// and ignored.
	Gateway netip.Addr
}

// route is one attached link and the addresses it carries (the name is
// older than the route table: it is what a lookup yields).
type route struct {
	l        link.Link
	mtu      int
	addrs    []netip.Addr   // host addresses, in the order given
	prefixes []netip.Prefix // their on-link prefixes
}

// source selects the source address for a packet to dst leaving through
// r (RFC 6724, much reduced): an address of dst's family whose on-link
// prefix holds dst, the longest such prefix first; else r's first address
// of that family.
func (r *route) source(dst netip.Addr) (netip.Addr, bool) {
	best, bits := netip.Addr{}, -1
	for i, a := range r.addrs {
		if a.Is4() != dst.Is4() {
			continue
		}
		if p := r.prefixes[i]; p.Contains(dst) && p.Bits() > bits {
			best, bits = a, p.Bits()
		}
	}
	if best.IsValid() {
		return best, true
	}
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

// routeEntry is a Route resolved to its attached link.
type routeEntry struct {
	prefix  netip.Prefix
	r       *route
	gateway netip.Addr
}

// routeTable is an immutable snapshot of the stack's links, addresses
// and routes; every change replaces it, readers load it without a lock.
type routeTable struct {
	links   []*route
	entries []routeEntry // longest prefix first; stable among equals
	local   map[netip.Addr]bool
}

// lookup picks the link towards dst: the route with the longest prefix
// holding dst; nil when none does.
func (rt *routeTable) lookup(dst netip.Addr) *route {
	for _, e := range rt.entries {
		if e.prefix.Contains(dst) {
			return e.r
		}
	}
	return nil
}

// find returns the attached route of l, or nil.
func (rt *routeTable) find(l link.Link) *route {
	for _, r := range rt.links {
		if r.l == l {
			return r
		}
	}
	return nil
}

// clone returns a copy of rt that can be changed: new slices, and new
// route values so that the published ones stay immutable.
func (rt *routeTable) clone() (*routeTable, map[*route]*route) {
	n := &routeTable{local: make(map[netip.Addr]bool)}
	m := make(map[*route]*route, len(rt.links))
	for _, r := range rt.links {
		c := &route{l: r.l, mtu: r.mtu, addrs: slices.Clone(r.addrs), prefixes: slices.Clone(r.prefixes)}
		m[r] = c
		n.links = append(n.links, c)
	}
	for _, e := range rt.entries {
		e.r = m[e.r]
		n.entries = append(n.entries, e)
	}
	for a := range rt.local {
		n.local[a] = true
	}
	return n, m
}

// finish recomputes the local addresses and sorts the entries.
func (rt *routeTable) finish() {
	for _, r := range rt.links {
		for _, a := range r.addrs {
			rt.local[a] = true
		}
	}
	slices.SortStableFunc(rt.entries, func(a, b routeEntry) int {
		return cmp.Compare(b.prefix.Bits(), a.prefix.Bits())
	})
}

// hasRoute reports whether rt has a route for exactly p.
func (rt *routeTable) hasRoute(p netip.Prefix) bool {
	for _, e := range rt.entries {
		if e.prefix == p {
			return true
		}
	}
	return false
}

// addAddress adds the host address of p to r with its on-link route, and
// a default route of its family through r if the table has none yet.
func (rt *routeTable) addAddress(r *route, p netip.Prefix) error {
	a, pp, err := hostPrefix(p)
	if err != nil {
		return err
	}
	if rt.local[a] || slices.Contains(r.addrs, a) {
		return fmt.Errorf("%v: %w", a, os.ErrExist)
	}
	r.addrs = append(r.addrs, a)
	r.prefixes = append(r.prefixes, pp)
	rt.local[a] = true
	if !rt.hasRouteVia(pp, r) {
		rt.entries = append(rt.entries, routeEntry{prefix: pp, r: r})
	}
	def := netip.PrefixFrom(netip.IPv6Unspecified(), 0)
	if a.Is4() {
		def = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
	}
	if !rt.hasRoute(def) {
		rt.entries = append(rt.entries, routeEntry{prefix: def, r: r})
	}
	return nil
}

func (rt *routeTable) hasRouteVia(p netip.Prefix, r *route) bool {
	for _, e := range rt.entries {
		if e.prefix == p && e.r == r {
			return true
		}
	}
	return false
}

// hostPrefix checks a host address with its prefix length and returns the
// address (unmapped) and its masked on-link prefix.
func hostPrefix(p netip.Prefix) (netip.Addr, netip.Prefix, error) {
	if !p.IsValid() {
		return netip.Addr{}, netip.Prefix{}, fmt.Errorf("invalid prefix %v", p)
	}
	a := p.Addr().Unmap()
	if a.IsUnspecified() || a.IsMulticast() || a.Zone() != "" {
		return netip.Addr{}, netip.Prefix{}, fmt.Errorf("%v cannot be a host address", a)
	}
	bits := p.Bits()
	if a.Is4() && bits > 32 {
		bits -= 96
	}
	pp, err := a.Prefix(bits)
	if err != nil {
		return netip.Addr{}, netip.Prefix{}, err
	}
	return a, pp, nil
}

// AddAddress adds a host address, with its prefix length, to l, which
// must have been attached with AddLink. Its prefix becomes an on-link
// route through l, and if the stack has no default route of the address's
// family yet, l gets one. Adding an address the stack already has fails
// with an error wrapping os.ErrExist.
func (s *Stack) AddAddress(l link.Link, addr netip.Prefix) error {
	return s.changeRoutes("AddAddress", func(rt *routeTable) error {
		r := rt.find(l)
		if r == nil {
			return fmt.Errorf("link not attached")
		}
		return rt.addAddress(r, addr)
	})
}

// AddRoute adds r to the route table. r.Link must be attached (AddLink)
// and r.Prefix valid; the prefix is masked. A route for the same prefix
// through the same link is replaced (its gateway updated).
func (s *Stack) AddRoute(r Route) error {
	return s.changeRoutes("AddRoute", func(rt *routeTable) error {
		lr := rt.find(r.Link)
		if lr == nil {
			return fmt.Errorf("link not attached")
		}
		if !r.Prefix.IsValid() {
			return fmt.Errorf("invalid prefix %v", r.Prefix)
		}
		p := r.Prefix.Masked()
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		gw := r.Gateway.Unmap()
		for i, e := range rt.entries {
			if e.prefix == p && e.r == lr {
				rt.entries[i].gateway = gw
				return nil
			}
		}
		rt.entries = append(rt.entries, routeEntry{prefix: p, r: lr, gateway: gw})
		return nil
	})
}

// Routes returns the route table in lookup order: longest prefix first.
func (s *Stack) Routes() []Route {
	rt := s.routes.Load()
	out := make([]Route, 0, len(rt.entries))
	for _, e := range rt.entries {
		out = append(out, Route{Prefix: e.prefix, Link: e.r.l, Gateway: e.gateway})
	}
	return out
}

// Addrs returns the stack's host addresses with their prefix lengths, link
// by link in the order they were added.
func (s *Stack) Addrs() []netip.Prefix {
	rt := s.routes.Load()
	var out []netip.Prefix
	for _, r := range rt.links {
		for i, a := range r.addrs {
			out = append(out, netip.PrefixFrom(a, r.prefixes[i].Bits()))
		}
	}
	return out
}

// changeRoutes applies f to a copy of the route table and publishes it.
func (s *Stack) changeRoutes(op string, f func(rt *routeTable) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("stack: %s: %w", op, net.ErrClosed)
	}
	rt, _ := s.routes.Load().clone()
	if err := f(rt); err != nil {
		return fmt.Errorf("stack: %s: %w", op, err)
	}
	rt.finish()
	s.routes.Store(rt)
	return nil
}

// bindAddr is the local address a listening socket binds to, given the
// address it was asked for and the network's family (4, 6, or 0 for both).
// No address, or "::" with a dual-stack network, is the invalid Addr: any
// local address of either family. ok is false when a is a specific address
// that is not one of the stack's own (EADDRNOTAVAIL).
func (s *Stack) bindAddr(a netip.Addr, fam int) (_ netip.Addr, ok bool) {
	switch {
	case !a.IsValid() || (a.IsUnspecified() && a.Is6() && fam == 0):
		switch fam {
		case 4:
			return netip.IPv4Unspecified(), true
		case 6:
			return netip.IPv6Unspecified(), true
		}
		return netip.Addr{}, true
	case !a.IsUnspecified() && !s.forwardsTo(a, s.routes.Load().local):
		// A promiscuous stack binds any unicast address, as Linux does
		// with IP_FREEBIND/IP_TRANSPARENT: a gateway listens and sends as
		// the destinations it stands in for.
		return a, false
	}
	return a, true
}
