package main

import (
	"testing"
	"time"

	"github.com/synack/synack/link/impair"
)

// BenchmarkTransfer moves 100 MiB over a 100 ms path in virtual time; the
// wall time it takes is the simulator's cost. Profile with
// go test ./cmd/synack -run '^$' -bench Transfer -benchtime 1x -cpuprofile cpu.out
func BenchmarkTransfer(b *testing.B) {
	o := transferOptions{bytes: 100 << 20, seed: 1, cc: "cubic", sack: true, stall: time.Minute,
		path: impair.Config{Delay: 50 * time.Millisecond}, buffer: 4 << 20}
	b.SetBytes(o.bytes)
	for b.Loop() {
		r, err := simTransfer(o)
		if err != nil || !r.Intact {
			b.Fatalf("%v, intact %v", err, r != nil && r.Intact)
		}
	}
}
