package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/synack/synack/stack"
)

// getOptions are the flags of synack get.
type getOptions struct {
	tunFlags
	sha      bool
	cacert   string
	insecure bool
	timeout  time.Duration
	url      string
}

func runGet(args []string, stdout, stderr io.Writer) int {
	var o getOptions
	fs := newFlags("get", stderr)
	o.tunFlags.register(fs)
	fs.BoolVar(&o.sha, "sha256", false, "print the body's SHA-256 (hex) instead of the body")
	fs.StringVar(&o.cacert, "cacert", "", "trust the CA certificates in this PEM `FILE` for HTTPS")
	fs.BoolVar(&o.insecure, "insecure", false, "do not verify the server's certificate")
	fs.DurationVar(&o.timeout, "timeout", time.Minute, "give up after this long")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintln(w, "Usage: synack get --tun NAME [--addr ADDR/PREFIX] [--peer KERNEL_ADDR] [--netns NS]")
		fmt.Fprintln(w, "                  [--sha256] [--cacert FILE] [--insecure] URL")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Fetches URL (http or https; the host an IP literal, IPv6 in brackets) with")
		fmt.Fprintln(w, "net/http over a synack stack on TUN device NAME and prints the body, or its")
		fmt.Fprintln(w, "SHA-256 with --sha256. The status line and size go to stderr.")
		fmt.Fprintf(w, "--addr defaults to %s.\n", joinStrings(defaultAddrs))
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Example (as root, with an HTTP server on 198.18.0.1:8000 in namespace demo):")
		fmt.Fprintln(w, "  synack get --netns demo --tun syn0 --peer 198.18.0.1 --sha256 http://198.18.0.1:8000/file")
		fmt.Fprintln(w)
		fs.PrintDefaults()
	}
	if status, done := parse(fs, args); done {
		return status
	}
	if fs.NArg() != 1 {
		return badUsage(stderr, "get", "want one URL argument, got %d", fs.NArg())
	}
	o.url = fs.Arg(0)
	if u, err := url.Parse(o.url); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return badUsage(stderr, "get", "%q is not an http:// or https:// URL", o.url)
	}
	if o.timeout <= 0 {
		return badUsage(stderr, "get", "--timeout must be positive")
	}
	if err := o.check(defaultAddrs); err != nil {
		return badUsage(stderr, "get", "%v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := get(ctx, &o, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "synack get: %v\n", err)
		return 1
	}
	return 0
}

// get fetches the URL and writes the body (or its hash) to stdout.
func get(ctx context.Context, o *getOptions, stdout, stderr io.Writer) error {
	tlsConf := &tls.Config{InsecureSkipVerify: o.insecure}
	if o.cacert != "" {
		pem, err := os.ReadFile(o.cacert)
		if err != nil {
			return fmt.Errorf("--cacert: %w", err)
		}
		tlsConf.RootCAs = x509.NewCertPool()
		if !tlsConf.RootCAs.AppendCertsFromPEM(pem) {
			return fmt.Errorf("--cacert: no PEM certificate in %s", o.cacert)
		}
	}
	n, err := o.open()
	if err != nil {
		return err
	}
	defer n.Close()

	var (
		mu    sync.Mutex
		conns []*stack.Conn
	)
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			c, err := n.DialContext(ctx, "tcp", addr)
			if err != nil {
				return nil, err
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			return c, nil
		},
		TLSClientConfig:   tlsConf,
		DisableKeepAlives: true,
	}
	client := &http.Client{Transport: tr, Timeout: o.timeout}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	h := sha256.New()
	var body io.Writer = stdout
	if o.sha {
		body = h
	}
	var got atomic.Int64
	prog := newProgress(stdout, stderr, "get", !o.sha)
	stopProg, progDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(progDone)
		mu.Lock()
		cs := conns
		mu.Unlock()
		if len(cs) == 0 {
			return
		}
		c := cs[len(cs)-1]
		prog.watchConn(stopProg, c.Info, func() (int64, int64) { return got.Load(), max(resp.ContentLength, 0) })
	}()
	size, err := io.Copy(countingWriter{body, &got}, resp.Body)
	close(stopProg)
	<-progDone
	resp.Body.Close()
	tr.CloseIdleConnections()
	mu.Lock()
	cs := conns
	mu.Unlock()
	settle(ctx, time.Second, cs...)
	if err != nil {
		return fmt.Errorf("reading the body: %w", err)
	}
	fmt.Fprintf(stderr, "synack get: %s %s, %d bytes\n", resp.Proto, resp.Status, size)
	if o.sha {
		fmt.Fprintln(stdout, hex.EncodeToString(h.Sum(nil)))
	}
	if resp.StatusCode/100 != 2 {
		return errors.New(resp.Status)
	}
	return nil
}
