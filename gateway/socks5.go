package gateway

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/synack/synack/stack"
)

// SOCKS5 reaches destinations through a SOCKS5 proxy (RFC 1928): TCP with
// CONNECT, UDP with UDP ASSOCIATE. The proxy's reply codes become the
// client's refusals: connection refused → RST, network or host
// unreachable → ICMP unreachable, not allowed → ICMP administratively
// prohibited, TTL expired → silence.
//
// golang.org/x/net/proxy speaks CONNECT but neither UDP ASSOCIATE nor
// exposes the reply code, which end-to-end refusals need; this client is
// small and speaks both.
type SOCKS5 struct {
	Proxy string // host:port of the proxy
	// Username and Password, if Username is set, authenticate with RFC
	// 1929; otherwise no authentication is offered.
	Username, Password string
	// Via opens the connections to the proxy (its interface, mark or
	// namespace), so that they do not loop back into the TUN.
	Via Direct
}

// SOCKSError is a SOCKS5 proxy's refusal.
type SOCKSError struct {
	Code byte // the reply field (RFC 1928 §6)
}

var socksReplies = map[byte]string{
	1: "general SOCKS server failure",
	2: "connection not allowed by ruleset",
	3: "network unreachable",
	4: "host unreachable",
	5: "connection refused",
	6: "TTL expired",
	7: "command not supported",
	8: "address type not supported",
}

func (e *SOCKSError) Error() string {
	if s, ok := socksReplies[e.Code]; ok {
		return "socks5: " + s
	}
	return fmt.Sprintf("socks5: reply %d", e.Code)
}

func (e *SOCKSError) refusal() (stack.Refusal, string) {
	switch e.Code {
	case 2:
		return stack.RefuseAdminProhibited, "prohibited"
	case 3:
		return stack.RefuseNetUnreachable, "unreachable"
	case 4:
		return stack.RefuseHostUnreachable, "unreachable"
	case 6:
		return stack.RefuseSilently, "timeout"
	}
	return stack.RefuseReset, "refused"
}

const (
	socksVersion = 5
	cmdConnect   = 1
	cmdAssociate = 3
	atypIPv4     = 1
	atypDomain   = 3
	atypIPv6     = 4
	authNone     = 0
	authPassword = 2
)

// DialTCP implements Upstream with CONNECT.
func (s SOCKS5) DialTCP(ctx context.Context, dst netip.AddrPort) (net.Conn, error) {
	c, _, err := s.request(ctx, cmdConnect, dst)
	return c, err
}

// handshake opens a connection to the proxy and authenticates.
func (s SOCKS5) handshake(ctx context.Context) (net.Conn, error) {
	c, err := s.Via.dial(ctx, "tcp", s.Proxy)
	if err != nil {
		return nil, fmt.Errorf("socks5: proxy %s: %w", s.Proxy, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	method := byte(authNone)
	if s.Username != "" {
		method = authPassword
	}
	if _, err := c.Write([]byte{socksVersion, 1, method}); err != nil {
		c.Close()
		return nil, fmt.Errorf("socks5: %w", err)
	}
	var rep [2]byte
	if _, err := io.ReadFull(c, rep[:]); err != nil {
		c.Close()
		return nil, fmt.Errorf("socks5: greeting: %w", err)
	}
	if rep[0] != socksVersion || rep[1] != method {
		c.Close()
		return nil, fmt.Errorf("socks5: the proxy refused authentication method %d", method)
	}
	if method == authPassword {
		msg := []byte{1, byte(len(s.Username))}
		msg = append(msg, s.Username...)
		msg = append(msg, byte(len(s.Password)))
		msg = append(msg, s.Password...)
		if _, err := c.Write(msg); err != nil {
			c.Close()
			return nil, fmt.Errorf("socks5: %w", err)
		}
		if _, err := io.ReadFull(c, rep[:]); err != nil || rep[1] != 0 {
			c.Close()
			return nil, errors.New("socks5: username/password rejected")
		}
	}
	return c, nil
}

// request sends cmd for dst and returns the connection and the bound
// address of the reply.
func (s SOCKS5) request(ctx context.Context, cmd byte, dst netip.AddrPort) (net.Conn, netip.AddrPort, error) {
	c, err := s.handshake(ctx)
	if err != nil {
		return nil, netip.AddrPort{}, err
	}
	msg := appendSocksAddr([]byte{socksVersion, cmd, 0}, dst)
	if _, err := c.Write(msg); err != nil {
		c.Close()
		return nil, netip.AddrPort{}, fmt.Errorf("socks5: %w", err)
	}
	var hdr [3]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		c.Close()
		return nil, netip.AddrPort{}, fmt.Errorf("socks5: reply: %w", err)
	}
	if hdr[0] != socksVersion {
		c.Close()
		return nil, netip.AddrPort{}, fmt.Errorf("socks5: reply of version %d", hdr[0])
	}
	bound, err := readSocksAddr(c)
	if err != nil {
		c.Close()
		return nil, netip.AddrPort{}, err
	}
	if hdr[1] != 0 {
		c.Close()
		return nil, netip.AddrPort{}, &SOCKSError{Code: hdr[1]}
	}
	c.SetDeadline(time.Time{})
	return c, bound, nil
}

// appendSocksAddr appends ATYP, DST.ADDR and DST.PORT for a.
func appendSocksAddr(b []byte, a netip.AddrPort) []byte {
	ip := a.Addr().Unmap()
	if ip.Is4() {
		b = append(b, atypIPv4)
	} else {
		b = append(b, atypIPv6)
	}
	b = append(b, ip.AsSlice()...)
	return binary.BigEndian.AppendUint16(b, a.Port())
}

// readSocksAddr reads ATYP, ADDR and PORT; a domain name gives a zero
// address.
func readSocksAddr(r io.Reader) (netip.AddrPort, error) {
	var atyp [1]byte
	if _, err := io.ReadFull(r, atyp[:]); err != nil {
		return netip.AddrPort{}, fmt.Errorf("socks5: address: %w", err)
	}
	var n int
	switch atyp[0] {
	case atypIPv4:
		n = 4
	case atypIPv6:
		n = 16
	case atypDomain:
		var l [1]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			return netip.AddrPort{}, fmt.Errorf("socks5: address: %w", err)
		}
		n = int(l[0])
	default:
		return netip.AddrPort{}, fmt.Errorf("socks5: address type %d", atyp[0])
	}
	buf := make([]byte, n+2)
	if _, err := io.ReadFull(r, buf); err != nil {
		return netip.AddrPort{}, fmt.Errorf("socks5: address: %w", err)
	}
	port := binary.BigEndian.Uint16(buf[n:])
	if atyp[0] == atypDomain {
		return netip.AddrPortFrom(netip.Addr{}, port), nil
	}
	ip, _ := netip.AddrFromSlice(buf[:n])
	return netip.AddrPortFrom(ip, port), nil
}

// DialUDP implements Upstream with UDP ASSOCIATE: a control connection to
// the proxy, kept open for the life of the flow, and a UDP socket that
// talks to the relay address the proxy gave.
func (s SOCKS5) DialUDP(ctx context.Context, dst netip.AddrPort) (net.Conn, error) {
	ctl, relay, err := s.request(ctx, cmdAssociate, netip.AddrPortFrom(netip.IPv4Unspecified(), 0))
	if err != nil {
		return nil, err
	}
	if !relay.Addr().IsValid() || relay.Addr().IsUnspecified() {
		// "0.0.0.0": the relay is on the proxy's own address.
		ra, ok := ctl.RemoteAddr().(*net.TCPAddr)
		if !ok {
			ctl.Close()
			return nil, errors.New("socks5: no relay address")
		}
		relay = netip.AddrPortFrom(ra.AddrPort().Addr().Unmap(), relay.Port())
	}
	network := "udp4"
	if relay.Addr().Is6() {
		network = "udp6"
	}
	pc, err := s.Via.listenPacket(network)
	if err != nil {
		ctl.Close()
		return nil, fmt.Errorf("socks5: UDP socket: %w", err)
	}
	u := &socksUDP{PacketConn: pc, ctl: ctl, relay: net.UDPAddrFromAddrPort(relay), dst: dst}
	// The association lives as long as the control connection: when the
	// proxy closes it, the flow ends.
	go func() {
		io.Copy(io.Discard, ctl)
		pc.Close()
	}()
	return u, nil
}

// socksUDP is one destination's datagrams through a UDP association.
type socksUDP struct {
	net.PacketConn
	ctl   net.Conn
	relay *net.UDPAddr
	dst   netip.AddrPort
	buf   []byte // Read's datagram buffer (one reader at a time)
}

// Write sends b to the destination, behind the SOCKS5 UDP header.
func (u *socksUDP) Write(b []byte) (int, error) {
	pkt := appendSocksAddr([]byte{0, 0, 0}, u.dst)
	pkt = append(pkt, b...)
	if _, err := u.WriteTo(pkt, u.relay); err != nil {
		return 0, err
	}
	return len(b), nil
}

// Read returns the next datagram from the destination, without its header;
// datagrams from elsewhere, and fragments (unsupported, RFC 1928 §7), are
// skipped. It is not safe for concurrent use.
func (u *socksUDP) Read(b []byte) (int, error) {
	if u.buf == nil {
		u.buf = make([]byte, 64<<10)
	}
	buf := u.buf
	for {
		n, from, err := u.ReadFrom(buf)
		if err != nil {
			return 0, err
		}
		if fa, ok := from.(*net.UDPAddr); !ok || fa.Port != u.relay.Port {
			continue
		}
		pkt := buf[:n]
		if len(pkt) < 4 || pkt[2] != 0 {
			continue
		}
		r := &sliceReader{b: pkt[3:]}
		src, err := readSocksAddr(r)
		if err != nil || src.Port() != u.dst.Port() {
			continue
		}
		return copy(b, r.b), nil
	}
}

func (u *socksUDP) RemoteAddr() net.Addr { return net.UDPAddrFromAddrPort(u.dst) }

func (u *socksUDP) Close() error {
	u.ctl.Close()
	return u.PacketConn.Close()
}

type sliceReader struct{ b []byte }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}
