package pkt

import "strings"

// packet parses a packet line after the time: TCP, UDP or ICMP.
func (p *parser) packet() (Action, error) {
	dt, _ := p.next()
	dir := Inbound
	if dt.is('>') {
		dir = Outbound
	}
	// Old form: "< [1:1(0)] icmp ..." quoted packet before icmp.
	if t := p.peek(); t.is('[') && p.echoedAhead() {
		echoed, err := p.icmpEchoed()
		if err != nil {
			return nil, err
		}
		if !p.peek().isWord("icmp") {
			return nil, p.unexpected(p.peek(), `"icmp" after the quoted packet`)
		}
		ic, err := p.icmp(dt.pos, dir, IPInfo{})
		if err != nil {
			return nil, err
		}
		if ic.Echoed != nil {
			return nil, p.errAt(dt.pos, "ICMP packet quotes two packets")
		}
		ic.Echoed = echoed
		return ic, nil
	}
	ip, err := p.ipInfo()
	if err != nil {
		return nil, err
	}
	if ip.ECN == ECNECT01 && dir != Outbound {
		return nil, p.errAt(dt.pos, "[ect01] can only be used with outbound packets")
	}
	t := p.peek()
	switch {
	case t.isWord("udp"):
		p.next()
		return p.udp(dt.pos, dir, ip)
	case t.isWord("icmp"):
		return p.icmp(dt.pos, dir, ip)
	case t.isWord("ipv4") || t.isWord("ipv6") || t.isWord("gre") || t.isWord("GREv0") || t.isWord("mpls"):
		return nil, p.errAt(t.pos, "encapsulated packets (%s) are not supported", t.text)
	}
	return p.tcp(dt.pos, dir, ip)
}

// echoedAhead reports whether the '[' ahead opens a quoted packet
// ("[udp (N)]", "[raw (N)]", "[seq:end(len)]") rather than IP info.
func (p *parser) echoedAhead() bool {
	n := p.peekN(1)
	return n.isWord("udp") || n.isWord("raw") || n.kind == tokInt
}

// ipInfo parses an optional "[ect0]", "[tos 0x10,flowlabel 0x1]",
// "(ttl 64)" and so on.
func (p *parser) ipInfo() (IPInfo, error) {
	var ip IPInfo
	open := p.peek()
	var closer byte
	switch {
	case open.is('['):
		closer = ']'
	case open.is('('):
		closer = ')'
	default:
		return ip, nil
	}
	p.next()
	for {
		t := p.peek()
		if t.kind != tokWord {
			return ip, p.unexpected(t, "ECN, tos, flowlabel or ttl")
		}
		p.next()
		ecn := ECNUnset
		switch t.text {
		case "noecn":
			ecn = ECNNone
		case "ect0":
			ecn = ECNECT0
		case "ect1":
			ecn = ECNECT1
		case "ect01":
			ecn = ECNECT01
		case "ce":
			ecn = ECNCE
		case "tos":
			v, err := p.hexValue(0xff, "tos")
			if err != nil {
				return ip, err
			}
			if ip.TOS != nil {
				return ip, p.errAt(t.pos, "tos given twice")
			}
			ip.TOS = new(uint8(v))
		case "flowlabel":
			v, err := p.hexValue(1<<20-1, "flowlabel")
			if err != nil {
				return ip, err
			}
			if ip.FlowLabel != nil {
				return ip, p.errAt(t.pos, "flowlabel given twice")
			}
			ip.FlowLabel = new(uint32(v))
		case "ttl":
			v, err := p.u8("ttl")
			if err != nil {
				return ip, err
			}
			if ip.TTL != nil {
				return ip, p.errAt(t.pos, "ttl given twice")
			}
			ip.TTL = new(v)
		default:
			return ip, p.errAt(t.pos, "unknown IP field %q (want noecn, ect0, ect1, ect01, ce, tos, flowlabel or ttl)", t.text)
		}
		if ecn != ECNUnset {
			if ip.ECN != ECNUnset {
				return ip, p.errAt(t.pos, "ECN given twice")
			}
			ip.ECN = ecn
		}
		n := p.peek()
		if n.is(',') {
			p.next()
			continue
		}
		if n.is(closer) {
			p.next()
			return ip, nil
		}
		return ip, p.unexpected(n, "',' or '"+string(closer)+"'")
	}
}

// ports parses an optional "src>dst" port pair.
func (p *parser) ports() (*Ports, error) {
	if p.peek().kind != tokInt || !p.peekN(1).is('>') {
		return nil, nil
	}
	src, err := p.u16("source port")
	if err != nil {
		return nil, err
	}
	p.next() // '>'
	dst, err := p.u16("destination port")
	if err != nil {
		return nil, err
	}
	return &Ports{Src: src, Dst: dst}, nil
}

// udp parses the rest of "udp [ports] (len)".
func (p *parser) udp(pos Pos, dir Direction, ip IPInfo) (*UDPPacket, error) {
	if ip.ECN != ECNUnset {
		return nil, p.errAt(pos, "ECN can only be used with TCP packets")
	}
	u := &UDPPacket{Pos: pos, Dir: dir, IP: ip}
	var err error
	if u.Ports, err = p.ports(); err != nil {
		return nil, err
	}
	if _, err := p.punct('('); err != nil {
		return nil, err
	}
	if u.Len, err = p.u16Len("UDP payload length"); err != nil {
		return nil, err
	}
	if _, err := p.punct(')'); err != nil {
		return nil, err
	}
	return u, nil
}

func (p *parser) u16Len(what string) (uint32, error) {
	v, err := p.u16(what)
	return uint32(v), err
}

// icmp parses "icmp type [code] [mtu N] [id N] [quoted packet]".
func (p *parser) icmp(pos Pos, dir Direction, ip IPInfo) (*ICMPPacket, error) {
	if err := p.word("icmp"); err != nil {
		return nil, err
	}
	ic := &ICMPPacket{Pos: pos, Dir: dir, IP: ip}
	t := p.peek()
	if t.kind != tokWord {
		return nil, p.unexpected(t, "ICMP type")
	}
	p.next()
	ic.Type = t.text
	if t := p.peek(); t.kind == tokWord && t.text != "mtu" && t.text != "id" {
		p.next()
		ic.Code = t.text
	}
	if p.peek().isWord("mtu") {
		p.next()
		v, err := p.u32("mtu")
		if err != nil {
			return nil, err
		}
		ic.MTU = new(v)
	}
	if p.peek().isWord("id") {
		p.next()
		v, err := p.u16("ICMP id")
		if err != nil {
			return nil, err
		}
		ic.ID = new(v)
	}
	if p.peek().is('[') {
		e, err := p.icmpEchoed()
		if err != nil {
			return nil, err
		}
		ic.Echoed = e
	}
	return ic, nil
}

// icmpEchoed parses "[seq:end(len)]", "[udp (len)]" or "[raw (len)]".
func (p *parser) icmpEchoed() (*ICMPEchoed, error) {
	if _, err := p.punct('['); err != nil {
		return nil, err
	}
	e := &ICMPEchoed{}
	t := p.peek()
	switch {
	case t.isWord("udp") || t.isWord("raw"):
		p.next()
		e.Proto = EchoedUDP
		if t.text == "raw" {
			e.Proto = EchoedRaw
		}
		if _, err := p.punct('('); err != nil {
			return nil, err
		}
		var err error
		if e.Len, err = p.u16Len("payload length"); err != nil {
			return nil, err
		}
		if _, err := p.punct(')'); err != nil {
			return nil, err
		}
	default:
		e.Proto = EchoedTCP
		seq, end, n, only, err := p.seq()
		if err != nil {
			return nil, err
		}
		if only {
			return nil, p.errAt(t.pos, "quoted TCP packet needs seq:end(len)")
		}
		e.Seq, e.End, e.Len = seq, end, n
	}
	if _, err := p.punct(']'); err != nil {
		return nil, err
	}
	return e, nil
}

// seq parses "seq:end(len)" or a bare "seq".
func (p *parser) seq() (seq, end, n uint32, only bool, err error) {
	first := p.peek()
	if seq, err = p.u32("sequence number"); err != nil {
		return
	}
	if !p.peek().is(':') {
		return seq, seq, 0, true, nil
	}
	p.next()
	if end, err = p.u32("end sequence number"); err != nil {
		return
	}
	if _, err = p.punct('('); err != nil {
		return
	}
	var l uint16
	if l, err = p.u16("payload length"); err != nil {
		return
	}
	n = uint32(l)
	if _, err = p.punct(')'); err != nil {
		return
	}
	if uint64(end) != uint64(seq)+uint64(n) {
		err = p.errAt(first.pos, "inconsistent TCP sequence numbers and payload size (%d + %d != %d)", seq, n, end)
	}
	return
}

// tcp parses the rest of a TCP packet line, from the ports or flags on.
func (p *parser) tcp(pos Pos, dir Direction, ip IPInfo) (*Packet, error) {
	pk := &Packet{Pos: pos, Dir: dir, IP: ip}
	var err error
	if pk.Ports, err = p.ports(); err != nil {
		return nil, err
	}
	if err := p.tcpFlags(pk); err != nil {
		return nil, err
	}
	if pk.Seq, pk.End, pk.Len, pk.SeqOnly, err = p.seq(); err != nil {
		return nil, err
	}
	if p.peek().isWord("ack") {
		p.next()
		v, err := p.u32("ack number")
		if err != nil {
			return nil, err
		}
		pk.Ack = new(v)
	}
	if p.peek().isWord("win") {
		p.next()
		v, err := p.u16("window")
		if err != nil {
			return nil, err
		}
		pk.Win = new(v)
	}
	if p.peek().isWord("urg") {
		p.next()
		v, err := p.u16("urgent pointer")
		if err != nil {
			return nil, err
		}
		pk.Urg = new(v)
	}
	if t := p.peek(); t.is('<') {
		if err := p.tcpOptions(pk); err != nil {
			return nil, err
		}
		if pk.AnyOptions && dir != Outbound {
			return nil, p.errAt(t.pos, "<...> for TCP options can only be used with outbound packets")
		}
	}
	return pk, nil
}

// tcpFlags parses the flags field: letters, '.' for ACK, '-' for none and
// an optional AccECN ACE digit.
func (p *parser) tcpFlags(pk *Packet) error {
	t := p.peek()
	if t.kind == tokEOF || t.kind == tokError || !(t.kind == tokWord || t.kind == tokInt || t.kind == tokFloat || t.is('.') || t.is('-')) {
		return p.unexpected(t, "TCP flags")
	}
	p.rewind(t)
	f := p.lex.flags()
	if f.text == "-" {
		return nil
	}
	for i := 0; i < len(f.text); i++ {
		c := f.text[i]
		switch {
		case c == '.':
			pk.Flags |= FlagACK
		case c >= '0' && c <= '7':
			if pk.ACE != nil {
				return p.errAt(f.pos, "bad TCP flags %q: two ACE digits", f.text)
			}
			pk.ACE = new(c - '0')
		default:
			i := strings.IndexByte(flagLetters, c)
			if i < 0 {
				return p.errAt(f.pos, "bad TCP flags %q: unknown flag %q", f.text, string(c))
			}
			pk.Flags |= letterFlags[i]
		}
	}
	return nil
}

// flagLetters and letterFlags map flag letters to flags, in print order.
const flagLetters = "SFRPUEWA"

var letterFlags = [...]TCPFlags{FlagSYN, FlagFIN, FlagRST, FlagPSH, FlagURG, FlagECE, FlagCWR, FlagAE}

// tcpOptions parses "<opt,opt,...>" or "<...>".
func (p *parser) tcpOptions(pk *Packet) error {
	p.next() // '<'
	if p.peek().kind == tokEllipsis {
		p.next()
		if _, err := p.punct('>'); err != nil {
			return err
		}
		pk.AnyOptions = true
		return nil
	}
	pk.Options = []TCPOption{}
	for {
		o, err := p.tcpOption()
		if err != nil {
			return err
		}
		pk.Options = append(pk.Options, o)
		t := p.peek()
		if t.is(',') {
			p.next()
			continue
		}
		if t.is('>') {
			p.next()
			return nil
		}
		return p.unexpected(t, "',' or '>' in TCP options")
	}
}

// tcpOption parses one TCP option.
func (p *parser) tcpOption() (TCPOption, error) {
	t := p.peek()
	o := TCPOption{Pos: t.pos}
	if t.kind != tokWord {
		return o, p.unexpected(t, "TCP option")
	}
	known := true
	var err error
	switch t.text {
	case "nop":
		o.Kind = OptNOP
	case "eol":
		o.Kind = OptEOL
	case "sackOK":
		o.Kind = OptSACKOK
	case "mss":
		o.Kind = OptMSS
		p.next()
		var v uint16
		v, err = p.u16("mss")
		o.Value = uint32(v)
		return o, err
	case "wscale":
		o.Kind = OptWScale
		p.next()
		if p.peek().is('*') {
			p.next()
			o.Wildcard = true
			return o, nil
		}
		var v uint8
		v, err = p.u8("window scale")
		o.Value = uint32(v)
		return o, err
	case "sack":
		o.Kind = OptSACK
		p.next()
		for {
			var b SACKBlock
			if b.Left, err = p.u32("SACK left edge"); err != nil {
				return o, err
			}
			if _, err = p.punct(':'); err != nil {
				return o, err
			}
			if b.Right, err = p.u32("SACK right edge"); err != nil {
				return o, err
			}
			o.Blocks = append(o.Blocks, b)
			if p.peek().kind != tokInt {
				return o, nil
			}
		}
	case "TS":
		o.Kind = OptTimestamp
		p.next()
		if err = p.word("val"); err != nil {
			return o, err
		}
		if o.TSVal, err = p.u32("TS val"); err != nil {
			return o, err
		}
		if err = p.word("ecr"); err != nil {
			return o, err
		}
		o.TSEcr, err = p.u32("TS ecr")
		return o, err
	case "md5", "FO", "FOEXP":
		o.Kind = map[string]OptionKind{"md5": OptMD5, "FO": OptFastOpen, "FOEXP": OptFastOpenExp}[t.text]
		p.next()
		// The value is normally hex; a word may also be a --define name
		// (packetdrill substitutes those while scanning), so any word is
		// kept as written and checked by whoever uses it.
		if b := p.peek(); b.kind == tokWord || b.kind == tokInt {
			p.next()
			o.Cookie = b.text
		}
		return o, nil
	default:
		known = false
	}
	if known {
		p.next()
		return o, nil
	}
	return p.unsupportedOption()
}

// unsupportedOption keeps an option this package cannot model as text,
// up to the next ',' or '>' outside brackets.
func (p *parser) unsupportedOption() (TCPOption, error) {
	first := p.peek()
	o := TCPOption{Pos: first.pos, Kind: OptUnsupported}
	depth, end := 0, first.off
	for {
		t := p.peek()
		switch {
		case t.kind == tokEOF || t.kind == tokError:
			return o, p.unexpected(t, "'>' to end the TCP options")
		case depth == 0 && (t.is(',') || t.is('>')):
			o.Text = p.lex.src[first.off:end]
			return o, nil
		case t.is('(') || t.is('[') || t.is('{'):
			depth++
		case t.is(')') || t.is(']') || t.is('}'):
			depth--
		}
		p.next()
		end = t.end
	}
}
