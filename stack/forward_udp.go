package stack

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"time"
)

// UDPForwardConfig bounds the UDP forwarder.
type UDPForwardConfig struct {
	// MaxFlows bounds the flows open at once; a first datagram beyond it
	// is dropped and counted. Default DefaultMaxPendingForwards.
	MaxFlows int
	// IdleTimeout closes a flow that has carried no datagram either way
	// for this long (while its handler reads). Default 60 s; DNS-like
	// request/response flows may want less.
	IdleTimeout time.Duration
}

// ErrFlowIdle is returned (in a *net.OpError) by a read on a UDP flow that
// was closed because it was idle for its idle timeout.
var ErrFlowIdle = errors.New("stack: UDP flow idle")

// ForwardUDP installs handler as the stack's UDP forwarder (nil removes
// it): a datagram that reaches no socket of the stack opens a flow — a
// socket bound to the destination the client sent to and connected to
// the client — and handler is called with it in a goroutine of its own.
// Later datagrams between the same two endpoints go to the same flow
// until it is closed. The handler owns the flow and must close it.
func (s *Stack) ForwardUDP(cfg UDPForwardConfig, handler func(*UDPFlow)) {
	if cfg.MaxFlows <= 0 {
		cfg.MaxFlows = DefaultMaxPendingForwards
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 60 * time.Second
	}
	f := &s.fwd
	f.mu.Lock()
	f.udpHandler, f.udpCfg = handler, cfg
	f.mu.Unlock()
	if handler != nil {
		f.promiscuous.Store(true)
	}
}

// UDPFlow is one forwarded UDP flow: datagrams between a client
// (RemoteAddr) and the destination it sent to (LocalAddr), which the
// stack answers from. It is a connected *UDPConn (Read and Write carry
// the flow's datagrams; ReadFrom and WriteTo work too) that closes itself
// when it has been idle for the forwarder's IdleTimeout.
type UDPFlow struct {
	*UDPConn
	idle   time.Duration
	last   atomic.Int64 // the last datagram either way: nanoseconds since flowBase
	closed atomic.Bool
}

// flowBase is the origin of UDPFlow.last. Times reckoned from it keep
// time.Now's monotonic reading, so that a step of the wall clock neither
// ends every flow at once (a NAT mapping lost mid-session) nor keeps idle
// ones for hours; a virtual clock's times read as they are.
var flowBase = time.Now()

// touch records activity on the flow.
func (f *UDPFlow) touch() { f.last.Store(int64(f.s.clock.Now().Sub(flowBase))) }

// expiry is when the flow ends if nothing more crosses it.
func (f *UDPFlow) expiry() time.Time {
	return flowBase.Add(time.Duration(f.last.Load()) + f.idle)
}

// Read reads the next datagram from the client. It fails with ErrFlowIdle
// once nothing has crossed the flow for the idle timeout, and closes the
// flow then.
func (f *UDPFlow) Read(b []byte) (int, error) {
	n, _, err := f.ReadFromUDPAddrPort(b)
	return n, err
}

// ReadFrom is Read with the sender (always RemoteAddr).
func (f *UDPFlow) ReadFrom(b []byte) (int, net.Addr, error) {
	n, from, err := f.ReadFromUDPAddrPort(b)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(from), nil
}

// ReadFromUDPAddrPort is ReadFrom with a netip.AddrPort.
func (f *UDPFlow) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	c := f.UDPConn
	for {
		c.mu.Lock()
		user := c.rdl
		c.mu.Unlock()
		dl := f.expiry()
		if !user.IsZero() && user.Before(dl) {
			dl = user
		}
		c.mu.Lock()
		c.rdl = dl
		c.mu.Unlock()
		n, from, err := c.ReadFromUDPAddrPort(b)
		c.mu.Lock()
		if c.rdl.Equal(dl) {
			c.rdl = user
		}
		c.mu.Unlock()
		if err == nil {
			f.touch()
			return n, from, nil
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) || !user.IsZero() && !user.After(f.s.clock.Now()) {
			return n, from, err
		}
		if !f.s.clock.Now().Before(f.expiry()) {
			f.Close()
			return 0, netip.AddrPort{}, c.opErr("read", nil, ErrFlowIdle)
		}
		// A write moved the expiry: wait again.
	}
}

// Write sends b to the client, from LocalAddr.
func (f *UDPFlow) Write(b []byte) (int, error) {
	n, err := f.UDPConn.Write(b)
	if err == nil {
		f.touch()
	}
	return n, err
}

// Close closes the flow; the next datagram between its endpoints opens a
// new one.
func (f *UDPFlow) Close() error {
	err := f.UDPConn.Close()
	if f.closed.CompareAndSwap(false, true) {
		fw := &f.s.fwd
		fw.mu.Lock()
		fw.flows--
		fw.mu.Unlock()
	}
	return err
}

// forwardUDP offers p, a datagram no socket took, to the UDP forwarder.
// It reports whether the forwarder took it.
func (sh *shard) forwardUDP(p *inPacket) bool {
	s := sh.s
	fw := &s.fwd
	fw.mu.Lock()
	handler, cfg := fw.udpHandler, fw.udpCfg
	if handler == nil {
		fw.mu.Unlock()
		return false
	}
	if fw.flows >= cfg.MaxFlows {
		fw.mu.Unlock()
		fw.udpDropped.Add(1)
		return true
	}
	fw.flows++
	fw.mu.Unlock()

	network := "udp4"
	if p.key.local.Addr().Is6() {
		network = "udp6"
	}
	key := udpKey{local: p.key.local, remote: p.key.remote}
	c := &UDPConn{s: s, network: network, key: key,
		laddr: net.UDPAddrFromAddrPort(key.local), raddr: net.UDPAddrFromAddrPort(key.remote)}
	c.queue = append(c.queue, udpDatagram{from: key.remote, data: append([]byte(nil), p.payload...)})
	c.queued = len(p.payload)
	flow := &UDPFlow{UDPConn: c, idle: cfg.IdleTimeout}
	flow.touch()
	s.udpMu.Lock()
	s.udp[key] = c
	s.udpPorts[key.local.Port()]++
	s.udpMu.Unlock()
	s.ctr.udpIn.Add(1)
	fw.udpFlows.Add(1)
	go handler(flow)
	return true
}
