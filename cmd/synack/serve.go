package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/synack/synack/stack"
)

// serveOptions are the flags of synack serve.
type serveOptions struct {
	tunFlags
	port    int
	echo    bool
	discard bool
	http    string
	source  string
	tls     string
	admin   string

	sourceBytes int64
}

func runServe(args []string, stdout, stderr io.Writer) int {
	var o serveOptions
	fs := newFlags("serve", stderr)
	o.tunFlags.register(fs)
	fs.IntVar(&o.port, "port", 0, "TCP `PORT` to listen on, on every synack address (required)")
	fs.BoolVar(&o.echo, "echo", false, "echo what each connection sends")
	fs.BoolVar(&o.discard, "discard", false, "read and discard what each connection sends; log its SHA-256")
	fs.StringVar(&o.http, "http", "", "serve the files under `DIR` over HTTP (net/http)")
	fs.StringVar(&o.source, "source", "", "send `BYTES` bytes (suffixes K, M, G: KiB, MiB, GiB) of ChaCha8 output (all-zero seed) to each connection, then close; log their SHA-256")
	fs.StringVar(&o.tls, "tls", "", "serve over TLS with the certificate and key in `CERT,KEY` (PEM files)")
	fs.StringVar(&o.admin, "admin", "", "serve the connection table and counters over HTTP on this loopback `ADDR` (HOST:PORT; read them with synack ss and synack stat)")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintln(w, "Usage: synack serve --tun NAME --addr ADDR/PREFIX [--peer KERNEL_ADDR] [--netns NS]")
		fmt.Fprintln(w, "                    --port P (--echo | --discard | --http DIR | --source BYTES)")
		fmt.Fprintln(w, "                    [--tls CERT,KEY] [--pcap FILE] [--trace FILE] [--admin ADDR]")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Creates (or opens) TUN device NAME, puts a synack stack with ADDR on it and")
		fmt.Fprintln(w, "serves TCP port P until interrupted (SIGINT, SIGTERM). The kernel reaches synack")
		fmt.Fprintln(w, "through the device: with --peer, serve gives the kernel side that address and")
		fmt.Fprintln(w, "brings the device up. Each connection's open and close is logged to stderr.")
		fmt.Fprintln(w, "SIGUSR1 prints the connection table and the counters to stderr; --admin")
		fmt.Fprintln(w, "serves them over HTTP for synack ss and synack stat.")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Example (as root):")
		fmt.Fprintln(w, "  ip netns add demo")
		fmt.Fprintln(w, "  synack serve --netns demo --tun syn0 --addr 198.18.0.2/24 --peer 198.18.0.1 --port 80 --http . &")
		fmt.Fprintln(w, "  ip netns exec demo curl http://198.18.0.2/")
		fmt.Fprintln(w)
		fs.PrintDefaults()
	}
	if status, done := parse(fs, args); done {
		return status
	}
	if err := o.check(fs); err != nil {
		return badUsage(stderr, "serve", "%v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, &o, stderr); err != nil {
		fmt.Fprintf(stderr, "synack serve: %v\n", err)
		return 1
	}
	return 0
}

// check validates the flags.
func (o *serveOptions) check(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := o.tunFlags.check(nil); err != nil {
		return err
	}
	if o.port <= 0 || o.port > 65535 {
		return errors.New("--port must be between 1 and 65535")
	}
	modes := 0
	for _, on := range []bool{o.echo, o.discard, o.http != "", o.source != ""} {
		if on {
			modes++
		}
	}
	if modes != 1 {
		return errors.New("give exactly one of --echo, --discard, --http, --source")
	}
	if o.source != "" {
		n, err := parseSize(o.source)
		if err != nil {
			return fmt.Errorf("--source: %w", err)
		}
		o.sourceBytes = n
	}
	if o.admin != "" {
		if err := checkAdminAddr(o.admin); err != nil {
			return err
		}
	}
	if o.tls != "" {
		files := strings.Split(o.tls, ",")
		if len(files) != 2 {
			return errors.New("--tls wants CERT,KEY")
		}
		for _, f := range files {
			if _, err := os.Stat(f); err != nil {
				return fmt.Errorf("--tls %s: %w", f, unwrapPath(err))
			}
		}
	}
	if o.http != "" {
		st, err := os.Stat(o.http)
		switch {
		case err != nil:
			return fmt.Errorf("--http %s: %w", o.http, unwrapPath(err))
		case !st.IsDir():
			return fmt.Errorf("--http %s is not a directory", o.http)
		}
	}
	return nil
}

// parseSize parses a byte count with an optional K, M or G (binary)
// suffix, with or without "iB".
func parseSize(s string) (int64, error) {
	t := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(s), "IB"), "B")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult, t = 1<<10, t[:n-1]
		case 'M':
			mult, t = 1<<20, t[:n-1]
		case 'G':
			mult, t = 1<<30, t[:n-1]
		}
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v < 0 || v > (1<<62)/mult {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return v * mult, nil
}

// serve runs the server until ctx is done.
func serve(ctx context.Context, o *serveOptions, stderr io.Writer) error {
	logger := log.New(stderr, "synack serve: ", log.Lmsgprefix|log.Ltime|log.Lmicroseconds)
	n, err := o.open()
	if err != nil {
		return err
	}
	defer n.Close()
	ln, err := n.Listen("tcp", fmt.Sprintf(":%d", o.port))
	if err != nil {
		return err
	}
	cl := &connLog{Listener: ln, log: logger, conns: map[*loggedConn]struct{}{}}
	var l net.Listener = cl
	if o.tls != "" {
		cert, key, _ := strings.Cut(o.tls, ",")
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return fmt.Errorf("--tls: %w", err)
		}
		l = tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{pair}})
	}
	mode := "echo"
	switch {
	case o.discard:
		mode = "discard"
	case o.http != "":
		mode = "http " + o.http
	case o.source != "":
		mode = fmt.Sprintf("source %d bytes", o.sourceBytes)
	}
	if o.tls != "" {
		mode += " over TLS"
	}
	logger.Printf("listening on port %d (%s): %s", o.port, mode, n.describe(&o.tunFlags))
	actx, stopAdmin := context.WithCancel(context.Background())
	defer stopAdmin()
	dumpOnSignal(actx, stderr, n)
	if o.admin != "" {
		a, err := startAdmin(actx, o.admin, n)
		if err != nil {
			return err
		}
		logger.Printf("admin interface on http://%v/ (synack ss --admin %v)", a, a)
	}

	var wg sync.WaitGroup
	errc := make(chan error, 1)
	if o.http != "" {
		srv := &http.Server{Handler: http.FileServer(http.Dir(o.http)), ErrorLog: logger}
		go func() { errc <- srv.Serve(l) }()
		select {
		case <-ctx.Done():
		case err := <-errc:
			return err
		}
		cl.shutdown.Store(true)
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		srv.Shutdown(sctx)
		cancel()
	} else {
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					errc <- err
					return
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					o.handle(c, logger)
				}()
			}
		}()
		select {
		case <-ctx.Done():
			cl.shutdown.Store(true)
			l.Close()
		case err := <-errc:
			return err
		}
	}
	logger.Printf("shutting down")
	cl.closeAll()
	wg.Wait()
	settle(context.Background(), time.Second, cl.closed()...)
	return nil
}

// handle serves one connection in echo, discard or source mode.
func (o *serveOptions) handle(c net.Conn, logger *log.Logger) {
	defer c.Close()
	lc := underlying(c)
	switch {
	case o.echo:
		io.Copy(c, c)
	case o.discard:
		h := sha256.New()
		n, err := io.Copy(h, c)
		lc.note(fmt.Sprintf("received %d bytes, sha256 %s%s", n, hex.EncodeToString(h.Sum(nil)), errNote(err)))
	default:
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(c, h), io.LimitReader(rand.NewChaCha8([32]byte{}), o.sourceBytes))
		lc.note(fmt.Sprintf("sent %d bytes, sha256 %s%s", n, hex.EncodeToString(h.Sum(nil)), errNote(err)))
	}
}

func errNote(err error) string {
	if err == nil {
		return ""
	}
	return fmt.Sprintf(" (%v)", err)
}

// underlying returns the logged connection under c (TLS or not).
func underlying(c net.Conn) *loggedConn {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	lc, _ := c.(*loggedConn)
	if lc == nil {
		return &loggedConn{}
	}
	return lc
}

// connLog wraps a listener so that each connection's open and close is
// logged, with its byte counts.
type connLog struct {
	net.Listener
	log   *log.Logger
	mu    sync.Mutex
	conns map[*loggedConn]struct{}

	// Once shutting down, closed connections are kept in closing, so
	// that serve can wait for their closing handshakes.
	shutdown atomic.Bool
	closing  []*stack.Conn
}

// Accept implements net.Listener.
func (l *connLog) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	lc := &loggedConn{Conn: c, l: l, start: time.Now()}
	l.mu.Lock()
	l.conns[lc] = struct{}{}
	l.mu.Unlock()
	l.log.Printf("open %v -> %v", c.RemoteAddr(), c.LocalAddr())
	return lc, nil
}

// closeAll closes every open connection.
func (l *connLog) closeAll() {
	l.mu.Lock()
	cs := make([]*loggedConn, 0, len(l.conns))
	for c := range l.conns {
		cs = append(cs, c)
	}
	l.mu.Unlock()
	for _, c := range cs {
		c.Close()
	}
}

// loggedConn counts a connection's bytes and logs its close.
type loggedConn struct {
	net.Conn
	l         *connLog
	start     time.Time
	in, out   atomic.Int64
	closeOnce sync.Once
	mu        sync.Mutex
	notes     []string
}

func (c *loggedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.in.Add(int64(n))
	return n, err
}

func (c *loggedConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.out.Add(int64(n))
	return n, err
}

// CloseWrite half-closes the connection (tls.Conn.CloseWrite needs it).
func (c *loggedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// note adds a remark to the close line.
func (c *loggedConn) note(s string) {
	c.mu.Lock()
	c.notes = append(c.notes, s)
	c.mu.Unlock()
}

func (c *loggedConn) Close() error {
	if c.Conn == nil {
		return nil
	}
	err := c.Conn.Close()
	c.closeOnce.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		if sc, ok := c.Conn.(*stack.Conn); ok && c.l.shutdown.Load() {
			c.l.closing = append(c.l.closing, sc)
		}
		c.l.mu.Unlock()
		c.mu.Lock()
		notes := strings.Join(c.notes, "; ")
		c.mu.Unlock()
		if notes != "" {
			notes = "; " + notes
		}
		c.l.log.Printf("close %v: in %d bytes, out %d bytes, %v%s", c.RemoteAddr(), c.in.Load(), c.out.Load(),
			time.Since(c.start).Round(time.Millisecond), notes)
	})
	return err
}

// closed returns the synack connections closed since shutdown began.
func (l *connLog) closed() []*stack.Conn {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closing
}

// unwrapPath drops the path an *fs.PathError repeats.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
