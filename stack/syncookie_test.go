package stack

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/synack/synack/wire"
)

// ackPacket builds a bare ACK from src:port to dst:80.
func ackPacket(src netip.Addr, port uint16, dst netip.Addr, seq, ack uint32) []byte {
	h := wire.TCPHeader{SrcPort: port, DstPort: 80, Seq: seq, Ack: ack, Flags: wire.FlagACK, Window: 65535}
	return wire.AppendTCPPacket(nil, wire.Endpoints{Src: src, Dst: dst}, 64, &h, nil)
}

var floodSrc = netip.MustParseAddr("198.19.1.1")

// flood sends n SYNs from behind a black hole to sv's port 80 and waits
// until all are processed.
func flood(t *testing.T, sv *Stack, n int) {
	t.Helper()
	if err := sv.AddLink(blackHole(1500), netip.MustParsePrefix("198.19.0.1/16")); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		sv.DeliverPacket(synPacket(floodSrc, uint16(10000+i), serverAddr))
	}
	eventually(t, "the flood to be processed", func() bool {
		st := sv.Stats()
		return st.PassiveOpens+st.SynCookiesSent+st.SynQueueDrops == uint64(n)
	})
}

// A flood of 1000 SYNs against a SYN queue of 4, in each cookie mode: the
// SYNs past the queue get exactly one cookie each (or are dropped), and
// the state the listener keeps stays bounded by the queue.
func TestSynFloodCookies(t *testing.T) {
	const n, backlog = 1000, 4
	for _, tc := range []struct {
		name                      string
		mode                      SynCookieMode
		opens, cookies, drops     uint64
		realClientConnects        bool
		wantConnectionsAfterFlood uint64
	}{
		{"auto", SynCookiesAuto, backlog, n - backlog, 0, true, backlog},
		{"always", SynCookiesAlways, 0, n, 0, true, 0},
		{"off", SynCookiesOff, backlog, 0, n - backlog, false, backlog},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl, sv := pair(t, Options{}, Options{SynBacklog: backlog, SynCookies: tc.mode})
			ln, err := sv.Listen("tcp", ":80")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			flood(t, sv, n)
			st := sv.Stats()
			if st.PassiveOpens != tc.opens || st.SynCookiesSent != tc.cookies || st.SynQueueDrops != tc.drops ||
				st.Connections != tc.wantConnectionsAfterFlood {
				t.Fatalf("PassiveOpens %d, SynCookiesSent %d, SynQueueDrops %d, Connections %d; want %d, %d, %d, %d",
					st.PassiveOpens, st.SynCookiesSent, st.SynQueueDrops, st.Connections,
					tc.opens, tc.cookies, tc.drops, tc.wantConnectionsAfterFlood)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
			defer cancel()
			c, err := cl.DialContext(ctx, "tcp", "198.18.0.2:80")
			if !tc.realClientConnects {
				// Without cookies the real client's SYN is dropped too
				// (and its retransmission a second later).
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("dial with cookies off: %v; want a timeout", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("dial during the flood: %v", err)
			}
			defer c.Close()
			eventually(t, "the connection to be queued", func() bool { return ln.Pending() == 1 })
			if st := sv.Stats(); st.SynCookiesValid != 1 || st.SynCookiesSent != tc.cookies+1 {
				t.Errorf("SynCookiesValid %d, SynCookiesSent %d; want 1, %d", st.SynCookiesValid, st.SynCookiesSent, tc.cookies+1)
			}
		})
	}
}

// An ACK that reaches a listener is checked as a cookie only while the
// listener sends cookies; a forged one is counted and answered with a RST.
func TestSynCookieInvalid(t *testing.T) {
	_, sv := pair(t, Options{}, Options{SynBacklog: 1})
	ln, err := sv.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := sv.AddLink(blackHole(1500), netip.MustParsePrefix("198.19.0.1/16")); err != nil {
		t.Fatal(err)
	}
	// No cookie sent yet: the ACK is not checked, just reset.
	sv.DeliverPacket(ackPacket(floodSrc, 20000, serverAddr, 5000, 12345))
	eventually(t, "the RST", func() bool { return sv.Stats().ResetsSent == 1 })
	// Two SYNs: the second finds the queue full and gets a cookie. (One
	// after the other: they may go to two shards, which run in parallel.)
	sv.DeliverPacket(synPacket(floodSrc, 10000, serverAddr))
	eventually(t, "the half-open connection", func() bool { return sv.Stats().PassiveOpens == 1 })
	sv.DeliverPacket(synPacket(floodSrc, 10001, serverAddr))
	eventually(t, "the cookie", func() bool { return sv.Stats().SynCookiesSent == 1 })
	// A guessed cookie for the second: checked, invalid, reset.
	sv.DeliverPacket(ackPacket(floodSrc, 10001, serverAddr, 1000+10001+1, 12345))
	eventually(t, "the second RST", func() bool { return sv.Stats().ResetsSent == 2 })
	st := sv.Stats()
	if st.SynCookiesInvalid != 1 || st.SynCookiesValid != 0 || st.PassiveOpens != 1 || st.Connections != 1 || ln.Pending() != 0 {
		t.Errorf("SynCookiesInvalid %d, SynCookiesValid %d, PassiveOpens %d, Connections %d, Pending %d; want 1, 0, 1, 1, 0",
			st.SynCookiesInvalid, st.SynCookiesValid, st.PassiveOpens, st.Connections, ln.Pending())
	}
}
