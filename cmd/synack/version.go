package main

import (
	"fmt"
	"io"
	"runtime/debug"
)

// runVersion is "synack version": the module's version and the commit it
// was built from, as the Go toolchain recorded them.
func runVersion(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("version", stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: synack version")
		fmt.Fprintln(fs.Output())
		fmt.Fprintln(fs.Output(), "Prints synack's module version, the commit it was built from (with")
		fmt.Fprintln(fs.Output(), "\"dirty\" if the tree had changes) and the Go version.")
	}
	if status, done := parse(fs, args); done {
		return status
	}
	if fs.NArg() > 0 {
		return badUsage(stderr, "version", "unexpected argument %q", fs.Arg(0))
	}
	fmt.Fprintln(stdout, versionString())
	return 0
}

// versionString describes the running binary on one line.
func versionString() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "synack (no build information)"
	}
	s := "synack " + bi.Main.Version
	if bi.Main.Version == "" {
		s = "synack (devel)"
	}
	var rev, at, dirty string
	for _, kv := range bi.Settings {
		switch kv.Key {
		case "vcs.revision":
			rev = kv.Value
		case "vcs.time":
			at = kv.Value
		case "vcs.modified":
			if kv.Value == "true" {
				dirty = ", dirty"
			}
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		s += fmt.Sprintf(", commit %s (%s%s)", rev, at, dirty)
	}
	return s + ", " + bi.GoVersion
}
