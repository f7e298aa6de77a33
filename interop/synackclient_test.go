//go:build linux

package interop

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSynackGetsFromGoServer: synack's client (net/http over synack)
// fetches 1 MiB from a Go net/http server on the kernel's sockets.
func TestSynackGetsFromGoServer(t *testing.T) {
	forEachFamily(t, func(t *testing.T, fam family) {
		r := newRig(t, rigOptions{})
		l, err := r.ns.Listen("tcp", hostPort(fam.kern, 8080))
		if err != nil {
			t.Fatal(err)
		}
		const size = 1 << 20
		serveHTTP(t, l, payloadHandler(size))
		n, sum, err := getSum(r.synackHTTPClient(), "http://"+hostPort(fam.kern, 8080)+"/")
		if err != nil {
			t.Fatal(err)
		}
		if want := payloadSum(t, size); n != size || sum != want {
			t.Errorf("got %d bytes with sha256 %s, want %d with %s", n, sum, int64(size), want)
		}
	})
}

// TestSynackGetsFromPython: synack's client fetches a file from
// "python3 -m http.server" in the namespace.
func TestSynackGetsFromPython(t *testing.T) {
	needTool(t, "python3")
	forEachFamily(t, func(t *testing.T, fam family) {
		r := newRig(t, rigOptions{})
		dir := t.TempDir()
		const size = 3<<20 + 17
		f, err := os.Create(filepath.Join(dir, "blob"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(f, payload(size)); err != nil {
			t.Fatal(err)
		}
		f.Close()
		py := r.start("python3", "-m", "http.server", "--bind", fam.kern.String(), "--directory", dir, "8000")
		r.waitListening("8000", 60*time.Second, py) // python3 starts slowly on a busy machine
		n, sum, err := getSum(r.synackHTTPClient(), "http://"+hostPort(fam.kern, 8000)+"/blob")
		if err != nil {
			t.Fatal(err)
		}
		if want := payloadSum(t, size); n != size || sum != want {
			t.Errorf("got %d bytes with sha256 %s, want %d with %s", n, sum, int64(size), want)
		}
	})
}

// TestSynackToNcListen: synack dials "nc -l"; both send a line and
// half-close; each receives the other's line.
func TestSynackToNcListen(t *testing.T) {
	needTool(t, "nc")
	forEachFamily(t, func(t *testing.T, fam family) {
		r := newRig(t, rigOptions{})
		const fromKernel, fromSynack = "hello from nc\n", "hello from synack\n"
		cmd := r.ns.Command(context.Background(), "nc", "-N", "-l", fam.kern.String(), "9000")
		cmd.Stdin = strings.NewReader(fromKernel)
		p := startCmd(t, cmd)
		r.waitListening("9000", 10*time.Second, p)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := r.st.DialContext(ctx, "tcp", hostPort(fam.kern, 9000))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, fromSynack); err != nil {
			t.Fatal(err)
		}
		if err := c.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(c)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != fromKernel {
			t.Errorf("synack read %q, want %q", got, fromKernel)
		}
		if err := p.wait(10 * time.Second); err != nil {
			t.Fatalf("nc: %v\n%s", err, p.stderr.String())
		}
		if p.stdout.String() != fromSynack {
			t.Errorf("nc printed %q, want %q", p.stdout.String(), fromSynack)
		}
	})
}

var (
	_ = fmt.Sprint
	_ net.Conn
)
