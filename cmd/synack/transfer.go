package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/synack/synack/link/impair"
)

func runTransfer(args []string, stdout, stderr io.Writer) int {
	o := transferOptions{bytes: 8 << 20, cc: "cubic", sack: true, stall: 10 * time.Minute}
	var (
		sackFlag = "on"
		jsonOut  bool
	)
	fs := newFlags("transfer", stderr)
	fs.Var(bytesFlag{&o.bytes}, "bytes", "how much to move (`SIZE`): 8MiB, 1GiB, 100MB, 65536, …")
	fs.Int64Var(&o.seed, "seed", 1, "seed of the simulation, the impairments and the data")
	fs.DurationVar(&o.path.Delay, "delay", 25*time.Millisecond, "one-way delay of the path (the RTT is twice this)")
	fs.DurationVar(&o.path.Jitter, "jitter", 0, "extra random delay of each packet, uniform in [0, jitter); does not reorder")
	fs.Var(probFlag{&o.path.Loss}, "loss", "packet loss `P`, each direction: 1% or 0.01")
	fs.Float64Var(&o.burst, "burst", 0, "mean length `N` of loss bursts in packets (Gilbert–Elliott); 0 or 1: independent losses")
	fs.Var(probFlag{&o.path.Reorder}, "reorder", "fraction `P` of packets held back by --reorder-delay")
	fs.DurationVar(&o.path.ReorderDelay, "reorder-delay", 0, "how much longer a reordered packet takes (default max(delay/4, 1ms))")
	fs.Var(probFlag{&o.path.Duplicate}, "dup", "fraction `P` of packets delivered twice")
	fs.Var(probFlag{&o.path.Corrupt}, "corrupt", "fraction `P` of packets with one bit flipped (the checksums must catch it)")
	fs.Var(rateFlag{&o.path.Rate}, "rate", "bottleneck `RATE`: 100Mbit, 1Gbit, 10M (bits/s); 0: none")
	var queue int64 = -1
	fs.Var(bytesFlag{&queue}, "queue", "`SIZE` in bytes the bottleneck queues before dropping (tail drop), at least one packet (default: the bandwidth-delay product, at least one packet)")
	fs.IntVar(&o.mtu, "mtu", 1500, "MTU of the hosts' links and of the path")
	fs.StringVar(&o.cc, "cc", o.cc, "congestion control `ALGORITHM`: newreno or cubic")
	fs.StringVar(&sackFlag, "sack", sackFlag, "SACK `on|off`")
	fs.Var(bytesFlag{&o.buffer}, "buffer", "fixed send and receive buffer `SIZE` of each end (default: auto-tuned by the engine from 256KiB up to 4MiB send, 6MiB receive)")
	fs.DurationVar(&o.stall, "stall", o.stall, "give up after this long (virtual time, or wall time with --realtime) without progress")
	impairReturn := true
	fs.BoolVar(&impairReturn, "impair-return", true, "impair the ACKs' direction too (false: only delay, rate and MTU there)")
	fs.BoolVar(&o.realtime, "realtime", false, "run on the wall clock: real-time stacks over an impaired in-memory pipe")
	fs.BoolVar(&jsonOut, "json", false, "print the result as JSON (snake_case keys; see the README)")
	var trace traceFlag
	trace.register(fs)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintln(w, "Usage: synack transfer [flags]")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Moves --bytes from a client (198.18.0.1) to a server (198.18.0.2) over a")
		fmt.Fprintln(w, "simulated path impaired in both directions, checks the SHA-256 of the data")
		fmt.Fprintln(w, "at both ends, and prints goodput, retransmissions, RTT and cwnd. It runs on")
		fmt.Fprintln(w, "a virtual clock (the same seed gives the same run) unless --realtime.")
		fmt.Fprintln(w, "Exit status 1 if the data did not arrive intact.")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Example: synack transfer --bytes 100MiB --delay 50ms --loss 1% --rate 100Mbit")
		fmt.Fprintln(w)
		fs.PrintDefaults()
	}
	if status, done := parse(fs, args); done {
		return status
	}
	bad := func(format string, a ...any) int { return badUsage(stderr, "transfer", format, a...) }
	if fs.NArg() > 0 {
		return bad("unexpected argument %q", fs.Arg(0))
	}
	switch o.cc {
	case "newreno", "cubic":
	default:
		return bad("--cc must be newreno or cubic, not %q", o.cc)
	}
	switch sackFlag {
	case "on", "true", "1":
		o.sack = true
	case "off", "false", "0":
		o.sack = false
	default:
		return bad("--sack must be on or off, not %q", sackFlag)
	}
	switch {
	case o.bytes <= 0:
		return bad("--bytes must be positive")
	case o.path.Delay < 0, o.path.Jitter < 0, o.path.ReorderDelay < 0:
		return bad("durations must not be negative")
	case o.mtu < minMTU4 || o.mtu > 65535:
		return bad("--mtu %d: TCP over IPv4 needs at least %d (20-byte IPv4 header, 20-byte TCP header, 64-byte smallest MSS); at most 65535", o.mtu, minMTU4)
	case o.stall <= 0:
		return bad("--stall must be positive")
	case o.buffer > 1<<30:
		return bad("--buffer must be at most 1GiB")
	case o.buffer != 0 && o.buffer < int64(o.mtu-40):
		return bad("--buffer %d is smaller than one segment (%d bytes at --mtu %d)", o.buffer, o.mtu-40, o.mtu)
	case o.burst < 0 || (o.burst > 0 && o.burst < 1):
		return bad("--burst %g: a mean burst length is at least 1 packet (0: independent losses)", o.burst)
	case o.burst > 1 && o.path.Loss == 0:
		return bad("--burst needs --loss (the average loss the bursts make up)")
	case queue >= 0 && o.path.Rate == 0:
		return bad("--queue needs --rate (the queue is the bottleneck's)")
	case queue >= 0 && queue < int64(o.mtu):
		return bad("--queue %d is smaller than one packet (--mtu %d): nothing could pass the bottleneck", queue, o.mtu)
	case o.path.Rate < 0:
		return bad("--rate must not be negative")
	}
	o.path.MTU = o.mtu
	o.cleanReturn = !impairReturn
	if o.cleanReturn && o.realtime {
		return bad("--impair-return=false is not supported with --realtime")
	}
	if o.burst > 1 {
		o.path.Burst = impair.Bursty(o.path.Loss, o.burst)
	}
	o.path.Queue = int(max(queue, 0))
	if queue < 0 && o.path.Rate > 0 {
		// The bandwidth-delay product, but at least one packet.
		o.path.Queue = int(max(pathBDP(o.path), int64(o.mtu)))
	}

	run := simTransfer
	start := simStart
	if o.realtime {
		run = realTransfer
		start = time.Now()
	}
	tw, err := trace.open(start)
	if err != nil {
		fmt.Fprintf(stderr, "synack transfer: %v\n", err)
		return 1
	}
	o.trace = tw
	o.progress = newProgress(stdout, stderr, "transfer", false)
	r, err := run(o)
	if cerr := tw.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintf(stderr, "synack transfer: %v\n", err)
		return 1
	}
	if jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			fmt.Fprintf(stderr, "synack transfer: %v\n", err)
			return 1
		}
	} else {
		printTransfer(stdout, o, r)
	}
	if !r.Intact {
		fmt.Fprintln(stderr, "synack transfer: the data did not arrive intact")
		return 1
	}
	return 0
}

// bdp is the path's bandwidth-delay product in bytes.
func pathBDP(p impair.Config) int64 {
	return int64(float64(p.Rate) / 8 * (2 * p.Delay).Seconds())
}

// report prints r for people.
func printTransfer(w io.Writer, o transferOptions, r *transferResult) {
	clockName := "virtual"
	if r.Realtime {
		clockName = "wall"
	}
	fmt.Fprintf(w, "transfer  %s (%d bytes) %v → %v:%d, seed %d\n", fmtBytes(r.Bytes), r.Bytes, transferClient, transferServer, transferPort, o.seed)
	fmt.Fprintf(w, "path      %s\n", describePath(o))
	cc := o.cc
	sack := "off"
	if o.sack {
		sack = "on"
		if !r.SACKAgree {
			sack += " (not negotiated)"
		}
	}
	bufs := "buffers " + fmtBytes(r.BufferSize)
	if r.BufferSize == 0 {
		bufs = "buffers auto-tuned"
		if r.ReceiveBufferEnd > 0 {
			bufs += fmt.Sprintf(" (at the end: send %s, receive %s)", fmtBytes(int64(r.SendBufferEnd)), fmtBytes(int64(r.ReceiveBufferEnd)))
		}
	}
	fmt.Fprintf(w, "tcp       cc %s, SACK %s, %s\n", cc, sack, bufs)
	verdict := "intact"
	if !r.Intact {
		verdict = "DAMAGED"
	}
	fmt.Fprintf(w, "sha256    sent     %s\n", r.SentSHA256)
	fmt.Fprintf(w, "          received %s  %s\n", r.ReceivedSHA256, verdict)
	fmt.Fprintf(w, "time      %.3fs %s (%.3fs wall)\n", r.Seconds, clockName, r.WallSeconds)
	fmt.Fprintf(w, "goodput   %s/s (%s)", fmtBytes(int64(r.Goodput)), fmtRate(roundSig(r.Goodput*8)))
	if o.path.Rate > 0 {
		fmt.Fprintf(w, ", %.1f%% of the link rate", 100*r.Goodput*8/float64(o.path.Rate))
	}
	if r.SecondHalfGoodput > 0 {
		fmt.Fprintf(w, "; second half %s", fmtRate(roundSig(r.SecondHalfGoodput*8)))
		if o.path.Rate > 0 {
			fmt.Fprintf(w, " (%.1f%%)", 100*r.SecondHalfGoodput*8/float64(o.path.Rate))
		}
	}
	fmt.Fprintln(w)
	pct := 0.0
	if r.Segments > 0 {
		pct = 100 * float64(r.Retransmits) / float64(r.Segments)
	}
	fmt.Fprintf(w, "segments  %d data segments, %d retransmitted (%.2f%%), %d needless arrivals (spurious)\n", r.Segments, r.Retransmits, pct, r.Needless)
	if r.EngineRetrans != nil {
		fmt.Fprintf(w, "engine    %d retransmissions", *r.EngineRetrans)
		if r.EngineSpurious != nil {
			fmt.Fprintf(w, ", %d found spurious", *r.EngineSpurious)
		}
		fmt.Fprintln(w)
	}
	if r.RTTms.N > 0 {
		fmt.Fprintf(w, "srtt      min %.1fms avg %.1fms max %.1fms\n", r.RTTms.Min, r.RTTms.Avg, r.RTTms.Max)
	}
	if r.Cwnd != nil {
		fmt.Fprintf(w, "cwnd      min %s avg %s max %s\n", fmtBytes(int64(r.Cwnd.Min)), fmtBytes(int64(r.Cwnd.Avg)), fmtBytes(int64(r.Cwnd.Max)))
	} else {
		fmt.Fprintln(w, "cwnd      not reported by the engine yet")
	}
	ns := r.Net
	fmt.Fprintf(w, "network   %d packets: %d lost, %d queue drops, %d duplicated, %d reordered, %d corrupted (%d rejected by the stacks)\n",
		ns.Sent, ns.Lost, ns.QueueFull, ns.Duplicated, ns.Reordered, ns.Corrupted, r.Rejected)
}

// describePath summarises the impairments.
func describePath(o transferOptions) string {
	p := o.path
	parts := []string{fmt.Sprintf("delay %v (RTT %v)", p.Delay, 2*p.Delay)}
	if p.Jitter > 0 {
		parts = append(parts, fmt.Sprintf("jitter %v", p.Jitter))
	}
	if p.Loss > 0 {
		s := "loss " + probFlag{&p.Loss}.String()
		if p.Burst.ToBad > 0 {
			s += fmt.Sprintf(" in bursts of %g", o.burst)
		}
		parts = append(parts, s)
	}
	if p.Reorder > 0 {
		d := p.ReorderDelay
		if d <= 0 {
			d = max(p.Delay/4, time.Millisecond)
		}
		parts = append(parts, fmt.Sprintf("reorder %s by %v", probFlag{&p.Reorder}, d))
	}
	if p.Duplicate > 0 {
		parts = append(parts, "dup "+probFlag{&p.Duplicate}.String())
	}
	if p.Corrupt > 0 {
		parts = append(parts, "corrupt "+probFlag{&p.Corrupt}.String())
	}
	if p.Rate > 0 {
		parts = append(parts, fmt.Sprintf("rate %s, queue %s", fmtRate(float64(p.Rate)), fmtBytes(int64(p.Queue))))
	}
	parts = append(parts, fmt.Sprintf("MTU %d", o.mtu))
	if o.cleanReturn {
		return strings.Join(parts, ", ") + "; the ACKs' direction has only the delay, rate and MTU"
	}
	return strings.Join(parts, ", ") + "; both directions"
}

// roundSig rounds v to 3 significant digits.
func roundSig(v float64) float64 {
	if v == 0 {
		return 0
	}
	s := fmt.Sprintf("%.3g", v)
	var f float64
	fmt.Sscan(s, &f)
	return f
}
