package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/synack/synack/wire"
)

// pingOptions are the flags of synack ping.
type pingOptions struct {
	tunFlags
	count    int
	interval time.Duration
	wait     time.Duration
	size     int
	target   netip.Addr
}

func runPing(args []string, stdout, stderr io.Writer) int {
	var o pingOptions
	fs := newFlags("ping", stderr)
	o.tunFlags.register(fs)
	fs.IntVar(&o.count, "count", 4, "echo requests to send")
	fs.DurationVar(&o.interval, "interval", time.Second, "time between two requests")
	fs.DurationVar(&o.wait, "wait", 2*time.Second, "how long to wait for the last reply")
	fs.IntVar(&o.size, "size", 56, "bytes of data in each request")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintln(w, "Usage: synack ping --tun NAME [--addr ADDR/PREFIX] [--peer KERNEL_ADDR] [--netns NS] [--count N] ADDR")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Sends ICMP (or ICMPv6) echo requests to ADDR, an IP literal, from a synack")
		fmt.Fprintln(w, "stack on TUN device NAME through a ping socket (stack.Stack.DialPing), and")
		fmt.Fprintln(w, "prints each reply as ping does, then the loss and the round-trip times.")
		fmt.Fprintln(w, "Exit status 0 if a reply came, 1 if none did.")
		fmt.Fprintf(w, "--addr defaults to %s.\n", joinStrings(defaultAddrs))
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Example (as root, the kernel side in namespace demo):")
		fmt.Fprintln(w, "  synack ping --netns demo --tun syn0 --peer 198.18.0.1 198.18.0.1")
		fmt.Fprintln(w)
		fs.PrintDefaults()
	}
	if status, done := parse(fs, args); done {
		return status
	}
	if fs.NArg() != 1 {
		return badUsage(stderr, "ping", "want one ADDR argument, got %d", fs.NArg())
	}
	a, err := netip.ParseAddr(fs.Arg(0))
	if err != nil {
		return badUsage(stderr, "ping", "%q is not an IP address", fs.Arg(0))
	}
	o.target = a.Unmap()
	switch {
	case o.count < 1:
		return badUsage(stderr, "ping", "--count must be at least 1")
	case o.interval < 10*time.Millisecond:
		return badUsage(stderr, "ping", "--interval must be at least 10ms")
	case o.wait <= 0:
		return badUsage(stderr, "ping", "--wait must be positive")
	case o.size < 0 || o.size > 65000:
		return badUsage(stderr, "ping", "--size must be 0 to 65000")
	}
	if err := o.check(defaultAddrs); err != nil {
		return badUsage(stderr, "ping", "%v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	got, err := ping(ctx, &o, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "synack ping: %v\n", err)
		return 1
	}
	if got == 0 {
		return 1
	}
	return 0
}

// ping sends o.count echo requests, o.interval apart, prints the replies
// and a summary, and returns how many replies came.
func ping(ctx context.Context, o *pingOptions, out io.Writer) (int, error) {
	n, err := o.open()
	if err != nil {
		return 0, err
	}
	defer n.Close()
	c, err := n.DialPing(netip.Addr{}, o.target)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	typ := uint8(wire.ICMPv4EchoRequest)
	if o.target.Is6() {
		typ = wire.ICMPv6EchoRequest
	}
	fmt.Fprintf(out, "PING %s: %d data bytes\n", o.target, o.size)
	sentAt := make(map[uint16]time.Time, o.count)
	var rtts []time.Duration
	replies := make(chan pingReply, o.count)
	go readReplies(c, o.size, replies)
	tick := time.NewTicker(o.interval)
	defer tick.Stop()
	sent := 0
	send := func() error {
		sent++
		seq := uint16(sent)
		req := make([]byte, wire.ICMPHeaderLen+o.size)
		req[0] = typ
		binary.BigEndian.PutUint16(req[6:], seq)
		for i := range o.size {
			req[wire.ICMPHeaderLen+i] = byte(i)
		}
		sentAt[seq] = time.Now()
		_, err := c.Write(req)
		return err
	}
	if err := send(); err != nil {
		return 0, err
	}
	var last <-chan time.Time
	if sent == o.count {
		last = time.After(o.wait)
	}
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-last:
			break loop
		case <-tick.C:
			if sent < o.count {
				if err := send(); err != nil {
					return len(rtts), err
				}
				if sent == o.count {
					last = time.After(o.wait)
				}
			}
		case r := <-replies:
			at, ok := sentAt[r.seq]
			if !ok {
				continue // not one of ours, or a duplicate
			}
			delete(sentAt, r.seq)
			rtt := r.at.Sub(at)
			rtts = append(rtts, rtt)
			fmt.Fprintf(out, "%d bytes from %s: icmp_seq=%d time=%.3f ms\n", r.n, r.from, r.seq, float64(rtt)/float64(time.Millisecond))
			if len(rtts) == o.count {
				break loop
			}
		}
	}
	fmt.Fprintf(out, "--- %s ping statistics ---\n", o.target)
	fmt.Fprintf(out, "%d packets transmitted, %d received, %.0f%% packet loss\n", sent, len(rtts), 100*float64(sent-len(rtts))/float64(sent))
	if len(rtts) > 0 {
		lo, hi, sum := rtts[0], rtts[0], time.Duration(0)
		for _, d := range rtts {
			lo, hi, sum = min(lo, d), max(hi, d), sum+d
		}
		ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
		fmt.Fprintf(out, "rtt min/avg/max = %.3f/%.3f/%.3f ms\n", ms(lo), ms(sum/time.Duration(len(rtts))), ms(hi))
	}
	return len(rtts), nil
}

// pingReply is an echo reply as readReplies saw it.
type pingReply struct {
	seq  uint16
	n    int // ICMP message bytes
	from netip.Addr
	at   time.Time
}

// pingReader is what readReplies reads from (a *stack.PingConn).
type pingReader interface {
	ReadFromAddr(b []byte) (int, netip.Addr, error)
}

// readReplies passes the echo replies c reads to out until c is closed.
func readReplies(c pingReader, size int, out chan<- pingReply) {
	buf := make([]byte, wire.ICMPHeaderLen+size+64)
	for {
		n, from, err := c.ReadFromAddr(buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return
		}
		if n < wire.ICMPHeaderLen {
			continue
		}
		select {
		case out <- pingReply{seq: binary.BigEndian.Uint16(buf[6:]), n: n, from: from, at: time.Now()}:
		default: // the count is reached: nobody listens any more
		}
	}
}
