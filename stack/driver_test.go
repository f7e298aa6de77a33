package stack

import (
	"errors"
	"syscall"
	"testing"
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
