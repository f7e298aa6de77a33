package tcp

import (
	"time"

	"github.com/synack/synack/wire"
)

// TimeWait is the compact record of a connection in TIME-WAIT: what the
// 2·MSL wait still needs of its TCB (sequence numbers, the timestamp
// state, the window of its ACKs, the expiry) and nothing else — no
// buffers, no timers, no congestion state. A stack keeps one in place of
// the TCB (TCB.TimeWait) and hands it the segments of its 4-tuple
// (HandleSegment).
//
// It follows RFC 9293 §3.10.7.4 as FreeBSD's tcp_twcheck and Linux's
// tcp_timewait_state_process do:
//
//   - a RST is ignored (RFC 1337: TIME-WAIT assassination);
//   - a SYN without ACK that is newer than the old connection — its
//     timestamp above TS.Recent, or its sequence number above RCV.NXT,
//     and not rejected by PAWS (RFC 6191) — may open a new connection
//     (TimeWaitReopen: the record goes); any other such SYN is
//     acknowledged (RFC 5961 §4), without restarting the wait;
//   - a segment without ACK is dropped;
//   - a retransmission of the peer's FIN is acknowledged again and
//     restarts the 2·MSL wait;
//   - an exact duplicate of the last ACK (SEQ = RCV.NXT, ACK = SND.NXT,
//     no data, no FIN) is taken silently;
//   - every other segment is acknowledged; one at or after RCV.NXT that
//     passes PAWS (an in-window ACK, a FIN|ACK, data) also restarts the
//     2·MSL wait.
//
// Its ACKs are <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> with the window of the
// connection's last ACK and, with timestamps, TSval and TS.Recent.
type TimeWait struct {
	sndNxt, rcvNxt     uint32
	tsRecent, tsOffset uint32
	expires            instant // monotonic, as every instant of the engine
	wait               int64   // 2·MSL, nanoseconds
	window             uint16
	tsOK               bool
}

// TimeWaitVerdict says what a TIME-WAIT record did with a segment.
type TimeWaitVerdict uint8

const (
	// TimeWaitDrop: the segment was taken or dropped; nothing to send.
	TimeWaitDrop TimeWaitVerdict = iota
	// TimeWaitAck: send the reply HandleSegment returned.
	TimeWaitAck
	// TimeWaitReopen: the segment is a SYN that may open a new
	// connection on the same 4-tuple. The owner forgets the record and
	// hands the SYN to its listener, with an initial sequence number of
	// at least NextISS.
	TimeWaitReopen
)

// TimeWait returns the TIME-WAIT record that may replace t, and whether t
// is in TIME-WAIT.
func (t *TCB) TimeWait() (TimeWait, bool) {
	if t.state != StateTimeWait {
		return TimeWait{}, false
	}
	shift := t.rcvWScale
	w := uint32(t.rcvBuf.Free())
	if lim := uint32(65535) << shift; w > lim {
		w = lim
	}
	// The window of the record's ACKs: the offer of our last ACK, never
	// less (the right edge does not move left).
	field := max(w>>shift, (t.rcvWnd+1<<shift-1)>>shift)
	return TimeWait{
		sndNxt:   t.sndNxt,
		rcvNxt:   t.rcvNxt,
		tsRecent: t.tsRecent,
		tsOffset: t.tsOffset,
		tsOK:     t.tsOK,
		expires:  t.timeWaitAt,
		wait:     int64(2 * t.cfg.MSL),
		window:   uint16(min(field, 65535)),
	}, true
}

// Expiry is when the 2·MSL wait ends: the connection is then CLOSED and
// the record may be forgotten.
func (tw *TimeWait) Expiry() time.Time { return tw.expires.Time() }

// Expired reports whether the wait has ended at now.
func (tw *TimeWait) Expired(now time.Time) bool { return !instantOf(now).Before(tw.expires) }

// ReusableForDial reports whether a new connection of ours may take the
// record's 4-tuple at now, before 2·MSL has passed, as Linux's
// tcp_tw_reuse lets a connect() take the port of its own TIME-WAIT
// socket: only when timestamps were in use, so that PAWS on both ends
// tells the new connection's segments from the old one's (its TSvals to
// this peer grow from one connection to the next: Config.TSOffset), and
// at least a second after the wait began or was last restarted by a
// retransmitted FIN, so that the peer, which closed last, has had its
// final ACK. The new connection starts at NextISS or later.
func (tw *TimeWait) ReusableForDial(now time.Time) bool {
	return tw.tsOK && instantOf(now).Sub(tw.expires.Add(-time.Duration(tw.wait))) >= time.Second
}

// NextISS is the smallest initial sequence number a new connection
// reopening the 4-tuple should use: past anything the old one sent, with
// a window's room (as Linux's tw_snd_nxt + 65535 + 2).
func (tw *TimeWait) NextISS() uint32 { return tw.sndNxt + 65535 + 2 }

// HandleSegment processes one segment for the 4-tuple at now. With
// TimeWaitAck, reply is the ACK to send.
func (tw *TimeWait) HandleSegment(seg *Segment, now time.Time) (v TimeWaitVerdict, reply Segment) {
	f := seg.Flags
	if f&wire.FlagRST != 0 {
		return TimeWaitDrop, reply // RFC 1337
	}
	o := &seg.Options
	hasTS := tw.tsOK && o.HasTimestamps
	pawsOK := !hasTS || !seqLT(o.TSVal, tw.tsRecent)
	if f&wire.FlagSYN != 0 && f&wire.FlagACK == 0 {
		// RFC 6191 (and RFC 9293 §3.10.7.4, fourth): a newer SYN.
		newer := seqGT(seg.Seq, tw.rcvNxt) || hasTS && seqGT(o.TSVal, tw.tsRecent)
		if pawsOK && newer {
			return TimeWaitReopen, reply
		}
		// Any other SYN is answered with an ACK, as in a synchronized
		// state (RFC 5961 §4; Linux's tcp_timewait_state_process and
		// FreeBSD's tcp_twcheck ACK it too), without a restart.
		return TimeWaitAck, tw.ack(now)
	}
	if f&wire.FlagACK == 0 {
		return TimeWaitDrop, reply
	}
	n := seg.Len()
	switch {
	case !pawsOK:
		// RFC 7323 §5.3 R1: an old duplicate; acknowledged, no restart.
	case f&wire.FlagSYN != 0:
		// A SYN|ACK in a synchronized state: an ACK (RFC 5961 §4).
	case f&wire.FlagFIN != 0 && seg.Seq+n == tw.rcvNxt:
		// The peer's FIN again: our ACK was lost. "Acknowledge it, and
		// restart the 2 MSL timeout."
		tw.restart(now)
	case f == wire.FlagACK && len(seg.Payload) == 0 && seg.Seq == tw.rcvNxt && seg.Ack == tw.sndNxt:
		// A duplicate of the last ACK: nothing to answer.
		if hasTS {
			tw.tsRecent = o.TSVal
		}
		return TimeWaitDrop, reply
	case !seqLT(seg.Seq, tw.rcvNxt):
		// Acceptable: acknowledge and restart (RFC 9293 §3.10.7.4).
		if hasTS && seg.Seq == tw.rcvNxt {
			tw.tsRecent = o.TSVal
		}
		tw.restart(now)
	}
	return TimeWaitAck, tw.ack(now)
}

// restart starts the 2·MSL wait again at now.
func (tw *TimeWait) restart(now time.Time) { tw.expires = instantOf(now).Add(time.Duration(tw.wait)) }

// ack is <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>.
func (tw *TimeWait) ack(now time.Time) Segment {
	s := Segment{Seq: tw.sndNxt, Ack: tw.rcvNxt, Flags: wire.FlagACK, Window: tw.window}
	if tw.tsOK {
		s.Options.HasTimestamps = true
		s.Options.TSVal = tsClock(now) + tw.tsOffset
		s.Options.TSEcr = tw.tsRecent
	}
	return s
}

// inputTimeWait is a segment for a TCB in TIME-WAIT: the record's rules,
// so that a TCB and the record that replaces it behave alike. A SYN that
// may reopen the 4-tuple ends the TCB (CLOSED) for its owner to hand the
// SYN to a listener.
func (t *TCB) inputTimeWait(seg *Segment, now time.Time) {
	tw, _ := t.TimeWait()
	v, reply := tw.HandleSegment(seg, now)
	t.tsRecent = tw.tsRecent
	t.timeWaitAt = instantOf(tw.Expiry())
	switch v {
	case TimeWaitAck:
		if t.outQ == nil {
			t.takeOut()
		}
		t.outQ = append(t.outQ, outEntry{seg: reply})
		t.lastAck = reply.Ack
	case TimeWaitReopen:
		t.enterClosed(nil, now)
	}
}
