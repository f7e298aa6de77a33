package stack

import (
	"encoding/binary"
	"errors"
	"hash/maphash"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/synack/synack/link"
	"github.com/synack/synack/tcp"
	"github.com/synack/synack/wire"
)

// pktKind says what an inbound packet is, and so what its shard does
// with it.
type pktKind uint8

const (
	pktTCP      pktKind = iota // a TCP segment
	pktUDP                     // a UDP datagram
	pktEcho                    // an ICMP or ICMPv6 echo request
	pktTCPError                // an ICMP error quoting a TCP segment
	pktUDPError                // an ICMP error quoting a UDP datagram
)

// inPacket is a parsed inbound packet in a buffer of its own.
type inPacket struct {
	buf     []byte
	kind    pktKind
	key     tuple  // the demultiplexing key (for errors: the quoted packet's)
	khash   uint64 // a TCP segment's: key's hash under the stack's seed (shardOf, connTable.getHashed)
	ip      wire.IPPacket
	raw     []byte // the whole IP packet (aliases buf); nil if reassembled
	hdr     wire.TCPHeader
	udp     wire.UDPHeader
	icmp    wire.ICMPMessage
	qerr    icmpErr
	payload []byte // aliases buf
	sh      *shard
	csumOK  bool // offloaded by the TUN, or adopted from a stack in this process: the TCP checksum is not to be verified
	// refs is 0 while the packet is only its deliverer's; once an
	// engine keeps its payload (Retain), the deliverer's reference and
	// the engine's: the last one of putPacket and Release recycles it.
	refs atomic.Int32
	// An adopted packet whose payload lies in the sender's memory
	// (link.PayloadAdopter: send-side zero copy): buf holds its headers,
	// ext the payload, which extRef keeps until the packet is recycled.
	ext    []byte
	extRef link.PayloadRef
}

var _ tcp.PayloadOwner = (*inPacket)(nil)

// Size implements tcp.PayloadOwner: the buffer's capacity; for a packet
// whose payload lies in the sender's memory, the capacity of the buffer a
// copy of the packet would take, so that the receiving engine charges it
// as it charges a copied one.
func (p *inPacket) Size() int {
	if p.extRef != nil {
		if i := packetClass(len(p.buf) + len(p.ext)); i >= 0 {
			return packetClasses[i]
		}
		return len(p.buf) + len(p.ext)
	}
	return cap(p.buf)
}

// Retain implements tcp.PayloadOwner. It is called under the shard's
// lock while the packet is being processed, so its deliverer still holds
// it.
func (p *inPacket) Retain() {
	if p.refs.Load() == 0 {
		p.refs.Store(2)
	} else {
		p.refs.Add(1)
	}
	p.sh.s.rxKept.Add(1)
	p.sh.s.rxKeptTotal.Add(1)
}

// Release implements tcp.PayloadOwner.
func (p *inPacket) Release() {
	p.sh.s.rxKept.Add(-1)
	if p.refs.Add(-1) == 0 {
		recyclePacket(p)
	}
}

// DeliverPacket implements link.Receiver. The packet is parsed and
// checked (malformed ones, bad checksums and unknown protocols are counted
// and dropped; fragments are reassembled). In real-time mode it is then
// copied and queued for its event loop — DeliverPacket never blocks and
// takes no shard lock, so a link may call it from anywhere. In manual mode
// it is processed before DeliverPacket returns.
func (s *Stack) DeliverPacket(pkt []byte) { s.deliver(pkt, false) }

// DeliverOffloaded implements link.OffloadReceiver: DeliverPacket for a
// TCP segment whose checksum is not verified (a TUN with offloads hands
// the kernel's super-segments over whole, their checksums left undone).
func (s *Stack) DeliverOffloaded(pkt []byte) { s.deliver(pkt, true) }

func (s *Stack) deliver(pkt []byte, offloaded bool) {
	if s.stopped.Load() {
		return
	}
	p := getPacket(len(pkt))
	p.buf = append(p.buf[:0], pkt...)
	p.csumOK = offloaded
	if !s.parse(p) {
		s.ctr.packetsIn.Add(1)
		putPacket(p)
		return
	}
	p.sh.ctr.packetsIn.Add(1)
	s.drv.deliver(p, false)
}

// enqueue queues p for its shard's loop (real-time mode).
func (s *Stack) enqueue(p *inPacket) {
	sh := p.sh
	sh.queued.Add(1)
	select {
	case sh.in <- p:
	default:
		sh.queued.Add(-1)
		sh.ctr.inboundDrops.Add(1)
		putPacket(p)
	}
}

var _ link.Adopter = (*Stack)(nil)

// AdoptPacket implements link.Adopter: it is DeliverPacket for a packet
// whose buffer the stack may keep and whose TCP checksum was not computed
// (a packet from a stack in the same process, over a link.Pipe). In
// real-time mode, when the packet's event loop has nothing queued and its
// lock is free, the packet is processed at once in the caller's goroutine
// (the caller holds no lock of this stack: see shard.unlock) rather than
// waking the loop; otherwise it is queued as DeliverPacket queues.
func (s *Stack) AdoptPacket(pkt []byte) { s.adopt(adoptPacket(pkt)) }

// adopt is what AdoptPacket and AdoptPayload share: p's checksum is
// trusted, and it is parsed and delivered.
func (s *Stack) adopt(p *inPacket) {
	if s.stopped.Load() {
		putPacket(p)
		return
	}
	p.csumOK = true
	if !s.parse(p) {
		s.ctr.packetsIn.Add(1)
		putPacket(p)
		return
	}
	p.sh.ctr.packetsIn.Add(1)
	s.drv.deliver(p, true)
}

var _ link.PayloadAdopter = (*Stack)(nil)

// AdoptPayload implements link.PayloadAdopter: AdoptPacket for a packet
// handed over as its headers and a payload in the sender's memory, which
// ref keeps. A plain TCP segment's payload is processed where it lies, and
// its receiving engine may keep it there (Segment.Owner) until the
// application reads it; anything else is joined into a buffer of its own
// first.
func (s *Stack) AdoptPayload(hdr, payload []byte, ref link.PayloadRef) {
	p := adoptPacket(hdr)
	p.ext, p.extRef = payload, ref
	s.adopt(p)
}

// parseSplit is the IP layer of parse for a packet whose payload lies in
// ext: a TCP segment in an IPv4 packet (not fragmented) or an IPv6 packet
// without extension headers, whose headers are all in buf and whose
// lengths count ext. It reports false for anything else.
func parseSplit(p *inPacket) (wire.IPPacket, bool) {
	b, n := p.buf, len(p.ext)
	if len(b) == 0 {
		return wire.IPPacket{}, false
	}
	switch b[0] >> 4 {
	case 4:
		if len(b) < wire.IPv4HeaderLen {
			return wire.IPPacket{}, false
		}
		hlen := int(b[0]&0x0f) * 4
		if hlen < wire.IPv4HeaderLen || hlen > len(b) ||
			int(binary.BigEndian.Uint16(b[2:])) != len(b)+n ||
			binary.BigEndian.Uint16(b[6:])&0x3fff != 0 || b[9] != wire.ProtocolTCP {
			return wire.IPPacket{}, false
		}
		return wire.IPPacket{
			Version: 4, Protocol: wire.ProtocolTCP, TTL: b[8], ECN: b[1] & 3,
			Src:     netip.AddrFrom4([4]byte(b[12:16])),
			Dst:     netip.AddrFrom4([4]byte(b[16:20])),
			Payload: b[hlen:],
		}, true
	case 6:
		if len(b) < wire.IPv6HeaderLen || b[6] != wire.ProtocolTCP ||
			int(binary.BigEndian.Uint16(b[4:])) != len(b)-wire.IPv6HeaderLen+n {
			return wire.IPPacket{}, false
		}
		return wire.IPPacket{
			Version: 6, Protocol: wire.ProtocolTCP, TTL: b[7],
			ECN:     uint8(binary.BigEndian.Uint32(b)>>20) & 3,
			Src:     netip.AddrFrom16([16]byte(b[8:24])),
			Dst:     netip.AddrFrom16([16]byte(b[24:40])),
			Payload: b[wire.IPv6HeaderLen:],
		}, true
	}
	return wire.IPPacket{}, false
}

// join copies the payload of a packet whose payload lies in the sender's
// memory after its headers, into a pooled buffer of its own, and gives the
// sender's memory back.
func (s *Stack) join(p *inPacket) {
	s.rxJoined.Add(1)
	q := getPacket(len(p.buf) + len(p.ext))
	q.buf = append(append(q.buf[:0], p.buf...), p.ext...)
	p.buf, q.buf = q.buf, p.buf
	recyclePacket(q)
	ref := p.extRef
	p.ext, p.extRef = nil, nil
	ref.Release()
}

// countBad counts a packet a parser rejected.
func (s *Stack) countBad(err error) {
	if errors.Is(err, wire.ErrChecksum) {
		s.ctr.badChecksum.Add(1)
	} else {
		s.ctr.malformed.Add(1)
	}
}

// parse fills p from p.buf and picks its shard; it counts and reports
// false for what the stack drops or has fully handled.
func (s *Stack) parse(p *inPacket) bool {
	if p.extRef != nil {
		if s.parseSplitTCP(p) {
			return true
		}
		if p.extRef != nil {
			s.join(p) // not a plain TCP segment for us: parsed whole
		}
	}
	ip, err := wire.ParseIP(p.buf)
	if err != nil {
		s.countBad(err)
		return false
	}
	// Checksums cover the addresses as sent; demultiplexing uses them
	// unmapped.
	ep := wire.Endpoints{Src: ip.Src, Dst: ip.Dst}
	ip.Src, ip.Dst = ip.Src.Unmap(), ip.Dst.Unmap()
	if !s.forwardsTo(ip.Dst, s.routes.Load().local) {
		s.ctr.notLocal.Add(1)
		return false
	}
	p.raw = p.buf
	if ip.Version == 6 && s.ipv6ParamProblem(p.buf, &ip) {
		return false
	}
	if ip.Fragment {
		s.ctr.fragments.Add(1)
		whole, ok := s.addFragment(ip, p.buf, s.clock.Now())
		if !ok {
			return false
		}
		p.buf = append(p.buf[:0], whole.Payload...)
		whole.Payload = p.buf
		ip, p.raw = whole, nil
	}
	p.ip = ip
	switch {
	case ip.Protocol == wire.ProtocolTCP:
		if len(ip.Payload) < wire.TCPHeaderLen {
			s.ctr.malformed.Add(1)
			return false
		}
		if !p.csumOK && !wire.TCPChecksumValid(ep, ip.Payload) {
			s.ctr.badChecksum.Add(1)
			return false
		}
		hdr, payload, err := wire.ParseTCP(ip.Payload)
		if errors.Is(err, wire.ErrBadOption) {
			// A malformed option ends the options; the segment is
			// processed with those before it, as Linux does.
			s.ctr.tcpOptionErrors.Add(1)
		} else if err != nil {
			s.ctr.malformed.Add(1)
			return false
		}
		p.kind = pktTCP
		p.hdr = hdr
		p.payload = payload
		p.key = tuple{
			local:  netip.AddrPortFrom(ip.Dst, hdr.DstPort),
			remote: netip.AddrPortFrom(ip.Src, hdr.SrcPort),
		}
		p.khash = maphash.Comparable(s.seed, p.key)
		p.sh = s.shardOf(p.khash)
		return true
	case ip.Protocol == wire.ProtocolUDP:
		h, payload, err := wire.ParseUDP(ip.Payload, ep)
		if err != nil {
			s.countBad(err)
			return false
		}
		p.kind = pktUDP
		p.udp = h
		p.payload = payload
		p.key = tuple{
			local:  netip.AddrPortFrom(ip.Dst, h.DstPort),
			remote: netip.AddrPortFrom(ip.Src, h.SrcPort),
		}
	case ip.Protocol == wire.ProtocolICMP && ip.Version == 4,
		ip.Protocol == wire.ProtocolICMPv6 && ip.Version == 6:
		return s.parseICMP(p) // picks the shard itself
	default:
		s.ctr.notTCP.Add(1)
		return false
	}
	p.sh = s.shardFor(p.key)
	return true
}

// parseSplitTCP is parse for a TCP segment whose payload lies in the
// sender's memory (AdoptPayload). It reports false, having changed
// nothing but maybe joined the packet, for what parse must see whole: a
// packet that is no plain TCP segment, is not for one of the stack's
// addresses, or whose headers do not parse.
func (s *Stack) parseSplitTCP(p *inPacket) bool {
	ip, ok := parseSplit(p)
	if !ok {
		return false
	}
	ip.Src, ip.Dst = ip.Src.Unmap(), ip.Dst.Unmap()
	if !s.routes.Load().local[ip.Dst] {
		return false
	}
	hdr, rest, err := wire.ParseTCP(ip.Payload)
	if err != nil || len(rest) != 0 {
		return false
	}
	p.ip, p.raw = ip, nil // as for a reassembled packet: no whole packet to quote
	p.kind = pktTCP
	p.hdr = hdr
	p.payload = p.ext
	p.key = tuple{
		local:  netip.AddrPortFrom(ip.Dst, hdr.DstPort),
		remote: netip.AddrPortFrom(ip.Src, hdr.SrcPort),
	}
	p.khash = maphash.Comparable(s.seed, p.key)
	p.sh = s.shardOf(p.khash)
	return true
}

// input handles one inbound packet under sh.mu.
func (sh *shard) input(p *inPacket, now time.Time) {
	switch p.kind {
	case pktTCP:
		sh.tcpInput(p, now)
	case pktUDP:
		sh.udpInput(p)
	case pktEcho:
		sh.echo(p)
	case pktTCPError:
		sh.tcpError(p)
	case pktUDPError:
		sh.s.udpError(p)
	}
}

// tcpInput demultiplexes one segment (RFC 9293 §3.10.7): to its
// connection, else to a listener, else it is answered with a RST.
func (sh *shard) tcpInput(p *inPacket, now time.Time) {
	h := &p.hdr
	seg := tcp.Segment{
		Seq:     h.Seq,
		Ack:     h.Ack,
		Flags:   h.Flags,
		Window:  h.Window,
		Urgent:  h.Urgent,
		Options: h.Options,
		Payload: p.payload,
		CE:      p.ip.ECN == wire.ECNCE, // RFC 3168 §6.1.3
		Owner:   p,                      // the engine may keep the payload: zero-copy receive
	}
	sh.countSegment(false, p.key.local, p.key.remote, &seg, now)
	if c := sh.conns.getHashed(p.key, p.khash); c != nil {
		sh.settleEvents(c, c.tcb.HandleSegment(&seg, now), now)
		return
	}
	if sh.timeWaitInput(p.key, &seg, now) {
		return
	}
	if l := sh.s.listenerFor(p.key.local); l != nil && sh.s.ownsOrExact(l.key.Addr(), p.key.local.Addr()) {
		sh.listenInput(l, p.key, &seg, now)
		sh.reopen = false
		return
	}
	sh.reopen = false
	if sh.forwardSYN(p, &seg, now) {
		return
	}
	sh.reset(p.key, &seg)
}

// reset answers seg, which reached nothing, with a RST.
func (sh *shard) reset(key tuple, seg *tcp.Segment) {
	if rst, ok := tcp.ResetFor(seg); ok {
		// Counted first: the peer may see the RST before emit returns.
		sh.s.ctr.resetsSent.Add(1)
		sh.emit(sh.s.routes.Load().lookup(key.remote.Addr()), key.local, key.remote, &rst)
	}
}

// listenInput handles a segment for listener l (RFC 9293 §3.10.7.2).
func (sh *shard) listenInput(l *Listener, key tuple, seg *tcp.Segment, now time.Time) {
	if tcp.DropsSynFin(&sh.s.cfg, seg) {
		return // tcp.Config.DropSynFin: FreeBSD's drop_synfin
	}
	act, reply := tcp.HandleListen(seg)
	switch act {
	case tcp.ListenDrop:
		if seg.Flags&(wire.FlagSYN|wire.FlagFIN) == wire.FlagSYN|wire.FlagFIN {
			sh.s.ctr.synFinDrops.Add(1)
		}
		return
	case tcp.ListenReset:
		if sh.cookieACK(l, key, seg, now) {
			return
		}
		sh.s.ctr.resetsSent.Add(1)
		sh.emit(sh.s.routes.Load().lookup(key.remote.Addr()), key.local, key.remote, &reply)
		return
	case tcp.ListenAccept:
	default:
		return
	}
	s := sh.s
	r := s.routes.Load().lookup(key.remote.Addr())
	if r == nil {
		s.ctr.noRoute.Add(1)
		s.ctr.listenDrops.Add(1)
		return
	}
	c, res := l.admit(s.synCookies, now, func() *Conn { return s.newConn(sh, key, r) })
	switch res {
	case admitClosed:
		sh.reset(key, seg)
		return
	case admitOverflow:
		// Linux's LISTENOVERFLOWS: the accept queue is full; no
		// SYN-ACK and no cookie, the peer will send its SYN again.
		s.ctr.listenOverflows.Add(1)
		s.ctr.listenDrops.Add(1)
		return
	case admitFull:
		s.ctr.synQueueDrops.Add(1)
		s.ctr.listenDrops.Add(1)
		return
	case admitCookie:
		sh.sendCookie(key, seg, now)
		return
	}
	cfg := l.passiveConfig(s.config(r, key.remote.Addr())) // TCP_MAXSEG (sockopt.go)
	tcb, child := sh.passiveTCB(l, cfg, key, seg, now)     // Fast Open (fastopen.go)
	c.tcb = tcb
	l.passiveTCB(c.tcb) // TCP_DEFER_ACCEPT (sockopt.go)
	c.watch()
	s.report(key.local, key.remote, tcp.StateListen, tcp.StateSynReceived, now)
	c.halfOpen = true
	c.lst = l
	sh.insert(c)
	if child {
		sh.fastOpenChild(l, c)
	}
	s.ctr.passiveOpens.Add(1)
	sh.settle(c, now)
}

// settleHalfOpen moves a half-open connection on: to the accept queue once
// it is synchronized, or out of the stack if it died before.
func (sh *shard) settleHalfOpen(c *Conn, now time.Time) {
	switch st := c.tcb.State(); {
	case st == tcp.StateSynReceived && !c.tcb.Done():
		return
	case c.tcb.Done() || st == tcp.StateListen || st == tcp.StateClosed:
		// Reset in SYN-RECEIVED or SYN-ACK retries exhausted: the
		// application never hears of it.
		if !c.tcb.Done() {
			c.tcb.Abort(now)
			c.tcb.DrainOutput(c.emit)
		}
		sh.remove(c)
		return
	}
	l := c.lst
	c.halfOpen = false
	switch l.promote(c, sh.s.abortOnOverflow) {
	case admitOK:
		return
	case admitFull:
		sh.s.ctr.acceptQueueDrops.Add(1)
		sh.s.ctr.listenOverflows.Add(1)
		sh.s.ctr.listenDrops.Add(1)
	}
	c.tcb.Abort(now)
	c.tcb.DrainOutput(c.emit)
	sh.remove(c)
}
