package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// Every subcommand parses its flags with a standard flag.FlagSet and
// parse. parse gives them one style: the help lists each flag as
// --long-name and prints its default once; a mistake (an unknown flag, a
// bad value, a flag without its value) prints one line saying what is
// wrong and where to look, and exits 2. After parse, fs.Usage prints that
// one line too, so that a command's own argument checks can call it.

// newFlags returns the flag set of "synack NAME", writing to stderr.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// alias registers old as a hidden second spelling of the flag new (a
// spelling that shipped once and must keep working).
func alias(fs *flag.FlagSet, old, new string) {
	f := fs.Lookup(new)
	if f == nil {
		panic("alias of an undefined flag " + new)
	}
	fs.Var(f.Value, old, "") // an empty usage hides it from the help
}

// parse parses a subcommand's flags: 0 to go on, else the exit status
// (0 after --help, 2 after a mistake) with done set.
func parse(fs *flag.FlagSet, args []string) (status int, done bool) {
	out := fs.Output()
	usage := fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.SetOutput(out)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printHelp(fs, usage)
		return 0, true
	case err != nil:
		fmt.Fprintln(out, oneLine(fs.Name(), explainFlagErr(err)))
		return 2, true
	}
	// From now on, a command that finds its arguments wrong and calls
	// fs.Usage gets one line, not the whole help.
	first := usageLine(fs, usage)
	fs.Usage = func() {
		msg := "wrong arguments"
		if first != "" {
			msg = "usage: " + first
		}
		fmt.Fprintln(out, oneLine(fs.Name(), msg))
	}
	return 0, false
}

// oneLine formats a command-line mistake of "synack NAME".
func oneLine(name, msg string) string {
	return fmt.Sprintf("synack %s: %s; see 'synack %s --help'", name, msg, name)
}

// badUsage prints a command-line mistake of "synack NAME" and returns 2.
func badUsage(w io.Writer, name, format string, a ...any) int {
	fmt.Fprintln(w, oneLine(name, fmt.Sprintf(format, a...)))
	return 2
}

var (
	reUndefined = regexp.MustCompile(`^flag provided but not defined: -+(.*)$`)
	reNeedsArg  = regexp.MustCompile(`^flag needs an argument: -+(.*)$`)
	reInvalid   = regexp.MustCompile(`^invalid (?:boolean )?value (".*") for (?:flag )?-+([^:]*): (.*)$`)
	reBadSyntax = regexp.MustCompile(`^bad flag syntax: (.*)$`)
)

// explainFlagErr rewrites the flag package's errors in the --flag style.
func explainFlagErr(err error) string {
	s := err.Error()
	if m := reUndefined.FindStringSubmatch(s); m != nil {
		return "unknown flag --" + m[1]
	}
	if m := reNeedsArg.FindStringSubmatch(s); m != nil {
		return "--" + m[1] + " needs a value"
	}
	if m := reInvalid.FindStringSubmatch(s); m != nil {
		return fmt.Sprintf("bad --%s %s: %s", m[2], m[1], m[3])
	}
	if m := reBadSyntax.FindStringSubmatch(s); m != nil {
		return "bad flag syntax: " + m[1]
	}
	return s
}

// printHelp prints a command's help: what its Usage prints, with the
// flag package's list of flags replaced by ours.
func printHelp(fs *flag.FlagSet, usage func()) {
	out := fs.Output()
	if usage == nil {
		fmt.Fprintf(out, "Usage: synack %s [flags]\n\n", fs.Name())
		printDefaults(out, fs)
		return
	}
	var text, std bytes.Buffer
	fs.SetOutput(&std)
	fs.PrintDefaults()
	fs.SetOutput(&text)
	usage()
	fs.SetOutput(out)
	var mine bytes.Buffer
	printDefaults(&mine, fs)
	help := text.String()
	if std.Len() > 0 && strings.Contains(help, std.String()) {
		help = strings.Replace(help, std.String(), mine.String(), 1)
	}
	io.WriteString(out, help)
}

// usageLine returns the first line of a command's help after "Usage: ".
func usageLine(fs *flag.FlagSet, usage func()) string {
	if usage == nil {
		return ""
	}
	out := fs.Output()
	var b bytes.Buffer
	fs.SetOutput(&b)
	usage()
	fs.SetOutput(out)
	line, _, _ := strings.Cut(b.String(), "\n")
	line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "Usage:"))
	return line
}

// printDefaults lists the flags as --name VALUE, the usage below, and
// the default once: not when it is the zero value, and not when the
// usage already says what it is.
func printDefaults(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		if f.Usage == "" {
			return // a hidden alias
		}
		name, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if name != "" {
			line += " " + name
		}
		fmt.Fprintln(w, line)
		if !strings.Contains(usage, "(default") && !isZeroDefault(f) {
			if name == "string" || strings.Contains(f.DefValue, " ") {
				usage += fmt.Sprintf(" (default %q)", f.DefValue)
			} else {
				usage += fmt.Sprintf(" (default %s)", f.DefValue)
			}
		}
		for _, l := range wrapText(usage, 72) {
			fmt.Fprintln(w, "        "+l)
		}
	})
}

func isZeroDefault(f *flag.Flag) bool {
	switch f.DefValue {
	case "", "0", "false", "0s", "[]", "<nil>":
		return true
	}
	return false
}

// wrapText breaks s into lines of at most n columns, at spaces.
func wrapText(s string, n int) []string {
	var lines []string
	var cur strings.Builder
	for _, w := range strings.Fields(s) {
		if cur.Len() > 0 && cur.Len()+1+len(w) > n {
			lines = append(lines, cur.String())
			cur.Reset()
		}
		if cur.Len() > 0 {
			cur.WriteByte(' ')
		}
		cur.WriteString(w)
	}
	if cur.Len() > 0 {
		lines = append(lines, cur.String())
	}
	return lines
}
