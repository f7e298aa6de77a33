package stack

import (
	"net/netip"
	"syscall"

	"github.com/synack/synack/tcp"
	"github.com/synack/synack/wire"
)

// ICMP and ICMPv6: echo replies, errors delivered to the connection or
// socket they quote (RFC 1122 §4.2.3.9, RFC 5461, RFC 5927), and the
// errors the stack sends, rate-limited (RFC 1812 §4.3.2.8, RFC 4443 §2.4).

// icmpErr is what an ICMP error means to the transport it quotes.
type icmpErr struct {
	errno syscall.Errno
	// abort: the error fails a connect in SYN-SENT (destination
	// unreachable), else it is soft: recorded and reported only if the
	// connection later times out.
	abort bool
	// fatal: the error is reported to a connected UDP socket (Linux's
	// icmp_err_convert "fatal" column).
	fatal bool
	mtu   int // > 0: fragmentation needed / packet too big, with this MTU
	dst   netip.Addr
	quote wire.Quote
}

// classifyICMPv4 maps an ICMPv4 error to its errno, as Linux does; ok is
// false for messages a transport ignores (source quench, RFC 6633;
// redirect).
func classifyICMPv4(m *wire.ICMPMessage, q *wire.Quote, quoted []byte) (e icmpErr, ok bool) {
	switch m.Type {
	case wire.ICMPv4DestUnreachable:
		e.abort = true
		switch m.Code {
		case wire.ICMPv4NetUnreachable, wire.ICMPv4NetUnreachableForTOS:
			e.errno = syscall.ENETUNREACH
		case wire.ICMPv4HostUnreachable, wire.ICMPv4HostUnreachableForTOS:
			e.errno = syscall.EHOSTUNREACH
		case wire.ICMPv4ProtocolUnreachable:
			e.errno, e.fatal = syscall.ENOPROTOOPT, true
		case wire.ICMPv4PortUnreachable:
			e.errno, e.fatal = syscall.ECONNREFUSED, true
		case wire.ICMPv4FragmentationNeeded:
			e.errno, e.abort = syscall.EMSGSIZE, false
			e.mtu = int(m.Rest & 0xffff)
			if e.mtu == 0 {
				e.mtu = plateauBelow(quoted)
			}
			if e.mtu == 0 {
				return icmpErr{}, false
			}
		case wire.ICMPv4SourceRouteFailed:
			e.errno = syscall.EOPNOTSUPP
		case wire.ICMPv4NetUnknown, wire.ICMPv4NetProhibited:
			e.errno, e.fatal = syscall.ENETUNREACH, true
		case wire.ICMPv4HostUnknown:
			e.errno, e.fatal = syscall.EHOSTDOWN, true
		case wire.ICMPv4HostIsolated:
			e.errno, e.fatal = errHostIsolated, true
		default: // host prohibited, admin prohibited, precedence
			e.errno, e.fatal = syscall.EHOSTUNREACH, true
		}
	case wire.ICMPv4TimeExceeded:
		e.errno = syscall.EHOSTUNREACH
	case wire.ICMPv4ParameterProblem:
		e.errno, e.fatal = syscall.EPROTO, true
	default:
		return icmpErr{}, false
	}
	e.dst, e.quote = q.Dst, *q
	return e, true
}

// classifyICMPv6 maps an ICMPv6 error to its errno, as Linux does.
func classifyICMPv6(m *wire.ICMPMessage, q *wire.Quote) (e icmpErr, ok bool) {
	switch m.Type {
	case wire.ICMPv6DestUnreachable:
		e.abort = true
		switch m.Code {
		case wire.ICMPv6NoRoute:
			e.errno = syscall.ENETUNREACH
		case wire.ICMPv6AdminProhibited, wire.ICMPv6SourcePolicy, wire.ICMPv6RejectRoute:
			e.errno, e.fatal = syscall.EACCES, true
		case wire.ICMPv6PortUnreachable:
			e.errno, e.fatal = syscall.ECONNREFUSED, true
		default:
			e.errno = syscall.EHOSTUNREACH
		}
	case wire.ICMPv6PacketTooBig:
		e.errno = syscall.EMSGSIZE
		e.mtu = int(min(m.Rest, 65535))
		if e.mtu == 0 {
			return icmpErr{}, false
		}
	case wire.ICMPv6TimeExceeded:
		e.errno = syscall.EHOSTUNREACH
	case wire.ICMPv6ParameterProblem:
		e.errno, e.fatal = syscall.EPROTO, true
	default:
		return icmpErr{}, false
	}
	e.dst, e.quote = q.Dst, *q
	return e, true
}

// plateauBelow guesses a path MTU from the quoted packet's total length
// when an old router sends fragmentation needed without one (RFC 1191
// §5, the plateau table); 0 when it cannot.
func plateauBelow(quoted []byte) int {
	if len(quoted) < 4 {
		return 0
	}
	total := int(quoted[2])<<8 | int(quoted[3])
	plateaus := [...]int{32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68}
	for _, p := range plateaus {
		if p < total {
			return p
		}
	}
	return 0
}

// parseICMP classifies an ICMP or ICMPv6 message for dispatch (see
// Stack.parse); it reports false for what needs no more work.
func (s *Stack) parseICMP(p *inPacket) bool {
	ip := &p.ip
	ep := wire.Endpoints{Src: ip.Src, Dst: ip.Dst}
	var m wire.ICMPMessage
	var err error
	if ip.Version == 4 {
		m, err = wire.ParseICMPv4(ip.Payload)
	} else {
		m, err = wire.ParseICMPv6(ip.Payload, ep)
	}
	if err != nil {
		s.countBad(err)
		return false
	}
	s.ctr.icmpIn.Add(1)
	p.icmp = m
	if (ip.Version == 4 && m.Type == wire.ICMPv4EchoRequest) || (ip.Version == 6 && m.Type == wire.ICMPv6EchoRequest) {
		p.kind = pktEcho
		p.key = tuple{local: netip.AddrPortFrom(ip.Dst, 0), remote: netip.AddrPortFrom(ip.Src, 0)}
		p.sh = s.shardFor(p.key)
		return true
	}
	isErr := wire.IsICMPv4Error(m.Type)
	if ip.Version == 6 {
		isErr = wire.IsICMPv6Error(m.Type)
	}
	if !isErr {
		if (ip.Version == 4 && m.Type == wire.ICMPv4EchoReply) || (ip.Version == 6 && m.Type == wire.ICMPv6EchoReply) {
			s.pingInput(ip.Src.Unmap(), ip.Dst.Unmap(), &m) // ping.go
		}
		return false // nothing more to do
	}
	q, err := wire.ParseQuote(m.Body)
	if err != nil || int(q.Version) != int(ip.Version) {
		s.ctr.icmpIgnored.Add(1)
		return false
	}
	q.Src, q.Dst = q.Src.Unmap(), q.Dst.Unmap()
	var e icmpErr
	var ok bool
	if ip.Version == 4 {
		e, ok = classifyICMPv4(&m, &q, m.Body)
	} else {
		e, ok = classifyICMPv6(&m, &q)
	}
	// The quoted packet must be one we sent.
	if !ok || !s.forwardsTo(q.Src, s.routes.Load().local) {
		s.ctr.icmpIgnored.Add(1)
		return false
	}
	sp, dp, hasPorts := q.Ports()
	p.qerr = e
	switch {
	case q.Protocol == wire.ProtocolTCP && hasPorts:
		p.kind = pktTCPError
	case q.Protocol == wire.ProtocolUDP && hasPorts:
		p.kind = pktUDPError
	default:
		// Quoting no flow the stack could check: a forged message
		// would lower the path MTU of every connection to the host.
		if e.mtu > 0 {
			s.ctr.pmtuIgnored.Add(1)
		}
		s.ctr.icmpIgnored.Add(1)
		return false
	}
	p.key = tuple{local: netip.AddrPortFrom(q.Src, sp), remote: netip.AddrPortFrom(q.Dst, dp)}
	p.sh = s.shardFor(p.key)
	return true
}

// tcpError delivers an ICMP error to the connection whose segment it
// quotes. The quoted sequence number must lie in SND.UNA..SND.NXT, which
// a blind attacker has to guess (RFC 5927 §4.1), SND.NXT included as
// Linux does, since our pure ACKs carry it; but before the handshake
// completes only our SYN or SYN-ACK, at ISS, has been sent, so there an
// error quoting SND.NXT quotes nothing of ours and is ignored, as RFC
// 5927 §4.1 writes it (SND.UNA =< SEG.SEQ < SND.NXT) and FreeBSD does,
// where Linux would abort the connect on it. In SYN-SENT a
// destination unreachable fails the connect (the dialer gets its errno);
// later every error is soft (RFC 5461): it is remembered and reported
// only if the connection times out. Fragmentation needed / packet too big
// lower the path MTU and the connection's MSS (pathMTUDecrease).
func (sh *shard) tcpError(p *inPacket) {
	s := sh.s
	c := sh.conns.get(p.key)
	seq, ok := p.qerr.quote.TCPSeq()
	e := &p.qerr
	if c == nil || !ok {
		s.icmpIgnoredPMTU(e)
		return
	}
	info := c.tcb.Info()
	st := c.tcb.State()
	synOnly := st == tcp.StateSynSent || st == tcp.StateSynReceived
	if above := int32(info.SndNxt - seq); int32(seq-info.SndUna) < 0 || above < 0 || above == 0 && synOnly {
		s.icmpIgnoredPMTU(e)
		return
	}
	s.ctr.icmpErrors.Add(1)
	now := s.clock.Now()
	if e.mtu > 0 {
		sh.pathMTUDecrease(c, e, now)
		return
	}
	switch {
	case e.abort && st == tcp.StateSynSent:
		c.hardErr = errno16(e.errno)
		c.tcb.Abort(now)
		sh.settle(c, now)
	case e.abort && c.halfOpen:
		// A half-open connection of a listener: the client is gone, so
		// it goes silently (the engine's RST is not sent).
		c.tcb.Abort(now)
		c.tcb.DrainOutput(func(*tcp.Segment) {})
		sh.settle(c, now)
	default:
		c.softErr = errno16(e.errno)
	}
}

// echo answers an echo request (RFC 792, RFC 4443 §4.2) from the address
// it was sent to, with the same identifier, sequence number and data.
func (sh *shard) echo(p *inPacket) {
	s := sh.s
	ip := &p.ip
	if !unicast(ip.Src) {
		return
	}
	if !s.routes.Load().local[ip.Dst] {
		if sh.forwardEcho(p) { // forward_echo.go
			return
		}
		if s.fwd.noEcho.Load() {
			return // a promiscuous stack told not to answer for others
		}
	}
	sh.buf, _ = s.sendEchoReply(ip.Dst, ip.Src, p.icmp, sh.buf, sh.pendingQueue())
}

// sendEchoReply answers the echo request m, sent from to to from: an echo
// reply with its identifier, sequence number and data, built in buf
// (returned for reuse) and transmitted through q as transmit does.
func (s *Stack) sendEchoReply(from, to netip.Addr, m wire.ICMPMessage, buf []byte, q *[]outPacket) ([]byte, error) {
	r := s.routes.Load().lookup(to)
	if r == nil {
		s.ctr.noRoute.Add(1)
		return buf, syscall.ENETUNREACH
	}
	m.Type = wire.ICMPv6EchoReply
	if from.Is4() && to.Is4() {
		m.Type = wire.ICMPv4EchoReply
	}
	buf = s.appendICMPPacket(buf[:0], from, to, &m)
	s.ctr.echoReplies.Add(1)
	s.ctr.icmpOut.Add(1)
	s.transmit(r, to, buf, q)
	return buf, nil
}

// appendICMPPacket appends to b the IP packet from src to dst that
// carries m, checksums computed: ICMP over IPv4 when both addresses are
// IPv4 (as appendIPHeader decides), else ICMPv6.
func (s *Stack) appendICMPPacket(b []byte, src, dst netip.Addr, m *wire.ICMPMessage) []byte {
	n := wire.ICMPHeaderLen + len(m.Body)
	if src.Is4() && dst.Is4() {
		return wire.AppendICMPv4(s.appendIPHeader(b, src, dst, wire.ProtocolICMP, n), m)
	}
	b = s.appendIPHeader(b, src, dst, wire.ProtocolICMPv6, n)
	return wire.AppendICMPv6(b, m, wire.Endpoints{Src: src, Dst: dst})
}

// unicast reports whether a may be the source of a packet the stack
// answers: not unspecified, multicast or the IPv4 limited broadcast.
func unicast(a netip.Addr) bool {
	return a.IsValid() && !a.IsUnspecified() && !a.IsMulticast() &&
		a != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// Quote limits: an ICMPv4 error stays within 576 bytes (RFC 1812
// §4.3.2.3), an ICMPv6 error within the minimum MTU (RFC 4443 §2.4).
const (
	maxICMPv4Error = 576
	maxICMPv6Error = 1280
)

// icmpErrorPacket builds an ICMP error of the given type from src to dst
// quoting quoted, if the rate limit allows and dst may be answered; it
// returns the packet (a new buffer) and the route to send it on, or nil.
func (s *Stack) icmpErrorPacket(version uint8, src, dst netip.Addr, typ, code uint8, rest uint32, quoted []byte) ([]byte, *route) {
	if !unicast(dst) {
		return nil, nil
	}
	r := s.routes.Load().lookup(dst)
	if r == nil {
		s.ctr.noRoute.Add(1)
		return nil, nil
	}
	if !s.icmpLimit.allow(s.clock.Now()) {
		s.ctr.icmpRateLimited.Add(1)
		return nil, nil
	}
	limit := maxICMPv4Error - wire.IPv4HeaderLen - wire.ICMPHeaderLen
	if version == 6 {
		limit = maxICMPv6Error - wire.IPv6HeaderLen - wire.ICMPHeaderLen
	}
	m := wire.ICMPMessage{Type: typ, Code: code, Rest: rest, Body: quoted[:min(len(quoted), limit)]}
	pkt := s.appendICMPPacket(make([]byte, 0, 48+wire.ICMPHeaderLen+len(m.Body)), src, dst, &m)
	s.ctr.icmpOut.Add(1)
	return pkt, r
}

// portUnreachable answers a datagram to a closed UDP port (RFC 1122
// §4.1.3.1), quoting it.
func (sh *shard) portUnreachable(p *inPacket) {
	ip := &p.ip
	typ, code := uint8(wire.ICMPv4DestUnreachable), uint8(wire.ICMPv4PortUnreachable)
	if ip.Version == 6 {
		typ, code = wire.ICMPv6DestUnreachable, wire.ICMPv6PortUnreachable
	}
	quoted := p.raw
	if quoted == nil { // reassembled: rebuild a header to quote
		quoted = sh.s.appendIPHeader(nil, ip.Src, ip.Dst, ip.Protocol, len(ip.Payload))
		quoted = append(quoted, ip.Payload...)
	}
	if pkt, r := sh.s.icmpErrorPacket(ip.Version, ip.Dst, ip.Src, typ, code, 0, quoted); pkt != nil {
		sh.s.transmit(r, ip.Src, pkt, sh.pendingQueue())
	}
}
