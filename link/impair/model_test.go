package impair

import (
	"testing"
	"time"
)

var t0 = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// run judges n packets of size bytes, one every gap, and returns the fates.
func run(m *Model, n, size int, gap time.Duration) []Fate {
	fates := make([]Fate, n)
	for i := range n {
		fates[i] = m.Judge(t0.Add(time.Duration(i)*gap), size)
	}
	return fates
}

func TestPerfectPath(t *testing.T) {
	m := New(Config{Delay: 10 * time.Millisecond}, 1)
	for i, f := range run(m, 100, 1500, time.Millisecond) {
		want := t0.Add(time.Duration(i)*time.Millisecond + 10*time.Millisecond)
		if f.Drop != Delivered || f.Copies != 1 || !f.At[0].Equal(want) || f.Flip != [2]int{-1, -1} || f.Reordered {
			t.Fatalf("packet %d: %+v, want one intact copy at %v", i, f, want)
		}
	}
	if got, want := m.Stats(), (Stats{Packets: 100, Delivered: 100}); got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
}

func TestLossExactForSeed(t *testing.T) {
	m := New(Config{Loss: 0.1}, 42)
	run(m, 10000, 100, time.Microsecond)
	if got, want := m.Stats(), (Stats{Packets: 10000, Delivered: 8982, Lost: 1018}); got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
}

func TestBurstyLoss(t *testing.T) {
	ge := Bursty(0.05, 4)
	if ge.ToGood != 0.25 || ge.LossBad != 1 || ge.LossGood != 0 {
		t.Fatalf("Bursty(0.05, 4) = %+v", ge)
	}
	m := New(Config{Burst: ge}, 7)
	fates := run(m, 100000, 100, time.Microsecond)
	st := m.Stats()
	if want := (Stats{Packets: 100000, Delivered: 94786, BurstLost: 5214}); st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
	// Losses come in runs averaging about 4 packets.
	runs, inRun := 0, false
	for _, f := range fates {
		lost := f.Drop == BurstLost
		if lost && !inRun {
			runs++
		}
		inRun = lost
	}
	if runs != 1262 {
		t.Errorf("%d runs of losses, want 1262 (mean length %.2f)", runs, float64(st.BurstLost)/float64(runs))
	}
}

func TestDeterministic(t *testing.T) {
	cfg := Config{Loss: 0.05, Delay: 5 * time.Millisecond, Jitter: time.Millisecond, Reorder: 0.05,
		Duplicate: 0.02, Corrupt: 0.01, Rate: 10_000_000, Queue: 30_000}
	a := run(New(cfg, 9), 5000, 1500, 500*time.Microsecond)
	b := run(New(cfg, 9), 5000, 1500, 500*time.Microsecond)
	c := run(New(cfg, 10), 5000, 1500, 500*time.Microsecond)
	same := true
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("packet %d: %+v then %+v from the same seed", i, a[i], b[i])
		}
		same = same && a[i] == c[i]
	}
	if same {
		t.Error("seeds 9 and 10 gave the same fates")
	}
}

func TestJitterKeepsOrder(t *testing.T) {
	m := New(Config{Delay: 10 * time.Millisecond, Jitter: 5 * time.Millisecond}, 3)
	var last time.Time
	spread := map[bool]int{}
	for i, f := range run(m, 1000, 100, 100*time.Microsecond) {
		if f.At[0].Before(last) {
			t.Fatalf("packet %d arrives at %v, before the previous one at %v", i, f.At[0], last)
		}
		base := t0.Add(time.Duration(i)*100*time.Microsecond + 10*time.Millisecond)
		if d := f.At[0].Sub(base); d < 0 || d >= 15*time.Millisecond {
			t.Fatalf("packet %d delayed %v past the base delay", i, d)
		}
		spread[f.At[0].Equal(base)]++
		last = f.At[0]
	}
	if spread[false] != 1000 {
		t.Errorf("%d packets jittered, want 1000", spread[false])
	}
}

func TestReorder(t *testing.T) {
	m := New(Config{Delay: 8 * time.Millisecond, Reorder: 0.1}, 5)
	fates := run(m, 1000, 100, time.Millisecond)
	n := 0
	for i, f := range fates {
		base := t0.Add(time.Duration(i)*time.Millisecond + 8*time.Millisecond)
		want := base
		if f.Reordered {
			n++
			want = base.Add(2 * time.Millisecond) // Delay/4
		}
		if !f.At[0].Equal(want) {
			t.Fatalf("packet %d arrives at %v, want %v", i, f.At[0], want)
		}
	}
	if n != 100 || m.Stats().Reordered != 100 {
		t.Errorf("%d reordered (stats %d), want 100", n, m.Stats().Reordered)
	}
}

func TestDuplicateAndCorrupt(t *testing.T) {
	m := New(Config{Duplicate: 0.1, Corrupt: 0.1}, 11)
	fates := run(m, 2000, 60, time.Microsecond)
	dups, flips := 0, 0
	for _, f := range fates {
		if f.Copies == 2 {
			dups++
			if !f.At[1].Equal(f.At[0]) {
				t.Fatalf("duplicate at %v, original at %v", f.At[1], f.At[0])
			}
		}
		for i := range f.Copies {
			if f.Flip[i] >= 0 {
				flips++
				if f.Flip[i] >= 60*8 {
					t.Fatalf("bit %d flipped in a 60-byte packet", f.Flip[i])
				}
			}
		}
	}
	st := m.Stats()
	if dups != 175 || flips != 226 || st.Duplicated != dups || st.Corrupted != flips {
		t.Errorf("%d duplicated, %d corrupted, stats %+v; want 175 and 226", dups, flips, st)
	}
}

func TestFateCorrupt(t *testing.T) {
	f := Fate{Copies: 2, Flip: [2]int{9, -1}}
	pkt := []byte{0x00, 0xff}
	if !f.Corrupt(0, pkt) || pkt[1] != 0xbf {
		t.Errorf("after flipping bit 9: % x, want 00 bf", pkt)
	}
	if f.Corrupt(1, pkt) || pkt[0] != 0 || pkt[1] != 0xbf {
		t.Errorf("copy 1 has no flip but got % x", pkt)
	}
	f.Flip[0] = 16
	if f.Corrupt(0, pkt) {
		t.Error("flipped a bit past the packet")
	}
}

func TestRateAndQueue(t *testing.T) {
	// 1 Mbit/s: a 1250-byte packet takes 10ms. The queue holds 2500 bytes.
	m := New(Config{Rate: 1_000_000, Queue: 2500, Delay: time.Millisecond}, 1)
	if got := m.Serialization(1250); got != 10*time.Millisecond {
		t.Fatalf("Serialization(1250) = %v, want 10ms", got)
	}
	// Four packets at once: two fit in the queue, the others are dropped.
	fate := func(at time.Duration, size int) string {
		f := m.Judge(t0.Add(at), size)
		if f.Drop != Delivered {
			return f.Drop.String()
		}
		return "arrives " + f.At[0].Sub(t0).String()
	}
	var got []string
	for range 4 {
		got = append(got, fate(0, 1250))
	}
	// At 15ms the first packet is out and half of the second: 625 bytes
	// wait, so 1875 bytes more fit and 1876 do not.
	got = append(got, fate(15*time.Millisecond, 1876), fate(15*time.Millisecond, 1875))
	// Much later the bottleneck is idle again.
	got = append(got, fate(time.Second, 1250))
	want := []string{
		"arrives 11ms", "arrives 21ms", "queue-full", "queue-full",
		"queue-full", "arrives 36ms", "arrives 1.011s",
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("packet %d: %s, want %s", i, got[i], want[i])
		}
	}
	if st := m.Stats(); st.QueueFull != 3 || st.Delivered != 4 {
		t.Errorf("stats %+v", st)
	}
}

func TestMTU(t *testing.T) {
	m := New(Config{MTU: 1280}, 1)
	if f := m.Judge(t0, 1281); f.Drop != TooBig || f.Copies != 0 {
		t.Errorf("1281 bytes: %+v", f)
	}
	if f := m.Judge(t0, 1280); f.Drop != Delivered || f.Copies != 1 {
		t.Errorf("1280 bytes: %+v", f)
	}
	if st := m.Stats(); st != (Stats{Packets: 2, Delivered: 1, TooBig: 1}) {
		t.Errorf("stats %+v", st)
	}
}

func TestBurstyEdges(t *testing.T) {
	if ge := Bursty(0, 3); ge != (GilbertElliott{}) {
		t.Errorf("Bursty(0, 3) = %+v", ge)
	}
	if ge := Bursty(1, 3); ge != (GilbertElliott{ToBad: 1, LossGood: 1, LossBad: 1}) {
		t.Errorf("Bursty(1, 3) = %+v", ge)
	}
	m := New(Config{Burst: Bursty(1, 1)}, 1)
	run(m, 10, 100, time.Millisecond)
	if st := m.Stats(); st.BurstLost != 10 {
		t.Errorf("total loss: %+v", st)
	}
}
