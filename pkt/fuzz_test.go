package pkt

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzParse checks that Parse never panics and that whatever it accepts
// prints back to a script that parses to the same AST.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.pkt")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		"0 > P.5 1:2(1) <ECN e0b 1 ceb 0 e1b 1,nop>",
		"+0...0.1 read(3, ..., 10) = -1 EAGAIN (x) (y)",
		"0 < [1:1(0)] icmp unreachable",
		"--a b\n`c`",
		"0 f(&x, \"s\"..., {a=[1|2]}) = 0x10",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		s, err := Parse("fuzz", src)
		if err != nil {
			return
		}
		out := s.String()
		again, err := Parse("printed", []byte(out))
		if err != nil {
			t.Fatalf("printed script does not parse: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(withoutPos(s), withoutPos(again)) {
			t.Fatalf("round trip changed the script:\n%s\n---\n%s", out, again.String())
		}
	})
}
