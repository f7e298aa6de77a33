package stack

import (
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

func TestSynQueue(t *testing.T) {
	const backlog = 8
	cl, sv := pair(t, Options{}, Options{
		SynBacklog: backlog,
		TCP:        tcp.Config{InitialRTO: 50 * time.Millisecond, SynAckRetries: 1},
	})
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
		return st.PassiveOpens+st.SynQueueDrops == flood
	})
	if st := sv.Stats(); st.SynQueueDrops != flood-backlog || st.PassiveOpens != backlog {
		t.Fatalf("SynQueueDrops = %d, PassiveOpens = %d; want %d, %d", st.SynQueueDrops, st.PassiveOpens, flood-backlog, backlog)
	}
	// While the queue is full, a real client's SYN is dropped too; once
	// the half-open connections time out it gets through.
	eventually(t, "the half-open connections to time out", func() bool { return sv.Stats().Connections == 0 })
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Write([]byte("ok"))
			c.Close()
		}
	}()
	c, err := cl.Dial("tcp", "198.18.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "ok" {
		t.Fatalf("read %q, %v; want \"ok\"", got, err)
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
