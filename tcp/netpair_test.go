package tcp

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// A back-to-back pair over a simulated path: each direction has a
// one-way delay, and a seeded impairment may drop, delay (reorder) or
// duplicate a segment. Time is virtual; the run replays from its seed.

type impair struct {
	delay    time.Duration // one-way delay
	loss     float64       // probability a segment is dropped
	reorder  float64       // probability a segment is held back by extra
	extra    time.Duration // extra delay of a reordered segment
	dup      float64       // probability a segment is delivered twice
	dataOnly bool          // impair only segments carrying data (a→b)
	// A bottleneck before the path: rate in bits per second (0: none)
	// and a FIFO queue of at most queue bytes; what does not fit is
	// dropped (tail drop). Reordering holds a segment back after it.
	rate  int64
	queue int
}

// segWireSize is what a segment occupies on the bottleneck: its payload
// and 52 bytes of IPv4 and TCP headers with timestamps.
func segWireSize(s *Segment) int { return len(s.Payload) + 52 }

type flight struct {
	at  time.Time
	n   int // tie-break: send order
	toB bool
	seg Segment
}

type netPair struct {
	a, b    *TCB
	now     time.Time
	rng     *rand.Rand
	ab, ba  impair
	q       []flight
	n       int
	dropped int
	// The bottleneck of each direction: when it has sent all it holds;
	// and the data segments its queue dropped.
	busyAB, busyBA time.Time
	queueDrops     int
	// Data segments that reached b carrying only bytes b already had:
	// one per needless (spurious) retransmission.
	needless int
}

func newNetPair(tb testing.TB, cfgA, cfgB Config, ab, ba impair, seed uint64) *netPair {
	p := &netPair{now: t0, rng: rand.New(rand.NewPCG(seed, seed^0x5eed)), ab: ab, ba: ba}
	p.a = NewActive(cfgA, 1000, p.now)
	p.collect()
	for i := 0; p.b == nil || p.a.State() != StateEstablished || p.b.State() != StateEstablished; i++ {
		if i > 1000 || !p.step(cfgB) {
			tb.Fatalf("handshake: a %s", p.a.State())
		}
	}
	return p
}

func (p *netPair) send(s *Segment, toB bool) {
	im := p.ba
	if toB {
		im = p.ab
	}
	c := *s
	c.Payload = slices.Clone(s.Payload)
	d := im.delay
	if im.rate > 0 {
		busy := &p.busyBA
		if toB {
			busy = &p.busyAB
		}
		if busy.Before(p.now) {
			*busy = p.now
		}
		size := segWireSize(s)
		if int64(busy.Sub(p.now))*im.rate/(8*int64(time.Second))+int64(size) > int64(im.queue) {
			if len(s.Payload) > 0 {
				p.queueDrops++
			}
			return
		}
		*busy = busy.Add(time.Duration(int64(size) * 8 * int64(time.Second) / im.rate))
		d += busy.Sub(p.now)
	}
	if !im.dataOnly || len(s.Payload) > 0 {
		if p.rng.Float64() < im.loss {
			p.dropped++
			return
		}
		if p.rng.Float64() < im.reorder {
			d += im.extra
		}
		if p.rng.Float64() < im.dup {
			p.n++
			p.q = append(p.q, flight{p.now.Add(d), p.n, toB, c})
		}
	}
	p.n++
	p.q = append(p.q, flight{p.now.Add(d), p.n, toB, c})
}

func (p *netPair) collect() {
	p.a.DrainOutput(func(s *Segment) { p.send(s, true) })
	if p.b != nil {
		p.b.DrainOutput(func(s *Segment) { p.send(s, false) })
	}
}

// step runs the next event: a segment arrival or a timer.
func (p *netPair) step(cfgB Config) bool {
	next := time.Time{}
	qi := -1
	for i := range p.q {
		f := &p.q[i]
		if qi < 0 || f.at.Before(next) || (f.at.Equal(next) && f.n < p.q[qi].n) {
			next, qi = f.at, i
		}
	}
	for _, t := range []*TCB{p.a, p.b} {
		if t == nil {
			continue
		}
		if d := t.Deadline(); !d.IsZero() && (next.IsZero() || d.Before(next)) {
			next, qi = d, -1
		}
	}
	if next.IsZero() {
		return false
	}
	p.now = next
	if qi >= 0 {
		f := p.q[qi]
		p.q = slices.Delete(p.q, qi, qi+1)
		switch {
		case !f.toB:
			p.a.HandleSegment(&f.seg, p.now)
		case p.b == nil:
			if a, _ := HandleListen(&f.seg); a == ListenAccept {
				p.b = NewPassive(cfgB, 5000, &f.seg, p.now)
			}
		default:
			if p.b.holds(f.seg.Seq, uint32(len(f.seg.Payload))) {
				p.needless++
			}
			p.b.HandleSegment(&f.seg, p.now)
		}
	} else {
		for _, t := range []*TCB{p.a, p.b} {
			if t == nil {
				continue // b not born yet: a's SYN timer
			}
			if d := t.Deadline(); !d.IsZero() && !d.After(p.now) {
				t.HandleTimer(p.now)
			}
		}
	}
	p.collect()
	return true
}

// run moves data from a to b, b reading as it arrives, and returns what
// b read and the virtual time it took.
func (p *netPair) run(tb testing.TB, data []byte) []byte {
	return p.runEach(tb, data, nil)
}

// runEach is run calling each (when not nil) after every read, before the
// next event.
func (p *netPair) runEach(tb testing.TB, data []byte, each func()) []byte {
	var got bytes.Buffer
	buf := make([]byte, 64<<10)
	sent := 0
	for steps := 0; got.Len() < len(data); steps++ {
		if steps > 5_000_000 {
			tb.Fatalf("stuck: got %d of %d; a %+v", got.Len(), len(data), p.a.Info())
		}
		if sent < len(data) {
			n, err := p.a.Write(data[sent:], p.now)
			if err != nil {
				tb.Fatalf("write: %v", err)
			}
			sent += n
		}
		for {
			n, _ := p.b.Read(buf, p.now)
			if n == 0 {
				break
			}
			got.Write(buf[:n])
		}
		if each != nil {
			each()
		}
		p.collect()
		if got.Len() < len(data) && !p.step(Config{}) {
			tb.Fatalf("idle with %d of %d bytes; a %+v", got.Len(), len(data), p.a.Info())
		}
	}
	return got.Bytes()
}

// holds reports whether the receiver already has all n bytes at seq
// (n > 0): below RCV.NXT or held out of order.
func (t *TCB) holds(seq, n uint32) bool {
	if n == 0 {
		return false
	}
	end := seq + n
	if seqLE(end, t.rcvNxt) {
		return true
	}
	for _, r := range t.ooo.r {
		if seqLE(r.start, seq) && seqLE(end, r.end) {
			return true
		}
	}
	return false
}

func testData(n int, seed uint32) []byte {
	data := make([]byte, n)
	x := seed
	for i := range data {
		x = x*1664525 + 1013904223
		data[i] = byte(x >> 24)
	}
	return data
}

// Pure reordering within RACK's reordering window (min_RTT/4: here 5 ms
// of a 20 ms RTT, segments held back 3 ms) causes no retransmission at
// all, with either congestion controller, over 4 MiB.
func TestNetPair_ReorderingWithinRACKWindow_NoSpurious(t *testing.T) {
	for _, ccName := range []string{"cubic", "newreno"} {
		for seed := range uint64(3) {
			cfg := Config{CongestionControl: ccName}
			ab := impair{delay: 10 * time.Millisecond, reorder: 0.05, extra: 3 * time.Millisecond, dataOnly: true}
			ba := impair{delay: 10 * time.Millisecond}
			p := newNetPair(t, cfg, cfg, ab, ba, seed)
			data := testData(4<<20, uint32(seed))
			got := p.run(t, data)
			if !bytes.Equal(got, data) {
				t.Fatalf("%s seed %d: data corrupted", ccName, seed)
			}
			i := p.a.Info()
			if i.TotalRetransmits != 0 || i.SpuriousRetransmits != 0 || !i.ReorderingSeen {
				t.Fatalf("%s seed %d: %d retransmits (%d spurious), reordering seen %v",
					ccName, seed, i.TotalRetransmits, i.SpuriousRetransmits, i.ReorderingSeen)
			}
		}
	}
}

// Reordering of data and ACKs alike over a rate-limited bottleneck whose
// queue (half the bandwidth-delay product) overflows: the tail drops are
// real losses and must be repaired, but the reordering (each direction
// holds 5% of its segments back by 6.25 ms, half of RACK's min_RTT/4)
// must cost no retransmission beyond them, and none of data the receiver
// already had. Before late segments were let past PAWS and RACK waited a
// reordering window after the first evidence, cubic made 227
// retransmissions for 139 drops here: reordered ACKs were thrown away
// with their SACK blocks, so RACK took the data they reported for lost;
// reordered originals arriving behind a retransmission that had moved
// TS.Recent on were thrown away and had to be sent again; and when the
// queue drained, RACK.rtt understated how long earlier segments took.
// (Since a read sends a window update only when it opens the window a lot,
// as Linux, the receiver sends fewer ACKs and the queue drops 39 and 71
// segments instead of 56 and 98; since an ACK that SACKs new data gives no
// timestamp RTT sample, cubic's queue drops 28 instead of 39; since slow
// start grows by all the data an ACK delivers, as Linux, without RFC
// 3465's 2·SMSS limit, cubic's drop 14 and newreno's 110, slow start's
// last round overshooting the queue by a different amount.)
func TestNetPair_ReorderingBothWaysWithTailDrops(t *testing.T) {
	type result struct{ queueDrops, retrans, needless, spurious int }
	want := map[string]result{
		"cubic":   {14, 14, 0, 0},
		"newreno": {110, 110, 0, 0},
	}
	for _, ccName := range []string{"cubic", "newreno"} {
		cfg := Config{CongestionControl: ccName, SendBufferSize: 5 << 19, ReceiveBufferSize: 5 << 19}
		// 100 Mbit/s, 25 ms each way: the BDP is 625 kB.
		path := impair{delay: 25 * time.Millisecond, reorder: 0.05, extra: 6250 * time.Microsecond,
			rate: 100_000_000, queue: 312_500}
		p := newNetPair(t, cfg, cfg, path, path, 1)
		data := testData(16<<20, 3)
		got := p.run(t, data)
		if !bytes.Equal(got, data) {
			t.Fatalf("%s: data corrupted", ccName)
		}
		i := p.a.Info()
		r := result{p.queueDrops, i.TotalRetransmits, p.needless, i.SpuriousRetransmits}
		if r != want[ccName] || r.retrans != r.queueDrops {
			t.Errorf("%s: got %+v, want %+v", ccName, r, want[ccName])
		}
	}
}

// The integrity matrix of the engine alone: loss, reordering and
// duplication both ways, each congestion controller, SACK and RACK on and
// off. Every byte arrives once, in order.
func TestNetPair_IntegrityMatrix(t *testing.T) {
	type variant struct {
		name string
		cfg  Config
	}
	variants := []variant{
		{"cubic+sack+rack", Config{}},
		{"newreno+sack+rack", Config{CongestionControl: "newreno"}},
		{"cubic+sack", Config{DisableRACK: true}},
		{"newreno+nosack", Config{CongestionControl: "newreno", DisableSACK: true}},
		{"cubic+nosack+nots", Config{DisableSACK: true, DisableTimestamps: true}},
		{"cubic+pacing+ecn", Config{Pacing: true, ECN: true}},
	}
	for _, v := range variants {
		for _, loss := range []float64{0.01, 0.1} {
			for seed := range uint64(2) {
				ab := impair{delay: 5 * time.Millisecond, loss: loss, reorder: 0.05, extra: 2 * time.Millisecond, dup: 0.01}
				ba := impair{delay: 5 * time.Millisecond, loss: loss / 2, dup: 0.01}
				p := newNetPair(t, v.cfg, v.cfg, ab, ba, seed)
				data := testData(1<<20, uint32(seed)+7)
				got := p.run(t, data)
				if !bytes.Equal(got, data) {
					t.Fatalf("%s loss %v seed %d: data corrupted", v.name, loss, seed)
				}
				i := p.a.Info()
				t.Logf("%s loss %.2f seed %d: %v, %d dropped, %d retransmits (%d spurious), cwnd %d",
					v.name, loss, seed, p.now.Sub(t0), p.dropped, i.TotalRetransmits, i.SpuriousRetransmits, i.Cwnd)
			}
		}
	}
}
