package stack

import (
	"time"

	"github.com/synack/synack/tcp"
	"github.com/synack/synack/wire"
)

// Defaults of the listener options.
const (
	// DefaultMaxBacklog caps accept queues, as Linux's somaxconn (4096
	// since Linux 5.4); it is also the default backlog, which is what Go's
	// net.Listen asks for on Linux.
	DefaultMaxBacklog = 4096
	// DefaultSynBacklog bounds each listener's SYN queue, as Linux's
	// tcp_max_syn_backlog does on a host with a few GiB of memory.
	DefaultSynBacklog = 1024
)

// Keepalive defaults of Options.KeepAlive: those of Go's net package
// (net.KeepAliveConfig).
const (
	DefaultKeepAliveIdle     = 15 * time.Second
	DefaultKeepAliveInterval = 15 * time.Second
	DefaultKeepAliveCount    = 9
)

// defaultKeepAlive returns the keepalive settings of the stack's new
// connections: ka (Options.TCP.KeepAlive) when it is enabled or d is
// negative; otherwise enabled, with d, if positive, as idle time and
// interval, and ka's values or Go's defaults (15 s, 15 s, 9 probes) for
// the rest.
func defaultKeepAlive(ka tcp.KeepAliveConfig, d time.Duration) tcp.KeepAliveConfig {
	if ka.Enable || d < 0 {
		return ka
	}
	ka.Enable = true
	if d > 0 {
		ka.Idle, ka.Interval = d, d
	}
	if ka.Idle <= 0 {
		ka.Idle = DefaultKeepAliveIdle
	}
	if ka.Interval <= 0 {
		ka.Interval = DefaultKeepAliveInterval
	}
	if ka.Count <= 0 {
		ka.Count = DefaultKeepAliveCount
	}
	return ka
}

// ipv6ParamProblem discards an IPv6 packet that RFC 8200 answers with a
// Parameter Problem (wire.IPv6ParamProblem: a routing header with
// Segments Left not zero, an unknown Next Header), sending that message,
// rate-limited like the other ICMP errors. It reports whether it did.
// Packets whose fixed header names TCP, UDP or ICMPv6 are not looked at.
func (s *Stack) ipv6ParamProblem(pkt []byte, ip *wire.IPPacket) bool {
	if len(pkt) < wire.IPv6HeaderLen || knownNext(pkt[6]) {
		return false
	}
	code, ptr, found := wire.IPv6ParamProblem(pkt, knownNext)
	if !found {
		return false
	}
	s.ctr.ipv6ParamProblems.Add(1)
	if out, r := s.icmpErrorPacket(6, ip.Dst, ip.Src, wire.ICMPv6ParameterProblem, code, ptr, pkt); out != nil {
		s.transmit(r, ip.Src, out, nil)
	}
	return true
}

// knownNext reports whether the stack carries upper-layer protocol p over
// IPv6.
func knownNext(p uint8) bool {
	return p == wire.ProtocolTCP || p == wire.ProtocolUDP || p == wire.ProtocolICMPv6
}

// icmpIgnoredPMTU counts an ICMP error that failed its check against the
// connection it quotes.
func (s *Stack) icmpIgnoredPMTU(e *icmpErr) {
	s.ctr.icmpIgnored.Add(1)
	if e.mtu > 0 {
		s.ctr.pmtuIgnored.Add(1)
	}
}

// pathMTUDecrease applies a fragmentation needed / packet too big that
// passed RFC 5927's check against c: the path MTU to the peer drops, and
// the engine hears of it (tcp.TCB.HandlePathMTU), so that c sends smaller
// segments from now on and resends, cut, those the path dropped, rather
// than leaving them to IP fragmentation.
func (sh *shard) pathMTUDecrease(c *Conn, e *icmpErr, now time.Time) {
	s := sh.s
	s.lowerPMTU(e.dst, e.mtu)
	r := s.routes.Load().lookup(e.dst)
	if r == nil {
		return
	}
	hdr := wire.IPv4HeaderLen
	if e.dst.Is6() {
		hdr = wire.IPv6HeaderLen
	}
	if c.tcb.HandlePathMTU(s.pathMTU(r, e.dst)-hdr-wire.TCPHeaderLen, now) {
		s.ctr.pmtuConnUpdates.Add(1)
	}
	sh.settle(c, now)
}

// udpPathMTU applies a fragmentation needed / packet too big quoting a
// UDP datagram only if a socket could have sent it (RFC 8201 §4 asks no
// more of UDP): otherwise anyone could lower the path MTU of every
// connection to a host.
func (s *Stack) udpPathMTU(p *inPacket) {
	if s.udpLookup(p.key.local, p.key.remote) == nil {
		s.icmpIgnoredPMTU(&p.qerr)
		return
	}
	s.ctr.icmpErrors.Add(1)
	s.lowerPMTU(p.qerr.dst, p.qerr.mtu)
}
