package main

import (
	"strings"
	"testing"

	"github.com/synack/synack/wire"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1GiB": 1 << 30, "64MiB": 64 << 20, "512KiB": 512 << 10, "100B": 100, "4096": 4096} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "GiB", "-1MiB", "0", "1TB", "one"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d; want an error", in, got)
		}
	}
}

func TestSummarize(t *testing.T) {
	s := summarize([]float64{5, 1, 3})
	if s.Median != 3 || s.Min != 1 || s.Max != 5 || len(s.Samples) != 3 || s.Samples[0] != 5 {
		t.Errorf("odd: %+v; want median 3, min 1, max 5, samples in measured order", s)
	}
	if s := summarize([]float64{4, 1, 2, 10}); s.Median != 3 || s.Min != 1 || s.Max != 10 {
		t.Errorf("even: %+v; want median 3 (mean of the middle two), min 1, max 10", s)
	}
	if summarize(nil) != nil {
		t.Error("no samples: want nil")
	}
}

func TestFormat(t *testing.T) {
	for v, want := range map[float64]string{0.7512: "0.75", 3.634: "3.63", 62.43: "62.4", 141.2: "141", 9709: "9709",
		15634: "15.6k", 201234: "201k", 1054000: "1.05M"} {
		if got := format(v); got != want {
			t.Errorf("format(%v) = %q; want %q", v, got, want)
		}
	}
	if got := cell(summarize([]float64{1.36, 0.71, 1.95})); got != "1.36 (0.71–1.95)" {
		t.Errorf("cell = %q", got)
	}
	if got := cell(nil); got != "–" {
		t.Errorf("cell(nil) = %q", got)
	}
}

func TestParseMBps(t *testing.T) {
	out := `goos: linux
BenchmarkTUN/offload/kernel-to-synack-2         	     100	  10000000 ns/op	 255.00 MB/s	         2.000 retrans
BenchmarkTUN/offload/synack-to-kernel-2         	     100	  10000000 ns/op	 346.50 MB/s	       0 B/op
BenchmarkVeth/a-to-b                    	     100	  10000000 ns/op	1824 MB/s
BenchmarkOther-2 1 100 ns/op
PASS`
	got := parseMBps(strings.NewReader(out))
	want := map[string]float64{"BenchmarkTUN/offload/kernel-to-synack": 255, "BenchmarkTUN/offload/synack-to-kernel": 346.5, "BenchmarkVeth/a-to-b": 1824}
	if len(got) != len(want) {
		t.Fatalf("got %v; want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %v; want %v", k, got[k], v)
		}
	}
}

// floodSYNs builds valid, distinct SYNs that synack's parser accepts.
func TestFloodSYNs(t *testing.T) {
	pkts := floodSYNs(1000)
	seen := map[string]bool{}
	for _, p := range pkts {
		if len(p) != 20+20+20 { // IPv4, TCP, MSS+SACK-permitted+timestamps+window scale (padded)
			t.Fatalf("SYN of %d bytes; want 60", len(p))
		}
		ip, h, payload, err := wire.ParseTCPPacket(p)
		if err != nil || h.Flags != wire.FlagSYN || len(payload) != 0 || ip.Dst != serverIP || h.DstPort != serverPort {
			t.Fatalf("SYN %x: %v, flags %v, %d bytes of payload, to %v:%d", p, err, h.Flags, len(payload), ip.Dst, h.DstPort)
		}
		key := string(p[12:16]) + string(p[20:22])
		if seen[key] {
			t.Fatalf("source %v port %v twice", p[12:16], p[20:22])
		}
		seen[key] = true
	}
}
