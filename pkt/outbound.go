package pkt

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/synack/synack/wire"
)

// sent is a decoded outbound packet.
type sent struct {
	at      time.Duration
	key     flowKey
	hdr     wire.TCPHeader
	opts    []wire.RawOption
	payload int
	ecn     uint8
	ok      bool // it parsed as TCP
}

func decode(op outPacket) sent {
	s := sent{at: op.at}
	ip, hdr, payload, err := wire.ParseTCPPacket(op.pkt)
	if err != nil {
		return s
	}
	s.ok = true
	s.key = flowKey{local: netip.AddrPortFrom(ip.Src.Unmap(), hdr.SrcPort), remote: netip.AddrPortFrom(ip.Dst.Unmap(), hdr.DstPort)}
	s.hdr = hdr
	s.payload = len(payload)
	if off := int(ip.Payload[12]>>4) * 4; off > wire.TCPHeaderLen && off <= len(ip.Payload) {
		s.opts, _ = wire.ParseTCPOptionList(ip.Payload[wire.TCPHeaderLen:off])
	}
	if ip.Version == 4 {
		s.ecn = op.pkt[1] & 3
	} else {
		s.ecn = (op.pkt[1] >> 4) & 3
	}
	return s
}

// describe formats an outbound packet as a script line.
func (r *runner) describe(pkt []byte) string {
	s := decode(outPacket{pkt: pkt})
	if !s.ok {
		return fmt.Sprintf("> (not a TCP packet, %d bytes)", len(pkt))
	}
	return r.asPacket(s, r.flows[s.key]).String()
}

// asPacket turns a sent packet into a script packet, with our sequence
// numbers relative to the flow's ISN.
func (r *runner) asPacket(s sent, f *flow) *Packet {
	p := &Packet{Dir: Outbound, Flags: TCPFlags(s.hdr.Flags)}
	seq := s.hdr.Seq
	if f != nil && f.haveISN && !(s.hdr.Flags&wire.FlagRST != 0 && seq == 0) {
		seq -= f.isn
		if s.hdr.Flags&wire.FlagSYN != 0 {
			seq += f.isn - f.synOff
		}
	}
	n := uint32(s.payload)
	p.Seq, p.End, p.Len = seq, seq+n, n
	// Acknowledgments of the peer's data are relative to its ISN, but on
	// a SYN (packetdrill's remote_seq_live_to_script_offset).
	var rISN uint32
	if f != nil && s.hdr.Flags&wire.FlagSYN == 0 {
		rISN = f.rISN
	}
	if s.hdr.Flags&wire.FlagACK != 0 {
		p.Ack = new(s.hdr.Ack - rISN)
	}
	if s.hdr.Flags&wire.FlagRST == 0 {
		p.Win = new(s.hdr.Window)
	}
	if s.hdr.Flags&wire.FlagURG != 0 {
		p.Urg = new(s.hdr.Urgent)
	}
	switch s.ecn {
	case 1:
		p.IP.ECN = ECNECT1
	case 2:
		p.IP.ECN = ECNECT0
	case 3:
		p.IP.ECN = ECNCE
	}
	if len(s.opts) > 0 {
		p.Options = []TCPOption{}
	}
	for _, o := range s.opts {
		so := scriptOption(o)
		for i := range so.Blocks {
			so.Blocks[i].Left -= rISN
			so.Blocks[i].Right -= rISN
		}
		p.Options = append(p.Options, so)
	}
	return p
}

// scriptOption converts a wire option to its script form.
func scriptOption(o wire.RawOption) TCPOption {
	switch o.Kind {
	case wire.OptNOP:
		return TCPOption{Kind: OptNOP}
	case wire.OptEOL:
		return TCPOption{Kind: OptEOL}
	case wire.OptMSS:
		if len(o.Data) == 2 {
			return TCPOption{Kind: OptMSS, Value: uint32(binary.BigEndian.Uint16(o.Data))}
		}
	case wire.OptWindowScale:
		if len(o.Data) == 1 {
			return TCPOption{Kind: OptWScale, Value: uint32(o.Data[0])}
		}
	case wire.OptSACKPermitted:
		return TCPOption{Kind: OptSACKOK}
	case wire.OptSACK:
		t := TCPOption{Kind: OptSACK}
		for d := o.Data; len(d) >= 8; d = d[8:] {
			t.Blocks = append(t.Blocks, SACKBlock{Left: binary.BigEndian.Uint32(d), Right: binary.BigEndian.Uint32(d[4:])})
		}
		return t
	case wire.OptTimestamps:
		if len(o.Data) == 8 {
			return TCPOption{Kind: OptTimestamp, TSVal: binary.BigEndian.Uint32(o.Data), TSEcr: binary.BigEndian.Uint32(o.Data[4:])}
		}
	case wire.OptFastOpen, wire.OptExperimental:
		if t, ok := fastOpenScriptOption(o); ok { // fastopen.go
			return t
		}
	}
	return TCPOption{Kind: OptUnsupported, Text: fmt.Sprintf("kind %d len %d", o.Kind, len(o.Data)+2)}
}

// expect handles a '>' line: it waits (running timers) for the stack's
// next packet within the line's time window and compares it.
func (r *runner) expect(i int, p *Packet, start, end time.Duration) {
	ev := r.script.Events[i]
	tol := r.cfg.Tolerance
	lo, hi := start-tol, end+tol
	if ev.Time.Kind == TimeAny {
		lo, hi = -1<<62, -1
	}
	want := func() string { return fmt.Sprintf("%s %s", fmtTime(start), p.String()) }
	r.dropStale(p) // fastopen.go
	for len(r.out) == 0 {
		if !r.tick(hi) {
			if hi >= 0 {
				r.setNow(max(r.now(), hi))
			}
			r.mismatch(ev.Line, "expected packet was not sent", want(), "nothing by "+fmtTime(r.now()))
			return
		}
		r.dropStale(p)
	}
	s := decode(r.out[0])
	if !s.ok {
		r.mismatch(ev.Line, "outbound packet is not TCP", want(), r.describe(r.out[0].pkt))
		return
	}
	f := r.flowFor(s.key)
	if p.Flags&FlagSYN != 0 && s.hdr.Flags&wire.FlagSYN != 0 {
		f.isn, f.synOff, f.haveISN = s.hdr.Seq, s.hdr.Seq-p.Seq, true
	}
	taken := 1
	// Several segments may make up one expected segment (TSO).
	if !r.cfg.StrictSegments {
		for uint32(s.payload) < p.Len && s.hdr.Flags&(wire.FlagSYN|wire.FlagFIN|wire.FlagRST) == 0 {
			for len(r.out) <= taken {
				if !r.tick(hi) {
					break
				}
			}
			if len(r.out) <= taken {
				break
			}
			n := decode(r.out[taken])
			if !n.ok || n.key != s.key || n.hdr.Seq != s.hdr.Seq+uint32(s.payload) || n.payload == 0 ||
				n.hdr.Flags&^(wire.FlagPSH|wire.FlagFIN) != s.hdr.Flags&^wire.FlagPSH {
				break
			}
			// As packetdrill's aggregate_packets: the headers (PSH,
			// FIN) of the last segment, the sequence number and CWR
			// of the first.
			flags := n.hdr.Flags&^wire.FlagCWR | s.hdr.Flags&wire.FlagCWR
			s.payload += n.payload
			seq := s.hdr.Seq
			s.hdr = n.hdr
			s.hdr.Seq, s.hdr.Flags = seq, flags
			s.opts = n.opts
			taken++
		}
	}
	act := r.asPacket(s, f)
	got := fmt.Sprintf("%s %s", fmtTime(s.at), act.String())
	if why := r.compare(p, act, f); why != "" {
		r.mismatch(ev.Line, why, want(), got)
		return
	}
	if s.at < lo || (hi >= 0 && s.at > hi) {
		r.mismatch(ev.Line, fmt.Sprintf("timing error: expected at %s (tolerance %s), sent at %s",
			fmtTime(start), tol, fmtTime(s.at)), want(), got)
		return
	}
	r.out = r.out[taken:]
	f.lastSeq = s.hdr.Seq
	var wts, gts *TCPOption
	for j := range p.Options {
		if p.Options[j].Kind == OptTimestamp {
			wts = &p.Options[j]
		}
	}
	for j := range act.Options {
		if act.Options[j].Kind == OptTimestamp {
			gts = &act.Options[j]
		}
	}
	if gts != nil {
		f.lastTS, f.haveTS = gts.TSVal, true
		if wts != nil {
			f.ts[wts.TSVal] = gts.TSVal
			if !f.haveFirstTS {
				f.firstTS, f.firstScriptTS, f.haveFirstTS = gts.TSVal, wts.TSVal, true
			}
		}
	}
}

// compare checks an actual packet against the expected one; it returns
// what differs, or "".
func (r *runner) compare(want, got *Packet, f *flow) string {
	if want.Flags&0xff != got.Flags&0xff {
		return fmt.Sprintf("bad flags: expected %s, actual %s", want.Flags, got.Flags)
	}
	if want.Seq != got.Seq {
		return fmt.Sprintf("bad sequence number: expected %d, actual %d", want.Seq, got.Seq)
	}
	if want.Len != got.Len {
		return fmt.Sprintf("bad payload length: expected %d, actual %d", want.Len, got.Len)
	}
	if want.Ack != nil {
		// Without the ACK flag the field is compared as sent: zero.
		a := uint32(0)
		if got.Ack != nil {
			a = *got.Ack
		}
		if *want.Ack != a {
			return fmt.Sprintf("bad ack: expected %d, actual %d", *want.Ack, a)
		}
	}
	if want.Win != nil && !r.cfg.Lenient {
		w := uint16(0)
		if got.Win != nil {
			w = *got.Win
		}
		if *want.Win != w {
			return fmt.Sprintf("bad window: expected %d, actual %d", *want.Win, w)
		}
	}
	if want.Urg != nil && (got.Urg == nil || *got.Urg != *want.Urg) {
		return "bad urgent pointer"
	}
	switch want.IP.ECN {
	case ECNUnset:
	case ECNECT01:
		if got.IP.ECN != ECNECT0 && got.IP.ECN != ECNECT1 {
			return "bad ECN codepoint: expected ect01"
		}
	case ECNNone:
		if got.IP.ECN != ECNUnset {
			return "bad ECN codepoint: expected noecn"
		}
	default:
		if got.IP.ECN != want.IP.ECN {
			return fmt.Sprintf("bad ECN codepoint: expected %s", want.IP.ECN)
		}
	}
	if want.AnyOptions {
		return ""
	}
	if r.cfg.Lenient {
		return compareOptionSets(want.Options, got.Options)
	}
	if len(want.Options) != len(got.Options) {
		return fmt.Sprintf("bad TCP options: expected %s, actual %s", optList(want.Options), optList(got.Options))
	}
	for j := range want.Options {
		if why := compareOption(want.Options[j], got.Options[j], false); why != "" {
			return why
		}
	}
	return ""
}

// compareOption compares one option; TS val is not compared (it is our
// clock), TS ecr is.
func compareOption(w, g TCPOption, lenient bool) string {
	if w.Kind != g.Kind {
		return fmt.Sprintf("bad TCP option: expected %s, actual %s", w.String(), g.String())
	}
	bad := false
	switch w.Kind {
	case OptMSS:
		bad = w.Value != g.Value
	case OptWScale:
		bad = !w.Wildcard && !lenient && w.Value != g.Value
	case OptSACK:
		bad = !slices.Equal(w.Blocks, g.Blocks)
	case OptTimestamp:
		bad = w.TSEcr != g.TSEcr
	case OptFastOpen, OptFastOpenExp:
		bad = !fastOpenCookieEqual(w.Cookie, g.Cookie) // fastopen.go
	}
	if bad {
		return fmt.Sprintf("bad TCP option: expected %s, actual %s", w.String(), g.String())
	}
	return ""
}

// compareOptionSets is the --lenient comparison: the same options, NOPs
// and EOLs aside, in any order.
func compareOptionSets(want, got []TCPOption) string {
	strip := func(l []TCPOption) []TCPOption {
		var out []TCPOption
		for _, o := range l {
			if o.Kind != OptNOP && o.Kind != OptEOL {
				out = append(out, o)
			}
		}
		return out
	}
	w, g := strip(want), strip(got)
	if len(w) != len(g) {
		return fmt.Sprintf("bad TCP options: expected %s, actual %s", optList(want), optList(got))
	}
	used := make([]bool, len(g))
next:
	for _, o := range w {
		for j, a := range g {
			if !used[j] && compareOption(o, a, true) == "" {
				used[j] = true
				continue next
			}
		}
		return fmt.Sprintf("bad TCP options: expected %s, actual %s", optList(want), optList(got))
	}
	return ""
}

func optList(l []TCPOption) string {
	if l == nil {
		return "none"
	}
	parts := make([]string, len(l))
	for i, o := range l {
		parts[i] = o.String()
	}
	return "<" + strings.Join(parts, ",") + ">"
}
