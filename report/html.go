package report

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/synack/synack/analysis"
	"github.com/synack/synack/ladder"
)

// Report is what HTML draws: the conversations of captures, and the
// engine's own view of synack's connections.
type Report struct {
	Title    string
	Notes    []string // lines about the run, printed under the title
	Captures []Capture
	Engine   []EngineTrace
}

// EngineTrace is what synack's TCP engine reported of one connection over
// time (tcp.Info samples and state changes).
type EngineTrace struct {
	Name    string
	Samples []EngineSample
}

// EngineSample is one sample of a connection's engine state.
type EngineSample struct {
	Time        time.Duration // since the start
	State       string
	Cwnd        int // bytes
	Ssthresh    int // bytes; negative or huge while unset
	SRTT, RTO   time.Duration
	Retransmits int // total retransmitted segments so far
}

// MaxLadderEvents is the most events of a conversation HTML draws as a
// ladder; longer ones get only the graphs.
const MaxLadderEvents = 1500

const css = `body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1000px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ccc}h3{font-size:15px}
.graph{margin:12px 0;overflow-x:auto}pre{font-size:12px;background:#f6f6f6;padding:8px;overflow-x:auto}
.note{color:#555}.sum{font-family:DejaVu Sans Mono,monospace;font-size:12px}`

// HTML writes one self-contained page: inline SVG and CSS, no scripts
// and nothing fetched from anywhere, so a browser opens it from disk.
func HTML(w io.Writer, r Report, o ladder.Options) error {
	var b svgBuf
	b.f("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>%s</title><style>%s</style></head><body>\n", esc(r.Title), css)
	b.f("<h1>%s</h1>\n", esc(r.Title))
	for _, n := range r.Notes {
		b.f("<p class=\"note\">%s</p>\n", esc(n))
	}
	for _, e := range r.Engine {
		engineSection(&b, &e)
	}
	for _, cp := range r.Captures {
		b.f("<h2>%s</h2>\n", esc(cp.Name))
		if len(cp.Conversations) == 0 {
			b.f("<p>no TCP conversations</p>\n")
		}
		for i := range cp.Conversations {
			conversationSection(&b, &cp.Conversations[i], o)
		}
	}
	b.f("</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func conversationSection(b *svgBuf, c *analysis.Conversation, o ladder.Options) {
	b.f("<h3>stream %d: %s ⇄ %s</h3>\n", c.Stream, esc(c.Left.String()), esc(c.Right.String()))
	b.f("<p class=\"sum\">%s</p>\n", esc(SummaryLine(c)))
	for _, l := range Heading(c, 0)[1:] {
		b.f("<p class=\"note\">%s</p>\n", esc(l))
	}
	drawLadder := len(c.Events) <= MaxLadderEvents
	if drawLadder {
		b.f("<div class=\"graph\">")
		var lb svgBuf
		h := ladderSVG(&lb, c, o, 0)
		open(b, ladderWidth, h, fmt.Sprintf("ladder of stream %d", c.Stream))
		b.WriteString(lb.String())
		b.f("</svg></div>\n")
	} else {
		b.f("<p class=\"note\">The ladder of its %d events is left out (more than %d); the graphs below show them all.</p>\n", len(c.Events), MaxLadderEvents)
	}
	for _, s := range []ladder.Side{ladder.Left, ladder.Right} {
		if c.Bytes[s] == 0 {
			continue
		}
		b.f("<div class=\"graph\">")
		timeSequence(b, c, s)
		b.f("</div>\n")
	}
	if c.Bytes[0]+c.Bytes[1] > 0 {
		b.f("<div class=\"graph\">")
		lineChart(b, "throughput (bytes acknowledged)", "time (s)", "Mbit/s", []Series{throughput(c, ladder.Left), throughput(c, ladder.Right)})
		b.f("</div>\n")
	}
	if len(c.RTT) > 0 {
		b.f("<div class=\"graph\">")
		lineChart(b, "round-trip time (data to its first ACK, Karn's rule)", "time (s)", "ms", []Series{rttSeries(c, ladder.Left), rttSeries(c, ladder.Right)})
		b.f("</div>\n")
	}
	var text strings.Builder
	o.Color = false
	if !drawLadder {
		return
	}
	if err := ladder.Render(&text, c.Left.String(), c.Right.String(), c.Events, o); err == nil {
		b.f("<details><summary>ladder as text</summary><pre>%s</pre></details>\n", esc(text.String()))
	}
}

func engineSection(b *svgBuf, e *EngineTrace) {
	b.f("<h2>%s</h2>\n", esc(e.Name))
	if len(e.Samples) == 0 {
		b.f("<p>no samples</p>\n")
		return
	}
	cw := Series{Name: "cwnd", Color: colData, Step: true}
	ss := Series{Name: "ssthresh", Color: colRetx, Step: true}
	srtt := Series{Name: "SRTT", Color: colAck, Step: true}
	rto := Series{Name: "RTO", Color: colWindow, Step: true}
	retx := Series{Name: "retransmitted segments", Color: colRetx, Step: true}
	maxCwnd := 0
	for _, s := range e.Samples {
		maxCwnd = max(maxCwnd, s.Cwnd)
	}
	for _, s := range e.Samples {
		x := s.Time.Seconds()
		cw.X, cw.Y = append(cw.X, x), append(cw.Y, float64(s.Cwnd)/1024)
		if s.Ssthresh > 0 && s.Ssthresh <= 4*maxCwnd {
			ss.X, ss.Y = append(ss.X, x), append(ss.Y, float64(s.Ssthresh)/1024)
		}
		srtt.X, srtt.Y = append(srtt.X, x), append(srtt.Y, float64(s.SRTT)/1e6)
		rto.X, rto.Y = append(rto.X, x), append(rto.Y, float64(s.RTO)/1e6)
		retx.X, retx.Y = append(retx.X, x), append(retx.Y, float64(s.Retransmits))
	}
	b.f("<div class=\"graph\">")
	lineChart(b, "congestion window and slow-start threshold", "time (s)", "KiB", []Series{cw, ss})
	b.f("</div>\n<div class=\"graph\">")
	lineChart(b, "smoothed RTT and retransmission timeout", "time (s)", "ms", []Series{srtt, rto})
	b.f("</div>\n<div class=\"graph\">")
	lineChart(b, "retransmissions", "time (s)", "segments", []Series{retx})
	b.f("</div>\n<div class=\"graph\">")
	stateBand(b, e)
	b.f("</div>\n")
}

// stateBand draws the states of a connection over time as a band of
// coloured spans.
func stateBand(b *svgBuf, e *EngineTrace) {
	end := e.Samples[len(e.Samples)-1].Time.Seconds()
	c := newChart(b, 900, 130, "state", "time (s)", "", 0, max(end, 1e-6), 0, 1)
	colours := map[string]string{"SYN-SENT": "#aec7e8", "SYN-RECEIVED": "#aec7e8", "ESTABLISHED": "#98df8a",
		"FIN-WAIT-1": "#ffbb78", "FIN-WAIT-2": "#ffbb78", "CLOSE-WAIT": "#ffbb78", "CLOSING": "#ffbb78",
		"LAST-ACK": "#ff9896", "TIME-WAIT": "#c5b0d5", "CLOSED": "#dddddd", "LISTEN": "#dddddd"}
	for i := 0; i < len(e.Samples); {
		j := i
		for j+1 < len(e.Samples) && e.Samples[j+1].State == e.Samples[i].State {
			j++
		}
		x0 := c.x(e.Samples[i].Time.Seconds())
		x1 := c.x(end)
		if j+1 < len(e.Samples) {
			x1 = c.x(e.Samples[j+1].Time.Seconds())
		}
		col := colours[e.Samples[i].State]
		if col == "" {
			col = "#eeeeee"
		}
		b.f(`<rect x="%s" y="%d" width="%s" height="%d" fill="%s"><title>%s</title></rect>`, num(x0), c.top, num(max(x1-x0, 1)), c.bot-c.top, col, esc(e.Samples[i].State))
		if x1-x0 > 60 {
			b.f(`<text x="%s" y="%d" text-anchor="middle" font-size="11">%s</text>`, num((x0+x1)/2), (c.top+c.bot)/2+4, esc(e.Samples[i].State))
		}
		i = j + 1
	}
	c.end()
}
