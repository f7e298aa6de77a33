package impair

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/synack/synack/link"
)

func TestLinkImpairsOutbound(t *testing.T) {
	a, b := link.Pipe(1500)
	w := Wrap(a, New(Config{Loss: 0.2, Duplicate: 0.1, Corrupt: 0.1, Delay: time.Millisecond, Jitter: time.Millisecond}, 1), nil)
	defer w.Close()
	if w.MTU() != 1500 {
		t.Fatalf("MTU %d", w.MTU())
	}

	var mu sync.Mutex
	var got [][]byte
	all := make(chan struct{})
	const want = 100 // 100 sent, 14 lost, 14 duplicated (seed 1)
	b.Attach(link.ReceiverFunc(func(pkt []byte) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, bytes.Clone(pkt))
		if len(got) == want {
			close(all)
		}
	}))
	var sent [][]byte
	for i := range 100 {
		pkt := bytes.Repeat([]byte{byte(i)}, 100)
		sent = append(sent, pkt)
		if err := w.WritePacket(pkt); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-all:
	case <-time.After(10 * time.Second):
		mu.Lock()
		t.Fatalf("%d packets arrived, want %d", len(got), want)
	}
	time.Sleep(10 * time.Millisecond) // nothing more may come
	mu.Lock()
	defer mu.Unlock()
	st := w.Stats()
	if len(got) != want || st.Lost != 14 || st.Duplicated != 14 {
		t.Fatalf("%d arrived, stats %+v", len(got), st)
	}
	// Every arrival is a sent packet, in order, with at most one bit
	// flipped; the flips match the count.
	flipped, last := 0, -1
	for _, p := range got {
		i := int(p[0]) // one flip at most: two of the first three bytes agree
		if p[0] != p[1] && p[1] == p[2] {
			i = int(p[1])
		}
		if i < last {
			t.Fatalf("packet %d arrived after packet %d", i, last)
		}
		last = i
		diff := 0
		for k := range p {
			for x := p[k] ^ sent[i][k]; x != 0; x &= x - 1 {
				diff++
			}
		}
		if diff > 1 {
			t.Fatalf("packet %d has %d bits flipped", i, diff)
		}
		flipped += diff
	}
	if flipped != st.Corrupted || flipped != 9 {
		t.Errorf("%d bits flipped, stats say %d corrupted, want 9", flipped, st.Corrupted)
	}
}

func TestLinkClose(t *testing.T) {
	a, _ := link.Pipe(1500)
	w := Wrap(a, New(Config{Delay: time.Hour}, 1), nil)
	if err := w.WritePacket([]byte{1}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.WritePacket([]byte{1}); err == nil {
		t.Error("write after Close succeeded")
	}
}
