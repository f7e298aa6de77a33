package stack

import (
	"net/netip"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/synack/synack/link"
	"github.com/synack/synack/wire"
)

// A segment handed over a Pipe to an idle stack (link.Handoff) is
// processed in the caller's goroutine, before HandOff returns, and its
// uncomputed TCP checksum is not held against it: the SYN-ACK answering a
// SYN is out by then.
func TestAdoptPacket_InlineWhenIdle(t *testing.T) {
	a, b := link.Pipe(1500)
	sv := New(Options{})
	defer sv.Close()
	if err := sv.AddLink(b, netip.PrefixFrom(serverAddr, 24)); err != nil {
		t.Fatal(err)
	}
	ln, err := sv.Listen("tcp", "198.18.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var got [][]byte
	a.Attach(link.ReceiverFunc(func(p []byte) { got = append(got, append([]byte(nil), p...)) }))
	ep := wire.Endpoints{Src: clientAddr, Dst: serverAddr}
	h := wire.TCPHeader{SrcPort: 4000, DstPort: 80, Seq: 1000, Flags: wire.FlagSYN, Window: 65535}
	syn := appendTCPPacketNoChecksum(nil, ep, 64, 0, &h, nil)
	syn[20+16] ^= 0x5a // a checksum field nobody computed
	if wire.TCPChecksumValid(ep, syn[20:]) {
		t.Fatal("test SYN has a valid checksum; want a wrong one")
	}
	ok, err := a.(link.Handoff).HandOff(syn)
	if !ok || err != nil {
		t.Fatalf("HandOff = %v, %v; want true, nil", ok, err)
	}
	if len(got) != 1 {
		t.Fatalf("%d packets out when HandOff returned; want the SYN-ACK", len(got))
	}
	_, th, _, err := wire.ParseTCPPacket(got[0])
	if err != nil {
		t.Fatal(err)
	}
	if th.Flags != wire.FlagSYN|wire.FlagACK || th.Ack != 1001 || th.DstPort != 4000 {
		t.Errorf("reply flags %v ack %d port %d; want SYN|ACK, ack 1001, port 4000", th.Flags, th.Ack, th.DstPort)
	}
}

// A blocked Read is not woken by pure ACKs: the client's Read keeps
// waiting on the same channel while the server acknowledges what the
// client writes.
func TestRead_NotWokenByPureACKs(t *testing.T) {
	cl, sv := pair(t, Options{}, Options{})
	c, s := connected(t, cl, sv)
	go func() {
		var b [1]byte
		c.Read(b[:])
	}()
	var waits uint16
	eventually(t, "the Read to block", func() bool {
		c.sh.mu.Lock()
		defer c.sh.mu.Unlock()
		waits = c.rdW.waits
		return c.rdW.n == 1
	})
	msg := make([]byte, 10000)
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	for n := 0; n < len(msg); {
		m, err := s.Read(got[n:])
		if err != nil {
			t.Fatal(err)
		}
		n += m
	}
	eventually(t, "the data to be acknowledged", func() bool {
		i := c.Info()
		return i.SndUna == i.SndNxt
	})
	time.Sleep(10 * time.Millisecond) // a Read woken by mistake would have waited again by now
	c.sh.mu.Lock()
	w, tokens := c.rdW.waits, len(c.rdW.ch)
	c.sh.mu.Unlock()
	if w != waits || tokens != 0 {
		t.Fatalf("the blocked Read waited %d more times (%d wake-ups pending); want 0 and 0: woken by ACKs", w-waits, tokens)
	}
	s.Write([]byte{1}) // let the Read return
}

// Inbound packet buffers of every class survive garbage collections: a
// 64 KiB packet allocates nothing even with a collection between two.
func TestPacketPool_KeepsBuffersAcrossGC(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes allocation counts unreliable")
	}
	cycle := func() {
		p := getPacket(65535)
		runtime.GC()
		putPacket(p)
	}
	cycle()
	if n := testing.AllocsPerRun(5, cycle); n != 0 {
		t.Fatalf("%v allocations per packet across a GC; want 0", n)
	}
}

// A blocking call with a deadline allocates no timer of its own.
func TestBlock_DeadlineAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes allocation counts unreliable")
	}
	s := New(Options{})
	defer s.Close()
	ch := make(chan struct{})
	close(ch)
	dl := time.Now().Add(time.Hour)
	wait := func() { s.block(ch, dl, nil, nil) }
	wait()
	if n := testing.AllocsPerRun(100, wait); n != 0 {
		t.Fatalf("%v allocations per wait with a deadline; want 0", n)
	}
}

// feedLink is a link whose every write queues one more packet on a
// shard, as a busy shard's loop would, until total packets were written.
type feedLink struct {
	sh           *shard
	written, max atomic.Int32
}

func (l *feedLink) MTU() int             { return 1500 }
func (l *feedLink) Attach(link.Receiver) {}
func (l *feedLink) Close() error         { return nil }
func (l *feedLink) WritePacket([]byte) error {
	if l.written.Add(1) < l.max.Load() {
		l.sh.mu.Lock()
		l.sh.pending = append(l.sh.pending, outPacket{l: l, pkt: []byte{0x45}})
		l.sh.unlock() // another goroutine is writing: it leaves the packet to it
	}
	return nil
}

// A user call that finds other goroutines' packets queued behind its own
// writes a few rounds of them, then leaves the rest to the shard's loop.
func TestUnlock_LeavesABusyShardToItsLoop(t *testing.T) {
	s := New(Options{Loops: 1})
	defer s.Close()
	sh := s.shards[0]
	l := &feedLink{sh: sh}
	l.max.Store(1000)
	sh.mu.Lock()
	sh.pending = append(sh.pending, outPacket{l: l, pkt: []byte{0x45}})
	sh.unlock()
	if n := l.written.Load(); n > 2*maxFlushRounds {
		t.Fatalf("the caller wrote %d packets before returning; want at most %d", n, 2*maxFlushRounds)
	}
	eventually(t, "the loop to write the rest", func() bool { return l.written.Load() >= 1000 })
}

// Several Reads blocked on one connection all return when data comes,
// each in turn (one wake-up passes on to the next), and all return when
// the connection is closed.
func TestRead_ConcurrentReadersAllWake(t *testing.T) {
	cl, sv := pair(t, Options{}, Options{})
	c, s := connected(t, cl, sv)
	const readers = 4
	done := make(chan int, readers)
	for range readers {
		go func() {
			var b [1]byte
			n, _ := c.Read(b[:])
			done <- n
		}()
	}
	eventually(t, "the Reads to block", func() bool {
		c.sh.mu.Lock()
		defer c.sh.mu.Unlock()
		return c.rdW.n == readers
	})
	if _, err := s.Write([]byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		select {
		case n := <-done:
			if n != 1 {
				t.Fatalf("a Read returned %d bytes; want 1", n)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("three bytes sent, but not three blocked Reads returned")
		}
	}
	c.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the last blocked Read did not return on Close")
	}
}
