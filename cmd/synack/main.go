// Command synack shows synack, a userspace TCP/IP stack in Go, at work.
//
// Usage:
//
//	synack demo [--seed N] [--delay D] [--pcap FILE] [--ascii] [--width N]
//	synack ladder [--ascii] [--width N] [--absolute] FILE.pcap
//	synack pkt run [flags] FILE...
//	synack transfer [--bytes N] [--loss P] [--delay D] [--rate R] ... [--json]
//	synack serve --tun NAME --addr ADDR/PREFIX --port P (--echo|--discard|--http DIR|--source N)
//	synack dial --tun NAME HOST:PORT
//	synack get --tun NAME URL [--sha256]
//	synack gateway --tun NAME --addr ADDR/PREFIX [--route PREFIX] [--socks5 HOST:PORT]
//
// demo runs one TCP connection between two simulated hosts on a virtual
// clock and draws its ladder diagram; ladder draws the ladder diagrams of
// the TCP connections in a capture; pkt runs packetdrill-language scripts
// against a synack stack; transfer moves data over an impaired simulated
// path and checks it; serve, dial and get put synack on a Linux TUN device
// to talk to real hosts. "synack COMMAND --help" lists a command's flags.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// command is one subcommand.
type command struct {
	name, summary string
	run           func(args []string, stdout, stderr io.Writer) int
}

var commands = []command{
	{"demo", "run a TCP connection between two simulated hosts and draw its ladder", runDemo},
	{"ladder", "draw the ladder diagrams of the TCP connections in a pcap file", runLadder},
	{"pkt", "run packetdrill-language scripts against synack (pkt run FILE...)", runPkt},
	{"transfer", "move data between two simulated stacks over an impaired link", runTransfer},
	{"serve", "serve TCP (echo, discard, http, source) on a TUN device", runServe},
	{"dial", "connect over a TUN device, netcat-style", runDial},
	{"get", "fetch an HTTP(S) URL over a TUN device", runGet},
	{"gateway", "relay every TCP connection and UDP flow entering a TUN to its destination", runGateway},
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "synack is a userspace TCP/IP stack in Go.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage:")
	fmt.Fprintln(w, "  synack <command> [flags] [arguments]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, `Run "synack <command> --help" for a command's flags.`)
}

// run runs the command line args and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return 0
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "synack: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

// parse parses a subcommand's flags: 0 to go on, else the exit status
// (0 after --help, 2 after a bad flag) with done set.
func parse(fs *flag.FlagSet, args []string) (status int, done bool) {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0, true
	case err != nil:
		return 2, true
	}
	return 0, false
}
