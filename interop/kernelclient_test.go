//go:build linux

package interop

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestCurlGetsFromSynack: the kernel's curl fetches 1 MiB from a net/http
// server running on synack.
func TestCurlGetsFromSynack(t *testing.T) {
	needTool(t, "curl")
	forEachFamily(t, func(t *testing.T, fam family) {
		r := newRig(t, rigOptions{})
		l, err := r.st.Listen("tcp", ":80")
		if err != nil {
			t.Fatal(err)
		}
		const size = 1 << 20
		serveHTTP(t, l, payloadHandler(size))
		out, err := r.run(30*time.Second, "sh", "-c",
			fmt.Sprintf("curl -sS --fail %s http://%s/x | sha256sum", fam.curlFamily, hostPort(fam.syn, 80)))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := strings.Fields(out)[0], payloadSum(t, size); got != want {
			t.Errorf("sha256 %s, want %s", got, want)
		}
	})
}

// echoServer accepts on the rig's stack and echoes each connection.
func echoServer(t testing.TB, r *rig, port int) {
	l, err := r.st.Listen("tcp", fmt.Sprintf(":%d", port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
}

// TestNcToSynackEcho: the kernel's nc sends a message to synack's echo
// server, half-closes (-N) and gets the message back.
func TestNcToSynackEcho(t *testing.T) {
	needTool(t, "nc")
	forEachFamily(t, func(t *testing.T, fam family) {
		r := newRig(t, rigOptions{})
		echoServer(t, r, 7)
		msg := strings.Repeat("synack says hello through the kernel\n", 200)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := r.ns.Command(ctx, "nc", "-N", "-w", "10", fam.syn.String(), "7")
		cmd.Stdin = strings.NewReader(msg)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("nc: %v", err)
		}
		if string(out) != msg {
			t.Errorf("nc got %d bytes back, want the %d sent", len(out), len(msg))
		}
	})
}

// TestGoClientToSynackEcho: a Go net client in the namespace (the kernel's
// sockets) talks to synack's echo server and half-closes.
func TestGoClientToSynackEcho(t *testing.T) {
	forEachFamily(t, func(t *testing.T, fam family) {
		r := newRig(t, rigOptions{})
		echoServer(t, r, 7)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c, err := r.ns.DialContext(ctx, "tcp", hostPort(fam.syn, 7))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		msg := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
		errc := make(chan error, 1)
		go func() {
			_, err := c.Write(msg)
			if err == nil {
				err = c.(*net.TCPConn).CloseWrite()
			}
			errc <- err
		}()
		got, err := io.ReadAll(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, msg) {
			t.Errorf("echoed %d bytes, want the %d sent", len(got), len(msg))
		}
	})
}

var _ = exec.Command
