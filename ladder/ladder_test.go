package ladder

import (
	"time"

	"github.com/synack/synack/tcp"
	"github.com/synack/synack/wire"
)

var epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	syn = wire.FlagSYN
	ack = wire.FlagACK
	fin = wire.FlagFIN
	psh = wire.FlagPSH
	rst = wire.FlagRST
)

// ms returns the instant ms milliseconds after epoch.
func ms(n float64) time.Time { return epoch.Add(time.Duration(n * float64(time.Millisecond))) }

func st(t float64, s Side, from, to tcp.State) Event {
	return Event{Time: ms(t), Kind: State, Side: s, From: from, To: to}
}

func sg(t float64, s Side, f wire.Flags, seq, ack uint32, n int, opts wire.TCPOptions) Event {
	return Event{Time: ms(t), Kind: Segment, Side: s, Seg: SegmentInfo{Flags: f, Seq: seq, Ack: ack, Window: 64240, Len: n, Options: opts}}
}

// handshakeAndClose is a whole connection with a 1 ms one-way delay:
// client ISN 1000, server ISN 300000.
func handshakeAndClose() []Event {
	synOpts := wire.TCPOptions{HasMSS: true, MSS: 1460, SACKPermitted: true, HasTimestamps: true, TSVal: 100, HasWindowScale: true, WindowScale: 7}
	synAckOpts := synOpts
	synAckOpts.TSVal, synAckOpts.TSEcr = 5000, 100
	ts := func(val, ecr uint32) wire.TCPOptions {
		return wire.TCPOptions{HasTimestamps: true, TSVal: val, TSEcr: ecr}
	}
	const (
		c = 1000
		s = 300000
	)
	return []Event{
		st(0, Right, tcp.StateClosed, tcp.StateListen),
		st(0, Left, tcp.StateClosed, tcp.StateSynSent),
		sg(0, Left, syn, c, 0, 0, synOpts),
		st(1, Right, tcp.StateListen, tcp.StateSynReceived),
		sg(1, Right, syn|ack, s, c+1, 0, synAckOpts),
		st(2, Left, tcp.StateSynSent, tcp.StateEstablished),
		sg(2, Left, ack, c+1, s+1, 0, ts(102, 5000)),
		sg(2, Left, psh|ack, c+1, s+1, 18, ts(102, 5000)),
		st(3, Right, tcp.StateSynReceived, tcp.StateEstablished),
		sg(3, Right, psh|ack, s+1, c+19, 5, ts(5003, 102)),
		sg(4, Left, ack, c+19, s+6, 0, ts(104, 5003)),
		st(4, Left, tcp.StateEstablished, tcp.StateFinWait1),
		sg(4, Left, fin|ack, c+19, s+6, 0, ts(104, 5003)),
		st(5, Right, tcp.StateEstablished, tcp.StateCloseWait),
		sg(5, Right, ack, s+6, c+20, 0, ts(5005, 104)),
		st(5, Right, tcp.StateCloseWait, tcp.StateLastAck),
		sg(5, Right, fin|ack, s+6, c+20, 0, ts(5005, 104)),
		st(6, Left, tcp.StateFinWait1, tcp.StateFinWait2),
		st(6, Left, tcp.StateFinWait2, tcp.StateTimeWait),
		sg(6, Left, ack, c+20, s+7, 0, ts(106, 5005)),
		st(7, Right, tcp.StateLastAck, tcp.StateClosed),
		st(60006, Left, tcp.StateTimeWait, tcp.StateClosed),
	}
}
