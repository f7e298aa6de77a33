package stack

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/synack/synack/tcp"
)

// exchange1 dials, sends one byte each way, and closes: the client first
// when clientFirst, else the server. It returns both Conns.
func exchange1(t *testing.T, cl, sv *Stack, ln *Listener, laddr netip.AddrPort, clientFirst bool) (c, s *Conn) {
	t.Helper()
	c, err := cl.DialTCP(context.Background(), laddr, netip.AddrPortFrom(serverAddr, 80))
	if err != nil {
		t.Fatal(err)
	}
	s, err = ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := c.Write([]byte("q")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(s, b); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write([]byte("a")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatal(err)
	}
	first, second := c, s
	if !clientFirst {
		first, second = s, c
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := second.Read(b); n != 0 || err != io.EOF {
		t.Fatalf("read after the peer's close: %d, %v", n, err)
	}
	if err := second.Close(); err != nil {
		t.Fatal(err)
	}
	return c, s
}

// timedLog records trace events with their virtual time.
type timedLog struct {
	start time.Time
	lines []string
}

func (l *timedLog) add(e TraceEvent) {
	l.lines = append(l.lines, fmt.Sprintf("%v %v %v %v->%v", e.Time.Sub(l.start), e.Local, e.Remote, e.From, e.To))
}

// A connection entering TIME-WAIT leaves the table for a compact record:
// the stack counts it, the Conn still says TIME-WAIT, and 2·MSL later the
// trace reports TIME-WAIT → CLOSED, the record goes and the tuple is free.
func TestTimeWait_RecordReplacesTCB(t *testing.T) {
	var log timedLog
	cl, sv, r := manualPair(t, 1, tcp.Config{}, log.add)
	log.start = r.clk.Now()
	ln, err := sv.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	laddr := netip.AddrPortFrom(clientAddr, 40000)
	c, _ := exchange1(t, cl, sv, ln, laddr, true)
	// The client's last ACK went out when the server's FIN came.
	r.RunUntil(func() bool { return c.State() == tcp.StateTimeWait }, r.clk.Now().Add(time.Second))
	entered := r.clk.Now().Sub(log.start)
	st := cl.Stats()
	if st.TimeWaitRecords != 1 || st.Connections != 1 {
		t.Fatalf("client: %d TIME-WAIT records, %d connections; want 1, 1", st.TimeWaitRecords, st.Connections)
	}
	sh := cl.shards[0]
	if sh.conns.len() != 0 || len(sh.tw) != 1 {
		t.Fatalf("client shard: %d connections, %d records; want 0, 1", sh.conns.len(), len(sh.tw))
	}
	if got := c.Info().State; got != tcp.StateTimeWait {
		t.Fatalf("Info().State = %v", got)
	}
	// The 4-tuple is taken while the record lives.
	if _, err := cl.DialTCP(context.Background(), laddr, netip.AddrPortFrom(serverAddr, 80)); err == nil {
		t.Fatal("dial from the TIME-WAIT 4-tuple succeeded")
	}
	want := entered + 60*time.Second
	r.RunUntil(func() bool { return cl.Stats().TimeWaitRecords == 0 }, r.clk.Now().Add(2*time.Minute))
	if c.State() != tcp.StateClosed {
		t.Fatalf("state after 2·MSL: %v", c.State())
	}
	if st := cl.Stats(); st.Connections != 0 || st.TimeWaitRecords != 0 {
		t.Fatalf("after 2·MSL: %d connections, %d records", st.Connections, st.TimeWaitRecords)
	}
	last := fmt.Sprintf("%v 198.18.0.1:40000 198.18.0.2:80 TIME-WAIT->CLOSED", want)
	if !slices.Contains(log.lines, last) {
		t.Fatalf("trace lacks %q:\n%v", last, log.lines)
	}
	if len(sh.tw) != 0 || sh.tw != nil {
		t.Fatalf("records left: %d", len(sh.tw))
	}
	if _, err := cl.DialTCP(context.Background(), laddr, netip.AddrPortFrom(serverAddr, 80)); err != nil {
		t.Fatalf("dial after TIME-WAIT: %v", err)
	}
}

// RFC 6191: the server closed first and holds the TIME-WAIT record; the
// client reopens the same 4-tuple with a SYN whose sequence number is
// newer (timestamps off): the record goes and a new connection starts
// with an ISS past the old one's SND.NXT.
func TestTimeWait_NewerSynReopens(t *testing.T) {
	var log timedLog
	cl, sv, r := manualPair(t, 1, tcp.Config{DisableTimestamps: true}, log.add)
	log.start = r.clk.Now()
	ln, err := sv.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	laddr := netip.AddrPortFrom(clientAddr, 40001)
	_, s := exchange1(t, cl, sv, ln, laddr, false)
	r.RunUntil(func() bool { return sv.Stats().TimeWaitRecords == 1 }, r.clk.Now().Add(time.Second))
	old := s.Info()
	if old.State != tcp.StateTimeWait || sv.Stats().TimeWaitRecords != 1 {
		t.Fatalf("server: %v, %d records", old.State, sv.Stats().TimeWaitRecords)
	}
	// 10 ms on, the client's clock-driven ISN (RFC 6528) is past the old
	// connection's; the server's would not be past its old SND.NXT by a
	// window, so the new ISS is that floor.
	r.clk.Advance(10 * time.Millisecond)
	c2, err := cl.DialTCP(context.Background(), laddr, netip.AddrPortFrom(serverAddr, 80))
	if err != nil {
		t.Fatal(err)
	}
	s2, err := ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	if st := sv.Stats(); st.TimeWaitRecords != 0 || st.Connections != 1 {
		t.Fatalf("server after the reopening SYN: %d records, %d connections", st.TimeWaitRecords, st.Connections)
	}
	if s.State() != tcp.StateClosed {
		t.Fatalf("old server Conn: %v", s.State())
	}
	if got, want := s2.Info().ISS, old.SndNxt+65535+2; got != want {
		t.Fatalf("new ISS %d, want %d (old SND.NXT %d + 65537)", got, want, old.SndNxt)
	}
	if _, err := c2.Write([]byte("again")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 5)
	if _, err := io.ReadFull(s2, b); err != nil || string(b) != "again" {
		t.Fatalf("read %q, %v", b, err)
	}
	// The reopening SYN ended TIME-WAIT at once (not at 2·MSL, nor after
	// SYN retransmissions).
	want := []string{
		"10ms 198.18.0.2:80 198.18.0.1:40001 TIME-WAIT->CLOSED",
		"10ms 198.18.0.2:80 198.18.0.1:40001 LISTEN->SYN-RECEIVED",
	}
	if i := slices.Index(log.lines, want[0]); i < 0 || i+1 >= len(log.lines) || log.lines[i+1] != want[1] {
		t.Fatalf("trace lacks %q then %q:\n%v", want[0], want[1], log.lines)
	}
}
