package analysis

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/synack/synack/ladder"
	"github.com/synack/synack/tcp"
	"github.com/synack/synack/wire"
)

// oooThreshold is how soon after the highest segment a lower one counts as
// out of order rather than a retransmission, while no RTT is known
// (Wireshark's default).
const oooThreshold = 3 * time.Millisecond

// fastRetransmitWindow is how soon after a duplicate ACK a retransmission
// counts as fast (Wireshark's 20 ms).
const fastRetransmitWindow = 20 * time.Millisecond

// end is what the analysis knows of one side: what it sent, and the state
// it is inferred to be in.
type end struct {
	// As a sender.
	synSeen     bool
	isn         uint32
	seqKnown    bool
	firstSeq    uint32    // the first data byte\'s sequence number
	nextSeq     uint32    // one past the highest sequence number sent
	maxSeqTime  time.Time // when nextSeq last advanced
	ackKnown    bool
	lastAck     uint32
	lastWinRaw  uint16
	lastWin     int64 // bytes; -1 unknown
	wsOffered   bool
	ws          uint8
	finSent     bool
	finSeq      uint32
	dupAcks     int
	lastDup     time.Time
	keepAlive   bool // its last segment was a keep-alive
	seen        map[uint32]bool
	outstanding []sent // data segments not yet acked, for RTT samples
	rttEst      time.Duration

	// Inferred state.
	state     tcp.State
	known     bool
	finRcvd   bool
	challenge bool  // owes a challenge ACK
	inbox     []int // indexes of segments from the other side not yet applied
}

type sent struct {
	end  uint32
	at   time.Time
	retx bool
}

// analyzer is the analysis of one conversation.
type analyzer struct {
	c       Conversation
	ps      []parsed
	e       [2]end
	scale   [2]int  // window shift of each sender; -1 unknown
	closing [2]bool // the side went through CLOSING
}

func analyze(stream int, left netip.AddrPort, ps []parsed) Conversation {
	a := &analyzer{ps: ps}
	a.c.Stream = stream
	a.c.Left = left
	for _, p := range ps {
		if p.src != left {
			a.c.Right = p.src
			break
		}
		a.c.Right = p.dst
	}
	for s := range a.e {
		a.e[s].lastWin = -1
		a.e[s].seen = map[uint32]bool{}
	}
	a.scales()
	first := ps[0].seg
	if !(first.Flags&wire.FlagSYN != 0) {
		a.c.MidStream = true
		for s := range 2 {
			a.e[s].state, a.e[s].known = tcp.StateEstablished, true
			a.c.Events = append(a.c.Events, ladder.Event{Time: ps[0].pkt.Time, Kind: ladder.State, Side: ladder.Side(s),
				From: tcp.StateEstablished, To: tcp.StateEstablished, Guess: true})
		}
	}
	for i := range ps {
		a.segment(i)
	}
	a.finish()
	return a.c
}

// scales works out each sender's window shift: known once both SYNs are
// seen (RFC 7323 §2.2: scaling is on only if both offered it).
func (a *analyzer) scales() {
	var syn [2]*ladder.SegmentInfo
	for i := range a.ps {
		p := &a.ps[i]
		if p.seg.Flags&wire.FlagSYN != 0 {
			s := a.side(p)
			if syn[s] == nil {
				syn[s] = &p.seg
			}
		}
	}
	for s := range 2 {
		a.scale[s] = -1
	}
	if syn[0] != nil && syn[1] != nil {
		both := syn[0].Options.HasWindowScale && syn[1].Options.HasWindowScale
		for s := range 2 {
			a.scale[s] = 0
			if both {
				a.scale[s] = int(min(syn[s].Options.WindowScale, 14))
			}
		}
	}
}

func (a *analyzer) side(p *parsed) ladder.Side {
	if p.src == a.c.Left {
		return ladder.Left
	}
	return ladder.Right
}

// emit appends a state change of side s.
func (a *analyzer) set(s ladder.Side, t time.Time, to tcp.State) {
	e := &a.e[s]
	from := e.state
	if !e.known {
		from = tcp.StateClosed
	}
	if e.known && from == to {
		return
	}
	e.state, e.known = to, true
	if to == tcp.StateClosing {
		a.closing[s] = true
	}
	a.c.Events = append(a.c.Events, ladder.Event{Time: t, Kind: ladder.State, Side: s, From: from, To: to})
}

// setFrom appends a change from a state the side was not known to be in
// until now (LISTEN, revealed by its SYN-ACK).
func (a *analyzer) setFrom(s ladder.Side, t time.Time, from, to tcp.State) {
	e := &a.e[s]
	if !e.known {
		e.state, e.known = from, true
	}
	a.set(s, t, to)
}

// is says which state side s is in, without a change.
func (a *analyzer) is(s ladder.Side, t time.Time, st tcp.State) {
	e := &a.e[s]
	if e.known {
		return
	}
	e.state, e.known = st, true
	a.c.Events = append(a.c.Events, ladder.Event{Time: t, Kind: ladder.State, Side: s, From: st, To: st})
}

func synchronized(st tcp.State) bool {
	switch st {
	case tcp.StateEstablished, tcp.StateFinWait1, tcp.StateFinWait2, tcp.StateCloseWait,
		tcp.StateClosing, tcp.StateLastAck, tcp.StateTimeWait:
		return true
	}
	return false
}

// segment analyses segment i: its anomalies, the sender's state changes
// before it, the segment, and the receiver's after it.
func (a *analyzer) segment(i int) {
	p := &a.ps[i]
	s := a.side(p)
	o := s.Other()
	snd, rcv := &a.e[s], &a.e[o]
	seg := &p.seg
	t := p.pkt.Time
	f := seg.Flags
	seglen := uint32(seg.Len)
	if f&wire.FlagSYN != 0 {
		seglen++
	}
	if f&wire.FlagFIN != 0 {
		seglen++
	}
	ctl := f&(wire.FlagSYN|wire.FlagFIN|wire.FlagRST) != 0
	hasAck := f&wire.FlagACK != 0

	// Window in bytes.
	win := int64(seg.Window)
	switch {
	case f&wire.FlagSYN != 0, f&wire.FlagRST != 0 && a.scale[s] < 0:
		seg.WindowScale = 0 // never scaled; an RST's window means nothing
	case a.scale[s] < 0:
		seg.WindowScale, win = -1, -1
	default:
		seg.WindowScale = int8(a.scale[s])
		win <<= a.scale[s]
	}

	// Anomalies, as Wireshark's tcp_analyze_sequence_number finds them.
	var an ladder.Anomaly
	if snd.seqKnown && f&wire.FlagRST == 0 {
		if seg.Len == 1 && seg.Seq == snd.nextSeq && rcv.lastWin == 0 {
			an |= ladder.ZeroWindowProbe
		}
		if seqGT(seg.Seq, snd.nextSeq) {
			an |= ladder.PreviousLost
		}
		if seg.Len <= 1 && !ctl && seg.Seq == snd.nextSeq-1 {
			an |= ladder.KeepAlive
		}
	}
	if seg.Window == 0 && !ctl {
		an |= ladder.ZeroWindow
	}
	pureAck := seg.Len == 0 && !ctl && hasAck
	sameAck := snd.ackKnown && seg.Ack == snd.lastAck && seg.Seq == snd.nextSeq
	if pureAck && sameAck && an&ladder.KeepAlive == 0 {
		switch {
		case seg.Window != snd.lastWinRaw:
			an |= ladder.WindowUpdate
		case snd.challenge:
			an |= ladder.ChallengeACK
		case seg.Window == 0:
			// Wireshark calls neither a keep-alive ACK nor a duplicate
			// ACK one that advertises a zero window: the receiver is
			// answering probes of its closed window.
		case rcv.keepAlive:
			an |= ladder.KeepAliveACK
		case rcv.seqKnown && seg.Ack != rcv.nextSeq || seg.Options.NumSACK > 0:
			an |= ladder.DupACK
		}
	} else if pureAck && snd.challenge {
		an |= ladder.ChallengeACK
	}
	if seg.Len > 0 && !ctl && rcv.ackKnown && rcv.lastWin >= 0 && seg.Seq+uint32(seg.Len) == rcv.lastAck+uint32(rcv.lastWin) {
		an |= ladder.WindowFull
	}
	if hasAck && rcv.seqKnown && seqGT(seg.Ack, rcv.nextSeq) {
		an |= ladder.AckedUnseen
	}
	if seglen > 0 && snd.seqKnown && seqLT(seg.Seq, snd.nextSeq) && an&(ladder.KeepAlive|ladder.ZeroWindowProbe) == 0 {
		rtt := snd.rttEst
		if rtt == 0 {
			rtt = oooThreshold
		}
		switch {
		case rcv.ackKnown && seqLE(seg.Seq+seglen, rcv.lastAck):
			an |= ladder.Retransmission | ladder.SpuriousRetransmission
		case rcv.dupAcks >= 2 && rcv.lastAck == seg.Seq && t.Sub(rcv.lastDup) < fastRetransmitWindow:
			an |= ladder.Retransmission | ladder.FastRetransmission
		case !snd.seen[seg.Seq] && t.Sub(snd.maxSeqTime) < rtt:
			an |= ladder.OutOfOrder
		default:
			an |= ladder.Retransmission
		}
	}
	if d := dsack(seg, hasAck); d.ok {
		an |= ladder.DSACK
		a.markSpurious(o, d.start, d.end)
	}
	seg.Anomalies = an

	// Bookkeeping of the sender.
	if an&ladder.DupACK != 0 {
		snd.dupAcks++
		snd.lastDup = t
		seg.DupAck = snd.dupAcks
	} else if hasAck && (!snd.ackKnown || seg.Ack != snd.lastAck) {
		snd.dupAcks = 0
	}
	snd.keepAlive = an&ladder.KeepAlive != 0
	if an&ladder.ChallengeACK != 0 {
		snd.challenge = false
	}
	if an&(ladder.Retransmission|ladder.FastRetransmission|ladder.SpuriousRetransmission) != 0 {
		a.c.Retransmissions[s]++
		for k := range snd.outstanding {
			if seqLE(seg.Seq+seglen, snd.outstanding[k].end) && seqLT(seg.Seq, snd.outstanding[k].end) || snd.outstanding[k].end == seg.Seq+seglen {
				snd.outstanding[k].retx = true
			}
		}
	}
	if f&wire.FlagSYN != 0 && !snd.synSeen {
		snd.synSeen, snd.isn = true, seg.Seq
		snd.wsOffered, snd.ws = seg.Options.HasWindowScale, seg.Options.WindowScale
	}
	end := seg.Seq + seglen
	if !snd.seqKnown {
		snd.firstSeq = seg.Seq
		if f&wire.FlagSYN != 0 {
			snd.firstSeq++
		}
	}
	if !snd.seqKnown || seqGT(end, snd.nextSeq) {
		dataEnd := seg.Seq + seglen
		if f&wire.FlagSYN != 0 {
			dataEnd--
		}
		if f&wire.FlagFIN != 0 {
			dataEnd--
		}
		if seqGT(dataEnd, snd.firstSeq) {
			a.c.Bytes[s] = int64(dataEnd - snd.firstSeq)
		}
		snd.nextSeq, snd.seqKnown, snd.maxSeqTime = end, true, t
		if seglen > 0 && an&(ladder.Retransmission|ladder.OutOfOrder) == 0 {
			snd.outstanding = append(snd.outstanding, sent{end: end, at: t})
		}
	}
	if seglen > 0 {
		snd.seen[seg.Seq] = true
	}
	if f&wire.FlagFIN != 0 && !snd.finSent {
		snd.finSent, snd.finSeq = true, seg.Seq+uint32(seg.Len)
	}
	if hasAck {
		a.rttSample(s, seg.Ack, t)
		snd.ackKnown, snd.lastAck = true, seg.Ack
	}
	snd.lastWinRaw, snd.lastWin = seg.Window, win
	if p.partial {
		a.c.Unverified[s]++
	}

	// The sender's state changes that this segment shows.
	if hasAck {
		a.flush(o, s, func(j int) bool {
			q := &a.ps[j].seg
			return seqLE(q.Seq+segLen(q), seg.Ack)
		}, p)
	}
	a.sending(s, p)

	a.c.Events = append(a.c.Events, ladder.Event{Time: t, Kind: ladder.Segment, Side: s, Seg: *seg, Lost: p.pkt.Lost})
	a.c.Segments = append(a.c.Segments, Segment{Time: t, Side: s, Seg: *seg, Window: win, Frame: p.pkt.Frame})

	// The receiver's. It processes segments in the order they come; one
	// that takes sequence space (data, SYN, FIN) is taken as processed
	// when the receiver acknowledges it (the ACK field of a segment is
	// what its sender had received when it built it, however long the
	// segment then queued before the capture point), and holds back those
	// behind it; the others are processed as they pass.
	if f&wire.FlagRST != 0 {
		a.flush(s, o, func(int) bool { return true }, nil)
		a.resetReceived(o, p)
		return
	}
	if f&wire.FlagSYN != 0 && f&wire.FlagACK == 0 && rcv.known && synchronized(rcv.state) {
		// A SYN on a synchronized connection is never acknowledged: it
		// is answered with a challenge ACK (RFC 5961 §4).
		rcv.challenge = true
		return
	}
	rcv.inbox = append(rcv.inbox, i)
	a.drain(o)
}

// drain applies to side r the segments at the front of its inbox that take
// no sequence space: nothing the receiver has yet to acknowledge stands
// before them, so it processed them as they came.
func (a *analyzer) drain(r ladder.Side) {
	e := &a.e[r]
	for len(e.inbox) > 0 && segLen(&a.ps[e.inbox[0]].seg) == 0 {
		j := e.inbox[0]
		e.inbox = e.inbox[1:]
		a.receive(r, &a.ps[j], nil)
	}
}

func segLen(q *ladder.SegmentInfo) uint32 {
	n := uint32(q.Len)
	if q.Flags&wire.FlagSYN != 0 {
		n++
	}
	if q.Flags&wire.FlagFIN != 0 {
		n++
	}
	return n
}

// flush applies to side r the segments of its inbox (sent by side from)
// up to the last one for which upto holds. trigger is r's segment that
// shows it received them, if any.
func (a *analyzer) flush(from, r ladder.Side, upto func(j int) bool, trigger *parsed) {
	e := &a.e[r]
	last := -1
	for k, j := range e.inbox {
		if upto(j) {
			last = k
		}
	}
	if last < 0 {
		return
	}
	todo := e.inbox[:last+1]
	e.inbox = append([]int(nil), e.inbox[last+1:]...)
	for _, j := range todo {
		a.receive(r, &a.ps[j], trigger)
	}
	a.drain(r)
}

// receive applies segment p, received by side r, to r's state. trigger is
// r's segment that revealed the receipt, if any.
func (a *analyzer) receive(r ladder.Side, p *parsed, trigger *parsed) {
	e := &a.e[r]
	seg := &p.seg
	t := p.pkt.Time
	if trigger != nil {
		t = trigger.pkt.Time
	}
	f := seg.Flags
	if f&wire.FlagSYN != 0 && f&wire.FlagACK == 0 {
		switch {
		case !e.known || e.state == tcp.StateListen || e.state == tcp.StateClosed:
			if trigger != nil && trigger.seg.Flags&wire.FlagRST != 0 {
				a.is(r, t, tcp.StateClosed)
				return
			}
			if trigger != nil && trigger.seg.Flags&wire.FlagSYN != 0 {
				a.setFrom(r, t, tcp.StateListen, tcp.StateSynReceived)
			}
		case e.state == tcp.StateSynSent:
			a.set(r, t, tcp.StateSynReceived) // simultaneous open
		case synchronized(e.state):
			e.challenge = true // RFC 5961 §4
		}
		return
	}
	if f&wire.FlagACK != 0 {
		switch {
		case f&wire.FlagSYN != 0 && e.state == tcp.StateSynSent && e.synSeen && seg.Ack == e.isn+1:
			a.set(r, t, tcp.StateEstablished)
		case f&wire.FlagSYN != 0 && !e.known:
			a.setFrom(r, t, tcp.StateSynSent, tcp.StateEstablished)
		case e.state == tcp.StateSynReceived && e.synSeen && seqGT(seg.Ack, e.isn):
			a.set(r, t, tcp.StateEstablished)
		}
		if e.finSent && seqGT(seg.Ack, e.finSeq) {
			switch e.state {
			case tcp.StateFinWait1:
				a.set(r, t, tcp.StateFinWait2)
			case tcp.StateClosing:
				a.set(r, t, tcp.StateTimeWait)
			case tcp.StateLastAck:
				a.set(r, t, tcp.StateClosed)
			}
		}
	}
	if f&wire.FlagFIN != 0 && !e.finRcvd {
		e.finRcvd = true
		switch e.state {
		case tcp.StateSynReceived, tcp.StateEstablished:
			a.set(r, t, tcp.StateCloseWait)
		case tcp.StateFinWait1:
			a.set(r, t, tcp.StateClosing)
		case tcp.StateFinWait2:
			a.set(r, t, tcp.StateTimeWait)
		}
	}
}

// sending applies to side s what sending p shows of its state.
func (a *analyzer) sending(s ladder.Side, p *parsed) {
	e := &a.e[s]
	seg := &p.seg
	t := p.pkt.Time
	f := seg.Flags
	switch {
	case f&wire.FlagRST != 0:
		seg.Note = a.resetMeaning(s, p)
		if e.known && e.state != tcp.StateClosed && e.state != tcp.StateListen {
			a.set(s, t, tcp.StateClosed)
		} else {
			a.is(s, t, tcp.StateClosed)
		}
		e.inbox = nil
		return
	case f&wire.FlagSYN != 0 && f&wire.FlagACK == 0:
		if !e.known || e.state == tcp.StateClosed {
			a.setFrom(s, t, tcp.StateClosed, tcp.StateSynSent)
		}
	case f&wire.FlagSYN != 0:
		if !e.known || e.state == tcp.StateListen || e.state == tcp.StateClosed {
			a.setFrom(s, t, tcp.StateListen, tcp.StateSynReceived)
		}
	}
	if f&wire.FlagFIN != 0 && seg.Seq+uint32(seg.Len) == e.finSeq {
		switch e.state {
		case tcp.StateEstablished, tcp.StateSynReceived:
			a.set(s, t, tcp.StateFinWait1)
		case tcp.StateCloseWait:
			a.set(s, t, tcp.StateLastAck)
		}
	}
}

// resetMeaning says in plain words why side s sends the RST p.
func (a *analyzer) resetMeaning(s ladder.Side, p *parsed) string {
	e := &a.e[s]
	other := &a.e[s.Other()]
	switch {
	case (!e.known || e.state == tcp.StateListen || e.state == tcp.StateClosed) && other.known && other.state == tcp.StateSynSent:
		return "connection refused"
	case !e.known && a.c.MidStream:
		return "reset"
	case e.known && e.state == tcp.StateTimeWait:
		return "reset in TIME-WAIT"
	case e.known && e.state == tcp.StateClosed:
		return "reset: no such connection (already closed)"
	case e.known && e.state == tcp.StateSynSent:
		return "abort during the handshake"
	case e.known && synchronized(e.state):
		return "abort: connection reset"
	}
	return "reset"
}

// resetReceived applies an RST to its receiver r.
func (a *analyzer) resetReceived(r ladder.Side, p *parsed) {
	e := &a.e[r]
	snd := &a.e[r.Other()]
	t := p.pkt.Time
	if e.known && synchronized(e.state) && snd.seqKnown && p.seg.Seq != snd.nextSeq {
		// RFC 5961 §3.2: an RST that is not exactly at RCV.NXT is
		// answered with a challenge ACK.
		e.challenge = true
		return
	}
	if e.known && e.state == tcp.StateTimeWait {
		a.setNote(p, "reset in TIME-WAIT")
	}
	if e.known && (e.state == tcp.StateClosed || e.state == tcp.StateListen) {
		return
	}
	if !e.known {
		return
	}
	a.set(r, t, tcp.StateClosed)
}

// setNote changes the note of the RST p already in the events.
func (a *analyzer) setNote(p *parsed, note string) {
	p.seg.Note = note
	for k := len(a.c.Events) - 1; k >= 0; k-- {
		ev := &a.c.Events[k]
		if ev.Kind == ladder.Segment && ev.Time.Equal(p.pkt.Time) && ev.Seg.Seq == p.seg.Seq && ev.Seg.Flags == p.seg.Flags {
			ev.Seg.Note = note
			a.c.Segments[len(a.c.Segments)-1].Seg.Note = note
			return
		}
	}
}

type dsackBlock struct {
	start, end uint32
	ok         bool
}

// dsack returns the D-SACK block of a segment (RFC 2883 §4): a first SACK
// block below the cumulative ACK, or inside the second block.
func dsack(seg *ladder.SegmentInfo, hasAck bool) dsackBlock {
	o := &seg.Options
	if !hasAck || o.NumSACK == 0 {
		return dsackBlock{}
	}
	b := o.SACK[0]
	if seqLE(b.End, seg.Ack) {
		return dsackBlock{b.Start, b.End, true}
	}
	if o.NumSACK > 1 && seqLE(o.SACK[1].Start, b.Start) && seqLE(b.End, o.SACK[1].End) {
		return dsackBlock{b.Start, b.End, true}
	}
	return dsackBlock{}
}

// markSpurious marks the last retransmission by side s that overlaps
// [start, end) as spurious: the receiver says it got that data twice.
func (a *analyzer) markSpurious(s ladder.Side, start, end uint32) {
	for k := len(a.c.Events) - 1; k >= 0; k-- {
		ev := &a.c.Events[k]
		if ev.Kind != ladder.Segment || ev.Side != s || ev.Seg.Anomalies&ladder.Retransmission == 0 {
			continue
		}
		if seqLT(ev.Seg.Seq, end) && seqGT(ev.Seg.Seq+uint32(ev.Seg.Len), start) {
			ev.Seg.Anomalies |= ladder.SpuriousRetransmission
			for m := len(a.c.Segments) - 1; m >= 0; m-- {
				sg := &a.c.Segments[m]
				if sg.Time.Equal(ev.Time) && sg.Side == s && sg.Seg.Seq == ev.Seg.Seq {
					sg.Seg.Anomalies = ev.Seg.Anomalies
					break
				}
			}
			return
		}
	}
}

// rttSample takes a round-trip sample when side s's ack covers data the
// other side sent (Karn: never from a retransmitted segment).
func (a *analyzer) rttSample(s ladder.Side, ack uint32, t time.Time) {
	d := &a.e[s.Other()]
	n, best := 0, -1
	for k, o := range d.outstanding {
		if seqLE(o.end, ack) {
			best = k
			n = k + 1
		}
	}
	if best < 0 {
		return
	}
	o := d.outstanding[best]
	if !o.retx {
		rtt := t.Sub(o.at)
		a.c.RTT = append(a.c.RTT, RTTSample{Time: t, Side: s.Other(), RTT: rtt})
		d.rttEst = rtt
	}
	d.outstanding = d.outstanding[n:]
}

// finish works out the vantage point and how the conversation ended.
func (a *analyzer) finish() {
	for s := range 2 {
		a.c.Final[s], a.c.FinalKnown[s] = a.e[s].state, a.e[s].known
	}
	a.c.Vantage = a.vantage()
	a.c.Ended = a.ended()
}

func (a *analyzer) ended() string {
	left, right := a.c.Left.String(), a.c.Right.String()
	for k := len(a.c.Segments) - 1; k >= 0; k-- {
		sg := a.c.Segments[k]
		if sg.Seg.Flags&wire.FlagRST != 0 {
			by := left
			if sg.Side == ladder.Right {
				by = right
			}
			if sg.Seg.Note == "connection refused" {
				return "refused by " + by
			}
			return fmt.Sprintf("reset by %s (%s)", by, sg.Seg.Note)
		}
	}
	fin := [2]int{-1, -1}
	for k, sg := range a.c.Segments {
		if sg.Seg.Flags&wire.FlagFIN != 0 && fin[sg.Side] < 0 {
			fin[sg.Side] = k
		}
	}
	st := func(s int) string {
		if !a.c.FinalKnown[s] {
			return "?"
		}
		return a.c.Final[s].String()
	}
	switch {
	case fin[0] >= 0 && fin[1] >= 0 && a.closing[0] && a.closing[1]:
		return fmt.Sprintf("simultaneous close (%s / %s)", st(0), st(1))
	case fin[0] >= 0 && fin[1] >= 0:
		first := left
		if fin[1] < fin[0] {
			first = right
		}
		return fmt.Sprintf("closed, %s first (%s / %s)", first, st(0), st(1))
	case fin[0] >= 0 || fin[1] >= 0:
		by := left
		if fin[1] >= 0 {
			by = right
		}
		return fmt.Sprintf("half-closed by %s at the end of the capture (%s / %s)", by, st(0), st(1))
	}
	return fmt.Sprintf("open at the end of the capture (%s / %s)", st(0), st(1))
}

// vantage says where the capture was taken, from the strongest evidence
// there is: the directions a cooked or pcapng capture records, partial
// checksums (offload happens on the sending host), or the handshake's
// timing (the capture point answers fast).
func (a *analyzer) vantage() string {
	var out, in, partial [2]int
	for _, p := range a.ps {
		s := a.side(&p)
		switch p.pkt.Direction {
		case 2: // pcap.DirOutbound
			out[s]++
		case 1:
			in[s]++
		}
		if p.partial && !p.pkt.Truncated {
			partial[s]++
		}
	}
	names := [2]string{a.c.Left.Addr().String(), a.c.Right.Addr().String()}
	switch {
	case out[0] > 0 && out[1] > 0:
		return "on the host of both ends (the capture marks both sides' packets outgoing)"
	case out[0] > 0 || out[1] > 0:
		s := 0
		if out[1] > 0 {
			s = 1
		}
		return fmt.Sprintf("on the host of %s (the capture marks its packets outgoing)", names[s])
	case in[0] > 0 && in[1] > 0:
		return "on a host that is neither end (every packet incoming)"
	case partial[0] > 0 && partial[1] > 0:
		return "on the host of both ends (both sides' checksums left to offload)"
	case partial[0] > 0 || partial[1] > 0:
		s := 0
		if partial[1] > 0 {
			s = 1
		}
		return fmt.Sprintf("on the host of %s (its checksums are left to offload)", names[s])
	}
	// Handshake timing: SYN → SYN-ACK → ACK.
	var syn, synack, ack time.Time
	for _, sg := range a.c.Segments {
		f := sg.Seg.Flags
		switch {
		case f&wire.FlagSYN != 0 && f&wire.FlagACK == 0 && syn.IsZero():
			syn = sg.Time
		case f&wire.FlagSYN != 0 && f&wire.FlagACK != 0 && synack.IsZero():
			synack = sg.Time
		case f&wire.FlagACK != 0 && !synack.IsZero() && ack.IsZero() && sg.Side == ladder.Left:
			ack = sg.Time
		}
	}
	if !syn.IsZero() && !synack.IsZero() && !ack.IsZero() {
		t1, t2 := synack.Sub(syn), ack.Sub(synack)
		switch {
		case t2*4 < t1:
			return fmt.Sprintf("near %s (SYN-ACK answered in %v, SYN in %v)", names[0], t2, t1)
		case t1*4 < t2:
			return fmt.Sprintf("near %s (SYN answered in %v, SYN-ACK in %v)", names[1], t1, t2)
		}
	}
	return "at an unknown point (neither directions, checksums nor the handshake's timing tell)"
}
