package stack

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// Resolver turns host names into addresses for Dial, DialUDP, Dialer and
// ListenConfig. The zero value knows only "localhost" (127.0.0.1 and ::1);
// Hosts adds fixed names; Servers turns on DNS (RFC 1035) over the
// stack's own UDP. Set it as Options.Resolver, or per Dialer.
type Resolver struct {
	// Hosts maps names (any case, without the final dot) to addresses,
	// as /etc/hosts does; looked up before DNS.
	Hosts map[string][]netip.Addr
	// Servers are the DNS servers asked, in turn (port 0 means 53).
	Servers []netip.AddrPort
	// Timeout bounds one query to one server; default 2 s. Attempts is
	// how many rounds over Servers are made; default 2.
	Timeout  time.Duration
	Attempts int

	id atomic.Uint32 // query IDs
}

// LookupNetIP returns the addresses of host for network "ip", "ip4" or
// "ip6", as net.Resolver.LookupNetIP does, with the stack's resolver
// (Options.Resolver). An IP literal is returned as it is.
func (s *Stack) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	return s.resolver.lookup(ctx, s, network, host)
}

// lookup resolves host for network ("ip", "ip4", "ip6") through s. The
// error is a *net.DNSError, as package net's (a *net.AddrError for an IP
// literal of the other family).
func (r *Resolver) lookup(ctx context.Context, s *Stack, network, host string) ([]netip.Addr, error) {
	if r == nil {
		r = &Resolver{}
	}
	want4, want6 := network != "ip6", network != "ip4"
	keep := func(as []netip.Addr) []netip.Addr {
		var out []netip.Addr
		for _, a := range as {
			a = a.Unmap()
			if a.Is4() && want4 || !a.Is4() && want6 {
				out = append(out, a)
			}
		}
		return out
	}
	notFound := func() error {
		return &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if out := keep([]netip.Addr{a}); len(out) > 0 {
			return out, nil
		}
		return nil, &net.AddrError{Err: "no suitable address found", Addr: host}
	}
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if as, ok := r.Hosts[name]; ok {
		if out := keep(as); len(out) > 0 {
			return out, nil
		}
		return nil, notFound()
	}
	for h, as := range r.Hosts {
		if strings.EqualFold(h, name) {
			if out := keep(as); len(out) > 0 {
				return out, nil
			}
			return nil, notFound()
		}
	}
	if name == "localhost" {
		return keep([]netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1}), netip.IPv6Loopback()}), nil
	}
	if len(r.Servers) == 0 || !validName(name) {
		return nil, notFound()
	}
	var out []netip.Addr
	var last error
	found := false
	for _, t := range []dnsmessage.Type{dnsmessage.TypeA, dnsmessage.TypeAAAA} {
		if t == dnsmessage.TypeA && !want4 || t == dnsmessage.TypeAAAA && !want6 {
			continue
		}
		as, err := r.query(ctx, s, name, t)
		switch {
		case err == nil:
			found = true
			out = append(out, as...)
		case errNXDomain(err):
			return nil, err
		default:
			last = err
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	if found || last == nil {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return nil, last
}

func errNXDomain(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// validName reports whether name can be asked of DNS: dot-separated
// labels of 1 to 63 bytes, 253 bytes at most.
func validName(name string) bool {
	if name == "" || len(name) > 253 {
		return false
	}
	for _, l := range strings.Split(name, ".") {
		if l == "" || len(l) > 63 {
			return false
		}
	}
	return true
}

// query asks the servers for name's records of type t, each server in
// turn, Attempts rounds; an answer (records, NXDOMAIN, or a name with no
// such records) ends it.
func (r *Resolver) query(ctx context.Context, s *Stack, name string, t dnsmessage.Type) ([]netip.Addr, error) {
	timeout, attempts := r.Timeout, r.Attempts
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	if attempts <= 0 {
		attempts = 2
	}
	q, err := dnsmessage.NewName(name + ".")
	if err != nil {
		return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}
	var last error
	for range attempts {
		for _, srv := range r.Servers {
			if srv.Port() == 0 {
				srv = netip.AddrPortFrom(srv.Addr(), 53)
			}
			as, err := r.exchange(ctx, s, srv, q, t, timeout)
			if err == nil {
				return as, nil
			}
			last = err
			var de *net.DNSError
			if errors.As(err, &de) && de.IsNotFound {
				return nil, err
			}
			if ctx.Err() != nil {
				return nil, last
			}
		}
	}
	return nil, last
}

// exchange sends one query to srv and waits for its answer.
func (r *Resolver) exchange(ctx context.Context, s *Stack, srv netip.AddrPort, q dnsmessage.Name, t dnsmessage.Type, timeout time.Duration) ([]netip.Addr, error) {
	name := strings.TrimSuffix(q.String(), ".")
	fail := func(msg string, timeout bool) error {
		return &net.DNSError{Err: msg, Name: name, Server: srv.String(), IsTimeout: timeout, IsTemporary: timeout}
	}
	c, err := s.DialUDPContext(ctx, "udp", srv.String())
	if err != nil {
		return nil, fail(err.Error(), false)
	}
	defer c.Close()
	id := uint16(r.id.Add(1)) ^ uint16(s.hash(srv.Addr(), c.LocalAddrPort(), netip.AddrPort{}))
	b := dnsmessage.NewBuilder(make([]byte, 0, 512), dnsmessage.Header{ID: id, RecursionDesired: true})
	b.EnableCompression()
	_ = b.StartQuestions()
	_ = b.Question(dnsmessage.Question{Name: q, Type: t, Class: dnsmessage.ClassINET})
	msg, err := b.Finish()
	if err != nil {
		return nil, fail(err.Error(), false)
	}
	dl := s.clock.Now().Add(timeout)
	dl = s.drv.ctxDeadline(ctx, dl)
	c.SetDeadline(dl)
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { c.SetReadDeadline(time.Unix(1, 0)) })
		defer stop()
	}
	if _, err := c.Write(msg); err != nil {
		return nil, fail(err.Error(), false)
	}
	buf := make([]byte, 1500)
	for {
		n, err := c.Read(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fail(mapContextErr(ctx.Err()).Error(), ctx.Err() == context.DeadlineExceeded)
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return nil, fail("i/o timeout", true)
			}
			return nil, fail(err.Error(), false)
		}
		as, done, err := parseAnswer(buf[:n], id, q, t)
		if !done {
			continue // not the answer to this query
		}
		if err != nil {
			return nil, &net.DNSError{Err: err.Error(), Name: name, Server: srv.String(),
				IsNotFound: err == errNoSuchHost}
		}
		return as, nil
	}
}

var (
	errNoSuchHost   = errors.New("no such host")
	errServerFailed = errors.New("server misbehaving")
)

// parseAnswer reads a response to the query (id, q, t). done is false
// when msg is not that response (wrong ID or question, or not a
// response); then it is to be ignored.
func parseAnswer(msg []byte, id uint16, q dnsmessage.Name, t dnsmessage.Type) (as []netip.Addr, done bool, err error) {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil || !h.Response || h.ID != id {
		return nil, false, nil
	}
	qs, err := p.AllQuestions()
	if err != nil || len(qs) != 1 || !strings.EqualFold(qs[0].Name.String(), q.String()) || qs[0].Type != t {
		return nil, false, nil
	}
	switch h.RCode {
	case dnsmessage.RCodeSuccess:
	case dnsmessage.RCodeNameError:
		return nil, true, errNoSuchHost
	default:
		return nil, true, errServerFailed
	}
	for {
		rh, err := p.AnswerHeader()
		if err == dnsmessage.ErrSectionDone {
			break
		}
		if err != nil {
			return nil, true, errServerFailed
		}
		switch {
		case rh.Type == dnsmessage.TypeA && t == dnsmessage.TypeA:
			r, err := p.AResource()
			if err != nil {
				return nil, true, errServerFailed
			}
			as = append(as, netip.AddrFrom4(r.A))
		case rh.Type == dnsmessage.TypeAAAA && t == dnsmessage.TypeAAAA:
			r, err := p.AAAAResource()
			if err != nil {
				return nil, true, errServerFailed
			}
			as = append(as, netip.AddrFrom16(r.AAAA))
		default:
			if err := p.SkipAnswer(); err != nil {
				return nil, true, errServerFailed
			}
		}
	}
	return as, true, nil
}
