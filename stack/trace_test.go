package stack

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"

	"github.com/synack/synack/tcp"
)

// traceLog collects TraceEvents.
type traceLog struct {
	mu sync.Mutex
	ev []TraceEvent
}

func (l *traceLog) add(e TraceEvent) {
	l.mu.Lock()
	l.ev = append(l.ev, e)
	l.mu.Unlock()
}

func (l *traceLog) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.ev {
		out = append(out, fmt.Sprintf("%v %v %v->%v", e.Local, e.Remote, e.From, e.To))
	}
	return out
}

func TestListenerStates(t *testing.T) {
	var log traceLog
	s := New(Options{Trace: log.add})
	defer s.Close()
	if err := s.AddLink(blackHole(1500), netip.MustParsePrefix("198.18.0.2/24")); err != nil {
		t.Fatal(err)
	}
	l, err := s.Listen("tcp", "198.18.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"198.18.0.2:80 invalid AddrPort CLOSED->LISTEN",
		"198.18.0.2:80 invalid AddrPort LISTEN->CLOSED",
	}
	if got := log.lines(); !slices.Equal(got, want) {
		t.Errorf("trace:\n%q\nwant\n%q", got, want)
	}
	for _, e := range log.ev {
		if e.Remote.IsValid() || e.Time.IsZero() {
			t.Errorf("listener event %+v: want an invalid Remote and a time", e)
		}
	}
}

func TestConnectionStates(t *testing.T) {
	var clog, slog traceLog
	cl, sv := pair(t, Options{Trace: clog.add}, Options{Trace: slog.add})
	c, s := connected(t, cl, sv)
	c.Close()
	eventually(t, "the server to see the FIN", func() bool { return s.State() == tcp.StateCloseWait })
	s.Close()
	eventually(t, "the client to reach TIME-WAIT", func() bool { return c.State() == tcp.StateTimeWait })
	cp := c.LocalAddrPort()
	wantC := []string{
		fmt.Sprintf("%v 198.18.0.2:80 CLOSED->SYN-SENT", cp),
		fmt.Sprintf("%v 198.18.0.2:80 SYN-SENT->ESTABLISHED", cp),
		fmt.Sprintf("%v 198.18.0.2:80 ESTABLISHED->FIN-WAIT-1", cp),
		fmt.Sprintf("%v 198.18.0.2:80 FIN-WAIT-1->FIN-WAIT-2", cp),
		fmt.Sprintf("%v 198.18.0.2:80 FIN-WAIT-2->TIME-WAIT", cp),
	}
	if got := clog.lines(); !slices.Equal(got, wantC) {
		t.Errorf("client trace:\n%q\nwant\n%q", got, wantC)
	}
	eventually(t, "the server to close", func() bool { return s.State() == tcp.StateClosed })
	wantS := []string{
		"198.18.0.2:80 invalid AddrPort CLOSED->LISTEN",
		fmt.Sprintf("198.18.0.2:80 %v LISTEN->SYN-RECEIVED", cp),
		fmt.Sprintf("198.18.0.2:80 %v SYN-RECEIVED->ESTABLISHED", cp),
		"198.18.0.2:80 invalid AddrPort LISTEN->CLOSED",
		fmt.Sprintf("198.18.0.2:80 %v ESTABLISHED->CLOSE-WAIT", cp),
		fmt.Sprintf("198.18.0.2:80 %v CLOSE-WAIT->LAST-ACK", cp),
		fmt.Sprintf("198.18.0.2:80 %v LAST-ACK->CLOSED", cp),
	}
	if got := slog.lines(); !slices.Equal(got, wantS) {
		t.Errorf("server trace:\n%q\nwant\n%q", got, wantS)
	}
}
