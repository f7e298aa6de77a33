package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/synack/synack/tcp"
)

// progress is the one-line progress display of transfer, get and dial:
// bytes so far (of the total, when known), rate, retransmissions and the
// connection's state, redrawn in place at most every refresh on a
// terminal. Off a terminal (piped, redirected, in tests) it is nil and
// says nothing.
type progress struct {
	mu      sync.Mutex
	w       io.Writer
	label   string
	refresh time.Duration
	last    time.Time // wall time of the last redraw
	shown   bool
}

// progressRefresh is how often the line is redrawn.
const progressRefresh = 200 * time.Millisecond

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// newProgress returns a progress line on stderr, or nil when stderr is
// not a terminal, or when stdout is the same terminal and carries data
// (dataOnStdout) that the line would garble.
func newProgress(stdout, stderr io.Writer, label string, dataOnStdout bool) *progress {
	if !isTerminal(stderr) || (dataOnStdout && isTerminal(stdout)) {
		return nil
	}
	return &progress{w: stderr, label: label, refresh: progressRefresh}
}

// progressState is what the line shows.
type progressState struct {
	Bytes, Total int64         // Total 0: unknown
	Elapsed      time.Duration // since the start (virtual time in a simulation)
	Retransmits  int
	State        tcp.State
	Virtual      bool // Elapsed is virtual time
}

// due reports whether a redraw is due now (wall clock); callers in a
// hot loop check it before gathering the state.
func (p *progress) due() bool {
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return time.Since(p.last) >= p.refresh
}

// update redraws the line if a redraw is due.
func (p *progress) update(s progressState) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.last) < p.refresh {
		return
	}
	p.last = now
	fmt.Fprintf(p.w, "\r%s\x1b[K", p.line(s))
	p.shown = true
}

// line formats s.
func (p *progress) line(s progressState) string {
	var b strings.Builder
	b.WriteString(p.label)
	b.WriteString("  ")
	b.WriteString(fmtBytes(s.Bytes))
	if s.Total > 0 {
		fmt.Fprintf(&b, " of %s (%.0f%%)", fmtBytes(s.Total), 100*float64(s.Bytes)/float64(s.Total))
	}
	if sec := s.Elapsed.Seconds(); sec > 0 {
		fmt.Fprintf(&b, "  %s", fmtRate(roundSig(float64(s.Bytes)*8/sec)))
	}
	fmt.Fprintf(&b, "  %d retransmitted  %v  %.1fs", s.Retransmits, s.State, s.Elapsed.Seconds())
	if s.Virtual {
		b.WriteString(" virtual")
	}
	return b.String()
}

// done clears the line.
func (p *progress) done() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.shown = false
	}
}

// watchConn redraws the line for a live connection every refresh until
// stop is closed; bytes reports the bytes so far.
func (p *progress) watchConn(stop <-chan struct{}, info func() tcp.Info, bytes func() (n, total int64)) {
	if p == nil {
		return
	}
	start := time.Now()
	t := time.NewTicker(p.refresh)
	defer t.Stop()
	for {
		select {
		case <-stop:
			p.done()
			return
		case <-t.C:
			n, total := bytes()
			i := info()
			p.update(progressState{Bytes: n, Total: total, Elapsed: time.Since(start), Retransmits: i.TotalRetransmits, State: i.State})
		}
	}
}
