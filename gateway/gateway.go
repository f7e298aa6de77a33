// Package gateway relays every TCP connection and UDP flow that reaches a
// synack stack — whatever its destination — to that destination through
// an Upstream: the host's own sockets (Direct) or a SOCKS5 proxy (SOCKS5).
// It is what tun2socks-style programs do, with end-to-end semantics kept:
//
//   - the client's handshake completes only once the upstream connection
//     has; a refused upstream refuses the client (RST), an unreachable one
//     answers it with an ICMP unreachable, one that never answers leaves it
//     to time out;
//   - a half-close (FIN) in either direction is passed on with CloseWrite,
//     and the other direction keeps flowing;
//   - a reset in either direction is passed on as a reset;
//   - bytes are copied in order, each exactly once.
//
// Flows are bounded (Config.MaxTCP, Config.MaxUDP) and each ends with one
// Flow record (Config.Log).
package gateway

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/synack/synack/stack"
)

// Upstream reaches the real destinations.
type Upstream interface {
	// DialTCP connects to dst. Its error says how the client is refused
	// (see Refusal).
	DialTCP(ctx context.Context, dst netip.AddrPort) (net.Conn, error)
	// DialUDP returns a connection whose Write sends a datagram to dst and
	// whose Read returns dst's datagrams.
	DialUDP(ctx context.Context, dst netip.AddrPort) (net.Conn, error)
}

// Config configures a Gateway. Zero fields take their defaults.
type Config struct {
	Upstream Upstream
	// DialTimeout bounds an upstream dial; a destination that has not
	// answered by then is treated as silent (the client times out).
	// Default 20 s.
	DialTimeout time.Duration
	// MaxTCP and MaxUDP bound the TCP connections and UDP flows relayed
	// (or being dialed) at once; beyond them new ones are refused
	// silently (TCP, the client retries its SYN) or dropped (UDP).
	// Defaults 4096 and 1024.
	MaxTCP, MaxUDP int
	// UDPIdle closes a UDP flow idle for this long. Default 60 s.
	UDPIdle time.Duration
	// Log, if set, is called once when each flow ends.
	Log func(Flow)
	// MaxPing bounds the echo requests forwarded through a Pinger
	// upstream and waiting for their reply at once; beyond it they are
	// dropped (the client sees a lost ping). Default 256.
	MaxPing int
}

// Pinger is an Upstream that also sends ICMP echo requests. A gateway
// whose Upstream is one forwards its clients' pings through it, and the
// client gets a reply only when the destination answered one (within
// pingWait); with any other Upstream the stack answers every ping itself,
// as if every address were alive (stack.Stack.SetPromiscuousEcho). Direct
// is a Pinger; SOCKS5 is not.
type Pinger interface {
	// Ping sends an echo request with sequence number seq and data to
	// dst and waits until ctx ends for its reply: nil if it came.
	Ping(ctx context.Context, dst netip.Addr, seq uint16, data []byte) error
}

// pingWait is how long a forwarded ping waits for the destination's reply.
const pingWait = 5 * time.Second

// Flow is the record of one relayed connection or flow.
type Flow struct {
	Proto     string         // "tcp" or "udp"
	Client    netip.AddrPort // who connected
	Dest      netip.AddrPort // where to
	Start     time.Time
	Duration  time.Duration
	BytesUp   int64  // client → destination
	BytesDown int64  // destination → client
	End       string // how it ended: closed, refused, unreachable, timeout, reset by client, reset by destination, idle, aborted, over limit
	Err       error  // the error behind End, if any
}

// Stats counts a gateway's flows.
type Stats struct {
	TCPOpen, UDPOpen     int64  // flows being dialed or relayed now
	TCPTotal, UDPTotal   uint64 // flows handled in all
	Refused              uint64 // TCP connections refused because their upstream was
	OverLimit            uint64 // flows refused or dropped by MaxTCP/MaxUDP
	BytesUp, BytesDown   uint64 // relayed bytes, both directions
	TCPResets, UDPErrors uint64 // resets passed on; UDP flows whose upstream failed
	Pings, PingReplies   uint64 // echo requests forwarded (Pinger), and those the destination answered
}

// Gateway relays a stack's forwarded connections and flows.
type Gateway struct {
	cfg Config
	stk *stack.Stack
	wg  sync.WaitGroup

	tcpOpen, udpOpen                       atomic.Int64
	tcpTotal, udpTotal, refused, overLimit atomic.Uint64
	bytesUp, bytesDown, resets, udpErrors  atomic.Uint64
	pings, pingReplies                     atomic.Uint64
	pingsOut                               atomic.Int64 // forwarded pings waiting for their reply
	pingCtx                                context.Context
	stopPings                              context.CancelFunc // Close ends the waits

	mu     sync.Mutex
	closed bool
	live   map[io.Closer]struct{} // everything to close on Close
}

// New installs a gateway as stk's TCP and UDP forwarder.
func New(stk *stack.Stack, cfg Config) *Gateway {
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 20 * time.Second
	}
	if cfg.MaxTCP <= 0 {
		cfg.MaxTCP = 4096
	}
	if cfg.MaxUDP <= 0 {
		cfg.MaxUDP = 1024
	}
	if cfg.UDPIdle <= 0 {
		cfg.UDPIdle = 60 * time.Second
	}
	if cfg.MaxPing <= 0 {
		cfg.MaxPing = 256
	}
	g := &Gateway{cfg: cfg, stk: stk, live: make(map[io.Closer]struct{})}
	stk.ForwardTCP(cfg.MaxTCP, g.handleTCP)
	stk.ForwardUDP(stack.UDPForwardConfig{MaxFlows: cfg.MaxUDP, IdleTimeout: cfg.UDPIdle}, g.handleUDP)
	g.pingCtx, g.stopPings = context.WithCancel(context.Background())
	if p, ok := cfg.Upstream.(Pinger); ok {
		stk.ForwardEcho(func(req *stack.EchoRequest) { g.handleEcho(p, req) })
	}
	return g
}

// Stats returns the gateway's counters.
func (g *Gateway) Stats() Stats {
	return Stats{
		TCPOpen: g.tcpOpen.Load(), UDPOpen: g.udpOpen.Load(),
		TCPTotal: g.tcpTotal.Load(), UDPTotal: g.udpTotal.Load(),
		Refused: g.refused.Load(), OverLimit: g.overLimit.Load(),
		BytesUp: g.bytesUp.Load(), BytesDown: g.bytesDown.Load(),
		TCPResets: g.resets.Load(), UDPErrors: g.udpErrors.Load(),
		Pings: g.pings.Load(), PingReplies: g.pingReplies.Load(),
	}
}

// Close stops forwarding, closes every relayed connection and flow, and
// waits for their goroutines.
func (g *Gateway) Close() error {
	g.stk.ForwardTCP(0, nil)
	g.stk.ForwardUDP(stack.UDPForwardConfig{}, nil)
	g.stk.ForwardEcho(nil)
	g.stopPings()
	g.mu.Lock()
	g.closed = true
	for c := range g.live {
		c.Close()
	}
	g.mu.Unlock()
	g.wg.Wait()
	return nil
}

// track registers closers to close on Close; false if closing already.
func (g *Gateway) track(cs ...io.Closer) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	for _, c := range cs {
		g.live[c] = struct{}{}
	}
	return true
}

func (g *Gateway) untrack(cs ...io.Closer) {
	g.mu.Lock()
	for _, c := range cs {
		delete(g.live, c)
	}
	g.mu.Unlock()
}

func (g *Gateway) log(f *Flow) {
	f.Duration = time.Since(f.Start)
	if g.cfg.Log != nil {
		g.cfg.Log(*f)
	}
}

// Refusal says how to refuse a client whose upstream dial failed with
// err: a refused connection becomes a RST, an unreachable network or host
// an ICMP unreachable, a prohibited one an ICMP administratively
// prohibited, a timeout silence. SOCKS5 replies map the same way.
func Refusal(err error) (stack.Refusal, string) {
	var se *SOCKSError
	if errors.As(err, &se) {
		return se.refusal()
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return stack.RefuseReset, "refused"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return stack.RefuseHostUnreachable, "unreachable"
	case errors.Is(err, syscall.ENETUNREACH):
		return stack.RefuseNetUnreachable, "unreachable"
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return stack.RefuseAdminProhibited, "prohibited"
	case errors.Is(err, syscall.ETIMEDOUT), errors.Is(err, os.ErrDeadlineExceeded),
		errors.Is(err, context.DeadlineExceeded):
		return stack.RefuseSilently, "timeout"
	}
	return stack.RefuseReset, "refused"
}

func (g *Gateway) handleTCP(req *stack.TCPRequest) {
	g.wg.Add(1)
	defer g.wg.Done()
	g.tcpTotal.Add(1)
	f := Flow{Proto: "tcp", Client: req.RemoteAddr(), Dest: req.LocalAddr(), Start: time.Now()}
	defer g.log(&f)
	if g.tcpOpen.Add(1) > int64(g.cfg.MaxTCP) {
		g.tcpOpen.Add(-1)
		g.overLimit.Add(1)
		req.Refuse(stack.RefuseSilently)
		f.End = "over limit"
		return
	}
	defer g.tcpOpen.Add(-1)

	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.DialTimeout)
	up, err := g.cfg.Upstream.DialTCP(ctx, req.LocalAddr())
	cancel()
	if err != nil {
		how, what := Refusal(err)
		req.Refuse(how)
		g.refused.Add(1)
		f.End, f.Err = what, err
		return
	}
	// The client's SYN-ACK goes out now; give its ACK a generous while.
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	c, err := req.Accept(ctx)
	cancel()
	if err != nil {
		up.Close()
		f.End, f.Err = "aborted", err
		return
	}
	if !g.track(c, up) {
		c.Close()
		up.Close()
		f.End = "aborted"
		return
	}
	defer g.untrack(c, up)
	g.relayTCP(c, up, &f)
}

// relayTCP copies both ways until both directions have ended; a FIN is
// passed on with CloseWrite, a reset as a reset.
func (g *Gateway) relayTCP(c *stack.Conn, up net.Conn, f *Flow) {
	// The first failure decides how the flow ended; what it does to the
	// other direction (whose copy then fails too) is its consequence.
	var end atomic.Pointer[string]
	decide := func(s string) bool { return end.CompareAndSwap(nil, &s) }
	// copyDir copies src to dst; on src's EOF it half-closes dst. A reset
	// (or any failure) of src resets dst, a failure of dst resets src.
	copyDir := func(dst, src net.Conn, counter *atomic.Uint64, srcName, dstName string) int64 {
		buf := make([]byte, 32<<10)
		var n int64
		for {
			m, rerr := src.Read(buf)
			if m > 0 {
				if _, werr := dst.Write(buf[:m]); werr != nil {
					if decide("reset by " + dstName) {
						abort(src)
						dst.Close()
					}
					return n
				}
				n += int64(m)
				counter.Add(uint64(m))
			}
			if rerr == io.EOF {
				closeWrite(dst)
				return n
			}
			if rerr != nil {
				if decide("reset by " + srcName) {
					abort(dst)
					src.Close()
				}
				return n
			}
		}
	}
	upc := make(chan int64, 1)
	go func() { upc <- copyDir(up, c, &g.bytesUp, "client", "destination") }()
	f.BytesDown = copyDir(c, up, &g.bytesDown, "destination", "client")
	f.BytesUp = <-upc
	if e := end.Load(); e != nil {
		f.End = *e
		g.resets.Add(1)
	} else {
		f.End = "closed"
	}
	c.Close()
	up.Close()
}

// abort closes c with a reset where it can.
func abort(c net.Conn) {
	type linger interface{ SetLinger(int) error }
	if l, ok := c.(linger); ok {
		l.SetLinger(0)
	}
	c.Close()
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return
	}
	c.Close()
}

func (g *Gateway) handleUDP(flow *stack.UDPFlow) {
	g.wg.Add(1)
	defer g.wg.Done()
	g.udpTotal.Add(1)
	f := Flow{Proto: "udp", Client: flow.RemoteAddrPort(), Dest: flow.LocalAddrPort(), Start: time.Now()}
	defer g.log(&f)
	defer flow.Close()
	if g.udpOpen.Add(1) > int64(g.cfg.MaxUDP) {
		g.udpOpen.Add(-1)
		g.overLimit.Add(1)
		f.End = "over limit"
		return
	}
	defer g.udpOpen.Add(-1)
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.DialTimeout)
	up, err := g.cfg.Upstream.DialUDP(ctx, flow.LocalAddrPort())
	cancel()
	if err != nil {
		g.udpErrors.Add(1)
		_, f.End = Refusal(err)
		f.Err = err
		return
	}
	if !g.track(flow, up) {
		up.Close()
		f.End = "aborted"
		return
	}
	defer g.untrack(flow, up)
	done := make(chan int64, 1)
	go func() {
		var n int64
		buf := make([]byte, 64<<10)
		for {
			m, err := up.Read(buf)
			if err != nil {
				break
			}
			if _, err := flow.Write(buf[:m]); err != nil {
				break
			}
			n += int64(m)
			g.bytesDown.Add(uint64(m))
		}
		flow.Close()
		done <- n
	}()
	buf := make([]byte, 64<<10)
	f.End = "closed"
	for {
		m, err := flow.Read(buf)
		if err != nil {
			if errors.Is(err, stack.ErrFlowIdle) {
				f.End = "idle"
			}
			break
		}
		if _, err := up.Write(buf[:m]); err != nil {
			g.udpErrors.Add(1)
			f.End, f.Err = "upstream error", err
			break
		}
		f.BytesUp += int64(m)
		g.bytesUp.Add(uint64(m))
	}
	up.Close()
	f.BytesDown = <-done
}

// handleEcho forwards an echo request through p and replies to the client
// if the destination did. It runs on the stack's input path: the wait is
// a goroutine's, up to MaxPing of them.
func (g *Gateway) handleEcho(p Pinger, req *stack.EchoRequest) {
	if g.pingsOut.Add(1) > int64(g.cfg.MaxPing) {
		g.pingsOut.Add(-1)
		g.overLimit.Add(1)
		return
	}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		g.pingsOut.Add(-1)
		return
	}
	g.wg.Add(1)
	g.mu.Unlock()
	g.pings.Add(1)
	go func() {
		defer g.wg.Done()
		defer g.pingsOut.Add(-1)
		ctx, cancel := context.WithTimeout(g.pingCtx, pingWait)
		defer cancel()
		if p.Ping(ctx, req.Dst, req.Seq, req.Data) == nil {
			g.pingReplies.Add(1)
			req.Reply()
		}
	}()
}
