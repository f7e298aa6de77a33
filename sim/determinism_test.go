package sim

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/synack/synack/pcap"
)

// upload is what transfer sends.
var upload = bytes.Repeat([]byte("0123456789"), 10_000)

// transfer runs a 100 kB upload over a lossy network and returns the text
// of the trace, the capture and what the server read.
func transfer(t *testing.T, seed int64) (trace string, capture, got []byte) {
	t.Helper()
	n, cli, _, ln := pair(t, seed, WithLoss(0.05))
	var pc bytes.Buffer
	w, err := pcap.NewWriter(&pc)
	if err != nil {
		t.Fatal(err)
	}
	n.SetPcap(w)
	c, err := cli.Stack().Dial("tcp", "198.18.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(upload); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	got, err = io.ReadAll(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	n.Run()
	var b strings.Builder
	if err := n.WriteTrace(&b); err != nil {
		t.Fatal(err)
	}
	return b.String(), pc.Bytes(), got
}

// TestDeterminism runs the same lossy transfer twice from one seed and
// expects byte-identical traces and captures; another seed must differ.
func TestDeterminism(t *testing.T) {
	trace1, pcap1, _ := transfer(t, 42)
	trace2, pcap2, _ := transfer(t, 42)
	if trace1 != trace2 {
		t.Errorf("two runs from seed 42 differ:\n%s", firstDifference(trace1, trace2))
	}
	if !bytes.Equal(pcap1, pcap2) {
		t.Error("two runs from seed 42 wrote different captures")
	}
	if !strings.Contains(trace1, "dropped: lost") {
		t.Error("no packet was lost; the test does not exercise the seeded loss")
	}
	if os.Getenv(SeedEnv) != "" {
		return // $SYNACK_SEED makes every run use the same seed
	}
	trace3, _, _ := transfer(t, 43)
	if trace3 == trace1 {
		t.Error("seeds 42 and 43 gave the same trace")
	}
}

func firstDifference(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d:\n%s\n%s", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("one trace is longer (%d vs %d lines)", len(al), len(bl))
}

// TestLossyTransfer checks that 5% loss does not corrupt an upload.
func TestLossyTransfer(t *testing.T) {
	for _, seed := range []int64{42, 43} {
		_, _, got := transfer(t, seed)
		if !bytes.Equal(got, upload) {
			i := 0
			for i < min(len(got), len(upload)) && got[i] == upload[i] {
				i++
			}
			t.Errorf("seed %d: the server read %d bytes, not the %d sent; they differ from byte %d", seed, len(got), len(upload), i)
		}
	}
}
