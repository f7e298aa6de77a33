//go:build linux

package interop

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// payload returns n bytes of ChaCha8 output with an all-zero seed: the
// same bytes "synack serve --source" sends.
func payload(n int64) io.Reader {
	return io.LimitReader(rand.NewChaCha8([32]byte{}), n)
}

// payloadSum is the hex SHA-256 of payload(n).
func payloadSum(t testing.TB, n int64) string {
	t.Helper()
	h := sha256.New()
	if _, err := io.Copy(h, payload(n)); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// sumOf reads r to its end and returns the count and hex SHA-256.
func sumOf(r io.Reader) (int64, string, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	return n, hex.EncodeToString(h.Sum(nil)), err
}

// payloadHandler serves payload(n) at every path.
func payloadHandler(n int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.Copy(w, payload(n))
	})
}

// serveHTTP serves h on l until the test ends.
func serveHTTP(t testing.TB, l net.Listener, h http.Handler) *http.Server {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return srv
}

// synackHTTPClient is an HTTP client whose connections are synack's.
func (r *rig) synackHTTPClient() *http.Client {
	return &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
				return r.st.DialContext(ctx, "tcp", addr)
			},
			DisableKeepAlives: true,
		},
	}
}

// getSum fetches url with c and returns the body's size and SHA-256.
func getSum(c *http.Client, url string) (int64, string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, "", errors.New(resp.Status)
	}
	return sumOf(resp.Body)
}

// waitListening waits up to d until a TCP socket listens on port in the
// rig's namespace (as ss reports it), failing the test if p, the process
// meant to listen, exits first.
func (r *rig) waitListening(port string, d time.Duration, p *proc) {
	r.t.Helper()
	deadline := time.Now().Add(d)
	for {
		out, err := r.run(5*time.Second, "ss", "-Htln", "sport = :"+port)
		if err == nil && strings.TrimSpace(out) != "" {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("nothing listens on port %s after %v (%v)\n%s", port, d, err, p.stderr.String())
		}
		select {
		case <-p.done:
			r.t.Fatalf("%v exited: %v\n%s", p.cmd.Args, p.err, p.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// forEachFamily runs f as a subtest per address family.
func forEachFamily(t *testing.T, f func(t *testing.T, fam family)) {
	for _, fam := range families {
		t.Run(fam.name, func(t *testing.T) { f(t, fam) })
	}
}
