package stack

import (
	"bytes"
	"io"
	"testing"

	"github.com/synack/synack/link"
)

// Over a link.PipeGSO between two stacks, bulk data goes as TCP
// super-segments that the far stack takes whole: 4 MiB arrive intact,
// in fewer than half as many packets as segments of one MSS would
// take (SegmentsOut still counts the segments), and nothing is
// retransmitted.
func TestPipeGSO_BulkAsSuperSegments(t *testing.T) {
	a, b := link.PipeGSO(1500)
	cl, sv := pairOn(t, a, b, Options{}, Options{})
	c, s := connected(t, cl, sv)
	const size = 4 << 20
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*7 + i>>12)
	}
	st0 := cl.Stats()
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		if err == nil {
			err = c.CloseWrite()
		}
		errc <- err
	}()
	got, err := io.ReadAll(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("got %d bytes, not the %d written", len(got), len(data))
	}
	st := cl.Stats()
	pkts := st.PacketsOut - st0.PacketsOut
	if mssPkts := uint64(size / 1460); pkts*2 > mssPkts {
		t.Errorf("%d packets out for %d bytes; want fewer than %d (half of one a segment)", pkts, size, mssPkts/2)
	}
	// SegmentsOut counts the segments a super-segment joins.
	if segs := st.SegmentsOut - st0.SegmentsOut; segs < size/1460 {
		t.Errorf("SegmentsOut grew by %d; want at least %d", segs, size/1460)
	}
	// Nothing is lost on the link, so nothing may be retransmitted on a
	// timeout or in recovery. A tail-loss probe is a timer's doing: under
	// the race detector on a busy machine the goroutines can stall past
	// its timeout, so probes are counted as failures only without it.
	if st.RetransTimeout != 0 || st.RetransRecovery != 0 || st.RetransProbe != 0 && !raceEnabled {
		t.Errorf("%d retransmissions (timeout %d, recovery %d, probe %d); want 0", st.Retransmits, st.RetransTimeout, st.RetransRecovery, st.RetransProbe)
	}
}
