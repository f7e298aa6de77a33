package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"time"

	"github.com/synack/synack/link"
	"github.com/synack/synack/stack"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/pipe"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	gstack "gvisor.dev/gvisor/pkg/tcpip/stack"
	gtcp "gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// A network is a client and a server joined by a link: synack's two
// stacks over link.Pipe, gVisor's two stacks over its pipe endpoints, or
// the kernel's loopback. It has one listener at a time.
type network interface {
	// Listen opens the server's listener.
	Listen() (net.Listener, error)
	// Dial connects the client to the listener.
	Dial(ctx context.Context) (net.Conn, error)
	// Settle waits until connections the workload closed have reached
	// TIME-WAIT or are gone.
	Settle(want int)
	// Retransmits is how many segments the client end of c has
	// retransmitted (for gVisor: its whole stack).
	Retransmits(c net.Conn) int64
	// Close releases both ends.
	Close()
}

// stackDef names a contender and makes its networks.
type stackDef struct {
	name  string // as printed
	key   string // as in JSON and on the command line
	newFn func(mtu int) (network, error)
}

var (
	synackDef = stackDef{"synack", "synack", newSynack}
	gvisorDef = stackDef{"gVisor", "gvisor", newGVisor}
	kernelDef = stackDef{"kernel lo", "kernel", newKernel}
)

// Addresses inside 198.18.0.0/15 (RFC 2544 benchmarking), as the brief
// asks; the in-memory links never reach a real network anyway.
var (
	clientIP = netip.MustParseAddr("198.18.0.1")
	serverIP = netip.MustParseAddr("198.18.0.2")
)

const serverPort = 80

// --- synack ---

type synackNet struct {
	cl, sv *stack.Stack
}

func newSynack(mtu int) (network, error) {
	return newSynackOpts(mtu, stack.Options{BusyPoll: busyPoll}, stack.Options{BusyPoll: busyPoll})
}

// busyPoll (--busypoll) is synack's Options.BusyPoll (0: the stack's
// default, negative: never poll).
var busyPoll time.Duration

// pipeGSO (--gso) joins synack's two stacks with link.PipeGSO, over which
// bulk data goes as TCP super-segments (both ends are synack stacks that
// take them whole), instead of link.Pipe.
var pipeGSO = true

func newSynackOpts(mtu int, copts, sopts stack.Options) (*synackNet, error) {
	pipe := link.Pipe
	if pipeGSO {
		pipe = link.PipeGSO
	}
	a, b := pipe(mtu)
	n := &synackNet{cl: stack.New(copts), sv: stack.New(sopts)}
	if err := n.cl.AddLink(a, netip.PrefixFrom(clientIP, 24)); err != nil {
		n.Close()
		return nil, err
	}
	if err := n.sv.AddLink(b, netip.PrefixFrom(serverIP, 24)); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

func (n *synackNet) Listen() (net.Listener, error) {
	return n.sv.ListenBacklog("tcp", netip.AddrPortFrom(serverIP, serverPort).String(), 4096)
}

func (n *synackNet) Dial(ctx context.Context) (net.Conn, error) {
	return n.cl.DialContext(ctx, "tcp", netip.AddrPortFrom(serverIP, serverPort).String())
}

func (n *synackNet) Settle(want int) {
	// Connections counts the connections the stacks know (what is left
	// is the clients' TIME-WAIT): wait until there are at most want and
	// the count has not moved for 100 ms (in case TIME-WAIT is not
	// counted there).
	last, since := -1, time.Now()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		k := int(n.cl.Stats().Connections + n.sv.Stats().Connections)
		if k != last {
			last, since = k, time.Now()
		}
		if k <= want && time.Since(since) >= 100*time.Millisecond {
			return
		}
	}
}

func (n *synackNet) Retransmits(c net.Conn) int64 {
	if sc, ok := c.(*stack.Conn); ok {
		return int64(sc.Info().TotalRetransmits)
	}
	return -1
}

func (n *synackNet) Close() {
	n.cl.Close()
	n.sv.Close()
}

// --- gVisor ---

type gvisorNet struct {
	cl, sv *gstack.Stack
}

// newGVisorStack makes a gVisor stack with IPv4 and TCP on one NIC, with
// the options Tailscale sets (SACK, receive-buffer moderation) and CUBIC,
// synack's default congestion control.
func newGVisorStack(ep gstack.LinkEndpoint, addr netip.Addr) (*gstack.Stack, error) {
	s := gstack.New(gstack.Options{
		NetworkProtocols:   []gstack.NetworkProtocolFactory{ipv4.NewProtocol},
		TransportProtocols: []gstack.TransportProtocolFactory{gtcp.NewProtocol},
	})
	sack := tcpip.TCPSACKEnabled(true)
	moderate := tcpip.TCPModerateReceiveBufferOption(true)
	cc := tcpip.CongestionControlOption("cubic")
	for _, o := range []tcpip.SettableTransportProtocolOption{&sack, &moderate, &cc} {
		if err := s.SetTransportProtocolOption(gtcp.ProtocolNumber, o); err != nil {
			s.Close()
			return nil, fmt.Errorf("gvisor: option %T: %s", o, err)
		}
	}
	if err := s.CreateNIC(1, ep); err != nil {
		s.Close()
		return nil, fmt.Errorf("gvisor: CreateNIC: %s", err)
	}
	pa := tcpip.ProtocolAddress{
		Protocol:          ipv4.ProtocolNumber,
		AddressWithPrefix: tcpip.AddressWithPrefix{Address: tcpip.AddrFrom4(addr.As4()), PrefixLen: 24},
	}
	if err := s.AddProtocolAddress(1, pa, gstack.AddressProperties{}); err != nil {
		s.Close()
		return nil, fmt.Errorf("gvisor: AddProtocolAddress: %s", err)
	}
	s.SetRouteTable([]tcpip.Route{{Destination: header.IPv4EmptySubnet, NIC: 1}})
	return s, nil
}

func newGVisor(mtu int) (network, error) {
	a, b := pipe.New("", "", uint32(mtu))
	cl, err := newGVisorStack(a, clientIP)
	if err != nil {
		return nil, err
	}
	sv, err := newGVisorStack(b, serverIP)
	if err != nil {
		cl.Close()
		return nil, err
	}
	return &gvisorNet{cl: cl, sv: sv}, nil
}

func gvisorServer() tcpip.FullAddress {
	return tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFrom4(serverIP.As4()), Port: serverPort}
}

func (n *gvisorNet) Listen() (net.Listener, error) {
	return gonet.ListenTCP(n.sv, gvisorServer(), ipv4.ProtocolNumber)
}

func (n *gvisorNet) Dial(ctx context.Context) (net.Conn, error) {
	return gonet.DialContextTCP(ctx, n.cl, gvisorServer(), ipv4.ProtocolNumber)
}

func (n *gvisorNet) Settle(int) {
	// Wait until neither side counts a connection as established, then
	// give the last ACKs a moment.
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if n.cl.Stats().TCP.CurrentEstablished.Value()+n.sv.Stats().TCP.CurrentEstablished.Value() == 0 {
			break
		}
	}
	time.Sleep(100 * time.Millisecond)
}

func (n *gvisorNet) Retransmits(net.Conn) int64 {
	return int64(n.cl.Stats().TCP.Retransmits.Value())
}

func (n *gvisorNet) Close() {
	n.cl.Close()
	n.sv.Close()
	n.cl.Wait()
	n.sv.Wait()
}

// --- the kernel's loopback ---

type kernelNet struct {
	addr string
}

func newKernel(int) (network, error) { return &kernelNet{}, nil }

func (n *kernelNet) Listen() (net.Listener, error) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	n.addr = l.Addr().String()
	return l, nil
}

func (n *kernelNet) Dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp4", n.addr)
}

func (n *kernelNet) Settle(int) { time.Sleep(100 * time.Millisecond) }

func (n *kernelNet) Retransmits(c net.Conn) int64 {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return -1
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return -1
	}
	r := int64(-1)
	rc.Control(func(fd uintptr) {
		if info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
			r = int64(info.Total_retrans)
		}
	})
	return r
}

func (n *kernelNet) Close() {}

// gcNow collects garbage until the heap stops shrinking.
func gcNow() {
	runtime.GC()
	runtime.GC()
}
