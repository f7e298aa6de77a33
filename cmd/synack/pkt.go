package main

import (
	"flag"
	"fmt"
	"io"
	"net/netip"
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
		pkgUsage(stderr)
		return 2
	}
	fs := flag.NewFlagSet("pkt run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	tol := fs.Int64("tolerance_usecs", 4000, "how far, in microseconds, a packet or a call's return may be from its scripted time")
	local := fs.String("local_ip", "", "the stack's address (default 192.168.0.1, or fd3d:fa7b:d17d::1 with IPv6)")
	remote := fs.String("remote_ip", "", "the scripted peer's address (default 192.0.2.1, or 2001:db8::1 with IPv6)")
	mss := fs.Int("mss", 1460, "packetdrill's GSO size of inbound packets (no effect: packets are injected whole)")
	mtu := fs.Int("mtu", 1500, "MTU of the link")
	ipVersion := fs.String("ip_version", "ipv4", "ipv4, ipv4-mapped-ipv6 (run as ipv4) or ipv6")
	strict := fs.Bool("strict_segments", false, "do not match one expected segment with several smaller ones")
	lenient := fs.Bool("lenient", false, "compare TCP options as a set and ignore window values (scripts from another OS)")
	queue := fs.Bool("queue_outbound", false, "keep packets no '>' line took queued for the next '>' line, as packetdrill does")
	fs.Usage = func() {
		pkgUsage(fs.Output())
		fmt.Fprintln(fs.Output())
		fmt.Fprintln(fs.Output(), "Flags (also accepted as leading --flag lines in a script):")
		fs.PrintDefaults()
	}
	if status, done := parse(fs, args[1:]); done {
		return status
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
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
		fmt.Fprintf(stderr, "synack pkt: bad --ip_version %q\n", *ipVersion)
		return 2
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
			fmt.Fprintf(stderr, "synack pkt: bad address %q\n", a.s)
			return 2
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
