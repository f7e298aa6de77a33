package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countingWriter) Write(b []byte) (int, error) {
	k, err := c.w.Write(b)
	c.n.Add(int64(k))
	return k, err
}

// dialOptions are the flags of synack dial.
type dialOptions struct {
	tunFlags
	timeout time.Duration
	target  string
}

func runDial(args []string, stdout, stderr io.Writer) int {
	return dialMain(args, os.Stdin, stdout, stderr)
}

// dialMain is runDial with its standard input.
func dialMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var o dialOptions
	fs := newFlags("dial", stderr)
	o.tunFlags.register(fs)
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "give up connecting after this long")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintln(w, "Usage: synack dial --tun NAME [--addr ADDR/PREFIX] [--peer KERNEL_ADDR] [--netns NS] HOST:PORT")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Connects to HOST:PORT (an IP literal; IPv6 in brackets) from a synack stack")
		fmt.Fprintln(w, "on TUN device NAME, netcat-style: standard input goes to the connection, the")
		fmt.Fprintln(w, "connection to standard output. At the end of standard input dial half-closes")
		fmt.Fprintln(w, "(sends FIN) and keeps reading; it exits when the peer closes (after at most")
		fmt.Fprintln(w, "0.25 s more for standard input to end, if it is a pipe about to).")
		fmt.Fprintf(w, "--addr defaults to %s.\n", joinStrings(defaultAddrs))
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Example (as root, with a server on 198.18.0.1:7 in namespace demo):")
		fmt.Fprintln(w, "  echo hello | synack dial --netns demo --tun syn0 --peer 198.18.0.1 198.18.0.1:7")
		fmt.Fprintln(w)
		fs.PrintDefaults()
	}
	if status, done := parse(fs, args); done {
		return status
	}
	if fs.NArg() != 1 {
		return badUsage(stderr, "dial", "want one HOST:PORT argument, got %d", fs.NArg())
	}
	o.target = fs.Arg(0)
	if _, err := netip.ParseAddrPort(o.target); err != nil {
		return badUsage(stderr, "dial", "%q is not HOST:PORT with an IP literal host (IPv6 in brackets)", o.target)
	}
	if o.timeout <= 0 {
		return badUsage(stderr, "dial", "--timeout must be positive")
	}
	if err := o.check(defaultAddrs); err != nil {
		return badUsage(stderr, "dial", "%v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := dial(ctx, &o, stdin, stdout, newProgress(stdout, stderr, "dial "+o.target, true)); err != nil {
		fmt.Fprintf(stderr, "synack dial: %v\n", err)
		return 1
	}
	return 0
}

// stdinGrace is how long dial, once the peer has closed, waits for standard
// input to reach its end before it exits.
const stdinGrace = 250 * time.Millisecond

// dial connects and copies both ways until the peer closes.
func dial(ctx context.Context, o *dialOptions, stdin io.Reader, stdout io.Writer, prog *progress) error {
	n, err := o.open()
	if err != nil {
		return err
	}
	defer n.Close()
	dctx, cancel := context.WithTimeout(ctx, o.timeout)
	c, err := n.DialContext(dctx, "tcp", o.target)
	cancel()
	if err != nil {
		return err
	}
	var in, out atomic.Int64
	stopProg := make(chan struct{})
	progDone := make(chan struct{})
	go func() {
		defer close(progDone)
		prog.watchConn(stopProg, c.Info, func() (int64, int64) { return in.Load() + out.Load(), 0 })
	}()
	defer func() {
		close(stopProg)
		<-progDone
	}()
	sent := make(chan struct{})
	go func() {
		// Standard input to the connection, then FIN. A read blocked on
		// standard input is left behind when dial returns.
		defer close(sent)
		if _, err := io.Copy(countingWriter{c, &out}, stdin); err == nil {
			c.CloseWrite()
		}
	}()
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(countingWriter{stdout, &in}, c)
		done <- err
	}()
	select {
	case err = <-done:
		// The peer has closed. Let standard input finish if it is about
		// to (a pipe already written), without waiting on a terminal.
		select {
		case <-sent:
		case <-time.After(stdinGrace):
		}
	case <-ctx.Done():
		err = errors.New("interrupted")
	}
	c.Close()
	settle(context.Background(), time.Second, c)
	return err
}
