package wgnet

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// A query to one server is sent up to dnsAttempts times, each waiting
// dnsTimeout for the answer (the first may wait for the tunnel's
// handshake).
const (
	dnsTimeout  = 2 * time.Second
	dnsAttempts = 3
)

// LookupHost resolves host through the tunnel's DNS servers and returns
// its addresses (IPv4 first). A literal address is returned as it is.
func (n *Net) LookupHost(host string) ([]string, error) {
	return n.LookupContextHost(context.Background(), host)
}

// LookupContextHost is LookupHost with a context.
func (n *Net) LookupContextHost(ctx context.Context, host string) ([]string, error) {
	addrs, err := n.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.String()
	}
	return out, nil
}

// resolve returns host's addresses: itself if it is a literal, else the A
// and AAAA records the first DNS server that answers gives.
func (n *Net) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	if host == "" {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	if len(n.dns) == 0 {
		return nil, &net.DNSError{Err: "no DNS servers configured", Name: host}
	}
	name, err := dnsmessage.NewName(strings.TrimSuffix(host, ".") + ".")
	if err != nil {
		return nil, &net.DNSError{Err: "invalid name", Name: host}
	}
	start := int(n.next.Load())
	var last error
	for i := range n.dns {
		server := n.dns[(start+i)%len(n.dns)]
		var addrs []netip.Addr
		var serr error // this server failed to answer
		for _, qt := range []dnsmessage.Type{dnsmessage.TypeA, dnsmessage.TypeAAAA} {
			got, err := n.query(ctx, server, name, qt)
			if errors.Is(err, errNXDomain) {
				continue
			}
			if err != nil {
				serr = err
				break
			}
			addrs = append(addrs, got...)
		}
		if len(addrs) > 0 {
			return addrs, nil
		}
		if serr == nil { // answered: the name has no address

			return nil, &net.DNSError{Err: "no such host", Name: host, Server: server.String(), IsNotFound: true}
		}
		last = serr
		n.next.Store(uint32((start + i + 1) % len(n.dns)))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, &net.DNSError{Err: last.Error(), Name: host, IsTimeout: errors.Is(last, context.DeadlineExceeded)}
}

var errNXDomain = errors.New("no such domain")

// exchangeUDP sends req on u and waits until deadline for the answer with
// ID id.
func (n *Net) exchangeUDP(u net.Conn, req []byte, id uint16, buf []byte, resp *dnsmessage.Message, deadline time.Time) error {
	u.SetDeadline(deadline)
	if _, err := u.Write(req); err != nil {
		return err
	}
	for {
		m, err := u.Read(buf)
		if err != nil {
			return err
		}
		if resp.Unpack(buf[:m]) == nil && resp.ID == id && resp.Response {
			return nil
		}
	}
}

// query asks server for name's records of type qt, over UDP, and over TCP
// when the answer is truncated.
func (n *Net) query(ctx context.Context, server netip.Addr, name dnsmessage.Name, qt dnsmessage.Type) ([]netip.Addr, error) {
	var idb [2]byte
	rand.Read(idb[:])
	id := binary.BigEndian.Uint16(idb[:])
	msg := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: id, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: name, Type: qt, Class: dnsmessage.ClassINET}},
	}
	req, err := msg.Pack()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, dnsAttempts*dnsTimeout)
	defer cancel()
	dl, _ := ctx.Deadline()
	ap := netip.AddrPortFrom(server, 53)

	u, err := n.DialUDPAddrPort(netip.AddrPort{}, ap)
	if err != nil {
		return nil, err
	}
	defer u.Close()
	buf := make([]byte, 1232)
	var resp dnsmessage.Message
	for attempt := 1; ; attempt++ {
		wait := time.Now().Add(dnsTimeout)
		if dl.Before(wait) {
			wait = dl
		}
		err := n.exchangeUDP(u, req, id, buf, &resp, wait)
		if err == nil {
			break
		}
		if attempt == dnsAttempts || ctx.Err() != nil {
			return nil, err
		}
	}
	if resp.Truncated {
		c, err := n.DialContextTCPAddrPort(ctx, ap)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		c.SetDeadline(dl)
		framed := binary.BigEndian.AppendUint16(nil, uint16(len(req)))
		if _, err := c.Write(append(framed, req...)); err != nil {
			return nil, err
		}
		var lb [2]byte
		if _, err := io.ReadFull(c, lb[:]); err != nil {
			return nil, err
		}
		body := make([]byte, binary.BigEndian.Uint16(lb[:]))
		if _, err := io.ReadFull(c, body); err != nil {
			return nil, err
		}
		if err := resp.Unpack(body); err != nil || resp.ID != id {
			return nil, fmt.Errorf("wgnet: bad DNS answer over TCP from %v", server)
		}
	}
	switch resp.RCode {
	case dnsmessage.RCodeSuccess:
	case dnsmessage.RCodeNameError:
		return nil, errNXDomain
	default:
		return nil, fmt.Errorf("wgnet: DNS server %v answered %v", server, resp.RCode)
	}
	var addrs []netip.Addr
	for _, rr := range resp.Answers {
		switch b := rr.Body.(type) {
		case *dnsmessage.AResource:
			addrs = append(addrs, netip.AddrFrom4(b.A))
		case *dnsmessage.AAAAResource:
			addrs = append(addrs, netip.AddrFrom16(b.AAAA))
		}
	}
	return addrs, nil
}
