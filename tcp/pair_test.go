package tcp

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// A pair of TCBs wired back to back with no loss: a's output is b's input.
type pair struct {
	a, b  *TCB
	now   time.Time
	toB   func(*Segment)
	toA   func(*Segment)
	moved bool
}

// newPair opens a (active) to b (passive) and runs the handshake.
func newPair(tb testing.TB, cfg Config) *pair {
	p := &pair{now: t0}
	p.a = NewActive(cfg, 1000, p.now)
	p.toB = func(s *Segment) {
		p.moved = true
		if p.b == nil {
			if a, _ := HandleListen(s); a == ListenAccept {
				p.b = NewPassive(cfg, 5000, s, p.now)
			}
			return
		}
		p.b.HandleSegment(s, p.now)
	}
	p.toA = func(s *Segment) { p.moved = true; p.a.HandleSegment(s, p.now) }
	p.settle()
	if p.a.State() != StateEstablished || p.b.State() != StateEstablished {
		tb.Fatalf("handshake: a %s, b %s", p.a.State(), p.b.State())
	}
	return p
}

// exchange delivers queued segments both ways until both are quiet.
func (p *pair) exchange() {
	for {
		p.moved = false
		p.a.DrainOutput(p.toB)
		if p.b != nil {
			p.b.DrainOutput(p.toA)
		}
		if !p.moved {
			return
		}
	}
}

// tick moves time to the earliest deadline and runs the timers due.
func (p *pair) tick() bool {
	d := p.a.Deadline()
	if db := p.b.Deadline(); !db.IsZero() && (d.IsZero() || db.Before(d)) {
		d = db
	}
	if d.IsZero() {
		return false
	}
	p.now = d
	p.a.HandleTimer(p.now)
	p.b.HandleTimer(p.now)
	return true
}

// settle exchanges segments and runs timers until nothing is left.
func (p *pair) settle() {
	for range 10000 {
		p.exchange()
		if p.b == nil || !p.tick() {
			return
		}
	}
}

// transfer sends data from a to b and returns what b read.
func (p *pair) transfer(data []byte, buf []byte) int {
	got := 0
	for sent := 0; got < len(data); {
		if sent < len(data) {
			n, _ := p.a.Write(data[sent:], p.now)
			sent += n
		}
		p.exchange()
		for {
			n, _ := p.b.Read(buf, p.now)
			if n == 0 {
				break
			}
			got += n
		}
		p.exchange()
		if sent == len(data) && got < len(data) && !p.b.Readable() {
			if !p.tick() {
				break
			}
		}
	}
	return got
}

func TestPair_BulkTransferAndClose(t *testing.T) {
	for _, cfg := range []Config{{}, plain} {
		p := newPair(t, cfg)
		data := make([]byte, 1<<20)
		for i := range data {
			data[i] = byte(i * 7)
		}
		var rcvd bytes.Buffer
		buf := make([]byte, 10000)
		for sent := 0; rcvd.Len() < len(data); {
			if sent < len(data) {
				n, err := p.a.Write(data[sent:], p.now)
				if err != nil {
					t.Fatal(err)
				}
				sent += n
			}
			p.exchange()
			for {
				n, _ := p.b.Read(buf, p.now)
				if n == 0 {
					break
				}
				rcvd.Write(buf[:n])
			}
			p.exchange()
			if !p.b.Readable() && rcvd.Len() < len(data) && sent == len(data) {
				p.tick()
			}
		}
		if !bytes.Equal(rcvd.Bytes(), data) {
			t.Fatal("data corrupted")
		}
		if p.a.Info().Retransmits != 0 {
			t.Fatalf("retransmissions without loss: %+v", p.a.Info())
		}
		// Graceful close: a first.
		if err := p.a.Close(p.now); err != nil {
			t.Fatal(err)
		}
		p.exchange()
		if _, err := p.b.Read(buf, p.now); err != io.EOF {
			t.Fatalf("b Read after FIN: %v", err)
		}
		if err := p.b.Close(p.now); err != nil {
			t.Fatal(err)
		}
		p.exchange()
		if p.a.State() != StateTimeWait || p.b.State() != StateClosed {
			t.Fatalf("after close: a %s, b %s", p.a.State(), p.b.State())
		}
		p.settle()
		if !p.a.Done() || !p.b.Done() || p.a.Err() != nil || p.b.Err() != nil {
			t.Fatalf("end: a %s %v, b %s %v", p.a.State(), p.a.Err(), p.b.State(), p.b.Err())
		}
	}
}

// Both close at once: the FINs cross and both pass through CLOSING to
// TIME-WAIT (RFC 9293 Figure 13).
func TestPair_SimultaneousClose(t *testing.T) {
	p := newPair(t, Config{})
	var seen []string
	p.a.OnStateChange = func(from, to State, _ time.Time) { seen = append(seen, "a "+to.String()) }
	p.b.OnStateChange = func(from, to State, _ time.Time) { seen = append(seen, "b "+to.String()) }
	p.a.Close(p.now)
	p.b.Close(p.now)
	// Deliver both FINs before either side's answer.
	var fa, fb []Segment
	p.a.DrainOutput(func(s *Segment) { fa = append(fa, *s) })
	p.b.DrainOutput(func(s *Segment) { fb = append(fb, *s) })
	for i := range fa {
		p.b.HandleSegment(&fa[i], p.now)
	}
	for i := range fb {
		p.a.HandleSegment(&fb[i], p.now)
	}
	p.exchange()
	want := "a FIN-WAIT-1,b FIN-WAIT-1,b CLOSING,a CLOSING,b TIME-WAIT,a TIME-WAIT"
	if got := join(seen); got != want {
		t.Fatalf("transitions %s\nwant        %s", got, want)
	}
	p.settle()
	if p.a.State() != StateClosed || p.b.State() != StateClosed {
		t.Fatalf("a %s, b %s", p.a.State(), p.b.State())
	}
}

func join(s []string) string {
	var b bytes.Buffer
	for i, x := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(x)
	}
	return b.String()
}

// BenchmarkBulkTransfer moves data between two TCBs wired back to back;
// the steady path must not allocate.
func BenchmarkBulkTransfer(b *testing.B) {
	p := newPair(b, Config{})
	data := make([]byte, 64<<10)
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if got := p.transfer(data, buf); got != len(data) {
			b.Fatalf("moved %d bytes", got)
		}
	}
}

func TestBulkTransfer_NoAllocations(t *testing.T) {
	p := newPair(t, Config{})
	data := make([]byte, 64<<10)
	buf := make([]byte, 64<<10)
	p.transfer(data, buf) // warm up: buffers and queues reach their size
	allocs := testing.AllocsPerRun(20, func() { p.transfer(data, buf) })
	if allocs != 0 {
		t.Fatalf("%v allocations per 64 KiB transfer", allocs)
	}
}

// With every 37th data segment from a lost, retransmission from SND.UNA
// and reassembly still deliver everything intact.
func TestPair_LossyTransfer(t *testing.T) {
	p := newPair(t, Config{})
	n := 0
	deliver := p.toB
	p.toB = func(s *Segment) {
		if len(s.Payload) > 0 {
			n++
			if n%37 == 0 {
				p.moved = true
				return
			}
		}
		deliver(s)
	}
	data := make([]byte, 256<<10)
	x := uint32(1)
	for i := range data {
		x = x*1664525 + 1013904223
		data[i] = byte(x >> 24)
	}
	var rcvd bytes.Buffer
	buf := make([]byte, 10000)
	for sent, rounds := 0, 0; rcvd.Len() < len(data); rounds++ {
		if rounds > 100000 {
			t.Fatalf("stuck: sent %d, received %d, a %+v", sent, rcvd.Len(), p.a.Info())
		}
		if sent < len(data) {
			m, _ := p.a.Write(data[sent:], p.now)
			sent += m
		}
		p.exchange()
		for {
			m, _ := p.b.Read(buf, p.now)
			if m == 0 {
				break
			}
			rcvd.Write(buf[:m])
		}
		p.exchange()
		if !p.b.Readable() && (sent == len(data) || !p.a.Writable()) { // nothing moves: run the timers
			p.tick()
		}
	}
	if !bytes.Equal(rcvd.Bytes(), data) {
		got := rcvd.Bytes()
		for i := range got {
			if got[i] != data[i] {
				j := bytes.Index(data, got[i:i+64])
				e := i
				for e < len(got) && got[e] != data[e] {
					e++
				}
				t.Fatalf("data corrupted at %d..%d of %d (got %d want %d); it is data at %d", i, e, len(got), got[i], data[i], j)
			}
		}
		t.Fatalf("data corrupted: %d bytes, want %d", len(got), len(data))
	}
	if p.a.Err() != nil || p.b.Err() != nil {
		t.Fatalf("errors: %v, %v", p.a.Err(), p.b.Err())
	}
}

// Loss both ways (every 7th segment from b, data or ACK, and every 29th
// data segment from a), then a close that must still complete.
func TestPair_LossBothWaysAndClose(t *testing.T) {
	p := newPair(t, Config{})
	na, nb := 0, 0
	toB, toA := p.toB, p.toA
	p.toB = func(s *Segment) {
		if len(s.Payload) > 0 {
			if na++; na%29 == 0 {
				p.moved = true
				return
			}
		}
		toB(s)
	}
	p.toA = func(s *Segment) {
		if nb++; nb%7 == 0 {
			p.moved = true
			return
		}
		toA(s)
	}
	data := make([]byte, 200000)
	for i := range data {
		data[i] = byte(i*31 + i>>9)
	}
	var rcvd bytes.Buffer
	buf := make([]byte, 4096)
	sent := 0
	for rounds := 0; rcvd.Len() < len(data); rounds++ {
		if rounds > 100000 {
			t.Fatalf("stuck: received %d; a %+v", rcvd.Len(), p.a.Info())
		}
		if sent < len(data) {
			m, _ := p.a.Write(data[sent:], p.now)
			sent += m
		}
		p.exchange()
		for {
			m, _ := p.b.Read(buf, p.now)
			if m == 0 {
				break
			}
			rcvd.Write(buf[:m])
		}
		p.exchange()
		if !p.b.Readable() {
			p.tick()
		}
	}
	if !bytes.Equal(rcvd.Bytes(), data) {
		t.Fatal("data corrupted")
	}
	p.a.Close(p.now)
	// Until b has the FIN and a the ACK of its FIN (not longer: a's
	// FIN-WAIT-2 timeout would end it).
	for i := 0; p.b.State() != StateCloseWait || p.a.State() != StateFinWait2; i++ {
		if i > 1000 {
			t.Fatalf("close stuck: a %s, b %s", p.a.State(), p.b.State())
		}
		p.exchange()
		if p.b.State() != StateCloseWait || p.a.State() != StateFinWait2 {
			p.tick()
		}
	}
	if _, err := p.b.Read(buf, p.now); err != io.EOF {
		t.Fatalf("b Read: %v (b %s)", err, p.b.State())
	}
	p.b.Close(p.now)
	p.settle()
	if p.a.State() != StateClosed || p.b.State() != StateClosed || p.a.Err() != nil || p.b.Err() != nil {
		t.Fatalf("a %s %v, b %s %v", p.a.State(), p.a.Err(), p.b.State(), p.b.Err())
	}
}
