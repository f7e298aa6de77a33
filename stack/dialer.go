package stack

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/synack/synack/tcp"
)

// timeoutError is "i/o timeout": what package net reports for a dial
// that runs out of time. It is a net.Error whose Timeout is true, and
// both os.ErrDeadlineExceeded and context.DeadlineExceeded (net's is
// one or the other, depending on which of its clocks fires first).
type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }
func (timeoutError) Is(target error) bool {
	return target == os.ErrDeadlineExceeded || target == context.DeadlineExceeded
}

// canceledError is "operation was canceled", which is context.Canceled,
// as package net reports a canceled dial.
type canceledError struct{}

func (canceledError) Error() string        { return "operation was canceled" }
func (canceledError) Is(target error) bool { return target == context.Canceled }

// mapContextErr turns a context's error into net's.
func mapContextErr(err error) error {
	switch err {
	case context.DeadlineExceeded:
		return timeoutError{}
	case context.Canceled:
		return canceledError{}
	}
	return err
}

// dialOpts are what a Dialer adds to a dial.
type dialOpts struct {
	laddr    netip.AddrPort                                       // local address; zero: chosen
	deadline time.Time                                            // on the stack's clock; zero: none
	control  func(network, address string, cfg *tcp.Config) error // Dialer.Control
	resolver *Resolver                                            // nil: the stack's
	ka       *net.KeepAliveConfig                                 // keepalive to set once connected; nil: the stack's
	fastOpen bool                                                 // Dialer.FastOpen (fastopen.go)
}

// dialAddress resolves address ("host:port") and connects to its
// addresses in turn until one answers; the error is the first one.
func (s *Stack) dialAddress(ctx context.Context, network, address string, o *dialOpts) (*Conn, error) {
	addrs, err := s.resolveAddress(ctx, "dial", network, address, o.resolver)
	if err != nil {
		return nil, err
	}
	var first error
	for _, ap := range addrs {
		c, err := s.dial(ctx, network, o.laddr, ap, o)
		if err == nil {
			if o.ka != nil {
				_ = c.SetKeepAliveConfig(*o.ka)
			}
			return c, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil || (!o.deadline.IsZero() && !s.clock.Now().Before(o.deadline)) {
			break
		}
	}
	return nil, first
}

// resolveAddress splits "host:port" and resolves the host for network
// ("tcp", "udp" and their 4 and 6 forms): an IP literal stands for
// itself; a name goes to r (nil: the stack's resolver).
func (s *Stack) resolveAddress(ctx context.Context, op, network, address string, r *Resolver) ([]netip.AddrPort, error) {
	fam := 0
	switch network[len(network)-1] {
	case '4':
		fam = 4
	case '6':
		fam = 6
	}
	bad := func(why string) error {
		return &net.OpError{Op: op, Net: network, Err: &net.AddrError{Err: why, Addr: address}}
	}
	host, ps, err := net.SplitHostPort(address)
	if err != nil {
		return nil, bad("address must be host:port")
	}
	port, err := strconv.ParseUint(ps, 10, 16)
	if err != nil {
		return nil, bad("invalid port")
	}
	if host == "" {
		return nil, bad("missing host")
	}
	if _, err := netip.ParseAddr(host); err == nil {
		ap, err := parseAddr(op, network, address, fam, false)
		if err != nil {
			return nil, err
		}
		return []netip.AddrPort{ap}, nil
	}
	if r == nil {
		r = s.resolver
	}
	ipnet := "ip"
	if fam != 0 {
		ipnet += strconv.Itoa(fam)
	}
	ips, err := r.lookup(ctx, s, ipnet, host)
	if err != nil {
		return nil, &net.OpError{Op: op, Net: network, Err: err}
	}
	out := make([]netip.AddrPort, len(ips))
	for i, a := range ips {
		out[i] = netip.AddrPortFrom(a, uint16(port))
	}
	return out, nil
}

// Dialer holds options for connecting, as net.Dialer does for the
// kernel's sockets. Its zero value but for Stack dials as Stack.Dial does,
// with net.Dialer's keepalive default.
type Dialer struct {
	// Stack is the stack to dial from; required.
	Stack *Stack
	// LocalAddr is the local address (*net.TCPAddr or *net.UDPAddr) to
	// dial from; nil, an unspecified IP or port 0 let the stack choose.
	LocalAddr net.Addr
	// Timeout bounds the whole dial, name lookup included; Deadline is
	// an absolute limit. Both count on the stack's clock (Options.Clock:
	// virtual in a simulation). The earliest of them and ctx's deadline
	// applies. An expired dial fails with "i/o timeout".
	Timeout  time.Duration
	Deadline time.Time
	// KeepAlive and KeepAliveConfig set TCP keepalive on the connection
	// as they do on a net.Dialer: KeepAliveConfig when its Enable is
	// set; otherwise KeepAlive, the idle time before the first probe
	// (0: 15 s; probes then every 15 s, 9 of them), or none when
	// negative.
	KeepAlive       time.Duration
	KeepAliveConfig net.KeepAliveConfig
	// Resolver looks names up; nil: the stack's (Options.Resolver).
	Resolver *Resolver
	// Control, when set, is called for a TCP dial before the SYN is sent,
	// with the network, the address dialed ("ip:port", as net.Dialer's
	// Control gets it) and the engine configuration the connection will
	// use: the counterpart of setting socket options before connect. It
	// may change cfg; an error aborts the dial with that error.
	Control func(network, address string, cfg *tcp.Config) error
	// FastOpen makes a TCP dial use TCP Fast Open (RFC 7413; as Linux's
	// TCP_FASTOPEN_CONNECT): DialTCP returns at once, and the SYN goes
	// with the first Write, carrying its data when a cookie from an
	// earlier connection to the server is cached (otherwise it asks for
	// one, and the data follows the handshake). A Read before any Write
	// sends the SYN alone. The stack's mode must allow it (Options.FastOpen:
	// the default does).
	FastOpen bool
}

// Dial connects to address over network, as DialContext.
func (d *Dialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

// DialContext connects to address ("host:port") over network: "tcp",
// "tcp4" or "tcp6" (a *Conn), "udp", "udp4" or "udp6" (a *UDPConn).
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
		c, err := d.DialTCP(ctx, network, address)
		if err != nil {
			return nil, err
		}
		return c, nil
	case "udp", "udp4", "udp6":
		c, err := d.dialUDP(ctx, network, address)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	return nil, &net.OpError{Op: "dial", Net: network, Err: net.UnknownNetworkError(network)}
}

// DialTCP is DialContext for "tcp", "tcp4" or "tcp6", returning the
// *Conn.
func (d *Dialer) DialTCP(ctx context.Context, network, address string) (*Conn, error) {
	if _, err := parseNetwork("dial", network); err != nil {
		return nil, err
	}
	s := d.Stack
	if s == nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("stack: Dialer without a Stack")}
	}
	o := &dialOpts{deadline: d.deadline(), resolver: d.Resolver}
	if d.LocalAddr != nil {
		ta, ok := d.LocalAddr.(*net.TCPAddr)
		if !ok {
			return nil, &net.OpError{Op: "dial", Net: network, Source: d.LocalAddr, Err: &net.AddrError{Err: "mismatched local address type", Addr: d.LocalAddr.String()}}
		}
		o.laddr = ta.AddrPort()
	}
	o.control = d.Control
	o.fastOpen = d.FastOpen
	switch {
	case d.KeepAliveConfig.Enable:
		ka := d.KeepAliveConfig
		o.ka = &ka
	case d.KeepAlive >= 0:
		o.ka = &net.KeepAliveConfig{Enable: true, Idle: d.KeepAlive}
	default:
		o.ka = &net.KeepAliveConfig{Enable: false}
	}
	if !o.deadline.IsZero() && !s.clock.Now().Before(o.deadline) {
		return nil, &net.OpError{Op: "dial", Net: network, Err: timeoutError{}}
	}
	return s.dialAddress(ctx, network, address, o)
}

// deadline is the earliest of Deadline and now + Timeout, on the stack's
// clock.
func (d *Dialer) deadline() time.Time {
	dl := d.Deadline
	if d.Timeout > 0 {
		t := d.Stack.clock.Now().Add(d.Timeout)
		if dl.IsZero() || t.Before(dl) {
			dl = t
		}
	}
	return dl
}

func (d *Dialer) dialUDP(ctx context.Context, network, address string) (*UDPConn, error) {
	s := d.Stack
	if s == nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("stack: Dialer without a Stack")}
	}
	if dl := d.deadline(); !dl.IsZero() {
		// A lookup is the only wait; its deadline counts on the real
		// clock for now, as contexts do.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, dl.Sub(s.clock.Now()))
		defer cancel()
	}
	var laddr netip.AddrPort
	if d.LocalAddr != nil {
		ua, ok := d.LocalAddr.(*net.UDPAddr)
		if !ok {
			return nil, &net.OpError{Op: "dial", Net: network, Source: d.LocalAddr, Err: &net.AddrError{Err: "mismatched local address type", Addr: d.LocalAddr.String()}}
		}
		laddr = ua.AddrPort()
	}
	return s.dialUDP(ctx, network, address, laddr, d.Resolver)
}

// ListenConfig holds options for listening, as net.ListenConfig does.
type ListenConfig struct {
	// Stack is the stack to listen on; required.
	Stack *Stack
	// Backlog is the accept queue's length; 0: Options.Backlog.
	Backlog int
	// KeepAlive and KeepAliveConfig set keepalive on accepted
	// connections as on a net.ListenConfig: KeepAliveConfig when its
	// Enable is set; otherwise KeepAlive (0: 15 s), or none when
	// negative.
	KeepAlive       time.Duration
	KeepAliveConfig net.KeepAliveConfig
	// Resolver looks up a host name in the address; nil: the stack's.
	Resolver *Resolver
	// Control, when set, is called before the listener or socket is
	// bound; an error aborts Listen with that error.
	Control func(network, address string) error
	// FastOpen, when positive, lets the listener accept data on SYNs
	// carrying a valid TCP Fast Open cookie (RFC 7413; Linux's
	// TCP_FASTOPEN socket option), with at most FastOpen such connections
	// pending at a time; their data is readable as soon as Accept returns
	// them. The stack's mode must have FastOpenServer (Options.FastOpen).
	FastOpen int
}

// Listen listens on address over network "tcp", "tcp4" or "tcp6". The
// net.Listener's Accept returns *Conn values with ListenConfig's
// keepalive; its Addr is a *net.TCPAddr.
func (lc *ListenConfig) Listen(ctx context.Context, network, address string) (net.Listener, error) {
	if _, err := parseNetwork("listen", network); err != nil {
		return nil, err
	}
	addr, err := lc.resolve(ctx, network, address)
	if err != nil {
		return nil, err
	}
	l, err := lc.Stack.ListenBacklog(network, addr, lc.Backlog)
	if err != nil {
		return nil, err
	}
	if lc.FastOpen > 0 {
		l.SetFastOpen(lc.FastOpen)
	}
	ka := lc.KeepAliveConfig
	switch {
	case ka.Enable:
	case lc.KeepAlive >= 0:
		ka = net.KeepAliveConfig{Enable: true, Idle: lc.KeepAlive}
	}
	return &keepAliveListener{Listener: l, ka: ka}, nil
}

// ListenPacket opens a UDP socket on address over network "udp", "udp4"
// or "udp6"; it returns a *UDPConn.
func (lc *ListenConfig) ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error) {
	if _, err := parseUDPNetwork("listen", network); err != nil {
		return nil, err
	}
	addr, err := lc.resolve(ctx, network, address)
	if err != nil {
		return nil, err
	}
	c, err := lc.Stack.ListenUDP(network, addr)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// resolve checks the stack, calls Control and turns a host name in
// address into its first address.
func (lc *ListenConfig) resolve(ctx context.Context, network, address string) (string, error) {
	if lc.Stack == nil {
		return "", &net.OpError{Op: "listen", Net: network, Err: errors.New("stack: ListenConfig without a Stack")}
	}
	if lc.Control != nil {
		if err := lc.Control(network, address); err != nil {
			return "", &net.OpError{Op: "listen", Net: network, Err: err}
		}
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil || host == "" {
		return address, nil // parseAddr reports it
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return address, nil
	}
	aps, err := lc.Stack.resolveAddress(ctx, "listen", network, address, lc.Resolver)
	if err != nil {
		return "", err
	}
	return aps[0].String(), nil
}

// keepAliveListener is a *Listener whose accepted connections get
// ListenConfig's keepalive.
type keepAliveListener struct {
	*Listener
	ka net.KeepAliveConfig
}

// Accept implements net.Listener.
func (l *keepAliveListener) Accept() (net.Conn, error) {
	c, err := l.AcceptTCP()
	if err != nil {
		return nil, err
	}
	return c, nil
}

// AcceptTCP accepts the next connection and sets its keepalive.
func (l *keepAliveListener) AcceptTCP() (*Conn, error) {
	return l.AcceptContext(context.Background())
}

// AcceptContext is AcceptTCP with a context.
func (l *keepAliveListener) AcceptContext(ctx context.Context) (*Conn, error) {
	c, err := l.Listener.AcceptContext(ctx)
	if err != nil {
		return nil, err
	}
	if l.ka.Enable {
		_ = c.SetKeepAliveConfig(l.ka)
	} else {
		_ = c.SetKeepAlive(false)
	}
	return c, nil
}
