//go:build linux

package interop

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// cliTunFlags are the flags that put a synack CLI on device syn0 in r's
// namespace with the rig's usual addresses.
func cliTunFlags(r *rig, pcapFile string) []string {
	return []string{
		"--netns", r.ns.Name, "--tun", tunName,
		"--addr", fmt.Sprintf("%v/%d", syn4, bits4), "--addr", fmt.Sprintf("%v/%d", syn6, bits6),
		"--peer", kern4.String(), "--peer", kern6.String(),
		"--pcap", pcapFile,
		// The tests watch the device from the kernel's side too (tcpdump,
		// tshark): without offloads it sees complete checksums.
		"--no-offload",
	}
}

// startServe runs "synack serve" with the rig flags and extra; it returns
// once serve says it is listening.
func startServe(t *testing.T, r *rig, extra ...string) (*proc, string) {
	t.Helper()
	bin := synackBinary(t)
	capFile := filepath.Join(t.TempDir(), "serve.pcap")
	p := startCmd(t, exec.Command(bin, append(append([]string{"serve"}, cliTunFlags(r, capFile)...), extra...)...))
	waitOutput(t, p, "listening on", 10*time.Second)
	// Also watch the device from the kernel's side.
	r.startCapture(tunName, 0)
	return p, capFile
}

// stopServe interrupts serve, checks that it exits 0 and checks its
// --pcap capture with tshark.
func stopServe(t *testing.T, p *proc, capFile string) string {
	t.Helper()
	p.stop(10 * time.Second)
	if p.err != nil {
		t.Errorf("serve: %v\n%s", p.err, p.stderr.String())
	}
	checkCapture(t, needTool(t, "tshark"), capFile)
	return p.stderr.String()
}

// countLines counts the log lines matching re.
func countLines(log string, re string) int {
	return len(regexp.MustCompile(re).FindAllString(log, -1))
}

// TestCLIServeHTTP: "synack serve --http" reached by the kernel's curl,
// IPv4 and IPv6; serve logs both connections' open and close.
func TestCLIServeHTTP(t *testing.T) {
	needTool(t, "curl")
	r := newRig(t, rigOptions{noTun: true})
	dir := t.TempDir()
	const size = 2<<20 + 5
	f, err := os.Create(filepath.Join(dir, "blob"))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(f, payload(size))
	f.Close()
	p, capFile := startServe(t, r, "--port", "80", "--http", dir)
	want := payloadSum(t, size)
	for _, fam := range families {
		out, err := r.run(30*time.Second, "sh", "-c", fmt.Sprintf("curl -sS --fail http://%s/blob | sha256sum", hostPort(fam.syn, 80)))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Fields(out)[0]; got != want {
			t.Errorf("%s: sha256 %s, want %s", fam.name, got, want)
		}
	}
	log := stopServe(t, p, capFile)
	if n := countLines(log, `open (198\.18\.0\.1:\d+ -> 198\.18\.0\.2:80|\[fd00:5ac::1\]:\d+ -> \[fd00:5ac::2\]:80)`); n != 2 {
		t.Errorf("%d open lines, want 2:\n%s", n, log)
	}
	if n := countLines(log, `close \S+: in \d+ bytes, out \d+ bytes`); n != 2 {
		t.Errorf("%d close lines, want 2:\n%s", n, log)
	}
}

// TestCLIServeSourceTLS: "synack serve --source 4M --tls" sends 4 MiB over
// TLS to a Go TLS client on the kernel's sockets, which checks the bytes
// against the SHA-256 that serve logs.
func TestCLIServeSourceTLS(t *testing.T) {
	pki := newPKI(t)
	r := newRig(t, rigOptions{noTun: true})
	p, capFile := startServe(t, r, "--port", "4433", "--source", "4M", "--tls", pki.certFile+","+pki.keyFile)
	pem, err := os.ReadFile(pki.caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	want := payloadSum(t, 4<<20)
	for _, fam := range families {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		c, err := r.ns.DialContext(ctx, "tcp", hostPort(fam.syn, 4433))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(20 * time.Second))
		tc := tls.Client(c, &tls.Config{RootCAs: roots, ServerName: fam.syn.String()})
		n, sum, err := sumOf(tc)
		tc.Close()
		if err != nil {
			t.Fatalf("%s: %v", fam.name, err)
		}
		if n != 4<<20 || sum != want {
			t.Errorf("%s: %d bytes with sha256 %s, want %d with %s", fam.name, n, sum, 4<<20, want)
		}
	}
	log := stopServe(t, p, capFile)
	if n := countLines(log, "sent 4194304 bytes, sha256 "+want); n != 2 {
		t.Errorf("%d lines report the bytes sent, want 2:\n%s", n, log)
	}
}

// TestCLIServeDiscard: the kernel's nc sends 1 MiB over IPv6 to
// "serve --discard", which logs its SHA-256.
func TestCLIServeDiscard(t *testing.T) {
	needTool(t, "nc")
	r := newRig(t, rigOptions{noTun: true})
	p, capFile := startServe(t, r, "--port", "9", "--discard")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := r.ns.Command(ctx, "nc", "-N", "-w", "10", syn6.String(), "9")
	cmd.Stdin = payload(1 << 20)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nc: %v\n%s", err, out)
	}
	want := payloadSum(t, 1<<20)
	if !waitState(5*time.Second, func() bool { return strings.Contains(p.stderr.String(), "received 1048576 bytes, sha256 "+want) }) {
		t.Errorf("serve did not log the bytes received:\n%s", p.stderr.String())
	}
	stopServe(t, p, capFile)
}

// TestCLIDial: "synack dial" (stdin to the connection, then FIN) against
// the kernel's "nc -l", which answers and closes.
func TestCLIDial(t *testing.T) {
	needTool(t, "nc")
	bin := synackBinary(t)
	forEachFamily(t, func(t *testing.T, fam family) {
		r := newRig(t, rigOptions{noTun: true})
		const fromKernel, fromSynack = "hello from nc\n", "hello from synack dial\n"
		// The kernel's address appears only when dial configures the
		// device, so nc listens on the wildcard address.
		ncArgs := []string{"-N", "-l", "9000"}
		if fam.kern.Is6() {
			ncArgs = append([]string{"-6"}, ncArgs...)
		}
		ncCmd := r.ns.Command(context.Background(), "nc", ncArgs...)
		ncCmd.Stdin = strings.NewReader(fromKernel)
		nc := startCmd(t, ncCmd)
		r.waitListening("9000", 10*time.Second, nc)
		capFile := filepath.Join(t.TempDir(), "dial.pcap")
		cmd := exec.Command(bin, append(append([]string{"dial"}, cliTunFlags(r, capFile)...), hostPort(fam.kern, 9000))...)
		cmd.Stdin = strings.NewReader(fromSynack)
		d := startCmd(t, cmd)
		if err := d.wait(20 * time.Second); err != nil {
			t.Fatalf("dial: %v\n%s", err, d.stderr.String())
		}
		if got := d.stdout.String(); got != fromKernel {
			t.Errorf("dial printed %q, want %q", got, fromKernel)
		}
		if err := nc.wait(10 * time.Second); err != nil {
			t.Fatalf("nc: %v", err)
		}
		if got := nc.stdout.String(); got != fromSynack {
			t.Errorf("nc printed %q, want %q", got, fromSynack)
		}
		checkCapture(t, needTool(t, "tshark"), capFile)
	})
}

// TestCLIGet: "synack get --sha256" fetches a file from the kernel's
// "python3 -m http.server", IPv4 and IPv6.
func TestCLIGet(t *testing.T) {
	needTool(t, "python3")
	bin := synackBinary(t)
	dir := t.TempDir()
	const size = 1<<20 + 3
	f, err := os.Create(filepath.Join(dir, "blob"))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(f, payload(size))
	f.Close()
	want := payloadSum(t, size)
	forEachFamily(t, func(t *testing.T, fam family) {
		r := newRig(t, rigOptions{noTun: true})
		// The wildcard address (dual-stack): the kernel's addresses appear
		// only when get configures the device.
		py := r.start("python3", "-m", "http.server", "--bind", "::", "--directory", dir, "8000")
		r.waitListening("8000", 60*time.Second, py) // python3 starts slowly on a busy machine
		capFile := filepath.Join(t.TempDir(), "get.pcap")
		cmd := exec.Command(bin, append(append([]string{"get"}, cliTunFlags(r, capFile)...), "--sha256", "http://"+hostPort(fam.kern, 8000)+"/blob")...)
		g := startCmd(t, cmd)
		if err := g.wait(30 * time.Second); err != nil {
			t.Fatalf("get: %v\n%s", err, g.stderr.String())
		}
		if got := strings.TrimSpace(g.stdout.String()); got != want {
			t.Errorf("get printed %q, want %q", got, want)
		}
		checkCapture(t, needTool(t, "tshark"), capFile)
	})
}

// TestCLIGetHTTPS: "synack get --cacert" fetches over HTTPS from a Go
// net/http TLS server on the kernel's sockets.
func TestCLIGetHTTPS(t *testing.T) {
	bin := synackBinary(t)
	pki := newPKIFor(t, kern4, kern6)
	r := newRig(t, rigOptions{noTun: true})
	l, err := r.ns.Listen("tcp", ":8443")
	if err != nil {
		t.Fatal(err)
	}
	const size = 512 << 10
	serveHTTP(t, tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{pki.cert}}), payloadHandler(size))
	capFile := filepath.Join(t.TempDir(), "get.pcap")
	cmd := exec.Command(bin, append(append([]string{"get"}, cliTunFlags(r, capFile)...),
		"--cacert", pki.caFile, "--sha256", "https://"+hostPort(kern6, 8443)+"/")...)
	g := startCmd(t, cmd)
	if err := g.wait(30 * time.Second); err != nil {
		t.Fatalf("get: %v\n%s", err, g.stderr.String())
	}
	if got, want := strings.TrimSpace(g.stdout.String()), payloadSum(t, size); got != want {
		t.Errorf("get printed %q, want %q", got, want)
	}
	checkCapture(t, needTool(t, "tshark"), capFile)
}

// TestCLIServeEcho: a Go client on the kernel's sockets sends 256 KiB to
// "serve --echo", half-closes and reads it all back.
func TestCLIServeEcho(t *testing.T) {
	r := newRig(t, rigOptions{noTun: true})
	p, capFile := startServe(t, r, "--port", "7", "--echo")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := r.ns.DialContext(ctx, "tcp", hostPort(syn4, 7))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	const size = 256 << 10
	go func() {
		io.Copy(c, payload(size))
		c.(interface{ CloseWrite() error }).CloseWrite()
	}()
	n, sum, err := sumOf(c)
	if err != nil {
		t.Fatal(err)
	}
	if want := payloadSum(t, size); n != size || sum != want {
		t.Errorf("echoed %d bytes with sha256 %s, want %d with %s", n, sum, size, want)
	}
	c.Close()
	log := stopServe(t, p, capFile)
	if n := countLines(log, `close 198\.18\.0\.1:\d+: in 262144 bytes, out 262144 bytes`); n != 1 {
		t.Errorf("want one close line with 262144 bytes each way:\n%s", log)
	}
}

// TestCLIPing: "synack ping" sends echo requests through a ping socket
// and prints the kernel's replies, IPv4 and IPv6; an address on the
// link that nobody holds gets none, and ping exits 1.
func TestCLIPing(t *testing.T) {
	bin := synackBinary(t)
	forEachFamily(t, func(t *testing.T, fam family) {
		r := newRig(t, rigOptions{noTun: true})
		capFile := filepath.Join(t.TempDir(), "ping.pcap")
		args := append(append([]string{"ping"}, cliTunFlags(r, capFile)...), "--count", "3", "--interval", "50ms", fam.kern.String())
		p := startCmd(t, exec.Command(bin, args...))
		if err := p.wait(20 * time.Second); err != nil {
			t.Fatalf("ping: %v\n%s%s", err, p.stdout.String(), p.stderr.String())
		}
		out := p.stdout.String()
		if !strings.Contains(out, "3 packets transmitted, 3 received, 0% packet loss") ||
			strings.Count(out, "64 bytes from "+fam.kern.String()+": icmp_seq=") != 3 {
			t.Errorf("ping printed:\n%s", out)
		}
		checkCapture(t, needTool(t, "tshark"), capFile)

		nobody := kern4.Next().Next().Next() // 198.18.0.4, on the link, not held
		if fam.kern.Is6() {
			nobody = kern6.Next().Next().Next()
		}
		args = append(append([]string{"ping"}, cliTunFlags(r, filepath.Join(t.TempDir(), "none.pcap"))...), "--count", "1", "--wait", "300ms", nobody.String())
		p = startCmd(t, exec.Command(bin, args...))
		err := p.wait(20 * time.Second)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(p.stdout.String(), "1 packets transmitted, 0 received, 100% packet loss") {
			t.Errorf("ping %v: %v; want exit status 1 and no reply:\n%s%s", nobody, err, p.stdout.String(), p.stderr.String())
		}
	})
}
