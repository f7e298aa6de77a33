package stack

import (
	"context"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/synack/synack/tcp"
	"github.com/synack/synack/wire"
)

// synPacket builds a SYN from src:port to dst:80.
func synPacket(src netip.Addr, port uint16, dst netip.Addr) []byte {
	h := wire.TCPHeader{
		SrcPort: port, DstPort: 80, Seq: 1000 + uint32(port), Flags: wire.FlagSYN, Window: 65535,
		Options: wire.TCPOptions{MSS: 1460, HasMSS: true},
	}
	return wire.AppendTCPPacket(nil, wire.Endpoints{Src: src, Dst: dst}, 64, &h, nil)
}

func TestMalformedPackets(t *testing.T) {
	cl, sv := pair(t, Options{}, Options{})
	c, s := connected(t, cl, sv)

	good := synPacket(clientAddr, 4000, serverAddr)
	badSum := append([]byte(nil), good...)
	badSum[len(badSum)-1] ^= 0xff // inside the TCP options: checksum mismatch
	udp := append([]byte(nil), good...)
	udp[9] = 253 // experimental (RFC 3692): a protocol the stack does not carry
	// Fix the IPv4 header checksum of that variant.
	udp[10], udp[11] = 0, 0
	sum := wire.Checksum(udp[:20])
	udp[10], udp[11] = byte(sum>>8), byte(sum)

	for _, p := range [][]byte{nil, {0x45}, good[:30], good[:19], {0x60, 0, 0}, make([]byte, 60)} {
		sv.DeliverPacket(p)
	}
	sv.DeliverPacket(badSum)
	sv.DeliverPacket(udp)
	eventually(t, "the counters", func() bool {
		st := sv.Stats()
		return st.Malformed == 6 && st.BadChecksum == 1 && st.NotTCP == 1
	})
	// The connection is undisturbed.
	go c.Write([]byte("still here"))
	buf := make([]byte, 10)
	if _, err := io.ReadFull(s, buf); err != nil || string(buf) != "still here" {
		t.Fatalf("read %q, %v after the junk", buf, err)
	}
	if st := s.State(); st != tcp.StateEstablished {
		t.Errorf("state after the junk = %v", st)
	}
}

// A SYN flood fills the SYN queue; the SYNs past it are answered with SYN
// cookies, and a real client arriving during the flood connects through
// one, its options intact (it sent timestamps), and moves data both ways.
func TestSynQueue(t *testing.T) {
	const backlog = 8
	cl, sv := pair(t, Options{}, Options{SynBacklog: backlog})
	// The fake clients live behind a link that swallows the SYN-ACKs.
	if err := sv.AddLink(blackHole(1500), netip.MustParsePrefix("198.19.0.1/16")); err != nil {
		t.Fatal(err)
	}
	ln, err := sv.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	const flood = backlog + 10
	for i := range flood {
		sv.DeliverPacket(synPacket(netip.MustParseAddr("198.19.1.1"), uint16(10000+i), serverAddr))
	}
	eventually(t, "the flood to be processed", func() bool {
		st := sv.Stats()
		return st.PassiveOpens+st.SynCookiesSent == flood
	})
	if st := sv.Stats(); st.PassiveOpens != backlog || st.SynCookiesSent != flood-backlog ||
		st.SynQueueDrops != 0 || st.Connections != backlog {
		t.Fatalf("PassiveOpens %d, SynCookiesSent %d, SynQueueDrops %d, Connections %d; want %d, %d, 0, %d",
			st.PassiveOpens, st.SynCookiesSent, st.SynQueueDrops, st.Connections, backlog, flood-backlog, backlog)
	}

	// The SYN queue is still full (its SYN-ACKs retry for a minute): the
	// real client's SYN gets a cookie, and its ACK makes the connection.
	accepted := make(chan *Conn, 1)
	go func() {
		c, err := ln.AcceptTCP()
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := cl.DialContext(ctx, "tcp", "198.18.0.2:80")
	if err != nil {
		t.Fatalf("dial during the flood: %v", err)
	}
	defer c.Close()
	s := <-accepted
	if s == nil {
		t.FailNow()
	}
	defer s.Close()
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	s.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(s, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("server read %q, %v; want \"ping\"", buf, err)
	}
	if _, err := s.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "pong" {
		t.Fatalf("client read %q, %v; want \"pong\"", buf, err)
	}
	st := sv.Stats()
	if st.SynCookiesSent != flood-backlog+1 || st.SynCookiesValid != 1 || st.SynCookiesInvalid != 0 ||
		st.PassiveOpens != backlog+1 || st.Connections != backlog+1 {
		t.Errorf("SynCookiesSent %d, Valid %d, Invalid %d, PassiveOpens %d, Connections %d; want %d, 1, 0, %d, %d",
			st.SynCookiesSent, st.SynCookiesValid, st.SynCookiesInvalid, st.PassiveOpens, st.Connections,
			flood-backlog+1, backlog+1, backlog+1)
	}
	// Timestamps carried the options through the cookie: window scale
	// 7, SACK, and the MSS (1460 minus the timestamps option).
	in := s.Info()
	if in.State != tcp.StateEstablished || in.SndMSS != 1448 || in.SndWScale != 7 || in.RcvWScale != 7 ||
		!in.SACKPermitted || !in.Timestamps {
		t.Errorf("server side: %v MSS %d wscale %d/%d SACK %v TS %v; want ESTABLISHED MSS 1448 wscale 7/7 SACK true TS true",
			in.State, in.SndMSS, in.SndWScale, in.RcvWScale, in.SACKPermitted, in.Timestamps)
	}
}

func TestHalfOpenResetIsForgotten(t *testing.T) {
	_, sv := pair(t, Options{}, Options{})
	ln, err := sv.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// A SYN from the client address; the real client stack answers the
	// SYN-ACK it did not expect with a RST, which must undo the half-open
	// connection without the application seeing anything.
	sv.DeliverPacket(synPacket(clientAddr, 5555, serverAddr))
	eventually(t, "the RST to undo the half-open connection", func() bool {
		st := sv.Stats()
		return st.PassiveOpens == 1 && st.Connections == 0
	})
	ln.SetDeadline(time.Now().Add(20 * time.Millisecond))
	if c, err := ln.Accept(); err == nil {
		t.Fatalf("Accept returned %v for a reset half-open connection", c.RemoteAddr())
	}
}

// A malformed TCP option ends the options, and the segment is processed
// with those before it, as Linux does: a SYN carrying MSS 1000, an option
// of length 0 and then a window scale opens a connection whose SYN-ACK
// answers the MSS but not the window scale. (It used to be dropped whole.)
func TestMalformedOptionKeepsSegment(t *testing.T) {
	p := newProbe(t, Options{})
	ln, err := p.s.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	opts := []byte{wire.OptMSS, 4, 0x03, 0xe8, 99, 0, wire.OptWindowScale, 3, 7, 0, 0, 0}
	h := wire.TCPHeader{SrcPort: 4000, DstPort: 80, Seq: 1000, Flags: wire.FlagSYN, Window: 65535}
	ep := wire.Endpoints{Src: peerAddr, Dst: clientAddr}
	seg := wire.AppendTCPWithOptions(nil, &h, opts, nil, ep)
	p.s.DeliverPacket(ipPacket(peerAddr, clientAddr, wire.ProtocolTCP, seg))
	_, sa, _, err := wire.ParseTCPPacket(p.takeOne())
	if err != nil {
		t.Fatal(err)
	}
	if sa.Flags != wire.FlagSYN|wire.FlagACK || sa.Ack != 1001 || sa.Options.HasWindowScale || !sa.Options.HasMSS {
		t.Errorf("answer %v ack %d options %v; want a SYN-ACK of 1001 with an MSS and no window scale", sa.Flags, sa.Ack, sa.Options)
	}
	if st := p.s.Stats(); st.TCPOptionErrors != 1 || st.Malformed != 0 || st.PassiveOpens != 1 {
		t.Errorf("TCPOptionErrors %d, Malformed %d, PassiveOpens %d; want 1, 0, 1", st.TCPOptionErrors, st.Malformed, st.PassiveOpens)
	}
}
