package ladder

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

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
		}
	}
	for i, ev := range r.evs {
		t := r.timeLabel(i)
		switch ev.Kind {
		case State:
			text := ev.From.String() + r.g.to + ev.To.String()
			if ev.Side&1 == Left {
				r.line(w, t, text)
			} else {
				r.line(w, t, pad(text, r.width-r.timeWidth-2, true))
			}
			cur[ev.Side&1] = ev.To.String()
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
	s := pad(t, r.timeWidth, true) + "  " + text
	w.WriteString(strings.TrimRight(s, " "))
	w.WriteByte('\n')
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
	b.WriteString(strconv.FormatUint(uint64(seg.Window), 10))
	b.WriteString(" len ")
	b.WriteString(strconv.Itoa(seg.Len))
	if seg.BadChecksum {
		b.WriteString(" [bad cksum]")
	}
	if o := seg.Options.String(); o != "" {
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
		comma, space, col := -1, -1, 0
		for i, c := range s {
			if col > n {
				break
			}
			switch c {
			case ',':
				if col < n {
					comma = i + 1
				}
			case ' ':
				space = i
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
