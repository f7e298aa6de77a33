package pkt

import (
	"path/filepath"
	"testing"
)

// suiteFiles lists our own scripts.
func suiteFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "suite", "*", "*.pkt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no scripts in testdata/suite")
	}
	return files
}

// TestSuite runs every script of our suite; each must pass (a SKIP is a
// failure here: our own scripts use only what the runner honours).
func TestSuite(t *testing.T) {
	for _, f := range suiteFiles(t) {
		t.Run(f[len("testdata/suite/"):], func(t *testing.T) {
			res := RunFile(f, Config{})
			if res.Status != Pass {
				t.Errorf("%s", res)
			}
		})
	}
}

// mutate returns a copy of s with its i-th event, an outbound packet,
// changed: its ack number when it has one, else its flags; with ecn, its
// ECN codepoint instead (noecn for any ECT or CE, ect0 for noecn).
func mutate(s *Script, i int, ecn bool) *Script {
	m := *s
	m.Events = append([]Event(nil), s.Events...)
	p := *m.Events[i].Action.(*Packet)
	switch {
	case ecn && p.IP.ECN == ECNNone:
		p.IP.ECN = ECNECT0
	case ecn:
		p.IP.ECN = ECNNone
	case p.Ack != nil:
		p.Ack = new(*p.Ack + 1)
	default:
		p.Flags ^= FlagPSH
	}
	m.Events[i].Action = &p
	return &m
}

// TestSuiteMutations proves the runner can fail: every outbound line of
// every script, changed in its ack or flags, makes the script fail, and so
// does every ECN codepoint an outbound line names, changed.
func TestSuiteMutations(t *testing.T) {
	for _, f := range suiteFiles(t) {
		s, err := ParseFile(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		n := 0
		for i, ev := range s.Events {
			p, ok := ev.Action.(*Packet)
			if !ok || p.Dir != Outbound {
				continue
			}
			n++
			for _, ecn := range []bool{false, true} {
				if ecn && p.IP.ECN == ECNUnset {
					continue
				}
				m := mutate(s, i, ecn)
				if res := Run(m, Config{}); res.Status != Fail {
					t.Errorf("%s: line %d mutated (%s): %s, want FAIL", f, ev.Line, FormatAction(m.Events[i].Action), res.Status)
				}
			}
		}
		if n == 0 {
			t.Errorf("%s: no outbound line to mutate", f)
		}
	}
}
