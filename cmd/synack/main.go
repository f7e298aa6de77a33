// Command synack shows synack, a userspace TCP/IP stack in Go, at work.
//
// Usage:
//
//	synack demo [--scenario NAME | --list] [--seed N] [--delay D] [--pcap FILE] [--ascii] [--width N]
//	synack ladder [--ascii] [--width N] [--absolute] FILE.pcap
//	synack pkt run [flags] FILE...
//	synack transfer [--bytes N] [--loss P] [--delay D] [--rate R] ... [--json]
//	synack serve --tun NAME --addr ADDR/PREFIX --port P (--echo|--discard|--http DIR|--source N)
//	synack dial --tun NAME HOST:PORT
//	synack get --tun NAME URL [--sha256]
//	synack ping --tun NAME [--count N] ADDR
//	synack gateway --tun NAME --addr ADDR/PREFIX [--route PREFIX] [--socks5 HOST:PORT]
//	synack ss --admin ADDR
//	synack stat --admin ADDR
//	synack version
//
// demo runs TCP scenarios between two simulated hosts on a virtual
// clock and draws its ladder diagram; ladder draws the ladder diagrams of
// the TCP connections in a capture; pkt runs packetdrill-language scripts
// against a synack stack; transfer moves data over an impaired simulated
// path and checks it; serve, dial, get and ping put synack on a Linux TUN
// device to talk to real hosts; ss and stat show the connections and counters of a
// running serve (--admin). "synack COMMAND --help" lists a command's flags.
package main

import (
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
	{"demo", "run a TCP scenario between two simulated hosts and draw its ladder (--list)", runDemo},
	{"ladder", "draw the ladder diagrams of the TCP connections in a pcap file", runLadder},
	{"pkt", "run packetdrill-language scripts against synack (pkt run FILE...)", runPkt},
	{"transfer", "move data between two simulated stacks over an impaired link", runTransfer},
	{"serve", "serve TCP (echo, discard, http, source) on a TUN device", runServe},
	{"dial", "connect over a TUN device, netcat-style", runDial},
	{"get", "fetch an HTTP(S) URL over a TUN device", runGet},
	{"ping", "send ICMP echo requests over a TUN device through a ping socket", runPing},
	{"gateway", "relay every TCP connection and UDP flow entering a TUN to its destination", runGateway},
	{"ss", "list a running synack's connections (from serve --admin)", runSS},
	{"stat", "print a running synack's TCP counters (from serve --admin)", runStat},
	{"version", "print synack's version", runVersion},
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "synack is a userspace TCP/IP stack in Go.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage:")
	fmt.Fprintln(w, "  synack <command> [flags] [arguments]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
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
	case "-version", "--version":
		return runVersion(nil, stdout, stderr)
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "synack: unknown command %q; see 'synack --help'\n", args[0])
	return 2
}
