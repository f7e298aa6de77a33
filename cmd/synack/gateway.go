package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/synack/synack/gateway"
)

// gatewayOptions are the flags of synack gateway.
type gatewayOptions struct {
	tunFlags
	socks5     string
	bindIface  string
	fwmark     int
	upNetns    string
	maxTCP     int
	maxUDP     int
	udpIdle    time.Duration
	dialTimout time.Duration
	quiet      bool
	icmp       string
	admin      string
}

func runGateway(args []string, stdout, stderr io.Writer) int {
	var o gatewayOptions
	fs := newFlags("gateway", stderr)
	o.tunFlags.register(fs)
	fs.Var(&o.routes, "route", "on the kernel side, route `PREFIX` into the device (repeatable): clients reach every address in it through the gateway")
	fs.StringVar(&o.socks5, "socks5", "", "relay through the SOCKS5 proxy at `HOST:PORT` (TCP CONNECT, UDP ASSOCIATE; USER:PASS@HOST:PORT to authenticate) instead of directly")
	fs.StringVar(&o.bindIface, "bind-interface", "", "bind upstream sockets to interface `IFACE` (SO_BINDTODEVICE), so they never loop back into the TUN")
	fs.IntVar(&o.fwmark, "fwmark", 0, "mark upstream sockets with fwmark `N` (SO_MARK), for a routing rule that keeps them out of the TUN")
	fs.StringVar(&o.upNetns, "upstream-netns", "", "open upstream sockets in network namespace `NS`")
	fs.IntVar(&o.maxTCP, "max-tcp", 4096, "at most `N` TCP connections relayed or being dialed at once")
	fs.IntVar(&o.maxUDP, "max-udp", 1024, "at most `N` UDP flows at once")
	fs.DurationVar(&o.udpIdle, "udp-idle", time.Minute, "close a UDP flow idle for `D`")
	fs.DurationVar(&o.dialTimout, "dial-timeout", 20*time.Second, "give up an upstream dial after `D` (the client then times out too)")
	fs.BoolVar(&o.quiet, "quiet", false, "do not log each flow")
	fs.StringVar(&o.admin, "admin", "", "serve the connection table and counters over HTTP on this loopback `ADDR` (HOST:PORT; read them with synack ss and synack stat)")
	fs.StringVar(&o.icmp, "icmp", "forward", "ICMP echo requests to any address: `forward` them to the destination (directly; a SOCKS5 proxy cannot carry them, so with --socks5 the gateway answers them), answer them from the gateway, or drop them")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintln(w, "Usage: synack gateway --tun NAME --addr ADDR/PREFIX [--peer KERNEL_ADDR] [--netns NS]")
		fmt.Fprintln(w, "                      [--route PREFIX]... [--socks5 HOST:PORT]")
		fmt.Fprintln(w, "                      [--bind-interface IFACE | --fwmark N | --upstream-netns NS]")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Creates TUN device NAME and relays every TCP connection and UDP flow that enters it,")
		fmt.Fprintln(w, "to any address and port, to its destination: directly through this host's sockets,")
		fmt.Fprintln(w, "or through a SOCKS5 proxy. A refused destination refuses the client (RST), an")
		fmt.Fprintln(w, "unreachable one answers it with ICMP unreachable; half-close and reset pass through.")
		fmt.Fprintln(w, "ICMP echo requests go to their destination too, from this host's raw ICMP sockets, and")
		fmt.Fprintln(w, "the client gets a reply only if the destination answers (--icmp). Each flow is")
		fmt.Fprintln(w, "logged to stderr when it ends; SIGUSR1 prints the counters and the connection table")
		fmt.Fprintln(w, "(--admin serves them for synack ss and synack stat). Runs until interrupted.")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Example (as root): clients in namespace \"cli\" reach 198.19.0.0/16 through the")
		fmt.Fprintln(w, "gateway, whose own sockets live in namespace \"up\":")
		fmt.Fprintln(w, "  synack gateway --netns cli --tun gw0 --addr 198.18.40.2/24 --peer 198.18.40.1 \\")
		fmt.Fprintln(w, "      --route 198.19.0.0/16 --upstream-netns up")
		fmt.Fprintln(w)
		fs.PrintDefaults()
	}
	if status, done := parse(fs, args); done {
		return status
	}
	if err := o.check(fs); err != nil {
		return badUsage(stderr, "gateway", "%v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runGatewayLoop(ctx, &o, stderr); err != nil {
		fmt.Fprintf(stderr, "synack gateway: %v\n", err)
		return 1
	}
	return 0
}

// check validates the flags.
func (o *gatewayOptions) check(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := o.tunFlags.check(nil); err != nil {
		return err
	}
	if o.socks5 != "" {
		hp := o.socks5[strings.LastIndex(o.socks5, "@")+1:]
		if _, _, err := net.SplitHostPort(hp); err != nil {
			return fmt.Errorf("--socks5 %q: want HOST:PORT", o.socks5)
		}
	}
	if o.admin != "" {
		if err := checkAdminAddr(o.admin); err != nil {
			return err
		}
	}
	if o.icmp != "forward" && o.icmp != "answer" && o.icmp != "drop" {
		return fmt.Errorf("--icmp %q: want forward, answer or drop", o.icmp)
	}
	if o.fwmark < 0 {
		return errors.New("--fwmark must not be negative")
	}
	if o.maxTCP <= 0 || o.maxUDP <= 0 {
		return errors.New("--max-tcp and --max-udp must be positive")
	}
	if o.udpIdle <= 0 || o.dialTimout <= 0 {
		return errors.New("--udp-idle and --dial-timeout must be positive")
	}
	return nil
}

// upstream builds the upstream the flags ask for.
func (o *gatewayOptions) upstream() (gateway.Upstream, string) {
	direct := gateway.Direct{Interface: o.bindIface, Mark: o.fwmark, NetNS: o.upNetns}
	how := "directly"
	if o.socks5 == "" {
		return direct, how
	}
	s := gateway.SOCKS5{Proxy: o.socks5, Via: direct}
	if at := strings.LastIndex(o.socks5, "@"); at >= 0 {
		s.Proxy = o.socks5[at+1:]
		s.Username, s.Password, _ = strings.Cut(o.socks5[:at], ":")
	}
	return s, "through SOCKS5 proxy " + s.Proxy
}

// runGatewayLoop runs the gateway until ctx is done.
func runGatewayLoop(ctx context.Context, o *gatewayOptions, stderr io.Writer) error {
	logger := log.New(stderr, "synack gateway: ", log.Lmsgprefix|log.Ltime|log.Lmicroseconds)
	n, err := o.open()
	if err != nil {
		return err
	}
	defer n.Close()
	up, how := o.upstream()
	cfg := gateway.Config{Upstream: up, MaxTCP: o.maxTCP, MaxUDP: o.maxUDP, UDPIdle: o.udpIdle, DialTimeout: o.dialTimout}
	if !o.quiet {
		cfg.Log = func(f gateway.Flow) { logger.Print(describeFlow(f)) }
	}
	g := gateway.New(n.Stack, cfg)
	// forward: gateway.New has installed its echo forwarder when the
	// upstream can ping (Direct); otherwise the stack answers.
	if o.icmp != "forward" {
		n.ForwardEcho(nil)
		n.SetPromiscuousEcho(o.icmp == "answer")
	}
	defer g.Close()
	if o.upNetns != "" {
		how += ", upstream sockets in netns " + o.upNetns
	}
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
	if o.admin != "" {
		a, err := startAdmin(ctx, o.admin, n)
		if err != nil {
			return err
		}
		logger.Printf("admin interface on http://%v/ (synack ss --admin %v)", a, a)
	}
	logger.Printf("relaying %s; %s", how, n.describe(&o.tunFlags))
	for {
		select {
		case <-ctx.Done():
			logger.Print(gatewayCounters(g))
			return nil
		case <-usr1:
			logger.Print(gatewayCounters(g))
			writeAdminText(stderr, n)
		}
	}
}

// describeFlow is a flow's log line.
func describeFlow(f gateway.Flow) string {
	s := fmt.Sprintf("%s %v → %v %s after %v, up %d B, down %d B", f.Proto, f.Client, f.Dest, f.End,
		f.Duration.Round(time.Millisecond), f.BytesUp, f.BytesDown)
	if f.Err != nil {
		s += " (" + f.Err.Error() + ")"
	}
	return s
}

// gatewayCounters is the SIGUSR1 line: the flows and the process's
// goroutines and heap, so that leaks show.
func gatewayCounters(g *gateway.Gateway) string {
	st := g.Stats()
	runtime.GC() // count what is live, not garbage
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return fmt.Sprintf("counters: tcp_open=%d udp_open=%d tcp_total=%d udp_total=%d refused=%d over_limit=%d resets=%d bytes_up=%d bytes_down=%d pings=%d ping_replies=%d goroutines=%d heap_bytes=%d",
		st.TCPOpen, st.UDPOpen, st.TCPTotal, st.UDPTotal, st.Refused, st.OverLimit, st.TCPResets,
		st.BytesUp, st.BytesDown, st.Pings, st.PingReplies, runtime.NumGoroutine(), ms.HeapInuse)
}
