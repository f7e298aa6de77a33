package pkt

import (
	"strconv"
	"strings"
	"time"
)

// String writes the script back in canonical packetdrill form: one option,
// command or event per line. Parsing the result gives the same script
// (positions aside).
func (s *Script) String() string {
	var b strings.Builder
	for _, o := range s.Options {
		b.WriteString(o.String())
		b.WriteByte('\n')
	}
	if s.Init != nil {
		b.WriteString(s.Init.String())
		b.WriteByte('\n')
	}
	for _, e := range s.Events {
		b.WriteString(e.String())
		b.WriteByte('\n')
	}
	if s.Cleanup != nil {
		b.WriteString(s.Cleanup.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// String formats the option as "--name=value" or "--name".
func (o Option) String() string {
	if !o.HasValue {
		return "--" + o.Name
	}
	return "--" + o.Name + "=" + o.Value
}

// String formats the event as one script line.
func (e Event) String() string {
	return e.Time.String() + " " + FormatAction(e.Action)
}

// String formats the time as written before an event.
func (t Time) String() string {
	sign := ""
	switch t.Kind {
	case TimeAny:
		return "*"
	case TimeRelative:
		sign = "+"
	}
	s := sign + formatSeconds(t.Start)
	switch t.Span {
	case SpanRange:
		s += "~" + sign + formatSeconds(t.End)
	case SpanBlocking:
		s += "..." + formatSeconds(t.End)
	}
	return s
}

// formatSeconds writes d in seconds with as few decimals as needed.
func formatSeconds(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	secs, ns := int64(d/time.Second), int64(d%time.Second)
	s := strconv.FormatInt(secs, 10)
	if ns == 0 {
		return s
	}
	frac := strconv.FormatInt(ns+1e9, 10)[1:] // nine digits, leading zeros kept
	return s + "." + strings.TrimRight(frac, "0")
}

// FormatAction formats an event's action.
func FormatAction(a Action) string {
	switch a := a.(type) {
	case *Packet:
		return a.String()
	case *UDPPacket:
		return a.String()
	case *ICMPPacket:
		return a.String()
	case *Syscall:
		return a.String()
	case *Command:
		return a.String()
	case *Code:
		return a.String()
	}
	return "<nil>"
}

// String formats the command in back quotes.
func (c *Command) String() string { return "`" + c.Text + "`" }

// String formats the code block.
func (c *Code) String() string { return "%{ " + c.Text + " }%" }

func (d Direction) String() string {
	if d == Outbound {
		return ">"
	}
	return "<"
}

// String formats the ECN codepoint as packetdrill writes it.
func (e ECN) String() string {
	switch e {
	case ECNNone:
		return "noecn"
	case ECNECT0:
		return "ect0"
	case ECNECT1:
		return "ect1"
	case ECNECT01:
		return "ect01"
	case ECNCE:
		return "ce"
	}
	return ""
}

// String formats the IP info as "[ect0,tos 0x10,...]", or "" if empty.
func (ip IPInfo) String() string {
	if ip.IsZero() {
		return ""
	}
	var parts []string
	if ip.ECN != ECNUnset {
		parts = append(parts, ip.ECN.String())
	}
	if ip.TOS != nil {
		parts = append(parts, "tos 0x"+strconv.FormatUint(uint64(*ip.TOS), 16))
	}
	if ip.FlowLabel != nil {
		parts = append(parts, "flowlabel 0x"+strconv.FormatUint(uint64(*ip.FlowLabel), 16))
	}
	if ip.TTL != nil {
		parts = append(parts, "ttl "+strconv.FormatUint(uint64(*ip.TTL), 10))
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// String formats the flags: letters, then '.' for ACK; "-" when empty.
func (f TCPFlags) String() string {
	var b strings.Builder
	for i, fl := range letterFlags {
		if f&fl != 0 {
			b.WriteByte(flagLetters[i])
		}
	}
	if f&FlagACK != 0 {
		b.WriteByte('.')
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}

// prefix writes the direction, IP info and ports of a packet line.
func prefix(b *strings.Builder, dir Direction, ip IPInfo) {
	b.WriteString(dir.String())
	if s := ip.String(); s != "" {
		b.WriteByte(' ')
		b.WriteString(s)
	}
}

func writePorts(b *strings.Builder, p *Ports) {
	if p != nil {
		b.WriteString(" " + u64(uint64(p.Src)) + ">" + u64(uint64(p.Dst)))
	}
}

func u64(v uint64) string { return strconv.FormatUint(v, 10) }

// String formats the TCP packet line (without the time).
func (p *Packet) String() string {
	var b strings.Builder
	prefix(&b, p.Dir, p.IP)
	writePorts(&b, p.Ports)
	b.WriteByte(' ')
	flags := p.Flags.String()
	if p.ACE != nil {
		if flags == "-" {
			flags = ""
		}
		flags += u64(uint64(*p.ACE))
	}
	b.WriteString(flags)
	b.WriteString(" " + u64(uint64(p.Seq)))
	if !p.SeqOnly {
		b.WriteString(":" + u64(uint64(p.End)) + "(" + u64(uint64(p.Len)) + ")")
	}
	if p.Ack != nil {
		b.WriteString(" ack " + u64(uint64(*p.Ack)))
	}
	if p.Win != nil {
		b.WriteString(" win " + u64(uint64(*p.Win)))
	}
	if p.Urg != nil {
		b.WriteString(" urg " + u64(uint64(*p.Urg)))
	}
	switch {
	case p.AnyOptions:
		b.WriteString(" <...>")
	case p.Options != nil:
		b.WriteString(" <")
		for i, o := range p.Options {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(o.String())
		}
		b.WriteByte('>')
	}
	return b.String()
}

// String formats one TCP option.
func (o TCPOption) String() string {
	switch o.Kind {
	case OptNOP:
		return "nop"
	case OptEOL:
		return "eol"
	case OptMSS:
		return "mss " + u64(uint64(o.Value))
	case OptWScale:
		if o.Wildcard {
			return "wscale *"
		}
		return "wscale " + u64(uint64(o.Value))
	case OptSACKOK:
		return "sackOK"
	case OptSACK:
		s := "sack"
		for _, bl := range o.Blocks {
			s += " " + u64(uint64(bl.Left)) + ":" + u64(uint64(bl.Right))
		}
		return s
	case OptTimestamp:
		return "TS val " + u64(uint64(o.TSVal)) + " ecr " + u64(uint64(o.TSEcr))
	case OptMD5, OptFastOpen, OptFastOpenExp:
		name := map[OptionKind]string{OptMD5: "md5", OptFastOpen: "FO", OptFastOpenExp: "FOEXP"}[o.Kind]
		if o.Cookie != "" {
			return name + " " + o.Cookie
		}
		return name
	}
	return o.Text
}

// String formats the UDP packet line (without the time).
func (u *UDPPacket) String() string {
	var b strings.Builder
	prefix(&b, u.Dir, u.IP)
	b.WriteString(" udp")
	writePorts(&b, u.Ports)
	b.WriteString(" (" + u64(uint64(u.Len)) + ")")
	return b.String()
}

// String formats the ICMP packet line (without the time).
func (ic *ICMPPacket) String() string {
	var b strings.Builder
	prefix(&b, ic.Dir, ic.IP)
	b.WriteString(" icmp " + ic.Type)
	if ic.Code != "" {
		b.WriteString(" " + ic.Code)
	}
	if ic.MTU != nil {
		b.WriteString(" mtu " + u64(uint64(*ic.MTU)))
	}
	if ic.ID != nil {
		b.WriteString(" id " + u64(uint64(*ic.ID)))
	}
	if e := ic.Echoed; e != nil {
		switch e.Proto {
		case EchoedUDP:
			b.WriteString(" [udp (" + u64(uint64(e.Len)) + ")]")
		case EchoedRaw:
			b.WriteString(" [raw (" + u64(uint64(e.Len)) + ")]")
		default:
			b.WriteString(" [" + u64(uint64(e.Seq)) + ":" + u64(uint64(e.End)) + "(" + u64(uint64(e.Len)) + ")]")
		}
	}
	return b.String()
}

// String formats the system call line (without the time).
func (s *Syscall) String() string {
	var b strings.Builder
	b.WriteString(s.Name + "(")
	writeExprs(&b, s.Args)
	b.WriteString(") = ")
	writeExpr(&b, s.Ret)
	if s.Errno != "" {
		b.WriteString(" " + s.Errno)
		if s.ErrnoText != "" || s.Note != "" {
			b.WriteString(" (" + s.ErrnoText + noteEnd(s.ErrnoText))
		}
	}
	if s.Note != "" {
		b.WriteString(" (" + s.Note + noteEnd(s.Note))
	}
	return b.String()
}

// noteEnd closes a parenthesised text. The lexer reads the text as tokens,
// so an option's value ("--name=value", "--name value") or a "//" comment
// at its end would swallow a ')' written right after it; a line break ends
// both, and the parser trims it from the text.
func noteEnd(text string) string {
	if strings.Contains(text, "--") || strings.Contains(text, "//") {
		return "\n)"
	}
	return ")"
}

// FormatExpr formats an expression as packetdrill writes it.
func FormatExpr(e Expr) string {
	var b strings.Builder
	writeExpr(&b, e)
	return b.String()
}

func writeExprs(b *strings.Builder, list []Expr) {
	for i, e := range list {
		if i > 0 {
			b.WriteString(", ")
		}
		writeExpr(b, e)
	}
}

func writeExpr(b *strings.Builder, e Expr) {
	switch e := e.(type) {
	case *IntExpr:
		if e.Hex {
			b.WriteString("0x" + strconv.FormatUint(uint64(e.Value), 16))
		} else {
			b.WriteString(strconv.FormatInt(e.Value, 10))
		}
	case *WordExpr:
		b.WriteString(e.Name)
	case *StringExpr:
		b.WriteString(`"` + e.Value + `"`)
		if e.Ellipsis {
			b.WriteString("...")
		}
	case *EllipsisExpr:
		b.WriteString("...")
	case *BinaryExpr:
		writeExpr(b, e.X)
		b.WriteString(e.Op)
		writeExpr(b, e.Y)
	case *AssignExpr:
		writeExpr(b, e.Name)
		b.WriteByte('=')
		writeExpr(b, e.Value)
	case *ListExpr:
		b.WriteByte('[')
		writeExprs(b, e.Elems)
		b.WriteByte(']')
	case *StructExpr:
		b.WriteByte('{')
		writeExprs(b, e.Elems)
		b.WriteByte('}')
	case *CallExpr:
		b.WriteString(e.Func + "(")
		writeExprs(b, e.Args)
		b.WriteByte(')')
	case *AddrExpr:
		b.WriteByte('&')
		writeExpr(b, e.X)
	default:
		b.WriteString("<nil>")
	}
}
