package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/synack/synack/stack"
)

// params bound every workload in count and time.
type params struct {
	bulkBytes   int64         // bytes per bulk transfer
	conns       int           // connections per connection-rate measurement
	pingPongs   int           // round trips per ping-pong measurement (at most)
	shortConns  int           // connections per short request/response measurement (at most)
	memConns    int           // connections held for the memory measurements
	floodSYNs   int           // SYNs per flood
	maxDuration time.Duration // cap on each rate measurement
	timeout     time.Duration // a measurement that takes longer failed
}

// usage is a snapshot of the process's CPU time and allocations.
type usage struct {
	wall       time.Time
	cpu        time.Duration
	totalAlloc uint64
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func snapshot() usage {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return usage{wall: time.Now(), cpu: cpuTime(), totalAlloc: ms.TotalAlloc}
}

// heapInUse is what the Go runtime holds for live objects and goroutine
// stacks, after a collection, once it has settled: goroutines of earlier
// workloads (a closing stack's loops, a kernel connection's finalizer)
// may still be letting memory go, which would otherwise be subtracted
// from the next measurement (negative bytes per connection were seen).
func heapInUse() int64 {
	read := func() int64 {
		// synack's free lists (send-buffer pages, packets) give their
		// buffers back once unused for a minute, at a collection, which
		// may fall between two readings (minimums of −18.6k bytes per
		// connection were seen): they are not what connections hold, so
		// they go before every reading, for every contender alike.
		stack.FreeCaches()
		gcNow()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapAlloc + ms.StackInuse)
	}
	last, lastG, steady := read(), runtime.NumGoroutine(), 0
	for range 100 {
		time.Sleep(25 * time.Millisecond)
		now, g := read(), runtime.NumGoroutine()
		if d := now - last; d > -32<<10 && d < 32<<10 && g == lastG {
			if steady++; steady == 3 {
				return now
			}
		} else {
			steady = 0
		}
		last, lastG = now, g
	}
	return last
}

// acceptor runs an accept loop that hands each connection to handle in
// a goroutine of its own (as a Go server does), until the listener
// closes.
type acceptor struct {
	l  net.Listener
	wg sync.WaitGroup
}

func startAcceptor(l net.Listener, handle func(net.Conn)) *acceptor {
	a := &acceptor{l: l}
	a.wg.Go(func() {
		var hs sync.WaitGroup
		defer hs.Wait()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if handle == nil {
				c.Close()
				continue
			}
			hs.Go(func() { handle(c) })
		}
	})
	return a
}

func (a *acceptor) stop() {
	a.l.Close()
	a.wg.Wait()
}

func closeWrite(c net.Conn) error {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Close()
}

// dialAccept opens one connection and returns both ends.
func dialAccept(ctx context.Context, n network, l net.Listener) (net.Conn, net.Conn, error) {
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := l.Accept()
		ch <- res{c, err}
	}()
	c, err := n.Dial(ctx)
	if err != nil {
		l.Close()
		<-ch
		return nil, nil, fmt.Errorf("dial: %w", err)
	}
	r := <-ch
	if r.err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("accept: %w", r.err)
	}
	return c, r.c, nil
}

// bulk moves p.bulkBytes one way over one connection.
func bulk(n network, p params) (map[string]float64, error) {
	l, err := n.Listen()
	if err != nil {
		return nil, err
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
	defer cancel()
	c, s, err := dialAccept(ctx, n, l)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	defer s.Close()
	deadline := time.Now().Add(p.timeout)
	c.SetDeadline(deadline)
	s.SetDeadline(deadline)

	const chunk = 128 << 10
	wbuf := make([]byte, chunk)
	for i := range wbuf {
		wbuf[i] = byte(i * 7)
	}
	got := make(chan int64, 1)
	gcNow()
	start := snapshot()
	go func() {
		rbuf := make([]byte, chunk)
		var total int64
		for {
			k, err := s.Read(rbuf)
			total += int64(k)
			if err != nil {
				break
			}
		}
		got <- total
	}()
	var werr error
	for sent := int64(0); sent < p.bulkBytes; {
		w := wbuf[:min(int64(chunk), p.bulkBytes-sent)]
		k, err := c.Write(w)
		sent += int64(k)
		if err != nil {
			werr = err
			break
		}
	}
	closeWrite(c)
	total := <-got
	end := snapshot()
	if werr != nil {
		return nil, fmt.Errorf("write: %w", werr)
	}
	if total != p.bulkBytes {
		return nil, fmt.Errorf("received %d bytes of %d", total, p.bulkBytes)
	}
	secs := end.wall.Sub(start.wall).Seconds()
	res := map[string]float64{}
	if r := n.Retransmits(c); r >= 0 {
		res["retransmits"] = float64(r)
	}
	gib := float64(p.bulkBytes) / (1 << 30)
	mib := float64(p.bulkBytes) / (1 << 20)
	res["throughput"] = float64(p.bulkBytes) * 8 / secs / 1e9
	res["cpu_per_gib"] = (end.cpu - start.cpu).Seconds() / gib
	res["alloc_per_mib"] = float64(end.totalAlloc-start.totalAlloc) / mib
	return res, nil
}

// connRate opens and closes p.conns connections from dialers goroutines
// (or as many as fit in p.maxDuration); the server accepts and closes.
func connRate(dialers int) func(network, params) (map[string]float64, error) {
	return func(n network, p params) (map[string]float64, error) {
		return connLoop(n, p, dialers, p.conns, nil, func(c net.Conn) error { return nil })
	}
}

// shortConns runs 1-byte request/response connections: the client dials,
// sends one byte, reads one byte and closes; the server, a goroutine per
// connection, reads the byte, answers with one, waits for EOF and closes.
func shortConns(n network, p params) (map[string]float64, error) {
	serve := func(c net.Conn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(p.timeout))
		var b [1]byte
		if _, err := io.ReadFull(c, b[:]); err != nil {
			return
		}
		if _, err := c.Write(b[:]); err != nil {
			return
		}
		c.Read(b[:]) // EOF
	}
	client := func(c net.Conn) error {
		b := [1]byte{'q'}
		if _, err := c.Write(b[:]); err != nil {
			return err
		}
		_, err := io.ReadFull(c, b[:])
		return err
	}
	return connLoop(n, p, 1, p.shortConns, serve, client)
}

func connLoop(n network, p params, dialers, count int, serve func(net.Conn), client func(net.Conn) error) (map[string]float64, error) {
	l, err := n.Listen()
	if err != nil {
		return nil, err
	}
	a := startAcceptor(l, serve)
	defer a.stop()
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
	defer cancel()
	var (
		next, done atomic.Int64
		firstErr   error
		mu         sync.Mutex
		wg         sync.WaitGroup
	)
	stopAt := time.Now().Add(p.maxDuration)
	start := snapshot()
	for range dialers {
		wg.Go(func() {
			for next.Add(1) <= int64(count) && time.Now().Before(stopAt) {
				c, err := n.Dial(ctx)
				if err == nil {
					c.SetDeadline(time.Now().Add(p.timeout))
					err = client(c)
					c.Close()
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	end := snapshot()
	if firstErr != nil {
		return nil, firstErr
	}
	k := float64(done.Load())
	return map[string]float64{
		"rate":         k / end.wall.Sub(start.wall).Seconds(),
		"cpu_per_conn": (end.cpu - start.cpu).Seconds() / k * 1e6,
	}, nil
}

// pingPong bounces one byte back and forth over one connection.
func pingPong(n network, p params) (map[string]float64, error) {
	l, err := n.Listen()
	if err != nil {
		return nil, err
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
	defer cancel()
	c, s, err := dialAccept(ctx, n, l)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	deadline := time.Now().Add(p.timeout)
	c.SetDeadline(deadline)
	s.SetDeadline(deadline)
	echoed := make(chan struct{})
	go func() {
		defer close(echoed)
		defer s.Close()
		var b [1]byte
		for {
			if _, err := s.Read(b[:]); err != nil {
				return
			}
			if _, err := s.Write(b[:]); err != nil {
				return
			}
		}
	}()
	lat := make([]time.Duration, 0, p.pingPongs)
	var b [1]byte
	stopAt := time.Now().Add(p.maxDuration)
	gcNow()
	start := snapshot()
	for len(lat) < p.pingPongs && (len(lat)&255 != 0 || time.Now().Before(stopAt)) {
		t0 := time.Now()
		if _, err := c.Write(b[:]); err != nil {
			return nil, err
		}
		if _, err := c.Read(b[:]); err != nil {
			return nil, err
		}
		lat = append(lat, time.Since(t0))
	}
	end := snapshot()
	closeWrite(c)
	<-echoed
	slices.Sort(lat)
	k := float64(len(lat))
	return map[string]float64{
		"rate":       k / end.wall.Sub(start.wall).Seconds(),
		"p50":        float64(lat[len(lat)/2].Nanoseconds()) / 1e3,
		"p99":        float64(lat[len(lat)*99/100].Nanoseconds()) / 1e3,
		"cpu_per_rt": (end.cpu - start.cpu).Seconds() / k * 1e6,
	}, nil
}

// memory opens p.memConns connections that exchange one byte each way,
// and measures what the process holds per connection (both ends) while
// they are idle and established, then after the client closed first and
// the server followed (the client's ends in TIME-WAIT). The figure is
// what the Go runtime holds (heap and stacks, after a collection) above
// the baseline taken with the listener open and no connection.
// idleFor is how long the memory workload's connections are left idle
// before the heap they take is measured.
const idleFor = 300 * time.Millisecond

func memory(n network, p params) (map[string]float64, error) {
	l, err := n.Listen()
	if err != nil {
		return nil, err
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
	defer cancel()
	// One connection first, so that what every stack sets up on the first
	// connection (pools, tables) is in the baseline.
	c0, s0, err := dialAccept(ctx, n, l)
	if err != nil {
		return nil, err
	}
	c0.Close()
	s0.SetReadDeadline(time.Now().Add(p.timeout))
	if _, err := s0.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("server read after the client's close: %v, want EOF", err)
	}
	s0.Close()
	n.Settle(1)
	base := heapInUse() // synack's free lists emptied first (heapInUse)
	type pair struct{ c, s net.Conn }
	conns := make([]pair, 0, p.memConns)
	defer func() {
		for _, pr := range conns {
			pr.c.Close()
			pr.s.Close()
		}
	}()
	var b [1]byte
	for range p.memConns {
		c, s, err := dialAccept(ctx, n, l)
		if err != nil {
			return nil, err
		}
		conns = append(conns, pair{c, s})
		if _, err := c.Write(b[:]); err != nil {
			return nil, err
		}
		if _, err := io.ReadFull(s, b[:]); err != nil {
			return nil, err
		}
		if _, err := s.Write(b[:]); err != nil {
			return nil, err
		}
		if _, err := io.ReadFull(c, b[:]); err != nil {
			return nil, err
		}
	}
	// Idle means idle for a while: a stack may keep what a connection in
	// use holds for a moment after it was last used (synack gives its
	// buffers' storage back 100 to 200 ms after, stack.idleBufferLook).
	// Measured at once, synack's figure was 7.2 KB rather than 3.2.
	time.Sleep(idleFor)
	idle := heapInUse()
	for _, pr := range conns {
		if err := pr.c.Close(); err != nil {
			return nil, err
		}
	}
	for _, pr := range conns {
		pr.s.SetReadDeadline(time.Now().Add(p.timeout))
		if _, err := pr.s.Read(b[:]); !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("server read after the client's close: %v, want EOF", err)
		}
		pr.s.Close()
	}
	clear(conns)
	conns = nil
	n.Settle(p.memConns + 1)
	tw := heapInUse()
	k := float64(p.memConns)
	return map[string]float64{
		"idle":     float64(idle-base) / k,
		"timewait": float64(tw-base) / k,
	}, nil
}
