package pkt

import (
	"bytes"
	"fmt"
	"slices"
)

// The nplab packetdrill preprocessor, which FreeBSD's tcp-testsuite uses:
//
//	#ifdef NAME / #ifndef NAME / #else / #endif
//
// at the start of a line keep or drop the lines up to the next directive.
// The runner defines STANDARD (the behaviour the RFCs describe, which
// synack follows) unless Config.Defines says otherwise (FreeBSD's own
// branches are taken with Defines: []string{"FreeBSD"}).

// DefaultDefines are the names #ifdef tests true by default.
var DefaultDefines = []string{"STANDARD"}

// preprocess blanks the directive lines and the lines of branches not
// taken, so that line numbers stay those of the file.
func preprocess(src []byte, defines []string) ([]byte, error) {
	if !bytes.Contains(src, []byte("#if")) {
		return src, nil
	}
	lines := bytes.SplitAfter(src, []byte("\n"))
	type frame struct {
		keep, parentKeep bool
		line             int
	}
	var stack []frame
	keep := true
	for i, l := range lines {
		t := bytes.TrimSpace(l)
		directive := ""
		arg := ""
		if bytes.HasPrefix(t, []byte("#")) {
			f := bytes.Fields(t[1:])
			if len(f) > 0 {
				directive = string(f[0])
			}
			if len(f) > 1 {
				arg = string(f[1])
			}
		}
		switch directive {
		case "ifdef", "ifndef":
			if arg == "" {
				return nil, fmt.Errorf("line %d: #%s without a name", i+1, directive)
			}
			cond := slices.Contains(defines, arg) == (directive == "ifdef")
			stack = append(stack, frame{keep: cond, parentKeep: keep, line: i + 1})
			keep = keep && cond
		case "else":
			if len(stack) == 0 {
				return nil, fmt.Errorf("line %d: #else without #ifdef", i+1)
			}
			top := &stack[len(stack)-1]
			top.keep = !top.keep
			keep = top.parentKeep && top.keep
		case "endif":
			if len(stack) == 0 {
				return nil, fmt.Errorf("line %d: #endif without #ifdef", i+1)
			}
			keep = stack[len(stack)-1].parentKeep
			stack = stack[:len(stack)-1]
		default:
			if keep {
				continue
			}
		}
		// Blank the line, keeping its newline.
		if bytes.HasSuffix(l, []byte("\n")) {
			lines[i] = []byte("\n")
		} else {
			lines[i] = nil
		}
	}
	if len(stack) > 0 {
		return nil, fmt.Errorf("line %d: #%s without #endif", stack[len(stack)-1].line, "ifdef")
	}
	return bytes.Join(lines, nil), nil
}

// unsupportedSyntax finds the nplab extensions the parser does not take,
// so that a script using them SKIPs, naming the feature, instead of failing
// as a syntax error: TCP over UDP encapsulation ("win 0/udp(9811 > 1)")
// and the "!" mark after a sequence number.
func unsupportedSyntax(src []byte) (line int, why string) {
	for i, l := range bytes.Split(src, []byte("\n")) {
		t := bytes.TrimSpace(l)
		if bytes.HasPrefix(t, []byte("//")) {
			continue
		}
		switch {
		case bytes.Contains(l, []byte("/udp(")):
			return i + 1, "TCP over UDP encapsulation (/udp(...)) is not supported"
		case bytes.Contains(l, []byte(")!")) && (bytes.Contains(l, []byte("> ")) || bytes.Contains(l, []byte("< "))):
			return i + 1, "the nplab \"!\" mark after a sequence number is not supported"
		}
	}
	return 0, ""
}
