package stack

import (
	"errors"
	"runtime"
	"syscall"
	"testing"

	"github.com/synack/synack/clock"
)

// TestStatsSumShards: the per-packet counters live in each shard, and
// Stats adds up every shard's. Sixteen refused dials from a four-shard
// stack spread over its shards; each is one SYN out and one RST in.
func TestStatsSumShards(t *testing.T) {
	cl, sv := pair(t, Options{Loops: 4}, Options{Loops: 4})
	const n = 16
	for i := range n {
		if _, err := cl.Dial("tcp", "198.18.0.2:81"); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dial %d to a closed port: %v; want ECONNREFUSED", i, err)
		}
	}
	used := 0
	for _, sh := range cl.shards {
		if sh.ctr.packetsOut.Load() > 0 {
			used++
		}
	}
	if used < 2 {
		t.Fatalf("%d of %d client shards sent packets; want the dials spread over at least 2", used, len(cl.shards))
	}
	if st := cl.Stats(); st.PacketsOut != n || st.PacketsIn != n || st.LinkErrors != 0 || st.InboundDrops != 0 {
		t.Errorf("client PacketsOut %d, PacketsIn %d, LinkErrors %d, InboundDrops %d; want %d, %d, 0, 0",
			st.PacketsOut, st.PacketsIn, st.LinkErrors, st.InboundDrops, n, n)
	}
	if got := sv.Stats().PacketsIn; got != n {
		t.Errorf("server PacketsIn = %d; want %d", got, n)
	}
}

// A real-time stack runs twice as many shards as Ps, at most 8, unless
// Options.Loops says otherwise; a simulated one runs one.
func TestShards_Default(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	for _, c := range []struct {
		opts Options
		want int
	}{
		{Options{}, min(8, 2*procs)},
		{Options{Loops: 3}, 3},
	} {
		s := New(c.opts)
		if got := len(s.shards); got != c.want {
			t.Errorf("Loops %d, GOMAXPROCS %d: %d shards, want %d", c.opts.Loops, procs, got, c.want)
		}
		s.Close()
	}
	r := &stepRunner{clk: clock.NewVirtual()}
	s := New(Options{Clock: r.clk, Runner: r, Loops: 4})
	defer s.Close()
	if len(s.shards) != 1 {
		t.Errorf("simulated, Loops 4: %d shards, want 1", len(s.shards))
	}
}
