package stack

import "testing"

// A 64 KiB inbound packet (an MTU-65535 link) reuses a pooled buffer: no
// allocation per packet once the pool is warm.
func TestPacketPool_KeepsLargeBuffers(t *testing.T) {
	big := make([]byte, 65535)
	cycle := func() {
		p := getPacket(len(big))
		p.buf = append(p.buf[:0], big...)
		putPacket(p)
	}
	cycle()
	if n := testing.AllocsPerRun(100, cycle); n != 0 {
		t.Fatalf("%v allocations per 64 KiB packet; want 0", n)
	}
}

// A small packet never takes a large buffer, even right after a large
// one went back to the pool.
func TestPacketPool_SmallPacketsStaySmall(t *testing.T) {
	p := getPacket(65535)
	p.buf = append(p.buf[:0], make([]byte, 65535)...)
	putPacket(p)
	for _, n := range []int{40, 1500, 2048} {
		q := getPacket(n)
		if c := cap(q.buf); c < n || c > 9216 {
			t.Errorf("getPacket(%d): capacity %d; want %d to 9216", n, c, n)
		}
		putPacket(q)
	}
	if c := cap(getPacket(9000).buf); c < 9000 || c >= 65535 {
		t.Errorf("getPacket(9000): capacity %d; want 9000 to 65534", c)
	}
}

// A buffer that grew past every class (never from a pool) is not kept.
func TestPacketPool_DropsOversizedBuffers(t *testing.T) {
	p := getPacket(100)
	p.buf = make([]byte, 0, 1<<20)
	putPacket(p)
	for range 10 {
		q := getPacket(100)
		if cap(q.buf) >= 1<<20 {
			t.Fatalf("a 1 MiB buffer came back from the pool")
		}
		putPacket(q)
	}
}
