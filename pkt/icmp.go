package pkt

import (
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/synack/synack/wire"
)

// Inbound ICMP lines ("< icmp unreachable port_unreachable [0:0(0)]") are
// injected as ICMP errors from the remote address quoting a TCP segment
// of the current connection: the bracketed sequence number is relative to
// our ISN, as on '>' lines; without it the error quotes the last segment
// the connection sent.

// icmpTypes are packetdrill's names of the ICMPv4 and ICMPv6 types.
var icmpTypes = map[string][2]int{ // {v4, v6}; -1: none
	"echo_reply": {0, 129}, "unreachable": {3, 1}, "source_quench": {4, -1}, "redirect": {5, -1},
	"echo_request": {8, 128}, "time_exceeded": {11, 3}, "parameter_problem": {12, 4},
	"packet_too_big": {-1, 2},
}

// icmpCodes are packetdrill's names of the codes.
var icmpCodes = map[string][2]int{
	"net_unreachable": {0, 0}, "host_unreachable": {1, 3}, "protocol_unreachable": {2, -1},
	"port_unreachable": {3, 4}, "frag_needed": {4, -1}, "source_route_failed": {5, -1},
	"net_unknown": {6, -1}, "host_unknown": {7, -1}, "source_host_isolated": {8, -1},
	"net_prohibited": {9, -1}, "host_prohibited": {10, -1}, "net_unreachable_for_tos": {11, -1},
	"host_unreachable_for_tos": {12, -1}, "packet_filtered": {13, 1}, "precedence_violation": {14, -1},
	"precedence_cutoff": {15, -1}, "ttl_exceeded_in_transit": {0, 0}, "frag_reass_exceeded": {1, 1},
	"no_route": {-1, 0}, "admin_prohibited": {-1, 1}, "beyond_scope": {-1, 2}, "address_unreachable": {-1, 3},
	"hop_limit_exceeded": {-1, 0},
}

// icmpNumber looks a type or code name up ("code_N" and numbers too).
func icmpNumber(table map[string][2]int, name string, v6 bool) (int, bool) {
	if n, err := strconv.Atoi(strings.TrimPrefix(name, "code_")); err == nil && n >= 0 && n < 256 {
		return n, true
	}
	e, ok := table[name]
	if !ok {
		return 0, false
	}
	i := 0
	if v6 {
		i = 1
	}
	return e[i], e[i] >= 0
}

// injectICMP builds and delivers the ICMP error of a '<' icmp line.
func (r *runner) injectICMP(ev Event, p *ICMPPacket) {
	if p.Dir != Inbound {
		r.skipf(ev.Line, "outbound ICMP lines are not checked")
		return
	}
	v6 := r.cfg.IPv6
	typ, ok := icmpNumber(icmpTypes, p.Type, v6)
	if !ok {
		r.skipf(ev.Line, "ICMP type %s is not supported", p.Type)
		return
	}
	code := 0
	if p.Code != "" {
		if code, ok = icmpNumber(icmpCodes, p.Code, v6); !ok {
			r.skipf(ev.Line, "ICMP code %s is not supported", p.Code)
			return
		}
	}
	if p.Echoed != nil && p.Echoed.Proto != EchoedTCP {
		r.skipf(ev.Line, "ICMP errors quoting non-TCP packets are not supported")
		return
	}
	f := r.cur
	if f == nil {
		r.skipf(ev.Line, "ICMP error before any connection")
		return
	}
	seq := f.lastSeq
	if p.Echoed != nil {
		seq = p.Echoed.Seq
		if f.haveISN {
			seq += f.isn
		}
	}
	// The quoted packet: our IP header and the first 20 bytes of the TCP
	// header of a segment we sent.
	var tcpHdr [wire.TCPHeaderLen]byte
	binary.BigEndian.PutUint16(tcpHdr[0:], f.local.Port())
	binary.BigEndian.PutUint16(tcpHdr[2:], f.remote.Port())
	binary.BigEndian.PutUint32(tcpHdr[4:], seq)
	tcpHdr[12] = 5 << 4
	tcpHdr[13] = byte(wire.FlagACK)
	var quote []byte
	if v6 {
		quote = wire.AppendIPv6(nil, &wire.IPv6Header{NextHeader: wire.ProtocolTCP, HopLimit: 64, Src: f.local.Addr(), Dst: f.remote.Addr()}, len(tcpHdr))
	} else {
		quote = wire.AppendIPv4(nil, &wire.IPv4Header{TTL: 64, Protocol: wire.ProtocolTCP, Src: f.local.Addr(), Dst: f.remote.Addr(), DontFragment: true}, len(tcpHdr))
	}
	quote = append(quote, tcpHdr[:]...)
	m := wire.ICMPMessage{Type: uint8(typ), Code: uint8(code), Body: quote}
	if p.MTU != nil {
		m.Rest = *p.MTU
		if !v6 {
			m.Rest &= 0xffff
		}
	}
	ep := wire.Endpoints{Src: f.remote.Addr(), Dst: f.local.Addr()}
	var pkt []byte
	if v6 {
		body := wire.AppendICMPv6(nil, &m, ep)
		pkt = wire.AppendIPv6(nil, &wire.IPv6Header{NextHeader: wire.ProtocolICMPv6, HopLimit: 64, Src: ep.Src, Dst: ep.Dst}, len(body))
		pkt = append(pkt, body...)
	} else {
		body := wire.AppendICMPv4(nil, &m)
		pkt = wire.AppendIPv4(nil, &wire.IPv4Header{TTL: 64, Protocol: wire.ProtocolICMP, Src: ep.Src, Dst: ep.Dst}, len(body))
		pkt = append(pkt, body...)
	}
	r.stack(nil).DeliverPacket(pkt)
}
