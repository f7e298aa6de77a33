//go:build linux

package interop

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/synack/synack/stack"
)

// TCP Fast Open (RFC 7413) against the Linux kernel, both ways: the first
// connection fetches the cookie, the second carries its request on the
// SYN. The capture says so (tshark).

// fastOpenServerPy is a kernel Fast Open server: a listener with the
// TCP_FASTOPEN socket option (queue of 16), which answers each connection's
// first read with "echo: " and what it read, then closes.
const fastOpenServerPy = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_TCP, 23, 16)  # TCP_FASTOPEN
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(16)
while True:
    c, _ = s.accept()
    line = c.recv(4096)
    c.sendall(b"echo: " + line)
    c.close()
`

// synsWithData counts the SYNs (without ACK) from src that carry data in
// the rig's capture so far.
func (r *rig) synsWithData(t *testing.T, src string) int {
	t.Helper()
	settleFile(r.cap, 3*time.Second)
	out, err := r.run(30*time.Second, needTool(t, "tshark"), "-r", r.cap, "-n", "-T", "fields", "-e", "frame.number",
		"-Y", fmt.Sprintf("ip.src == %s && tcp.flags.syn == 1 && tcp.flags.ack == 0 && tcp.len > 0 && tcp.option_kind == 34", src))
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	return len(strings.Fields(out))
}

// TestFastOpenSynackClientToKernel: synack's Fast Open client (Dialer.FastOpen)
// against a kernel server with net.ipv4.tcp_fastopen=3: the first
// connection asks for a cookie, the second sends its request on the SYN.
func TestFastOpenSynackClientToKernel(t *testing.T) {
	needTool(t, "python3")
	needTool(t, "tshark")
	r := newRig(t, rigOptions{})
	if _, err := r.run(10*time.Second, "sysctl", "-q", "-w", "net.ipv4.tcp_fastopen=3"); err != nil {
		t.Fatal(err)
	}
	py := r.start("python3", "-c", fastOpenServerPy, "7000")
	r.waitListening("7000", 60*time.Second, py)

	d := &stack.Dialer{Stack: r.st, FastOpen: true, Timeout: 10 * time.Second}
	for i, want := range []int{0, 1} {
		msg := fmt.Sprintf("request %d\n", i)
		c, err := d.DialTCP(context.Background(), "tcp4", hostPort(kern4, 7000))
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(c)
		c.Close()
		if err != nil || string(got) != "echo: "+msg {
			t.Fatalf("connection %d: got %q, %v; want %q", i, got, err, "echo: "+msg)
		}
		if n := r.synsWithData(t, syn4.String()); n != want {
			t.Errorf("after connection %d: %d SYNs with data from synack in the capture, want %d", i, n, want)
		}
	}
	if st := r.st.Stats().FastOpen; st.Active != 1 || st.ActiveFail != 0 {
		t.Errorf("Stats.FastOpen %+v, want Active 1", st)
	}
}

// TestFastOpenKernelClientToSynack: the kernel's curl --tcp-fastopen
// (net.ipv4.tcp_fastopen=3) against synack's HTTP server on a Fast Open
// listener (ListenConfig.FastOpen).
func TestFastOpenKernelClientToSynack(t *testing.T) {
	needTool(t, "curl")
	needTool(t, "tshark")
	r := newRig(t, rigOptions{stack: stack.Options{FastOpen: stack.FastOpenClient | stack.FastOpenServer}})
	if _, err := r.run(10*time.Second, "sysctl", "-q", "-w", "net.ipv4.tcp_fastopen=3"); err != nil {
		t.Fatal(err)
	}
	lc := &stack.ListenConfig{Stack: r.st, FastOpen: 16}
	l, err := lc.Listen(context.Background(), "tcp4", ":80")
	if err != nil {
		t.Fatal(err)
	}
	serveHTTP(t, l, payloadHandler(1000))
	for i, want := range []int{0, 1} {
		out, err := r.run(30*time.Second, "sh", "-c",
			fmt.Sprintf("curl -sS --fail --tcp-fastopen -4 http://%s/x | wc -c", hostPort(syn4, 80)))
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(out) != "1000" {
			t.Fatalf("connection %d: curl got %s bytes, want 1000", i, strings.TrimSpace(out))
		}
		if n := r.synsWithData(t, kern4.String()); n != want {
			t.Errorf("after connection %d: %d SYNs with data from the kernel in the capture, want %d", i, n, want)
		}
	}
	if st := r.st.Stats().FastOpen; st.Passive != 1 || st.CookieReqs != 1 {
		t.Errorf("Stats.FastOpen %+v, want Passive 1, CookieReqs 1", st)
	}
}
