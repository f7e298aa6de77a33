package stack

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/synack/synack/link"
	"github.com/synack/synack/tcp"
	"github.com/synack/synack/wire"
)

// waitPages waits (up to 5 s) until the send-buffer pages in use are at
// most want, and returns how many are.
func waitPages(want int64) int64 {
	end := time.Now().Add(5 * time.Second)
	for tcp.SendPagesInUse() > want && time.Now().Before(end) {
		time.Sleep(time.Millisecond)
	}
	return tcp.SendPagesInUse()
}

// Send-side zero copy: bulk data between two real-time stacks over a
// link that hands packets over (link.PipeGSO, link.Pipe at MTU 65535)
// goes as headers and a reference to the page of the sender's send buffer
// the payload lies in, which the receiving engine keeps until it is read.
// Both ends read and write at once (run it under -race); every byte
// arrives intact and in order, both ways, and once the connections are
// closed every page is back in its pool: every reference taken was
// given back. Segments of one Ethernet MSS (link.Pipe at 1500) are
// copied as before. At MTU 65535 no segment of 4 KiB or more is copied:
// one that would span two pages is cut (tcp.Config.PageSegments, which
// the stack sets for such links). SYNACK_ZC_BYTES sets the bytes each way (4 MiB by
// default; 1 GiB checks a long transfer end to end).
func TestSendZeroCopy_PagesComeBack(t *testing.T) {
	size := 4 << 20
	if s := os.Getenv("SYNACK_ZC_BYTES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("SYNACK_ZC_BYTES=%q: want a positive number of bytes", s)
		}
		size = n
	}
	for _, tc := range []struct {
		name string
		mk   func(int) (link.Link, link.Link)
		mtu  int
		zc   bool
		v6   bool
	}{
		{"PipeGSO-1500", link.PipeGSO, 1500, true, false},
		{"PipeGSO-65535", link.PipeGSO, 65535, true, false},
		{"Pipe-65535", link.Pipe, 65535, true, false},
		{"PipeGSO-1500-IPv6", link.PipeGSO, 1500, true, true},
		{"Pipe-1500", link.Pipe, 1500, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pages0 := waitPages(0)
			a, b := tc.mk(tc.mtu)
			cl, sv := pairOn(t, a, b, Options{}, Options{})
			var c, s *Conn
			if tc.v6 {
				c, s = connectedAt(t, cl, sv, "[2001:db8::2]:80")
			} else {
				c, s = connected(t, cl, sv)
			}
			pattern := func(seed, i int) byte { return byte(i*7 + i>>12 + seed) }
			// Each side writes size bytes and reads the other's.
			transfer := func(w, r *Conn, seed int, errc chan<- error) {
				go func() {
					buf := make([]byte, 128<<10+13) // odd sizes: pages and segments fall anywhere
					for off := 0; off < size; {
						n := min(len(buf), size-off)
						for i := range n {
							buf[i] = pattern(seed, off+i)
						}
						if _, err := w.Write(buf[:n]); err != nil {
							errc <- err
							return
						}
						off += n
					}
					errc <- w.CloseWrite()
				}()
				go func() {
					buf := make([]byte, 7919)
					got := 0
					for {
						n, err := r.Read(buf)
						for i := range n {
							if buf[i] != pattern(seed, got+i) {
								errc <- errorf("byte %d differs", got+i)
								return
							}
						}
						got += n
						if err == io.EOF {
							break
						}
						if err != nil {
							errc <- err
							return
						}
					}
					if got != size {
						errc <- errorf("read %d bytes of %d", got, size)
						return
					}
					errc <- nil
				}()
			}
			errc := make(chan error, 4)
			transfer(c, s, 1, errc)
			transfer(s, c, 2, errc)
			for range 4 {
				if err := <-errc; err != nil {
					t.Fatal(err)
				}
			}
			refs := cl.txPageRefs.Load() + sv.txPageRefs.Load()
			t.Logf("%d payloads handed over by reference, %d pages in use at the end", refs, tcp.SendPagesInUse()-pages0)
			// Each side: at least a quarter of its data by reference (at
			// most 64 KiB a packet); none of one MSS.
			for _, st := range []*Stack{cl, sv} {
				n := st.txPageRefs.Load()
				if !tc.zc && n != 0 {
					t.Fatalf("%d payloads handed over by reference; want none", n)
				}
				if tc.zc && n < uint64(size/(64<<10)/4) {
					t.Fatalf("%d payloads handed over by reference; want at least %d", n, size/(64<<10)/4)
				}
				if j := st.rxJoined.Load(); j != 0 {
					t.Fatalf("%d payloads joined on arrival; want none", j)
				}
				// At MTU 65535 each segment is one MSS, and one that would
				// span two pages is cut where the first ends
				// (tcp.Config.PageSegments): none of 4 KiB or more is
				// copied. (At 1500 a super-segment joins MSS-sized ones,
				// which are not cut, so a run may span two pages.)
				if tc.zc && tc.mtu == 65535 {
					if k := st.txCopied.Load(); k != 0 {
						t.Fatalf("%d payloads of 4 KiB or more copied; want none", k)
					}
				}
			}
			c.Close()
			s.Close()
			if n := waitPages(pages0); n != pages0 {
				t.Fatalf("%d send-buffer pages in use after Close; %d before", n, pages0)
			}
			if k := sv.rxKept.Load() + cl.rxKept.Load(); k != 0 {
				t.Fatalf("%d packet buffers kept after Close", k)
			}
		})
	}
}

// A payload handed over by reference whose packet the receiving stack
// cannot take as a plain TCP segment for itself (here: not for one of
// its addresses) is joined into a buffer of its own and its page given
// back at once; one the stack drops (stopped) gives it back too.
func TestSendZeroCopy_OddPacketsGiveThePageBack(t *testing.T) {
	a, b := link.Pipe(65535)
	_, sv := pairOn(t, a, b, Options{}, Options{})
	ref := &countRef{}
	ep, h := splitEP("198.18.0.1:1000", "198.18.0.9:80")
	hdr := appendTCPHeadersNoChecksum(nil, ep, 64, 0, h, 5000)
	sv.AdoptPayload(hdr, make([]byte, 5000), ref)
	if ref.n != 1 || sv.rxJoined.Load() != 1 {
		t.Fatalf("a packet for another address: %d releases, %d joined; want 1, 1", ref.n, sv.rxJoined.Load())
	}
	if st := sv.Stats(); st.NotLocal != 1 {
		t.Fatalf("not counted as not local: %+v", st)
	}
	// Lengths that do not add up: joined, then dropped as malformed.
	ref = &countRef{}
	ep, h = splitEP("198.18.0.1:1000", "198.18.0.2:80")
	hdr = appendTCPHeadersNoChecksum(nil, ep, 64, 0, h, 5000)
	sv.AdoptPayload(hdr, make([]byte, 4000), ref)
	if ref.n != 1 {
		t.Fatalf("a short payload: %d releases, want 1", ref.n)
	}
	if st := sv.Stats(); st.Malformed != 1 {
		t.Fatalf("not counted as malformed: %+v", st)
	}
	sv.Close()
	ref = &countRef{}
	sv.AdoptPayload(hdr, make([]byte, 5000), ref)
	if ref.n != 1 {
		t.Fatalf("a stopped stack: %d releases, want 1", ref.n)
	}
}

// splitEP returns the endpoints and a header of a TCP segment from src to dst.
func splitEP(src, dst string) (wire.Endpoints, *wire.TCPHeader) {
	s, d := netip.MustParseAddrPort(src), netip.MustParseAddrPort(dst)
	h := &wire.TCPHeader{SrcPort: s.Port(), DstPort: d.Port(), Seq: 1, Ack: 1, Flags: wire.FlagACK, Window: 100}
	return wire.Endpoints{Src: s.Addr(), Dst: d.Addr()}, h
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// countRef counts its releases.
type countRef struct{ n int }

func (r *countRef) Release() { r.n++ }

// A capture on a Pipe (link.Sniff, as pcap taps are built) sees whole
// packets with their checksums, both ways: neither end hands the other a
// payload by reference, the sniffed end's far side included.
func TestSendZeroCopy_SniffSeesWholePackets(t *testing.T) {
	a, b := link.Pipe(65535)
	var mu sync.Mutex
	seen, bad := 0, 0
	a = link.Sniff(a, func(_ link.Direction, pkt []byte) {
		_, _, payload, err := wire.ParseTCPPacket(pkt) // checks the TCP checksum
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			bad++
			return
		}
		seen += len(payload)
	})
	cl, sv := pairOn(t, a, b, Options{}, Options{})
	c, s := connected(t, cl, sv)
	const size = 1 << 20
	go func() {
		c.Write(make([]byte, size))
		s.Write(make([]byte, size))
	}()
	for _, r := range []*Conn{s, c} {
		if _, err := io.ReadFull(r, make([]byte, size)); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if bad != 0 || seen < 2*size {
		t.Fatalf("capture: %d payload bytes in whole packets, %d packets not whole; want %d, 0", seen, bad, 2*size)
	}
	if n := cl.txPageRefs.Load() + sv.txPageRefs.Load(); n != 0 {
		t.Fatalf("%d payloads handed over by reference past a capture; want none", n)
	}
}

// FuzzAdoptPayload hands a stack packets in two pieces (headers and a
// payload kept by a reference, link.PayloadAdopter) whose headers are a
// valid TCP segment's, mutated and cut by the fuzzer's bytes: nothing
// panics, and the reference is given back exactly once, before the
// stack returns (nothing is listening or connected, so nothing keeps
// the payload).
func FuzzAdoptPayload(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0})
	f.Add([]byte{1, 30, 0})
	f.Add([]byte{2, 0, 0, 0, 0xff, 0xff})
	f.Add([]byte{3, 0, 0, 0, 0, 0, 0, 0, 0, 0x06})
	f.Add([]byte{4, 0, 0, 0, 0, 0, 0x20})
	f.Fuzz(func(t *testing.T, data []byte) {
		_, sv, _ := manualPair(t, 1, tcp.Config{}, nil)
		in := fuzzIn{b: data}
		mode, n := in.byte(), int(in.byte())*64
		src, dst := "198.18.0.1:1000", "198.18.0.2:80"
		if mode&4 != 0 {
			src, dst = "[2001:db8::1]:1000", "[2001:db8::2]:80"
		}
		ep, h := splitEP(src, dst)
		if mode&8 != 0 {
			h.Options.HasTimestamps, h.Options.TSVal = true, 1
		}
		hdr := appendTCPHeadersNoChecksum(nil, ep, 64, 0, h, n)
		if mode&1 != 0 {
			hdr = hdr[:int(in.byte())%(len(hdr)+1)]
		}
		for i := 0; in.more(); i++ {
			if len(hdr) > 0 {
				hdr[i%len(hdr)] ^= in.byte()
			} else {
				in.byte()
			}
		}
		if mode&2 != 0 {
			n = (n + int(mode)) % 70000
		}
		ref := &countRef{}
		sv.AdoptPayload(hdr, make([]byte, n), ref)
		if ref.n != 1 {
			t.Fatalf("the reference was given back %d times; want once", ref.n)
		}
	})
}
