package main

import (
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/synack/synack/pkt"
)

// runPkt is "synack pkt run [flags] FILE...".
func runPkt(args []string, stdout, stderr io.Writer) int {
	pkgUsage := func(w io.Writer) {
		fmt.Fprintln(w, "Usage: synack pkt run [flags] FILE...")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Runs packetdrill scripts against a synack stack on a virtual clock, the")
		fmt.Fprintln(w, "runner playing the remote peer. Prints PASS, FAIL or SKIP (with the reason)")
		fmt.Fprintln(w, "per script, the first mismatch of a failure as expected and actual lines,")
		fmt.Fprintln(w, "then \"N passed, N failed, N skipped\". Exit status 1 if any script fails.")
	}
	if len(args) == 0 || args[0] != "run" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help") {
			pkgUsage(stdout)
			return 0
		}
		if len(args) == 0 {
			return badUsage(stderr, "pkt", "want a subcommand: pkt run FILE...")
		}
		return badUsage(stderr, "pkt", "unknown subcommand %q (only \"run\")", args[0])
	}
	fs := newFlags("pkt run", stderr)
	tol := fs.Int64("tolerance-usecs", 4000, "how far, in microseconds, a packet or a call's return may be from its scripted time")
	local := fs.String("local-ip", "", "the stack's address (default 192.168.0.1, or fd3d:fa7b:d17d::1 with IPv6)")
	remote := fs.String("remote-ip", "", "the scripted peer's address (default 192.0.2.1, or 2001:db8::1 with IPv6)")
	mss := fs.Int("mss", 1460, "packetdrill's GSO size of inbound packets (no effect: packets are injected whole)")
	mtu := fs.Int("mtu", 1500, "MTU of the link")
	ipVersion := fs.String("ip-version", "ipv4", "ipv4, ipv4-mapped-ipv6 (run as ipv4) or ipv6")
	strict := fs.Bool("strict-segments", false, "do not match one expected segment with several smaller ones")
	lenient := fs.Bool("lenient", false, "compare TCP options as a set and ignore window values (scripts from another OS)")
	queue := fs.Bool("queue-outbound", false, "keep packets no '>' line took queued for the next '>' line, as packetdrill does")
	// The spellings of packetdrill (and of synack before 2026-12).
	for _, n := range []string{"tolerance-usecs", "local-ip", "remote-ip", "ip-version", "strict-segments", "queue-outbound"} {
		alias(fs, strings.ReplaceAll(n, "-", "_"), n)
	}
	fs.Usage = func() {
		pkgUsage(fs.Output())
		fmt.Fprintln(fs.Output())
		fmt.Fprintln(fs.Output(), "Flags (also accepted as leading --flag lines in a script; the underscore")
		fmt.Fprintln(fs.Output(), "spellings packetdrill uses, --tolerance_usecs and so on, work too):")
		fs.PrintDefaults()
	}
	if status, done := parse(fs, args[1:]); done {
		return status
	}
	if fs.NArg() == 0 {
		return badUsage(stderr, "pkt run", "want at least one script FILE")
	}
	if *tol < 0 {
		return badUsage(stderr, "pkt run", "--tolerance-usecs must not be negative")
	}
	if *mss < 1 || *mss > 65495 {
		return badUsage(stderr, "pkt run", "--mss %d: want 1 to 65495", *mss)
	}
	cfg := pkt.Config{
		Tolerance:      time.Duration(*tol) * time.Microsecond,
		MSS:            *mss,
		MTU:            *mtu,
		StrictSegments: *strict,
		Lenient:        *lenient,
		QueueOutbound:  *queue,
	}
	switch *ipVersion {
	case "ipv4", "ipv4-mapped-ipv6":
	case "ipv6":
		cfg.IPv6 = true
	default:
		return badUsage(stderr, "pkt run", "--ip-version must be ipv4, ipv4-mapped-ipv6 or ipv6, not %q", *ipVersion)
	}
	for _, a := range []struct {
		s   string
		dst *netip.Addr
	}{{*local, &cfg.LocalIP}, {*remote, &cfg.RemoteIP}} {
		if a.s == "" {
			continue
		}
		ip, err := netip.ParseAddr(a.s)
		if err != nil {
			return badUsage(stderr, "pkt run", "bad address %q", a.s)
		}
		*a.dst = ip.Unmap()
	}
	var pass, failed, skip int
	for _, f := range fs.Args() {
		res := pkt.RunFile(f, cfg)
		fmt.Fprintln(stdout, res.String())
		switch res.Status {
		case pkt.Pass:
			pass++
		case pkt.Fail:
			failed++
		default:
			skip++
		}
	}
	fmt.Fprintf(stdout, "%d passed, %d failed, %d skipped\n", pass, failed, skip)
	if failed > 0 {
		return 1
	}
	return 0
}
