package report

import (
	"fmt"
	"html"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/synack/synack/analysis"
	"github.com/synack/synack/ladder"
	"github.com/synack/synack/wire"
)

// svgBuf accumulates an SVG document.
type svgBuf struct{ strings.Builder }

func (b *svgBuf) f(format string, args ...any) { fmt.Fprintf(b, format, args...) }

func esc(s string) string { return html.EscapeString(s) }

func num(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// Colours of the graphs (tcptrace's, more or less).
const (
	colData    = "#1f3f9f" // data segments
	colRetx    = "#d62728" // retransmissions
	colAck     = "#2ca02c" // the ACK line
	colWindow  = "#bcbd22" // the receive-window line
	colSACK    = "#9467bd" // SACK blocks
	colState   = "#17607a"
	colAnomaly = "#c05000"
	colGrid    = "#e4e4e4"
)

func open(b *svgBuf, w, h int, title string) {
	b.f(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">`, w, h, w, h)
	b.f(`<title>%s</title>`, esc(title))
	b.f(`<rect width="%d" height="%d" fill="#ffffff"/>`, w, h)
}

// ladderRow is the height of one event of a ladder SVG.
const ladderRow = 26

// LadderSVG draws the ladder of one conversation: the two ends as
// vertical lines with their states beside them, each segment an arrow
// between them labelled as in the terminal ladder, anomalies in orange.
func LadderSVG(w io.Writer, c *analysis.Conversation, o ladder.Options) error {
	var b svgBuf
	ladderSVG(&b, c, o, 0)
	_, err := io.WriteString(w, b.String())
	return err
}

// LaddersSVG draws the ladders of every conversation of the captures, one
// under the other, in one SVG document.
func LaddersSVG(w io.Writer, caps []Capture, o ladder.Options) error {
	var parts []string
	height := 0
	for _, cp := range caps {
		for i := range cp.Conversations {
			var b svgBuf
			h := ladderSVG(&b, &cp.Conversations[i], o, height)
			parts = append(parts, b.String())
			height += h + 10
		}
	}
	var b svgBuf
	open(&b, ladderWidth, max(height, 40), "synack ladders")
	if len(parts) == 0 {
		b.f(`<text x="20" y="25">no TCP conversations</text>`)
	}
	for _, p := range parts {
		b.WriteString(p)
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

const ladderWidth = 1000

// ladderSVG writes a ladder as a nested <svg> at y; it returns its height.
func ladderSVG(b *svgBuf, c *analysis.Conversation, o ladder.Options, y int) int {
	labels := ladder.Labels(c.Events, o)
	const (
		timeX  = 45
		leftX  = 240
		rightX = 770
		top    = 70
	)
	h := top + ladderRow*len(c.Events) + 30
	b.f(`<svg x="0" y="%d" width="%d" height="%d">`, y, ladderWidth, h)
	b.f(`<rect width="%d" height="%d" fill="#ffffff"/>`, ladderWidth, h)
	b.f(`<text x="10" y="20" font-size="14" font-weight="bold">stream %d: %s ⇄ %s</text>`, c.Stream, esc(c.Left.String()), esc(c.Right.String()))
	b.f(`<text x="10" y="38" fill="#555">seen %s; ended: %s</text>`, esc(c.Vantage), esc(c.Ended))
	b.f(`<text x="%d" y="60" text-anchor="middle" font-weight="bold">%s</text>`, leftX, esc(c.Left.String()))
	b.f(`<text x="%d" y="60" text-anchor="middle" font-weight="bold">%s</text>`, rightX, esc(c.Right.String()))
	b.f(`<text x="%d" y="60" text-anchor="end" fill="#555">ms</text>`, timeX)
	bottom := top + ladderRow*len(c.Events)
	b.f(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#444" stroke-width="2"/>`, leftX, top, leftX, bottom)
	b.f(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#444" stroke-width="2"/>`, rightX, top, rightX, bottom)
	b.f(`<defs><marker id="ah%d" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#333"/></marker></defs>`, c.Stream)
	for i, ev := range c.Events {
		yy := top + ladderRow*i + ladderRow/2
		b.f(`<text x="%d" y="%d" text-anchor="end" fill="#777" font-size="10">%s</text>`, timeX, yy+4, esc(labels[i].Time))
		switch ev.Kind {
		case ladder.State:
			x, anchor := leftX-8, "end"
			if ev.Side == ladder.Right {
				x, anchor = rightX+8, "start"
			}
			b.f(`<text x="%d" y="%d" text-anchor="%s" fill="%s" font-weight="bold" font-size="11">%s</text>`, x, yy+4, anchor, colState, esc(labels[i].Text))
		case ladder.Segment:
			x1, x2 := leftX, rightX
			if ev.Side == ladder.Right {
				x1, x2 = rightX, leftX
			}
			col := "#333"
			if ev.Seg.Flags&wire.FlagRST != 0 || ev.Seg.Anomalies&(ladder.Retransmission|ladder.FastRetransmission|ladder.SpuriousRetransmission) != 0 {
				col = colRetx
			}
			dash := ""
			if ev.Lost {
				dash = ` stroke-dasharray="6,4"`
			}
			b.f(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="1.5" marker-end="url(#ah%d)"%s><title>%s</title></line>`,
				x1, yy-6, x2, yy+8, col, c.Stream, dash, esc(labels[i].Text))
			// Timestamps only in the tooltip.
			text := strings.Replace(tsOption.ReplaceAllString(labels[i].Text, ""), " <>", "", 1)
			main, notes := splitNotes(text)
			b.f(`<text x="%d" y="%d" text-anchor="middle" font-size="11" paint-order="stroke" stroke="#fff" stroke-width="3">%s`, (leftX+rightX)/2, yy-2, esc(main))
			if notes != "" {
				b.f(`<tspan fill="%s" font-weight="bold"> %s</tspan>`, colAnomaly, esc(notes))
			}
			b.f(`</text>`)
			// The states of both ends beside the arrow, faint.
			b.f(`<text x="%d" y="%d" text-anchor="end" fill="#8aa" font-size="10">%s</text>`, leftX-8, yy+4, esc(labels[i].States[0]))
			b.f(`<text x="%d" y="%d" fill="#8aa" font-size="10">%s</text>`, rightX+8, yy+4, esc(labels[i].States[1]))
		}
	}
	b.WriteString("</svg>")
	return h
}

// tsOption matches the timestamps option in a segment's label.
var tsOption = regexp.MustCompile(`,?TS val \d+ ecr \d+,?`)

// splitNotes separates "[...]" notes from a segment's label.
func splitNotes(s string) (main, notes string) {
	i := strings.Index(s, " [")
	if i < 0 {
		return s, ""
	}
	j := strings.LastIndex(s, "]")
	if j < i {
		return s, ""
	}
	return s[:i] + s[j+1:], s[i+1 : j+1]
}

// chart is the frame of an x–y graph with linear axes.
type chart struct {
	b                     *svgBuf
	w, h                  int
	left, right, top, bot int
	x0, x1, y0, y1        float64
}

func newChart(b *svgBuf, w, h int, title, xlabel, ylabel string, x0, x1, y0, y1 float64) *chart {
	if x1 <= x0 {
		x1 = x0 + 1
	}
	if y1 <= y0 {
		y1 = y0 + 1
	}
	c := &chart{b: b, w: w, h: h, left: 80, right: w - 20, top: 40, bot: h - 45, x0: x0, x1: x1, y0: y0, y1: y1}
	open(b, w, h, title)
	b.f(`<text x="%d" y="22" font-size="14" font-weight="bold">%s</text>`, c.left, esc(title))
	for _, t := range ticks(x0, x1, 8) {
		x := c.x(t)
		b.f(`<line x1="%s" y1="%d" x2="%s" y2="%d" stroke="%s"/>`, num(x), c.top, num(x), c.bot, colGrid)
		b.f(`<text x="%s" y="%d" text-anchor="middle" font-size="11">%s</text>`, num(x), c.bot+15, tickLabel(t))
	}
	for _, t := range ticks(y0, y1, 6) {
		if ylabel == "" {
			break // a band, not a scale
		}
		y := c.y(t)
		b.f(`<line x1="%d" y1="%s" x2="%d" y2="%s" stroke="%s"/>`, c.left, num(y), c.right, num(y), colGrid)
		b.f(`<text x="%d" y="%s" text-anchor="end" font-size="11">%s</text>`, c.left-5, num(y+4), tickLabel(t))
	}
	b.f(`<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#888"/>`, c.left, c.top, c.right-c.left, c.bot-c.top)
	b.f(`<text x="%d" y="%d" text-anchor="middle">%s</text>`, (c.left+c.right)/2, h-10, esc(xlabel))
	b.f(`<text x="16" y="%d" text-anchor="middle" transform="rotate(-90 16 %d)">%s</text>`, (c.top+c.bot)/2, (c.top+c.bot)/2, esc(ylabel))
	return c
}

func (c *chart) x(v float64) float64 {
	return float64(c.left) + (v-c.x0)/(c.x1-c.x0)*float64(c.right-c.left)
}

func (c *chart) y(v float64) float64 {
	return float64(c.bot) - (v-c.y0)/(c.y1-c.y0)*float64(c.bot-c.top)
}

// legend writes a row of coloured names above the plot.
func (c *chart) legend(items ...[2]string) {
	x := c.right
	for i := len(items) - 1; i >= 0; i-- {
		name, col := items[i][0], items[i][1]
		x -= 12 + 7*len(name)
		c.b.f(`<rect x="%d" y="14" width="10" height="10" fill="%s"/><text x="%d" y="23" font-size="11">%s</text>`, x, col, x+13, esc(name))
		x -= 10
	}
}

func (c *chart) end() { c.b.WriteString("</svg>\n") }

// ticks returns about n round values from lo to hi.
func ticks(lo, hi float64, n int) []float64 {
	span := hi - lo
	step := math.Pow(10, math.Floor(math.Log10(span/float64(n))))
	for _, m := range []float64{1, 2, 5, 10} {
		if span/(step*m) <= float64(n) {
			step *= m
			break
		}
	}
	var out []float64
	for t := math.Ceil(lo/step) * step; t <= hi+step*1e-9; t += step {
		out = append(out, t)
	}
	return out
}

func tickLabel(v float64) string {
	if math.Abs(v) < 1e-9 {
		return "0"
	}
	switch a := math.Abs(v); {
	case a >= 1e9:
		return strconv.FormatFloat(v/1e9, 'g', 4, 64) + "G"
	case a >= 1e6:
		return strconv.FormatFloat(v/1e6, 'g', 4, 64) + "M"
	case a >= 1e4:
		return strconv.FormatFloat(v/1e3, 'g', 4, 64) + "k"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// Series is one line of a graph.
type Series struct {
	Name  string
	Color string
	X, Y  []float64
	Step  bool // draw as a staircase (a value holds until the next)
	Dots  bool // draw points, not a line
}

// LineChart draws series against a common x axis.
func LineChart(w io.Writer, title, xlabel, ylabel string, series []Series) error {
	var b svgBuf
	lineChart(&b, title, xlabel, ylabel, series)
	_, err := io.WriteString(w, b.String())
	return err
}

func lineChart(b *svgBuf, title, xlabel, ylabel string, series []Series) {
	x0, x1, y1 := math.Inf(1), math.Inf(-1), 0.0
	for _, s := range series {
		for i := range s.X {
			x0, x1 = min(x0, s.X[i]), max(x1, s.X[i])
			y1 = max(y1, s.Y[i])
		}
	}
	if math.IsInf(x0, 0) {
		x0, x1 = 0, 1
	}
	c := newChart(b, 900, 320, title, xlabel, ylabel, x0, x1, 0, y1*1.05)
	var items [][2]string
	for _, s := range series {
		items = append(items, [2]string{s.Name, s.Color})
		if s.Dots {
			for i := range s.X {
				b.f(`<circle cx="%s" cy="%s" r="2.5" fill="%s"/>`, num(c.x(s.X[i])), num(c.y(s.Y[i])), s.Color)
			}
			continue
		}
		var p strings.Builder
		for i := range s.X {
			cmd := "L"
			if i == 0 {
				cmd = "M"
			}
			if s.Step && i > 0 {
				fmt.Fprintf(&p, "L%s,%s ", num(c.x(s.X[i])), num(c.y(s.Y[i-1])))
			}
			fmt.Fprintf(&p, "%s%s,%s ", cmd, num(c.x(s.X[i])), num(c.y(s.Y[i])))
		}
		if p.Len() > 0 {
			b.f(`<path d="%s" fill="none" stroke="%s" stroke-width="1.5"/>`, strings.TrimSpace(p.String()), s.Color)
		}
	}
	if len(items) == 0 || noPoints(series) {
		b.f(`<text x="%d" y="%d" text-anchor="middle" fill="#777">no samples</text>`, (c.left+c.right)/2, (c.top+c.bot)/2)
	}
	c.legend(items...)
	c.end()
}

func noPoints(series []Series) bool {
	for _, s := range series {
		if len(s.X) > 0 {
			return false
		}
	}
	return true
}

// TimeSequenceSVG draws the time-sequence graph (tcptrace's, after
// Stevens) of the data side s of c sent: each segment a vertical bar from
// its first to its last sequence number at the time it passed,
// retransmissions in red; the other side's ACK line in green and its
// advertised window's right edge in yellow; SACK blocks in purple.
func TimeSequenceSVG(w io.Writer, c *analysis.Conversation, s ladder.Side) error {
	var b svgBuf
	timeSequence(&b, c, s)
	_, err := io.WriteString(w, b.String())
	return err
}

func timeSequence(b *svgBuf, c *analysis.Conversation, s ladder.Side) {
	start := c.Start()
	var base uint32
	baseSet := false
	for _, sg := range c.Segments {
		if sg.Side == s {
			base = sg.Seg.Seq
			if sg.Seg.Flags&wire.FlagSYN != 0 {
				base++
			}
			baseSet = true
			break
		}
	}
	rel := func(v uint32) float64 { return float64(int32(v - base)) }
	sec := func(t time.Time) float64 { return t.Sub(start).Seconds() }
	ymax, ymin := 1.0, 0.0
	for _, sg := range c.Segments {
		if sg.Side == s {
			ymax = max(ymax, rel(sg.Seg.Seq)+float64(sg.Seg.Len))
			ymin = min(ymin, rel(sg.Seg.Seq))
		} else if sg.Seg.Flags&wire.FlagACK != 0 && baseSet {
			win := float64(max(sg.Window, 0))
			ymax = max(ymax, rel(sg.Seg.Ack)+win)
		}
	}
	names := [2]string{c.Left.String(), c.Right.String()}
	title := fmt.Sprintf("time-sequence: %s → %s", names[s], names[s.Other()])
	ch := newChart(b, 900, 420, title, "time (s)", "relative sequence number (bytes)", 0, max(sec(c.End()), 1e-6), min(ymin, 0), ymax*1.03)
	ch.legend([2]string{"data", colData}, [2]string{"retransmission", colRetx}, [2]string{"ACK", colAck}, [2]string{"window", colWindow}, [2]string{"SACK", colSACK})
	var ack, win, data strings.Builder
	for _, sg := range c.Segments {
		x := ch.x(sec(sg.Time))
		if sg.Side == s {
			if sg.Seg.Len == 0 {
				continue
			}
			col := colData
			if sg.Seg.Anomalies&(ladder.Retransmission|ladder.FastRetransmission|ladder.SpuriousRetransmission) != 0 {
				col = colRetx
			}
			y0, y1 := ch.y(rel(sg.Seg.Seq)), ch.y(rel(sg.Seg.Seq)+float64(sg.Seg.Len))
			fmt.Fprintf(&data, `<path d="M%s,%s V%s M%s,%s h4 M%s,%s h4" stroke="%s" stroke-width="1.3"/>`,
				num(x), num(y0), num(y1), num(x-2), num(y0), num(x-2), num(y1), col)
			continue
		}
		if sg.Seg.Flags&wire.FlagACK == 0 || !baseSet {
			continue
		}
		ya := ch.y(rel(sg.Seg.Ack))
		if ack.Len() == 0 {
			fmt.Fprintf(&ack, "M%s,%s", num(x), num(ya))
		} else {
			fmt.Fprintf(&ack, " H%s V%s", num(x), num(ya))
		}
		if sg.Window >= 0 {
			yw := ch.y(rel(sg.Seg.Ack) + float64(sg.Window))
			if win.Len() == 0 {
				fmt.Fprintf(&win, "M%s,%s", num(x), num(yw))
			} else {
				fmt.Fprintf(&win, " H%s V%s", num(x), num(yw))
			}
		}
		o := sg.Seg.Options
		for i := range max(min(o.NumSACK, len(o.SACK)), 0) {
			b.f(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="2" stroke-opacity="0.7"/>`,
				num(x+3), num(ch.y(rel(o.SACK[i].Start))), num(x+3), num(ch.y(rel(o.SACK[i].End))), colSACK)
		}
	}
	if ack.Len() > 0 {
		b.f(`<path d="%s" fill="none" stroke="%s" stroke-width="1.3"/>`, ack.String(), colAck)
	}
	if win.Len() > 0 {
		b.f(`<path d="%s" fill="none" stroke="%s" stroke-width="1.3"/>`, win.String(), colWindow)
	}
	b.WriteString(data.String())
	ch.end()
}

// throughput returns the goodput of side s (bytes acknowledged by the
// other side) in Mbit/s over bins of the conversation's duration.
func throughput(c *analysis.Conversation, s ladder.Side) Series {
	start, dur := c.Start(), c.End().Sub(c.Start())
	const bins = 40
	ser := Series{Name: c.Left.String() + " → " + c.Right.String(), Color: colData}
	if s == ladder.Right {
		ser = Series{Name: c.Right.String() + " → " + c.Left.String(), Color: colAck}
	}
	if dur <= 0 {
		return ser
	}
	width := dur / bins
	if width <= 0 {
		return ser
	}
	acked := make([]float64, bins+1)
	var last uint32
	known := false
	for _, sg := range c.Segments {
		if sg.Side == s || sg.Seg.Flags&wire.FlagACK == 0 {
			continue
		}
		if known && int32(sg.Seg.Ack-last) > 0 {
			i := min(max(int(sg.Time.Sub(start)/width), 0), bins)
			acked[i] += float64(sg.Seg.Ack - last)
		}
		if !known || int32(sg.Seg.Ack-last) > 0 {
			last, known = sg.Seg.Ack, true
		}
	}
	for i, v := range acked {
		ser.X = append(ser.X, (time.Duration(i)*width + width/2).Seconds())
		ser.Y = append(ser.Y, v*8/width.Seconds()/1e6)
	}
	return ser
}

// rttSeries returns the RTT samples of the data side s sent, in ms.
func rttSeries(c *analysis.Conversation, s ladder.Side) Series {
	ser := Series{Name: "RTT of data from " + c.Left.String(), Color: colData, Dots: true}
	if s == ladder.Right {
		ser = Series{Name: "RTT of data from " + c.Right.String(), Color: colRetx, Dots: true}
	}
	for _, r := range c.RTT {
		if r.Side == s {
			ser.X = append(ser.X, r.Time.Sub(c.Start()).Seconds())
			ser.Y = append(ser.Y, float64(r.RTT)/1e6)
		}
	}
	return ser
}
