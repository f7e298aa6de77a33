package main

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/synack/synack/link/impair"
)

// TestIntegrityMatrix moves 8 MiB byte-exact in virtual time under every
// combination of loss {0, 1%, 10%} × reorder {0, 5%} × duplication {0, 1%}
// × corruption {0, 0.1%} × cc {newreno, cubic} × SACK {on, off}, over a
// 10 ms RTT path impaired in both directions. Under the race detector,
// which slows the simulation about tenfold, each combination moves 1 MiB
// instead. With -v it logs each combination's virtual and wall time, and
// SYNACK_MATRIX=FILE writes them as a Markdown table.
func TestIntegrityMatrix(t *testing.T) {
	size := int64(8 << 20)
	if raceEnabled {
		size = 1 << 20
	}
	type row struct {
		name          string
		virtual, wall time.Duration
		retrans       int64
	}
	var (
		mu   sync.Mutex
		rows []row
	)
	for _, loss := range []float64{0, 0.01, 0.10} {
		for _, reorder := range []float64{0, 0.05} {
			for _, dup := range []float64{0, 0.01} {
				for _, corrupt := range []float64{0, 0.001} {
					for _, cc := range []string{"newreno", "cubic"} {
						for _, sack := range []bool{true, false} {
							o := transferOptions{
								bytes: size, seed: 1, cc: cc, sack: sack, stall: 10 * time.Minute, buffer: 1 << 20,
								path: impair.Config{Delay: 5 * time.Millisecond, Loss: loss, Reorder: reorder, Duplicate: dup, Corrupt: corrupt, MTU: 1500},
							}
							name := fmt.Sprintf("loss=%g%%/reorder=%g%%/dup=%g%%/corrupt=%g%%/%s/sack=%v", loss*100, reorder*100, dup*100, corrupt*100, cc, sack)
							t.Run(name, func(t *testing.T) {
								t.Parallel()
								start := time.Now()
								r, err := simTransfer(o)
								if err != nil {
									t.Fatal(err)
								}
								if !r.Intact || r.SentSHA256 != r.ReceivedSHA256 {
									t.Fatalf("data damaged: sent %s, received %s", r.SentSHA256, r.ReceivedSHA256)
								}
								if int64(r.Rejected) != int64(r.Net.Corrupted) {
									t.Errorf("%d packets corrupted, %d rejected by the stacks", r.Net.Corrupted, r.Rejected)
								}
								wall := time.Since(start)
								virtual := time.Duration(r.Seconds * float64(time.Second))
								t.Logf("virtual %v, wall %v, %d retransmits of %d segments", virtual.Round(time.Millisecond), wall.Round(time.Millisecond), r.Retransmits, r.Segments)
								mu.Lock()
								rows = append(rows, row{name, virtual, wall, r.Retransmits})
								mu.Unlock()
							})
						}
					}
				}
			}
		}
	}
	t.Cleanup(func() {
		file := os.Getenv("SYNACK_MATRIX")
		if file == "" {
			return
		}
		sort.Slice(rows, func(i, j int) bool { return rows[i].name < rows[j].name })
		var b strings.Builder
		fmt.Fprintf(&b, "| combination | virtual time | wall time | retransmits |\n|---|---:|---:|---:|\n")
		for _, r := range rows {
			fmt.Fprintf(&b, "| %s | %v | %v | %d |\n", r.name, r.virtual.Round(time.Millisecond), r.wall.Round(time.Millisecond), r.retrans)
		}
		if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
			t.Error(err)
		}
	})
}
