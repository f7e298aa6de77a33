package sim

import (
	"crypto/sha256"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/synack/synack/link/impair"
	"github.com/synack/synack/wire"
)

// rawPacket is a TCP ACK from the client to the server's port 9 (closed:
// the server answers with a RST) with n bytes of payload.
func rawPacket(seq uint32, n int) []byte {
	h := wire.TCPHeader{SrcPort: 1000, DstPort: 9, Seq: seq, Ack: 1, Flags: wire.FlagACK, Window: 100}
	return wire.AppendTCPPacket(nil, wire.Endpoints{Src: clientAddr, Dst: serverAddr}, 64, &h, make([]byte, n))
}

// arrivals records the arrival times (since the epoch) of packets at to.
func arrivals(n *Network, to *Host) *[]time.Duration {
	var got []time.Duration
	n.SetArrivalHook(func(a *Arrival) {
		if a.To == to {
			got = append(got, a.Time.Sub(a.Sent)+a.Sent.Sub(at(0)))
		}
	})
	return &got
}

func TestImpairRateInVirtualTime(t *testing.T) {
	n := ForTest(t, 1, WithDelay(10*time.Millisecond))
	cli := n.AddHost("client", clientAddr)
	srv := n.AddHost("server", serverAddr)
	// 8 Mbit/s: a 1000-byte packet takes 1ms; 2500 bytes may wait.
	n.Impair(cli, srv, impair.Config{Rate: 8_000_000, Queue: 2500})
	got := arrivals(n, srv)
	pkt := rawPacket(1, 1000-40)
	for range 4 {
		if err := cli.link.WritePacket(pkt); err != nil {
			t.Fatal(err)
		}
	}
	n.RunFor(1500 * time.Microsecond)
	// At 1.5ms half of the second packet waits: two more fit, not three.
	for range 3 {
		if err := cli.link.WritePacket(pkt); err != nil {
			t.Fatal(err)
		}
	}
	n.Run()
	want := []time.Duration{11 * time.Millisecond, 12 * time.Millisecond, 13 * time.Millisecond, 14 * time.Millisecond}
	if len(*got) != len(want) {
		t.Fatalf("arrivals at %v, want %v", *got, want)
	}
	for i := range want {
		if (*got)[i] != want[i] {
			t.Errorf("arrivals at %v, want %v", *got, want)
			break
		}
	}
	st := n.Stats()
	if st.QueueFull != 3 || st.Delivered != 4+4 { // and the server's 4 RSTs
		t.Errorf("stats %+v", st)
	}
	if ps := n.PathStats(cli, srv); ps.QueueFull != 3 || ps.Delivered != 4 {
		t.Errorf("path stats %+v", ps)
	}
	// The way back is not impaired.
	if ps := n.PathStats(srv, cli); ps != (impair.Stats{}) {
		t.Errorf("path stats back %+v", ps)
	}
}

func TestImpairCorruptionIsCaught(t *testing.T) {
	n := ForTest(t, 3, WithImpairment(impair.Config{Duplicate: 0.3, Corrupt: 0.3}))
	cli := n.AddHost("client", clientAddr)
	srv := n.AddHost("server", serverAddr)
	var dups, flips int
	n.SetArrivalHook(func(a *Arrival) {
		if a.To != srv {
			return
		}
		if a.Duplicate {
			dups++
		}
		if a.Corrupted {
			flips++
		}
	})
	for i := range 200 {
		if err := cli.link.WritePacket(rawPacket(uint32(i), 100)); err != nil {
			t.Fatal(err)
		}
	}
	n.Run()
	ps := n.PathStats(cli, srv)
	if ps.Duplicated != 61 || ps.Corrupted != 71 || dups != ps.Duplicated || flips != ps.Corrupted {
		t.Errorf("path stats %+v; the hook saw %d duplicates and %d corrupted", ps, dups, flips)
	}
	st := srv.Stack().Stats()
	if rejected := st.BadChecksum + st.Malformed + st.NotLocal + st.NotTCP + st.Fragments; rejected != uint64(ps.Corrupted) {
		t.Errorf("server rejected %d packets (%+v), %d were corrupted", rejected, st, ps.Corrupted)
	}
	// Every intact copy reached TCP and drew a RST.
	if got, want := st.ResetsSent, uint64(200+ps.Duplicated-ps.Corrupted); got != want {
		t.Errorf("%d RSTs, want %d", got, want)
	}
}

// transferOnce moves size bytes from client to server under opts and
// returns the network's stats, the virtual time it took and whether the
// data arrived intact.
func transferOnce(t *testing.T, size int, opts ...Option) (Stats, time.Duration, bool) {
	t.Helper()
	n, cli, _, ln := pair(t, 11, opts...)
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7)
	}
	c, err := cli.Stack().Dial("tcp", "198.18.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	// The client's send buffer holds all the data, so Write does not wait
	// for a reader.
	if _, err := c.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(s)
	if err != nil {
		t.Fatal(err)
	}
	return n.Stats(), n.Elapsed(), sha256.Sum256(got) == sha256.Sum256(data)
}

func TestImpairedTransferReplays(t *testing.T) {
	cfg := impair.Config{Loss: 0.03, Reorder: 0.05, Duplicate: 0.02, Corrupt: 0.01, Jitter: time.Millisecond, Delay: 5 * time.Millisecond}
	st1, d1, ok1 := transferOnce(t, 200_000, WithImpairment(cfg), WithoutPacketTrace())
	st2, d2, ok2 := transferOnce(t, 200_000, WithImpairment(cfg), WithoutPacketTrace())
	if !ok1 || !ok2 {
		t.Fatalf("data damaged: %v %v", ok1, ok2)
	}
	if st1 != st2 || d1 != d2 {
		t.Errorf("two runs from one seed differ:\n%+v in %v\n%+v in %v", st1, d1, st2, d2)
	}
	if st1.Lost == 0 || st1.Reordered == 0 || st1.Duplicated == 0 || st1.Corrupted == 0 {
		t.Errorf("an impairment did nothing: %+v", st1)
	}
}

func TestWithoutPacketTrace(t *testing.T) {
	n, cli, _, _ := pair(t, 1, WithoutPacketTrace())
	c, err := cli.Stack().Dial("tcp", "198.18.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	n.Run()
	var kinds [2]int
	for _, r := range n.Trace() {
		kinds[r.Kind]++
	}
	if kinds[RecordPacket] != 0 || kinds[RecordState] == 0 {
		t.Errorf("trace holds %d packets and %d state changes", kinds[RecordPacket], kinds[RecordState])
	}
	if st := n.Stats(); st.Sent == 0 || st.Sent != st.Delivered {
		t.Errorf("stats %+v", st)
	}
}

func TestImpairDelayDefaultsToNetwork(t *testing.T) {
	n := ForTest(t, 1, WithDelay(7*time.Millisecond), WithImpairment(impair.Config{}))
	cli := n.AddHost("client", clientAddr)
	srv := n.AddHost("server", serverAddr)
	got := arrivals(n, srv)
	if err := cli.link.WritePacket(rawPacket(1, 10)); err != nil {
		t.Fatal(err)
	}
	n.Impair(cli, srv, impair.Config{Delay: 3 * time.Millisecond})
	if err := cli.link.WritePacket(rawPacket(2, 10)); err != nil {
		t.Fatal(err)
	}
	n.Run()
	if want := []time.Duration{3 * time.Millisecond, 7 * time.Millisecond}; !slices.Equal(*got, want) {
		t.Errorf("arrivals at %v, want %v", *got, want)
	}
}
