package stack

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"testing"

	"github.com/synack/synack/link"
)

func TestRoutes(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	a, b := blackHole(1500), blackHole(9000)
	name := map[link.Link]string{a: "a", b: "b"}
	if err := s.AddLink(a, netip.MustParsePrefix("198.18.0.1/24"), netip.MustParsePrefix("2001:db8::1/64")); err != nil {
		t.Fatal(err)
	}
	if err := s.AddLink(b, netip.MustParsePrefix("198.19.0.1/16")); err != nil {
		t.Fatal(err)
	}
	if err := s.AddRoute(Route{Prefix: netip.MustParsePrefix("10.9.9.9/8"), Link: b, Gateway: netip.MustParseAddr("198.19.0.254")}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddAddress(b, netip.MustParsePrefix("198.19.5.5/24")); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range s.Routes() {
		got = append(got, fmt.Sprintf("%v %s %v", r.Prefix, name[r.Link], r.Gateway))
	}
	want := []string{
		"2001:db8::/64 a invalid IP",
		"198.18.0.0/24 a invalid IP",
		"198.19.5.0/24 b invalid IP",
		"198.19.0.0/16 b invalid IP",
		"10.0.0.0/8 b 198.19.0.254",
		"0.0.0.0/0 a invalid IP",
		"::/0 a invalid IP",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Routes:\n%q\nwant\n%q", got, want)
	}
	if got := fmt.Sprint(s.Addrs()); got != "[198.18.0.1/24 2001:db8::1/64 198.19.0.1/16 198.19.5.5/24]" {
		t.Errorf("Addrs = %s", got)
	}
	// Longest prefix match, then source selection.
	for _, tc := range []struct {
		dst, src, link string
		mtu            int
	}{
		{"10.1.2.3:53", "198.19.0.1", "b", 9000},
		{"198.19.5.9:53", "198.19.5.5", "b", 9000},
		{"198.19.9.9:53", "198.19.0.1", "b", 9000},
		{"203.0.113.1:53", "198.18.0.1", "a", 1500},
		{"[2001:db8:1::1]:53", "2001:db8::1", "a", 1500},
	} {
		c, err := s.DialUDP("udp", tc.dst)
		if err != nil {
			t.Fatal(err)
		}
		if src := c.LocalAddrPort().Addr().String(); src != tc.src {
			t.Errorf("to %s: source %s; want %s", tc.dst, src, tc.src)
		}
		dst := c.RemoteAddrPort().Addr()
		if l := s.routes.Load().lookup(dst); name[l.l] != tc.link || s.PathMTU(dst) != tc.mtu {
			t.Errorf("to %s: link %s, MTU %d", tc.dst, name[l.l], s.PathMTU(dst))
		}
		c.Close()
	}
	if err := s.AddAddress(a, netip.MustParsePrefix("198.19.5.5/32")); !errors.Is(err, os.ErrExist) {
		t.Errorf("duplicate address: %v", err)
	}
	if err := s.AddRoute(Route{Prefix: netip.MustParsePrefix("10.0.0.0/8"), Link: blackHole(1500)}); err == nil {
		t.Error("route through a link not attached")
	}
	if err := s.AddAddress(a, netip.MustParsePrefix("224.0.0.1/4")); err == nil {
		t.Error("multicast host address")
	}
	// No route at all for a family without addresses… there is none
	// here, so a stack with only IPv4 fails IPv6 dials with ENETUNREACH.
	s4 := New(Options{})
	defer s4.Close()
	if err := s4.AddLink(blackHole(1500), netip.MustParsePrefix("198.18.0.1/24")); err != nil {
		t.Fatal(err)
	}
	if _, err := s4.DialUDP("udp", "[2001:db8::9]:53"); err == nil {
		t.Error("IPv6 dial on an IPv4-only stack")
	}
}
