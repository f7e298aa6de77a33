package main

import (
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/synack/synack/link/impair"
)

// TestGoodputTable measures goodput on a 100 Mbit/s bottleneck whose
// queue holds one bandwidth-delay product, for loss {0, 0.1%, 1%, 5%, 10%}
// (on the data's direction only) at RTT {10, 50, 200} ms, next to the
// Mathis et al. model. It runs only when SYNACK_BENCHMARKS names the file
// to write (BENCHMARKS.md's table):
//
//	SYNACK_BENCHMARKS=/tmp/goodput.md go test ./cmd/synack -run GoodputTable -v -timeout 30m
func TestGoodputTable(t *testing.T) {
	file := os.Getenv("SYNACK_BENCHMARKS")
	if file == "" {
		t.Skip("set SYNACK_BENCHMARKS=FILE to measure")
	}
	const (
		linkRate = 100_000_000 // bits/s
		mss      = 1448        // payload bytes per segment with timestamps
		size     = 64 << 20
	)
	var b strings.Builder
	fmt.Fprintf(&b, "| RTT | loss | goodput | second half | of link | Mathis model | model ÷ link | retransmits | virtual time | wall time |\n")
	fmt.Fprintf(&b, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, rtt := range []time.Duration{10 * time.Millisecond, 50 * time.Millisecond, 200 * time.Millisecond} {
		for _, loss := range []float64{0, 0.001, 0.01, 0.05, 0.10} {
			path := impair.Config{Delay: rtt / 2, Loss: loss, Rate: linkRate, MTU: 1500}
			path.Queue = int(pathBDP(path))
			o := transferOptions{bytes: size, seed: 1, cc: "cubic", sack: true, stall: time.Hour,
				path: path, mtu: 1500, cleanReturn: true} // buffers auto-tuned
			start := time.Now()
			r, err := simTransfer(o)
			if err != nil {
				t.Fatalf("RTT %v loss %g: %v", rtt, loss, err)
			}
			if !r.Intact {
				t.Fatalf("RTT %v loss %g: data damaged", rtt, loss)
			}
			wall := time.Since(start)
			model := "∞"
			ratio := "—"
			if loss > 0 {
				m := mss * 8 / rtt.Seconds() * math.Sqrt(1.5) / math.Sqrt(loss)
				model = fmtRate(roundSig(m))
				ratio = fmt.Sprintf("%.0f%%", 100*math.Min(m, linkRate)/linkRate)
			}
			pct := 100 * r.Goodput * 8 / linkRate
			half := 100 * r.SecondHalfGoodput * 8 / linkRate
			fmt.Fprintf(&b, "| %v | %g%% | %s | %s | %.1f%% / %.1f%% | %s | %s | %d (%.2f%%) | %.1fs | %.1fs |\n",
				rtt, loss*100, fmtRate(roundSig(r.Goodput*8)), fmtRate(roundSig(r.SecondHalfGoodput*8)), pct, half,
				model, ratio, r.Retransmits, 100*float64(r.Retransmits)/float64(max(r.Segments, 1)), r.Seconds, wall.Seconds())
			t.Logf("RTT %v loss %g%%: %.1f%% of link (second half %.1f%%), %v wall", rtt, loss*100, pct, half, wall.Round(time.Millisecond))
			if loss == 0 && half < 90 {
				t.Errorf("RTT %v without loss: the second half ran at %.1f%% of the link rate, want ≥ 90%%", rtt, half)
			}
		}
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
