package ladder

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/synack/synack/tcp"
	"github.com/synack/synack/wire"
)

// Options tune Render.
type Options struct {
	// ASCII draws with plain ASCII ("--S seq 0-->", "CLOSED -> SYN-SENT")
	// instead of box-drawing characters and arrows.
	ASCII bool
	// Width is the width of a line in columns; default 110, at least 60.
	// A segment whose text does not fit its arrow continues on the next
	// line.
	Width int
	// Absolute prints sequence and acknowledgment numbers as they are on
	// the wire rather than relative to each side's ISN.
	Absolute bool
	// Color marks states, anomalies and resets with ANSI colours, for a
	// terminal. The layout is the same as without.
	Color bool
}

// stateWidth fits the longest state name, "SYN-RECEIVED".
const stateWidth = 12

// glyphs are the characters a ladder is drawn with.
type glyphs struct {
	line, right, left, lost, to string
}

var (
	unicodeGlyphs = glyphs{line: "─", right: "▶", left: "◀", lost: "✕", to: " → "}
	asciiGlyphs   = glyphs{line: "-", right: ">", left: "<", lost: "x", to: " -> "}
)

// Render writes the ladder of evs, whose sides are labelled left and right
// (e.g. "client 198.18.0.1:49152"). Times are printed in milliseconds from
// the first event. Events are drawn in the order given.
func Render(w io.Writer, left, right string, evs []Event, opts Options) error {
	r := newRenderer(left, right, evs, opts)
	bw := bufio.NewWriter(w)
	r.render(bw)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("ladder: %w", err)
	}
	return nil
}

// renderer holds the layout of one ladder.
type renderer struct {
	evs         []Event
	left, right string
	opts        Options
	g           glyphs

	timeWidth  int
	arrowWidth int
	width      int

	base      [2]uint32 // ISN, or first sequence number seen, of each side
	baseKnown [2]bool
	baseIsISN [2]bool
}

func newRenderer(left, right string, evs []Event, opts Options) *renderer {
	r := &renderer{evs: evs, left: left, right: right, opts: opts, g: unicodeGlyphs}
	if opts.ASCII {
		r.g = asciiGlyphs
	}
	r.timeWidth = len("ms")
	for i := range evs {
		r.timeWidth = max(r.timeWidth, len(r.timeLabel(i)))
	}
	r.width = opts.Width
	if r.width == 0 {
		r.width = 110
	}
	r.width = max(r.width, 60)
	r.arrowWidth = r.width - (r.timeWidth + 2 + stateWidth + 1 + 1 + stateWidth)

	// Each side's ISN is the sequence number of its first SYN; failing
	// that, its first sequence number stands in as the base.
	for _, ev := range evs {
		s := ev.Side & 1
		if ev.Kind != Segment || r.baseIsISN[s] {
			continue
		}
		if ev.Seg.Flags&wire.FlagSYN != 0 {
			r.base[s], r.baseKnown[s], r.baseIsISN[s] = ev.Seg.Seq, true, true
		} else if !r.baseKnown[s] {
			r.base[s], r.baseKnown[s] = ev.Seg.Seq, true
		}
	}
	return r
}

// timeLabel is the time of event i in milliseconds from the first event.
func (r *renderer) timeLabel(i int) string {
	d := r.evs[i].Time.Sub(r.evs[0].Time)
	return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 3, 64)
}

func (r *renderer) render(w *bufio.Writer) {
	r.header(w)
	// The state each side is in, shown beside every arrow; a side starts
	// in the From state of its first change.
	var cur [2]string
	for _, ev := range r.evs {
		if ev.Kind == State && cur[ev.Side&1] == "" {
			cur[ev.Side&1] = ev.From.String()
			if ev.From == ev.To && ev.Guess {
				cur[ev.Side&1] += "?"
			}
		}
	}
	for i, ev := range r.evs {
		t := r.timeLabel(i)
		switch ev.Kind {
		case State:
			to := ev.To.String()
			if ev.Guess {
				to += "?"
			}
			text := ev.From.String() + r.g.to + to
			if ev.From == ev.To {
				text = to
			}
			if ev.Side&1 == Left {
				r.line(w, t, text)
			} else {
				r.line(w, t, pad(text, r.width-r.timeWidth-2, true))
			}
			cur[ev.Side&1] = to
		case Segment:
			r.segment(w, t, ev, cur)
		}
	}
}

// header writes the two labels and the ISNs.
func (r *renderer) header(w *bufio.Writer) {
	inner := r.width - r.timeWidth - 2
	r.line(w, pad("ms", r.timeWidth, true), spread(r.left, r.right, inner))
	var isn [2]string
	for s := range 2 {
		switch {
		case r.baseIsISN[s]:
			isn[s] = "ISN " + strconv.FormatUint(uint64(r.base[s]), 10)
		case r.baseKnown[s]:
			isn[s] = "first seq " + strconv.FormatUint(uint64(r.base[s]), 10)
		}
	}
	if isn[0] != "" || isn[1] != "" {
		r.line(w, "", spread(isn[0], isn[1], inner))
	}
}

// line writes the time column and text, without trailing spaces.
func (r *renderer) line(w *bufio.Writer, t, text string) {
	s := strings.TrimRight(pad(t, r.timeWidth, true)+"  "+text, " ")
	if r.opts.Color {
		s = colorize(s)
	}
	w.WriteString(s)
	w.WriteByte('\n')
}

// ANSI colours.
const (
	ansiReset  = "\x1b[0m"
	ansiState  = "\x1b[1;36m" // bold cyan
	ansiNote   = "\x1b[33m"   // yellow
	ansiSevere = "\x1b[1;31m" // bold red
)

var stateNames = func() []string {
	var n []string
	for st := tcp.StateClosed; st <= tcp.StateTimeWait; st++ {
		n = append(n, st.String())
	}
	// Longest first, so that "CLOSE-WAIT" is not taken for "CLOSED".
	slices.SortFunc(n, func(a, b string) int { return len(b) - len(a) })
	return n
}()

// colorize adds colours to a finished line: states in cyan, bracketed
// notes in yellow, or red for resets and bad checksums.
func colorize(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] == '[' {
			if j := strings.IndexByte(s[i:], ']'); j > 0 {
				note := s[i : i+j+1]
				c := ansiNote
				if strings.Contains(note, "bad cksum") || strings.Contains(note, "refused") || strings.Contains(note, "reset") || strings.Contains(note, "abort") {
					c = ansiSevere
				}
				b.WriteString(c + note + ansiReset)
				i += j + 1
				continue
			}
		}
		matched := false
		if i == 0 || s[i-1] == ' ' {
			for _, n := range stateNames {
				if strings.HasPrefix(s[i:], n) {
					k := len(n)
					if strings.HasPrefix(s[i+k:], "?") {
						k++
					}
					b.WriteString(ansiState + s[i:i+k] + ansiReset)
					i += k
					matched = true
					break
				}
			}
		}
		if !matched {
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String()
}

// segment writes the arrow of one segment, on several lines if its text
// does not fit.
func (r *renderer) segment(w *bufio.Writer, t string, ev Event, cur [2]string) {
	main, opts := r.label(ev)
	room := r.arrowWidth - 5 // two lines before the text, two after, a head
	texts := []string{main}
	if opts != "" {
		texts[0] += " " + opts
	}
	if utf8.RuneCountInString(texts[0]) > room {
		// The options go on lines of their own, and any text still too
		// long is broken at commas or spaces.
		texts = wrap(main, room)
		if opts != "" {
			texts = append(texts, wrap(opts, room)...)
		}
	}

	head := r.g.right
	if ev.Side&1 == Right {
		head = r.g.left
	}
	if ev.Lost {
		head = r.g.lost
	}
	var arrow string
	fill := max(r.arrowWidth-3-utf8.RuneCountInString(texts[0]), 2)
	if ev.Side&1 == Left {
		arrow = r.g.line + r.g.line + texts[0] + strings.Repeat(r.g.line, fill) + head
	} else {
		arrow = head + r.g.line + texts[0] + strings.Repeat(r.g.line, fill+1)
	}
	r.line(w, t, pad(cur[0], stateWidth, false)+" "+arrow+" "+cur[1])
	for _, more := range texts[1:] {
		r.line(w, "", strings.Repeat(" ", stateWidth+1+2)+more)
	}
}

// label formats a segment as "S. seq 0 ack 1 win 65535 len 0" and its
// options as "<mss 1460,sackOK>".
func (r *renderer) label(ev Event) (main, opts string) {
	s, seg := ev.Side&1, ev.Seg
	var b strings.Builder
	b.WriteString(seg.Flags.String())
	b.WriteString(" seq ")
	b.WriteString(strconv.FormatUint(uint64(r.rel(s, seg.Seq)), 10))
	if seg.Flags&wire.FlagACK != 0 {
		b.WriteString(" ack ")
		b.WriteString(strconv.FormatUint(uint64(r.rel(s.Other(), seg.Ack)), 10))
	}
	b.WriteString(" win ")
	switch {
	case seg.WindowScale < 0:
		b.WriteString(strconv.FormatUint(uint64(seg.Window), 10))
		b.WriteString("×?") // the scale is unknown
	default:
		b.WriteString(strconv.FormatUint(uint64(seg.Window)<<min(seg.WindowScale, 14), 10))
	}
	b.WriteString(" len ")
	b.WriteString(strconv.Itoa(seg.Len))
	if seg.BadChecksum {
		b.WriteString(" [bad cksum]")
	}
	if seg.Note != "" {
		b.WriteString(" [" + seg.Note + "]")
	}
	for _, a := range seg.Anomalies.Words(seg.DupAck) {
		b.WriteString(" [" + a + "]")
	}
	o := seg.Options
	for i := range max(min(o.NumSACK, len(o.SACK)), 0) {
		// SACK blocks name the other side's sequence numbers.
		o.SACK[i].Start = r.rel(s.Other(), o.SACK[i].Start)
		o.SACK[i].End = r.rel(s.Other(), o.SACK[i].End)
	}
	if o := o.String(); o != "" {
		opts = "<" + o + ">"
	}
	return b.String(), opts
}

// rel makes a sequence number of side s relative to its base.
func (r *renderer) rel(s Side, n uint32) uint32 {
	if r.opts.Absolute || !r.baseKnown[s] {
		return n
	}
	return n - r.base[s]
}

// pad pads s with spaces to n columns, on the left when right is true.
func pad(s string, n int, right bool) string {
	k := n - utf8.RuneCountInString(s)
	if k <= 0 {
		return s
	}
	if right {
		return strings.Repeat(" ", k) + s
	}
	return s + strings.Repeat(" ", k)
}

// spread puts a at the left and b at the right of n columns.
func spread(a, b string, n int) string {
	gap := max(n-utf8.RuneCountInString(a)-utf8.RuneCountInString(b), 2)
	return a + strings.Repeat(" ", gap) + b
}

// wrap breaks s into lines of at most n columns where it can: after the
// last comma that fits, or failing that at the last space.
func wrap(s string, n int) []string {
	var lines []string
	for utf8.RuneCountInString(s) > n {
		comma, space, col, inNote := -1, -1, 0, false
		for i, c := range s {
			if col > n {
				break
			}
			switch c {
			case '[':
				inNote = true
			case ']':
				inNote = false
			case ',':
				if col < n && !inNote {
					comma = i + 1
				}
			case ' ':
				if !inNote { // a [note] stays on one line
					space = i
				}
			}
			col++
		}
		cut := comma
		if cut <= 0 {
			cut = space
		}
		if cut <= 0 {
			break
		}
		lines = append(lines, strings.TrimRight(s[:cut], " "))
		s = strings.TrimLeft(s[cut:], " ")
	}
	return append(lines, s)
}

// Label is the text of one event of a ladder as Render draws it, for
// other renderings (package report's SVG).
type Label struct {
	Time   string    // milliseconds from the first event
	Text   string    // a segment's label and options, or a state change
	States [2]string // both sides' states at the event
}

// Labels returns the label of each event of evs.
func Labels(evs []Event, opts Options) []Label {
	r := newRenderer("", "", evs, opts)
	var cur [2]string
	for _, ev := range evs {
		if ev.Kind == State && cur[ev.Side&1] == "" {
			cur[ev.Side&1] = ev.From.String()
			if ev.From == ev.To && ev.Guess {
				cur[ev.Side&1] += "?"
			}
		}
	}
	out := make([]Label, len(evs))
	for i, ev := range evs {
		l := Label{Time: r.timeLabel(i)}
		switch ev.Kind {
		case State:
			to := ev.To.String()
			if ev.Guess {
				to += "?"
			}
			l.Text = ev.From.String() + " → " + to
			if ev.From == ev.To {
				l.Text = to
			}
			cur[ev.Side&1] = to
		case Segment:
			main, o := r.label(ev)
			l.Text = main
			if o != "" {
				l.Text += " " + o
			}
		}
		l.States = cur
		out[i] = l
	}
	return out
}
