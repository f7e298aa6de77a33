package sim

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// SeedEnv names the environment variable that overrides the seed ForTest
// is given, to replay a failed run.
const SeedEnv = "SYNACK_SEED"

// ForTest returns a Network for a test. The seed is overridden by
// $SYNACK_SEED when set. When the test fails, the seed and the ladder of
// every pair of hosts that exchanged packets are logged; a runaway run
// fails the test.
func ForTest(t testing.TB, seed int64, opts ...Option) *Network {
	t.Helper()
	if s := os.Getenv(SeedEnv); s != "" {
		v, err := strconv.ParseInt(s, 0, 64)
		if err != nil {
			t.Fatalf("sim: $%s=%q: %v", SeedEnv, s, err)
		}
		seed = v
	}
	n := New(seed, opts...)
	t.Cleanup(func() {
		if err := n.Err(); err != nil {
			t.Errorf("sim: %v", err)
		}
		if !t.Failed() {
			return
		}
		t.Logf("sim: seed %d (replay with %s=%d); ladders at %v:\n%s", n.seed, SeedEnv, n.seed, n.Elapsed(), n.AllLadders())
	})
	return n
}

// AllLadders draws the ladders of every pair of hosts that exchanged
// packets, and of packets sent to addresses no host owns.
func (n *Network) AllLadders() string {
	type pair struct{ a, b *Host }
	var pairs []pair
	seen := map[pair]bool{}
	for _, r := range n.Trace() {
		if r.Kind != RecordPacket {
			continue
		}
		p := pair{r.Host, r.Packet.To}
		if seen[p] || seen[pair{p.b, p.a}] {
			continue
		}
		seen[p] = true
		pairs = append(pairs, p)
	}
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteString("\n")
		}
		if err := n.Ladder(&b, p.a, p.b); err != nil {
			b.WriteString(err.Error())
		}
	}
	return b.String()
}
