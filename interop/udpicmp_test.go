//go:build linux

package interop

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/synack/synack/stack"
)

// dnsAnswer is the address synack's little DNS responder gives every name.
var dnsAnswer = netip.MustParseAddr("198.18.0.53")

// serveDNS answers every A query arriving on c with dnsAnswer, until c is
// closed.
func serveDNS(c *stack.UDPConn) {
	buf := make([]byte, 1500)
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		var p dnsmessage.Parser
		h, err := p.Start(buf[:n])
		if err != nil {
			continue
		}
		q, err := p.Question()
		if err != nil {
			continue
		}
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired})
		b.EnableCompression()
		b.StartQuestions()
		b.Question(q)
		b.StartAnswers()
		if q.Type == dnsmessage.TypeA {
			b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}, dnsmessage.AResource{A: dnsAnswer.As4()})
		}
		msg, err := b.Finish()
		if err != nil {
			continue
		}
		c.WriteToUDPAddrPort(msg, from)
	}
}

// TestDigToSynackDNS: the kernel's dig queries a DNS responder on synack's
// UDP, over IPv4 and IPv6.
func TestDigToSynackDNS(t *testing.T) {
	needTool(t, "dig")
	forEachFamily(t, func(t *testing.T, fam family) {
		r := newRig(t, rigOptions{})
		c, err := r.st.ListenUDP("udp", ":53")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		go serveDNS(c)
		out, err := r.run(20*time.Second, "dig", "+short", "+tries=2", "+time=2", "@"+fam.syn.String(), "synack.test", "A")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(out); got != dnsAnswer.String() {
			t.Errorf("dig answered %q, want %q", got, dnsAnswer)
		}
	})
}

// TestGoResolverToSynackDNS: Go's own resolver (pure Go, its socket in the
// namespace) queries synack's DNS responder.
func TestGoResolverToSynackDNS(t *testing.T) {
	r := newRig(t, rigOptions{})
	c, err := r.st.ListenUDP("udp", ":53")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go serveDNS(c)
	res := &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return r.ns.DialContext(ctx, "udp", hostPort(syn6, 53))
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addrs, err := res.LookupNetIP(ctx, "ip4", "synack.test")
	if err != nil {
		t.Fatal(err)
	}
	if len(addrs) != 1 || addrs[0] != dnsAnswer {
		t.Errorf("resolved %v, want [%v]", addrs, dnsAnswer)
	}
}

// TestSynackUDPToKernelEcho: a synack UDP client reaches a UDP echo server
// on the kernel's sockets.
func TestSynackUDPToKernelEcho(t *testing.T) {
	forEachFamily(t, func(t *testing.T, fam family) {
		r := newRig(t, rigOptions{})
		pc, err := r.ns.ListenPacket("udp", hostPort(fam.kern, 7))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pc.Close() })
		go func() {
			buf := make([]byte, 65536)
			for {
				n, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				pc.WriteTo(buf[:n], from)
			}
		}()
		c, err := r.st.DialUDP("udp", hostPort(fam.kern, 7))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		// A small datagram and one larger than the MTU (IP fragments both
		// ways: the kernel reassembles synack's and fragments its reply).
		for _, size := range []int{13, 4000} {
			msg := []byte(strings.Repeat("u", size))
			if _, err := c.Write(msg); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 65536)
			n, err := c.Read(buf)
			if err != nil {
				t.Fatalf("%d bytes: %v", size, err)
			}
			if string(buf[:n]) != string(msg) {
				t.Errorf("echo of %d bytes came back as %d bytes", size, n)
			}
		}
	})
}

// TestUDPPortUnreachable: a datagram to a closed port draws an ICMP port
// unreachable both ways, which a connected socket reports as
// ECONNREFUSED: the kernel's to synack's closed port, synack's to the
// kernel's.
func TestUDPPortUnreachable(t *testing.T) {
	forEachFamily(t, func(t *testing.T, fam family) {
		r := newRig(t, rigOptions{})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		kc, err := r.ns.DialContext(ctx, "udp", hostPort(fam.syn, 9999))
		if err != nil {
			t.Fatal(err)
		}
		defer kc.Close()
		kc.SetDeadline(time.Now().Add(5 * time.Second))
		kc.Write([]byte("anyone?"))
		if _, err := kc.Read(make([]byte, 10)); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("kernel socket read %v, want ECONNREFUSED", err)
		}

		sc, err := r.st.DialUDP("udp", hostPort(fam.kern, 9999))
		if err != nil {
			t.Fatal(err)
		}
		defer sc.Close()
		sc.SetDeadline(time.Now().Add(5 * time.Second))
		sc.Write([]byte("anyone?"))
		if _, err := sc.Read(make([]byte, 10)); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("synack socket read %v, want ECONNREFUSED", err)
		}
	})
}

// TestPingSynack: the kernel's ping gets echo replies from synack.
func TestPingSynack(t *testing.T) {
	needTool(t, "ping")
	forEachFamily(t, func(t *testing.T, fam family) {
		r := newRig(t, rigOptions{})
		out, err := r.run(20*time.Second, "ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", "-s", "3000", fam.syn.String())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "3 packets transmitted, 3 received") {
			t.Errorf("ping:\n%s", out)
		}
	})
}

// TestConnectRefused: a synack connect to a closed kernel port fails with
// ECONNREFUSED (the kernel answers the SYN with a RST).
func TestConnectRefused(t *testing.T) {
	forEachFamily(t, func(t *testing.T, fam family) {
		r := newRig(t, rigOptions{})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := r.st.DialContext(ctx, "tcp", hostPort(fam.kern, 9))
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("dial: %v, want ECONNREFUSED", err)
		}
	})
}

// TestConnectUnreachable: the namespace forwards, with an "unreachable"
// route for one address of each family; a synack connect there draws the
// kernel's ICMP destination unreachable and fails at once with
// EHOSTUNREACH or ENETUNREACH (ICMPv6 "no route" maps to ENETUNREACH, as
// on Linux), not with a timeout.
func TestConnectUnreachable(t *testing.T) {
	forEachFamily(t, func(t *testing.T, fam family) {
		r := newRig(t, rigOptions{})
		// Only inside the test's namespace: forwarding, and the routes.
		if _, err := r.run(5*time.Second, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"); err != nil {
			t.Fatal(err)
		}
		dst := netip.MustParseAddr("198.18.0.99")
		route := "198.18.0.99/32"
		if fam.kern.Is6() {
			dst, route = netip.MustParseAddr("fd00:5ac::99"), "fd00:5ac::99/128"
		}
		if _, err := r.run(5*time.Second, "ip", "route", "add", "unreachable", route); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		start := time.Now()
		_, err := r.st.DialContext(ctx, "tcp", hostPort(dst, 80))
		if !errors.Is(err, syscall.EHOSTUNREACH) && !errors.Is(err, syscall.ENETUNREACH) {
			t.Errorf("dial: %v, want EHOSTUNREACH or ENETUNREACH", err)
		}
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("dial took %v: the ICMP error did not end it", el)
		}
	})
}
