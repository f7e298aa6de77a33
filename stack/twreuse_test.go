package stack

import (
	"errors"
	"io"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/synack/synack/tcp"
	"github.com/synack/synack/wire"
)

// fillTimeWait makes the client close first once, after sending sent
// bytes, so that its end goes to TIME-WAIT, and takes every other
// ephemeral port away from dials: with fake, only the other ports to the
// same server get a copy of that record; without, the client "listens"
// on them (a dial skips a port its stack listens on). It returns the
// record's 4-tuple.
func fillTimeWait(t *testing.T, cl, sv *Stack, sent int, fake bool) tuple {
	t.Helper()
	c, s := manualConnected(t, cl, sv)
	// In turns, less than the buffers hold each: one goroutine runs both
	// ends in manual mode.
	chunk := make([]byte, 64<<10)
	for left := sent; left > 0; left -= len(chunk) {
		n := min(left, len(chunk))
		if _, err := c.Write(chunk[:n]); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(s, chunk[:n]); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(s); err != nil || len(got) != 0 {
		t.Fatalf("server read %d more bytes, %v; want EOF", len(got), err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	key := tuple{c.LocalAddr().(interface{ AddrPort() netip.AddrPort }).AddrPort(), netip.MustParseAddrPort("198.18.0.2:80")}
	sh := cl.shardFor(key)
	sh.mu.Lock()
	rec, ok := sh.tw[twKeyOf(key)]
	sh.mu.Unlock()
	if !ok {
		t.Fatalf("no TIME-WAIT record for %v after the client closed first", key)
	}
	for p := ephemeralMin; p < ephemeralMin+ephemeralCount; p++ {
		if uint16(p) == key.local.Port() {
			continue
		}
		if !fake {
			cl.mu.Lock()
			cl.listenPorts[uint16(p)]++
			cl.mu.Unlock()
			continue
		}
		k := tuple{netip.AddrPortFrom(key.local.Addr(), uint16(p)), key.remote}
		sh := cl.shardFor(k)
		sh.mu.Lock()
		if sh.tw == nil {
			sh.tw = make(map[twKey]tcp.TimeWait)
		}
		sh.tw[twKeyOf(k)] = rec
		sh.mu.Unlock()
		cl.ctr.timeWait.Add(1)
		cl.ctr.conns.Add(1)
	}
	return key
}

// Once every ephemeral port to a server is held by our own TIME-WAIT
// records, a dial takes one whose record used timestamps and is at least
// a second old (Linux's tcp_tw_reuse), starting its sequence numbers past
// the old connection's; a younger record, or Options.NoTimeWaitReuse,
// leaves the dial with EADDRNOTAVAIL. In virtual time.
func TestDial_ReusesOwnTimeWait(t *testing.T) {
	var syns []SegmentEvent
	cl, sv, r := manualPairOpts(t, Options{SegmentTrace: func(e SegmentEvent) {
		if e.Out && e.Flags&wire.FlagSYN != 0 {
			syns = append(syns, e)
		}
	}}, Options{})
	// The old connection sent 1 MiB: its sequence numbers ran ahead of
	// the ISN clock (a second moves it 250,000), so the floor binds.
	old := fillTimeWait(t, cl, sv, 1<<20, false)
	sh := cl.shardFor(old)
	sh.mu.Lock()
	rec := sh.tw[twKeyOf(old)]
	sh.mu.Unlock()

	if _, err := cl.Dial("tcp", "198.18.0.2:80"); !errors.Is(err, syscall.EADDRNOTAVAIL) {
		t.Fatalf("dial with the record younger than a second: %v; want EADDRNOTAVAIL", err)
	}
	r.clk.Set(r.clk.Now().Add(time.Second))
	tw := cl.Stats().TimeWaitRecords
	syns = syns[:0]
	c, err := cl.Dial("tcp", "198.18.0.2:80")
	if err != nil {
		t.Fatalf("dial a second later: %v; want the TIME-WAIT port reused", err)
	}
	defer c.Close()
	st := cl.Stats()
	if st.TimeWaitReused != 1 || st.TimeWaitRecords != tw-1 {
		t.Errorf("TimeWaitReused %d, TIME-WAIT records %d → %d; want 1 and one fewer", st.TimeWaitReused, tw, st.TimeWaitRecords)
	}
	if len(syns) != 1 || syns[0].Local != old.local || syns[0].Remote != old.remote {
		t.Fatalf("SYNs sent: %+v; want one, from %v", syns, old.local)
	}
	if want := rec.NextISS(); syns[0].Seq != want {
		t.Errorf("SYN seq %d; want %d, past the old connection's (its SND.NXT + 65537)", syns[0].Seq, want)
	}
	if got := c.tcb.State(); got != tcp.StateEstablished {
		t.Errorf("reused connection in %v; want ESTABLISHED", got)
	}
}

// With fresh records copied onto every other port, a second later any of
// them may be taken; Options.NoTimeWaitReuse takes none.
func TestDial_NoTimeWaitReuse(t *testing.T) {
	cl, sv, r := manualPairOpts(t, Options{}, Options{})
	fillTimeWait(t, cl, sv, 1, true)
	r.clk.Set(r.clk.Now().Add(time.Second))
	c, err := cl.Dial("tcp", "198.18.0.2:80")
	if err != nil {
		t.Fatalf("dial: %v; want a reused port", err)
	}
	c.Close()
	cl.noTWReuse = true
	r.clk.Set(r.clk.Now().Add(time.Second))
	if _, err := cl.Dial("tcp", "198.18.0.2:80"); !errors.Is(err, syscall.EADDRNOTAVAIL) {
		t.Fatalf("dial with NoTimeWaitReuse: %v; want EADDRNOTAVAIL", err)
	}
	if n := cl.Stats().TimeWaitReused; n != 1 {
		t.Errorf("TimeWaitReused %d; want 1 (before NoTimeWaitReuse)", n)
	}
}
