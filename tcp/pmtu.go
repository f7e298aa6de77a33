package tcp

import (
	"time"

	"github.com/synack/synack/wire"
)

// HandlePathMTU is an input of the engine, like a segment: the path to
// the peer was found to carry at most mss bytes of TCP payload (the path
// MTU less the IP header and a 20-byte TCP header), from an ICMP
// fragmentation needed or packet too big the caller has checked against
// this connection (RFC 5927 §4.1, RFC 1191, RFC 8201). If that is below
// the MSS the connection sends with, the MSS drops to it (not below
// Config.MinMSS, less the options every segment carries), and every
// segment in flight larger than the new MSS, which the path has dropped,
// is sent again at once, cut to the new size: this is no sign of
// congestion, so the congestion window is left alone (as Linux's
// tcp_simple_retransmit does). It reports whether the MSS changed.
func (t *TCB) HandlePathMTU(mss int, now time.Time) bool {
	if t.fastOpenPathMTU(mss, now) {
		return true // a SYN with data was too big (fastopen.go)
	}
	if t.Done() || !t.synAcked() {
		return false
	}
	switch t.state {
	case StateEstablished, StateFinWait1, StateCloseWait, StateClosing, StateLastAck:
	default: // nothing of ours left to send
		return false
	}
	mss = max(mss, t.cfg.MinMSS) // as the peer's MSS is (negotiate)
	if t.tsOK {
		mss -= tsOptionLen
	}
	if mss >= t.sndMSS {
		return false
	}
	t.sndMSS = mss
	for i := range t.tx.n {
		s := t.tx.at(i)
		if s.flags&txSACKed == 0 && int(s.len()) > mss {
			t.resendCut(i, now)
		}
	}
	t.rttTiming = false // Karn's rule
	if t.rtoAt.IsZero() && t.sndUna != t.sndNxt {
		t.rtoAt = instantOf(now).Add(t.rto)
	}
	return true
}

// resendCut sends segment i of the flight again in pieces of at most
// SndMSS bytes, the last with the FIN if the segment carried it.
func (t *TCB) resendCut(i int, now time.Time) {
	s := t.tx.at(i)
	end := s.end
	fin := t.finSent && end == t.sndFinSeq+1
	if fin {
		end--
	}
	t.retransmitting = true
	for seq := s.start; ; {
		n := min(int(end-seq), t.sndMSS)
		flags := wire.FlagACK
		if n > 0 {
			flags = t.dataFlags(seq, n)
		}
		last := seq+uint32(n) == end
		if last && fin {
			flags |= wire.FlagFIN
		}
		t.queue(flags, seq, n, now)
		seq += uint32(n)
		if last {
			break
		}
	}
	t.retransmitting = false
	t.tx.resent(i, now, t.tsNow(now))
	t.retransmitted(s.start, s.end, s.tsval)
}
