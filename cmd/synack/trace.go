package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/synack/synack/clock"
	"github.com/synack/synack/stack"
	"github.com/synack/synack/wire"
)

// --trace FILE writes one JSON object per line for every state change
// and every TCP segment of the command's stacks:
//
//	{"time":"…","t":0.001,"host":"client","event":"state","local":"198.18.0.1:50105","remote":"198.18.0.2:80","from":"SYN-SENT","to":"ESTABLISHED"}
//	{"time":"…","t":0.001,"host":"client","event":"segment","dir":"out","local":"…","remote":"…","flags":"S","seq":…,"ack":0,"win":65535,"len":0,"options":{…}}
//
// "t" is seconds since the command's clock started (the virtual clock's
// epoch in a simulation); "host" names the stack (client, server, or
// synack on a TUN device).

// traceFlag is the --trace flag every command that runs a stack takes.
type traceFlag struct{ file string }

func (f *traceFlag) register(fs *flag.FlagSet) {
	fs.StringVar(&f.file, "trace", "", "write every state change and TCP segment to `FILE` as JSON lines")
}

// open returns the trace writer, or nil without --trace.
func (f *traceFlag) open(start time.Time) (*traceWriter, error) {
	if f.file == "" {
		return nil, nil
	}
	file, err := os.Create(f.file)
	if err != nil {
		return nil, fmt.Errorf("--trace: %w", err)
	}
	return &traceWriter{f: file, w: bufio.NewWriter(file), start: start}, nil
}

// traceWriter writes trace lines; it is safe for concurrent use.
type traceWriter struct {
	mu    sync.Mutex
	f     *os.File
	w     *bufio.Writer
	start time.Time
	err   error
}

// traceLine is one line of a --trace file. Its keys are snake_case.
type traceLine struct {
	Time    string        `json:"time"`
	T       float64       `json:"t"`
	Host    string        `json:"host"`
	Event   string        `json:"event"` // "state" or "segment"
	Local   string        `json:"local"`
	Remote  string        `json:"remote,omitempty"`
	From    string        `json:"from,omitempty"`
	To      string        `json:"to,omitempty"`
	Dir     string        `json:"dir,omitempty"` // "in" or "out"
	Flags   string        `json:"flags,omitempty"`
	Seq     *uint32       `json:"seq,omitempty"`
	Ack     *uint32       `json:"ack,omitempty"`
	Win     *uint16       `json:"win,omitempty"`
	Len     *int          `json:"len,omitempty"`
	Options *traceOptions `json:"options,omitempty"`
}

// traceOptions are a segment's TCP options, those it carries only.
type traceOptions struct {
	MSS    uint16      `json:"mss,omitempty"`
	WScale *uint8      `json:"wscale,omitempty"`
	SACKOK bool        `json:"sack_permitted,omitempty"`
	TSVal  *uint32     `json:"tsval,omitempty"`
	TSEcr  *uint32     `json:"tsecr,omitempty"`
	SACK   [][2]uint32 `json:"sack,omitempty"`
}

func optionsOf(o *wire.TCPOptions) *traceOptions {
	var t traceOptions
	any := false
	if o.HasMSS {
		t.MSS, any = o.MSS, true
	}
	if o.HasWindowScale {
		ws := o.WindowScale
		t.WScale, any = &ws, true
	}
	if o.SACKPermitted {
		t.SACKOK, any = true, true
	}
	if o.HasTimestamps {
		v, e := o.TSVal, o.TSEcr
		t.TSVal, t.TSEcr, any = &v, &e, true
	}
	for i := 0; i < o.NumSACK && i < len(o.SACK); i++ {
		t.SACK, any = append(t.SACK, [2]uint32{o.SACK[i].Start, o.SACK[i].End}), true
	}
	if !any {
		return nil
	}
	return &t
}

func (w *traceWriter) write(l *traceLine, at time.Time) {
	l.Time = at.UTC().Format(time.RFC3339Nano)
	l.T = at.Sub(w.start).Seconds()
	b, err := json.Marshal(l)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err == nil {
		w.w.Write(b)
		err = w.w.WriteByte('\n')
	}
	if w.err == nil {
		w.err = err
	}
}

func endpointString(ap netip.AddrPort) string {
	if !ap.Addr().IsValid() {
		if ap.Port() == 0 {
			return ""
		}
		return fmt.Sprintf("*:%d", ap.Port())
	}
	return ap.String()
}

// state returns a stack.Options.Trace function for host.
func (w *traceWriter) state(host string) func(stack.TraceEvent) {
	return func(ev stack.TraceEvent) {
		w.write(&traceLine{Host: host, Event: "state", Local: endpointString(ev.Local), Remote: endpointString(ev.Remote),
			From: ev.From.String(), To: ev.To.String()}, ev.Time)
	}
}

// segment returns a stack.Options.SegmentTrace function for host.
func (w *traceWriter) segment(host string) func(stack.SegmentEvent) {
	return func(ev stack.SegmentEvent) {
		dir := "in"
		if ev.Out {
			dir = "out"
		}
		seq, ack, win, n := ev.Seq, ev.Ack, ev.Window, ev.Len
		w.write(&traceLine{Host: host, Event: "segment", Dir: dir, Local: endpointString(ev.Local), Remote: endpointString(ev.Remote),
			Flags: flagString(ev.Flags), Seq: &seq, Ack: &ack, Win: &win, Len: &n, Options: optionsOf(&ev.Options)}, ev.Time)
	}
}

// hook sets the trace functions of a stack's options, keeping a state
// trace already there (the simulator's).
func (w *traceWriter) hook(host string, o *stack.Options) {
	if w == nil {
		return
	}
	st := w.state(host)
	if prev := o.Trace; prev != nil {
		o.Trace = func(ev stack.TraceEvent) { prev(ev); st(ev) }
	} else {
		o.Trace = st
	}
	o.SegmentTrace = w.segment(host)
}

// Close flushes and closes the file.
func (w *traceWriter) Close() error {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	err := w.w.Flush()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if w.err != nil {
		err = w.err
	}
	if err != nil {
		return fmt.Errorf("--trace: %w", err)
	}
	return nil
}

// flagString writes TCP flags as tcpdump does: S, F, R, P, U, E, W and
// "." for ACK.
func flagString(f wire.Flags) string {
	var b []byte
	for _, x := range []struct {
		f wire.Flags
		c byte
	}{{wire.FlagSYN, 'S'}, {wire.FlagFIN, 'F'}, {wire.FlagRST, 'R'}, {wire.FlagPSH, 'P'}, {wire.FlagURG, 'U'}, {wire.FlagECE, 'E'}, {wire.FlagCWR, 'W'}, {wire.FlagACK, '.'}} {
		if f&x.f != 0 {
			b = append(b, x.c)
		}
	}
	return string(b)
}

// simStart is where a simulation's clock starts.
var simStart = clock.Epoch
