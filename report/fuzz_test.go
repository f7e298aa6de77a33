package report

import (
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/synack/synack/analysis"
	"github.com/synack/synack/ladder"
)

// FuzzReport runs any bytes through the whole path of synack ladder
// --html --svg: read as a capture, analyse, draw. Nothing may panic.
func FuzzReport(f *testing.F) {
	for _, name := range []string{"refused.pcapng", "halfclose-lo.pcap", "reuse-veth.pcapng"} {
		b, err := os.ReadFile(captureFile(name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pkts, _ := analysis.Read(bytes.NewReader(b))
		convs, _ := analysis.Analyze(pkts)
		caps := []Capture{{Name: "fuzz", Conversations: convs}}
		if err := HTML(io.Discard, Report{Title: "fuzz", Captures: caps}, ladder.Options{}); err != nil {
			t.Fatal(err)
		}
		if err := LaddersSVG(io.Discard, caps, ladder.Options{}); err != nil {
			t.Fatal(err)
		}
		for i := range convs {
			_ = SummaryLine(&convs[i])
		}
	})
}
