package stack

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/synack/synack/tcp"
	"github.com/synack/synack/wire"
)

// Forwarding: terminating connections and flows addressed to anywhere.
//
// A gateway behind a TUN (tun2socks-style) or the network stack of a
// userspace VPN peer must accept TCP connections and UDP flows for
// destinations it does not own, and answer from those addresses. With a
// forwarder installed, the stack takes every packet that arrives on a link
// whatever its destination (promiscuous), and a SYN or a first datagram
// that no connection, listener or socket of the stack claims is handed to
// the forwarder instead of being answered with a RST or a port
// unreachable. Explicit connections, listeners and sockets keep priority;
// for destinations the stack does not own, only listeners and sockets bound
// to that exact address match (a wildcard listener serves the stack's own
// addresses only).
//
// Unlike a forwarder that completes every handshake at once, the TCP
// forwarder keeps end-to-end semantics: the client's SYN stays unanswered
// (its retransmissions are absorbed) while the handler decides — usually
// after dialing the real destination — whether to complete the handshake
// (TCPRequest.Accept) or to refuse it the way the destination did: a RST
// (connection refused), an ICMP unreachable, or silence (a timeout).

// Refusal says how a forwarded connection is refused.
type Refusal uint8

const (
	// RefuseReset answers the SYN with a RST: the client sees
	// "connection refused".
	RefuseReset Refusal = iota
	// RefuseNetUnreachable answers with ICMP destination unreachable,
	// network unreachable (ICMPv6: no route to destination).
	RefuseNetUnreachable
	// RefuseHostUnreachable answers with ICMP host unreachable (ICMPv6:
	// address unreachable).
	RefuseHostUnreachable
	// RefuseAdminProhibited answers with ICMP communication
	// administratively prohibited.
	RefuseAdminProhibited
	// RefuseSilently drops the SYN: the client times out, as it would
	// against a destination that never answers. A retransmitted SYN
	// makes a new request.
	RefuseSilently
)

// DefaultMaxPendingForwards bounds the TCP requests and UDP flows a
// forwarder has in hand at once when the caller gives no bound.
const DefaultMaxPendingForwards = 1024

// errForwardDone is returned by Accept on a request already decided.
var errForwardDone = errors.New("stack: forward request already decided")

// forwarding is a stack's forwarder state.
type forwarding struct {
	promiscuous atomic.Bool // take packets for any destination
	noEcho      atomic.Bool // do not answer echo requests for addresses not the stack's own

	mu         sync.Mutex
	tcpHandler func(*TCPRequest)
	maxPending int
	pending    map[tuple]*TCPRequest

	udpHandler func(*UDPFlow)
	udpCfg     UDPForwardConfig
	flows      int // live UDP flows

	echoHandler atomic.Pointer[func(*EchoRequest)] // forward_echo.go

	// Counters.
	tcpRequests, tcpDropped, tcpAccepted, tcpRefused atomic.Uint64
	udpFlows, udpDropped                             atomic.Uint64
}

func (f *forwarding) stats(st *Stats) {
	f.mu.Lock()
	pending, live := len(f.pending), f.flows
	f.mu.Unlock()
	st.ForwardTCPRequests = f.tcpRequests.Load()
	st.ForwardTCPDropped = f.tcpDropped.Load()
	st.ForwardTCPAccepted = f.tcpAccepted.Load()
	st.ForwardTCPRefused = f.tcpRefused.Load()
	st.ForwardTCPPending = uint64(pending)
	st.ForwardUDPFlows = f.udpFlows.Load()
	st.ForwardUDPDropped = f.udpDropped.Load()
	st.ForwardUDPLive = uint64(live)
}

// SetPromiscuous makes the stack take packets addressed to any unicast
// destination, not only its own addresses, and lets listeners, UDP
// sockets and dials bind any unicast address (as Linux does with
// IP_TRANSPARENT). Installing a forwarder turns it on; on alone, it makes
// the stack answer ICMP echo requests for any address (a gateway that
// answers pings itself).
func (s *Stack) SetPromiscuous(on bool) { s.fwd.promiscuous.Store(on) }

// SetPromiscuousEcho says whether a promiscuous stack answers ICMP and
// ICMPv6 echo requests addressed to destinations it does not own (the
// default) or drops them, as a gateway that should not pretend every
// address is alive does.
func (s *Stack) SetPromiscuousEcho(answer bool) { s.fwd.noEcho.Store(!answer) }

// ForwardTCP installs handler as the stack's TCP forwarder (nil removes
// it): every SYN that reaches no connection or listener becomes a
// *TCPRequest, and handler is called with it in a goroutine of its own. At
// most maxPending requests are undecided at once (<= 0:
// DefaultMaxPendingForwards); SYNs beyond that are dropped and counted, and
// the clients retransmit them. The handler must decide every request:
// Accept or Refuse.
func (s *Stack) ForwardTCP(maxPending int, handler func(*TCPRequest)) {
	if maxPending <= 0 {
		maxPending = DefaultMaxPendingForwards
	}
	f := &s.fwd
	f.mu.Lock()
	f.tcpHandler, f.maxPending = handler, maxPending
	if f.pending == nil {
		f.pending = make(map[tuple]*TCPRequest)
	}
	f.mu.Unlock()
	if handler != nil {
		f.promiscuous.Store(true)
	}
}

// TCPRequest is a connection attempt held for the TCP forwarder: a SYN
// addressed to LocalAddr (the destination the client asked for) from
// RemoteAddr (the client), not yet answered.
type TCPRequest struct {
	s   *Stack
	key tuple

	mu      sync.Mutex // guards syn, quote and done
	syn     tcp.Segment
	quote   []byte // the SYN's IP packet, to quote in an ICMP error
	version uint8
	done    bool
	at      time.Time // when the first SYN arrived
}

// LocalAddr is the address and port the client connects to: the
// destination to dial upstream.
func (r *TCPRequest) LocalAddr() netip.AddrPort { return r.key.local }

// RemoteAddr is the client's address and port.
func (r *TCPRequest) RemoteAddr() netip.AddrPort { return r.key.remote }

// SYNOptions are the options of the SYN (MSS, window scale, SACK
// permitted, timestamps).
func (r *TCPRequest) SYNOptions() wire.TCPOptions {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.syn.Options
}

// Arrived is when the request's first SYN arrived.
func (r *TCPRequest) Arrived() time.Time { return r.at }

// take marks r decided and forgets it; false if it already was.
func (r *TCPRequest) take() bool {
	f := &r.s.fwd
	f.mu.Lock()
	defer f.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return false
	}
	r.done = true
	if f.pending[r.key] == r {
		delete(f.pending, r.key)
	}
	return true
}

// Accept completes the handshake: the stack answers the client's SYN with
// a SYN-ACK from LocalAddr and returns the connection once it is
// established. It fails if the client reset or gave up, if ctx ends first
// (the half-open connection is then aborted), or if the request was
// already decided.
func (r *TCPRequest) Accept(ctx context.Context) (*Conn, error) {
	s := r.s
	fail := func(err error) (*Conn, error) {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Source: net.TCPAddrFromAddrPort(r.key.local),
			Addr: net.TCPAddrFromAddrPort(r.key.remote), Err: wrapErrno("accept", err)}
	}
	key := r.key
	sh := s.shardFor(key)
	// Decided under the shard's lock: a retransmitted SYN, handled under
	// the same lock, then finds the connection and not a new request.
	sh.mu.Lock()
	if !r.take() {
		sh.unlock()
		return fail(errForwardDone)
	}
	s.fwd.tcpAccepted.Add(1)
	if s.stopped.Load() {
		sh.unlock()
		return fail(net.ErrClosed)
	}
	rt := s.routes.Load().lookup(key.remote.Addr())
	if rt == nil {
		sh.unlock()
		s.ctr.noRoute.Add(1)
		return fail(syscall.EHOSTUNREACH)
	}
	if sh.conns.get(key) != nil {
		sh.unlock()
		return fail(syscall.EADDRINUSE)
	}
	now := s.clock.Now()
	c := s.newConn(sh, key, rt)
	cfg := s.config(rt, key.remote.Addr())
	r.mu.Lock()
	syn := r.syn
	r.mu.Unlock()
	c.tcb = tcp.NewPassive(cfg, s.isn(key.local, key.remote, now), &syn, now)
	c.watch()
	s.report(key.local, key.remote, tcp.StateListen, tcp.StateSynReceived, now)
	sh.insert(c)
	s.ctr.passiveOpens.Add(1)
	sh.settle(c, now)

	dl, _ := ctx.Deadline()
	if err := sh.awaitHandshake(ctx, c, tcp.StateSynReceived, dl); err != nil {
		sh.unlock()
		return fail(err)
	}
	if st := c.tcb.State(); c.tcb.Done() || st == tcp.StateClosed || st == tcp.StateListen {
		// Reset by the client, or the SYN-ACK's retries ran out.
		err := c.failure(c.tcb.Err())
		if err == nil {
			err = syscall.ECONNRESET
		}
		if !c.tcb.Done() {
			c.tcb.Abort(s.clock.Now())
			c.tcb.DrainOutput(c.emit)
		}
		sh.remove(c)
		sh.unlock()
		return fail(err)
	}
	sh.unlock()
	return c, nil
}

// Refuse answers the request the way how says. Refusing a request that was
// already decided does nothing.
func (r *TCPRequest) Refuse(how Refusal) {
	s := r.s
	sh := s.shardFor(r.key)
	sh.mu.Lock()
	defer sh.unlock()
	if !r.take() {
		return
	}
	s.fwd.tcpRefused.Add(1)
	if how == RefuseSilently || s.stopped.Load() {
		return
	}
	r.mu.Lock()
	syn, quote, version := r.syn, r.quote, r.version
	r.mu.Unlock()
	if how == RefuseReset {
		sh.reset(r.key, &syn)
		return
	}
	typ, code := icmpUnreachable(version, how)
	if pkt, rt := s.icmpErrorPacket(version, r.key.local.Addr(), r.key.remote.Addr(), typ, code, 0, quote); pkt != nil {
		s.transmit(rt, r.key.remote.Addr(), pkt, sh.pendingQueue())
	}
}

// icmpUnreachable gives the destination-unreachable type and code for a
// refusal.
func icmpUnreachable(version uint8, how Refusal) (typ, code uint8) {
	if version == 6 {
		code := uint8(3) // address unreachable (RFC 4443 §3.1)
		switch how {
		case RefuseNetUnreachable:
			code = 0 // no route to destination
		case RefuseAdminProhibited:
			code = 1 // communication administratively prohibited
		}
		return wire.ICMPv6DestUnreachable, code
	}
	code = 1 // host unreachable (RFC 792)
	switch how {
	case RefuseNetUnreachable:
		code = 0
	case RefuseAdminProhibited:
		code = 13 // communication administratively prohibited (RFC 1812 §5.2.7.1)
	}
	return wire.ICMPv4DestUnreachable, code
}

// forwardSYN offers seg, a segment from p that reached no connection or
// listener, to the TCP forwarder (sh.mu held). It reports whether the
// forwarder took it: a pure SYN while a forwarder is installed. A SYN for
// a request already pending is absorbed (its ISN updated if the client
// started over).
func (sh *shard) forwardSYN(p *inPacket, seg *tcp.Segment, now time.Time) bool {
	f := &sh.s.fwd
	if seg.Flags&(wire.FlagSYN|wire.FlagACK|wire.FlagRST|wire.FlagFIN) != wire.FlagSYN {
		return false
	}
	f.mu.Lock()
	handler := f.tcpHandler
	if handler == nil {
		f.mu.Unlock()
		return false
	}
	if r := f.pending[p.key]; r != nil {
		f.mu.Unlock()
		r.mu.Lock()
		r.syn = forwardedSYN(seg)
		r.mu.Unlock()
		return true
	}
	if len(f.pending) >= f.maxPending {
		f.mu.Unlock()
		f.tcpDropped.Add(1)
		return true
	}
	r := &TCPRequest{s: sh.s, key: p.key, syn: forwardedSYN(seg), version: p.ip.Version, at: now}
	r.quote = quotable(sh.s, p)
	f.pending[p.key] = r
	f.mu.Unlock()
	f.tcpRequests.Add(1)
	go handler(r)
	return true
}

// forwardedSYN copies what a pending request keeps of a SYN: not its
// payload, which aliases a pooled buffer (data on a SYN without Fast Open
// is not acknowledged anyway, RFC 9293 §3.10.7.2).
func forwardedSYN(seg *tcp.Segment) tcp.Segment {
	syn := *seg
	syn.Payload = nil
	return syn
}

// quotable copies the part of p's IP packet an ICMP error would quote.
func quotable(s *Stack, p *inPacket) []byte {
	ip := &p.ip
	raw := p.raw
	if raw == nil { // reassembled: rebuild a header to quote
		raw = s.appendIPHeader(nil, ip.Src, ip.Dst, ip.Protocol, len(ip.Payload))
		raw = append(raw, ip.Payload...)
	}
	limit := maxICMPv4Error - wire.IPv4HeaderLen - wire.ICMPHeaderLen
	if ip.Version == 6 {
		limit = maxICMPv6Error - wire.IPv6HeaderLen - wire.ICMPHeaderLen
	}
	return append([]byte(nil), raw[:min(len(raw), limit)]...)
}

// forwardsTo reports whether a packet for dst may be taken: dst is one of
// the stack's addresses, or the stack is promiscuous.
func (s *Stack) forwardsTo(dst netip.Addr, local map[netip.Addr]bool) bool {
	return local[dst] || s.fwd.promiscuous.Load() && unicast(dst)
}

// ownsOrExact reports whether a listener or socket bound to bound may
// take a packet for dst: the stack owns dst, or bound is exactly dst. A
// wildcard listener does not take connections for addresses the stack
// does not own.
func (s *Stack) ownsOrExact(bound, dst netip.Addr) bool {
	return bound == dst || s.routes.Load().local[dst]
}
