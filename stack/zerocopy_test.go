package stack

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/synack/synack/clock"
	"github.com/synack/synack/link"
)

// A packet whose payload an engine keeps goes back to its pool only when
// both its deliverer (putPacket) and the engine (Release) are done with
// it, in either order, and exactly once.
func TestPacketRefs(t *testing.T) {
	s := New(Options{Clock: nil})
	t.Cleanup(func() { s.Close() })
	sh := s.shards[0]
	fresh := func() *inPacket {
		p := getPacket(1500)
		p.buf = append(p.buf[:0], make([]byte, 1500)...)
		p.sh = sh
		return p
	}
	recycled := func(p *inPacket) bool { return p.sh == nil && len(p.buf) == 0 }

	// The deliverer first: the engine's Release recycles it.
	p := fresh()
	p.Retain()
	putPacket(p)
	if recycled(p) || p.refs.Load() != 1 || s.rxKept.Load() != 1 {
		t.Fatalf("after putPacket: recycled %v, refs %d, kept %d", recycled(p), p.refs.Load(), s.rxKept.Load())
	}
	p.Release()
	if !recycled(p) || p.refs.Load() != 0 || s.rxKept.Load() != 0 {
		t.Fatalf("after Release: recycled %v, refs %d, kept %d", recycled(p), p.refs.Load(), s.rxKept.Load())
	}

	// Released during processing (the engine copied it after all, say
	// at a RST): the deliverer's putPacket recycles it.
	p = fresh()
	p.Retain()
	p.Release()
	if recycled(p) || p.refs.Load() != 1 {
		t.Fatalf("released before putPacket: recycled %v, refs %d", recycled(p), p.refs.Load())
	}
	p.Retain() // kept again by the same call: a second reference
	p.Release()
	putPacket(p)
	if !recycled(p) || s.rxKept.Load() != 0 {
		t.Fatalf("after putPacket: recycled %v, kept %d", recycled(p), s.rxKept.Load())
	}

	// Never kept: putPacket recycles it at once.
	p = fresh()
	putPacket(p)
	if !recycled(p) {
		t.Fatal("a packet nobody kept was not recycled")
	}
}

// Bulk data between two real-time stacks is kept in the packet buffers
// the sender handed over (link.PipeGSO, link.Pipe) while a reader reads
// concurrently with the input (run it under -race): every byte arrives
// intact and in order, the receiver kept buffers on the way, and once
// everything is read and the connections are closed, it holds none.
func TestZeroCopy_BulkBuffersComeBack(t *testing.T) {
	for _, tc := range []struct {
		name string
		mk   func(int) (link.Link, link.Link)
		mtu  int
		keep bool // segments of 1448 bytes are copied (tcp's minKeep)
	}{
		{"PipeGSO-1500", link.PipeGSO, 1500, true},
		{"Pipe-65535", link.Pipe, 65535, true},
		{"Pipe-1500", link.Pipe, 1500, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := tc.mk(tc.mtu)
			cl, sv := pairOn(t, a, b, Options{}, Options{})
			c, s := connected(t, cl, sv)
			const size = 4 << 20
			data := make([]byte, size)
			for i := range data {
				data[i] = byte(i*7 + i>>12)
			}
			errc := make(chan error, 1)
			go func() {
				_, err := c.Write(data)
				if err == nil {
					err = c.CloseWrite()
				}
				errc <- err
			}()
			kept0 := sv.rxKeptTotal.Load()
			// Odd-sized reads, so that reads end inside kept buffers.
			var got bytes.Buffer
			buf := make([]byte, 7919)
			for {
				n, err := s.Read(buf)
				got.Write(buf[:n])
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), data) {
				t.Fatalf("got %d bytes, not the %d written", got.Len(), len(data))
			}
			if k := sv.rxKept.Load(); k != 0 {
				t.Fatalf("%d packet buffers still kept after everything was read", k)
			}
			if i := s.Info(); i.ReceiveKept != 0 {
				t.Fatalf("server Info: %d bytes kept", i.ReceiveKept)
			}
			// At least a quarter of the packets (4 MiB in at most 64 KiB
			// each) were kept rather than copied; none of one MSS.
			k := sv.rxKeptTotal.Load() - kept0
			if !tc.keep && k != 0 {
				t.Fatalf("%d packet buffers kept; want none", k)
			}
			if tc.keep && k < size/(64<<10)/4 {
				t.Fatalf("%d packet buffers kept; want at least %d", k, size/(64<<10)/4)
			}
			t.Logf("%d packet buffers kept", k)
			c.Close()
			s.Close()
			if k := sv.rxKept.Load() + cl.rxKept.Load(); k != 0 {
				t.Fatalf("%d packet buffers kept after Close", k)
			}
		})
	}
}

// Unread kept data is given back when the application closes the
// connection (a RST goes to the peer).
func TestZeroCopy_CloseReleasesUnread(t *testing.T) {
	r := &stepRunner{clk: clock.NewVirtual()}
	opts := func(seed byte) Options {
		return Options{Clock: r.clk, Runner: r, Rand: rand.NewChaCha8([32]byte{seed})}
	}
	cl, sv := New(opts(1)), New(opts(2))
	r.stacks = []*Stack{cl, sv}
	t.Cleanup(func() {
		cl.Close()
		sv.Close()
	})
	a, b := link.Pipe(65535)
	if err := cl.AddLink(a, netip.PrefixFrom(clientAddr, 24)); err != nil {
		t.Fatal(err)
	}
	if err := sv.AddLink(b, netip.PrefixFrom(serverAddr, 24)); err != nil {
		t.Fatal(err)
	}
	c, s := manualConnected(t, cl, sv)
	// Three segments of 20,000 bytes, each kept in the 64 KiB packet
	// buffer it came in (the fourth would not fit the 256 KiB buffer's
	// room once three are charged 65,664 bytes each).
	const pkt = 40 + 65535 + 89 // stack/pool.go's largest class
	for i := range 3 {
		if _, err := c.Write(bytes.Repeat([]byte{byte(i)}, 20000)); err != nil {
			t.Fatal(err)
		}
		r.RunUntil(func() bool { return s.Info().ReceiveKept == 20000*(i+1) }, r.clk.Now().Add(time.Second))
	}
	if i := s.Info(); i.ReceiveKept != 60000 || i.ReceiveBufferAllocated != 3*pkt || sv.rxKept.Load() != 3 {
		t.Fatalf("kept %d bytes in %d (%d buffers); want 60000 in %d (3)", i.ReceiveKept, i.ReceiveBufferAllocated, sv.rxKept.Load(), 3*pkt)
	}
	if got := sv.Stats().BufferBytes; got != 3*pkt {
		t.Fatalf("server: %d buffer bytes, want %d", got, 3*pkt)
	}
	buf := make([]byte, 20000)
	if n, err := s.Read(buf); n != 20000 || err != nil || buf[19999] != 0 {
		t.Fatalf("Read: %d, %v", n, err)
	}
	if sv.rxKept.Load() != 2 {
		t.Fatalf("%d buffers kept after a read of the first; want 2", sv.rxKept.Load())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if k := sv.rxKept.Load(); k != 0 {
		t.Fatalf("%d buffers kept after Close", k)
	}
	if got := sv.Stats().BufferBytes; got != 0 {
		t.Fatalf("server: %d buffer bytes after Close", got)
	}
}
