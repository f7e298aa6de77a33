package pkt

import (
	"encoding/binary"
	"encoding/hex"
	"net/netip"

	"github.com/synack/synack/wire"
)

// flowKey names a connection by its addresses, seen from the stack.
type flowKey struct {
	local, remote netip.AddrPort
}

// flow is one connection as the script sees it: where inbound packets go
// and how sequence numbers are made relative.
type flow struct {
	flowKey
	isn     uint32 // our initial sequence number, learned from our SYN
	haveISN bool
	// synOff is our SYN's sequence number less the one its '>' line
	// wrote: packetdrill compares SYNs (and their acknowledgments) in the
	// script's numbers, and every other segment relative to our ISN.
	synOff uint32
	// ts maps a TSval written on a '>' line to the TSval we really sent,
	// so that an inbound "ecr" naming it echoes the real one.
	ts       map[uint32]uint32
	lastTS   uint32 // the last TSval we sent
	lastSeq  uint32 // the sequence number of the last segment we sent
	haveTS   bool
	passive  bool // the connection came to a listener
	accepted bool // accept() has returned it
	synSeen  bool // a SYN of the peer has been injected
	closed   bool // its descriptor has been closed
	// rISN is the peer's initial sequence number: the sequence number of
	// its last SYN line. As packetdrill does, the sequence numbers of the
	// peer's other segments, and our acknowledgments of them, are
	// written relative to it; those of SYNs are absolute.
	rISN     uint32
	haveRISN bool
	// firstTS and firstScriptTS are our first TSval and the value its
	// '>' line wrote (--tcp_ts_ecr_scaled); haveFirstTS says they are set.
	firstTS, firstScriptTS uint32
	haveFirstTS            bool
}

// flowFor returns the flow for k, creating it.
func (r *runner) flowFor(k flowKey) *flow {
	f := r.flows[k]
	if f == nil {
		f = &flow{flowKey: k, ts: map[uint32]uint32{}}
		r.flows[k] = f
	}
	return f
}

// listening reports whether a socket listens on port.
func (r *runner) listening(port uint16) bool {
	for _, sk := range r.socks {
		if sk.lst != nil && sk.bound.Port() == port {
			return true
		}
	}
	return false
}

// newRemotePort returns a remote port for a new connection.
func (r *runner) newRemotePort() uint16 {
	p := r.nextPort
	r.nextPort++
	return p
}

// inboundFlow picks the connection an inbound packet belongs to.
func (r *runner) inboundFlow(p *Packet) *flow {
	if p.Ports != nil {
		return r.flowFor(flowKey{
			local:  netip.AddrPortFrom(r.cfg.LocalIP, p.Ports.Dst),
			remote: netip.AddrPortFrom(r.cfg.RemoteIP, p.Ports.Src),
		})
	}
	c := r.cur
	if c == nil {
		c = r.flowFor(flowKey{
			local:  netip.AddrPortFrom(r.cfg.LocalIP, 8080),
			remote: netip.AddrPortFrom(r.cfg.RemoteIP, r.newRemotePort()),
		})
		r.cur = c
		return c
	}
	if p.Flags&(FlagSYN|FlagACK|FlagRST) == FlagSYN && c.passive {
		if c.synSeen && c.closed && r.listening(c.local.Port()) {
			// A new SYN to the listener after the last connection was
			// closed: a new connection, from a new port.
			c = r.flowFor(flowKey{local: c.local, remote: netip.AddrPortFrom(c.remote.Addr(), r.newRemotePort())})
			c.passive = true
			r.cur = c
		}
		c.synSeen = true
	}
	return c
}

// inject builds the packet of a '<' line and delivers it to the stack.
func (r *runner) inject(ev Event, p *Packet) {
	f := r.inboundFlow(p)
	h := wire.TCPHeader{
		SrcPort: f.remote.Port(),
		DstPort: f.local.Port(),
		Seq:     p.Seq,
		Flags:   wire.Flags(p.Flags & 0xff),
		Window:  65535,
	}
	if p.Flags&FlagSYN != 0 {
		if !f.haveRISN {
			f.rISN, f.haveRISN = p.Seq, true
		}
	} else {
		h.Seq += f.rISN
	}
	if p.Ack != nil {
		h.Ack = *p.Ack
	}
	// As packetdrill, an ACK without a number acknowledges relative 0:
	// our ISN.
	if (p.Ack != nil || h.Flags&wire.FlagACK != 0) && f.haveISN {
		h.Ack += f.isn
		if p.Flags&FlagSYN != 0 {
			h.Ack += f.synOff - f.isn // Fast Open (fastopen.go)
		}
	}
	if p.Win != nil {
		h.Window = *p.Win
	}
	if p.Urg != nil {
		h.Urgent = *p.Urg
	}
	var raw []wire.RawOption
	for _, o := range p.Options {
		ro, ok := r.rawOption(f, o)
		if !ok {
			r.skipf(o.Line, "TCP option %s is not supported", o.String())
			return
		}
		raw = append(raw, ro)
	}
	opts := wire.AppendTCPOptionList(nil, raw)
	if len(opts) > wire.MaxOptionsLen {
		r.skipf(ev.Line, "TCP options longer than 40 bytes")
		return
	}
	payload := make([]byte, p.Len)
	ep := wire.Endpoints{Src: f.remote.Addr(), Dst: f.local.Addr()}
	tcpLen := wire.TCPHeaderLen + (len(opts)+3)&^3 + len(payload)
	var pkt []byte
	ttl := uint8(64)
	if p.IP.TTL != nil {
		ttl = *p.IP.TTL
	}
	tos := uint8(0)
	if p.IP.TOS != nil {
		tos = *p.IP.TOS
	}
	tos = tos&^3 | ecnBits(p.IP.ECN)
	if ep.Src.Is4() && ep.Dst.Is4() {
		pkt = wire.AppendIPv4(nil, &wire.IPv4Header{TOS: tos, TTL: ttl, Protocol: wire.ProtocolTCP, Src: ep.Src, Dst: ep.Dst, DontFragment: true}, tcpLen)
	} else {
		var fl uint32
		if p.IP.FlowLabel != nil {
			fl = *p.IP.FlowLabel
		}
		pkt = wire.AppendIPv6(nil, &wire.IPv6Header{TrafficClass: tos, FlowLabel: fl, NextHeader: wire.ProtocolTCP, HopLimit: ttl, Src: ep.Src, Dst: ep.Dst}, tcpLen)
	}
	pkt = wire.AppendTCPWithOptions(pkt, &h, opts, payload, ep)
	r.stack(nil).DeliverPacket(pkt)
}

// ecnBits is the ECN field for an ECN setting.
func ecnBits(e ECN) uint8 {
	switch e {
	case ECNECT0:
		return 2
	case ECNECT1:
		return 1
	case ECNCE:
		return 3
	}
	return 0
}

// rawOption encodes one inbound option. SACK blocks are relative to our
// ISN; a TS ecr naming a TSval of a '>' line echoes the real one.
func (r *runner) rawOption(f *flow, o TCPOption) (wire.RawOption, bool) {
	switch o.Kind {
	case OptNOP:
		return wire.RawOption{Kind: wire.OptNOP}, true
	case OptEOL:
		return wire.RawOption{Kind: wire.OptEOL}, true
	case OptMSS:
		return wire.RawOption{Kind: wire.OptMSS, Data: binary.BigEndian.AppendUint16(nil, uint16(o.Value))}, true
	case OptWScale:
		if o.Wildcard {
			return wire.RawOption{}, false
		}
		return wire.RawOption{Kind: wire.OptWindowScale, Data: []byte{byte(o.Value)}}, true
	case OptSACKOK:
		return wire.RawOption{Kind: wire.OptSACKPermitted}, true
	case OptSACK:
		var d []byte
		for _, b := range o.Blocks {
			l, rr := b.Left, b.Right
			if f.haveISN {
				l, rr = l+f.isn, rr+f.isn
			}
			d = binary.BigEndian.AppendUint32(d, l)
			d = binary.BigEndian.AppendUint32(d, rr)
		}
		return wire.RawOption{Kind: wire.OptSACK, Data: d}, true
	case OptTimestamp:
		ecr := o.TSEcr
		if v, ok := f.ts[ecr]; ok {
			ecr = v
		} else if r.cfg.TSEcrScaled && f.haveFirstTS {
			ecr = ecr - f.firstScriptTS + f.firstTS
		} else if ecr != 0 && f.haveTS {
			ecr = f.lastTS
		}
		d := binary.BigEndian.AppendUint32(nil, o.TSVal)
		d = binary.BigEndian.AppendUint32(d, ecr)
		return wire.RawOption{Kind: wire.OptTimestamps, Data: d}, true
	case OptMD5:
		if b, err := hex.DecodeString(o.Cookie); err == nil && len(b) == 16 {
			return wire.RawOption{Kind: 19, Data: b}, true
		}
	case OptFastOpen, OptFastOpenExp:
		return r.fastOpenOption(o) // fastopen.go
	}
	return wire.RawOption{}, false
}
