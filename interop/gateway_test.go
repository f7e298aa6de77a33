//go:build linux

package interop

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/synack/synack/interop/netns"
	"golang.org/x/net/dns/dnsmessage"
)

// The gateway rig: kernel clients in namespace "cli" reach 198.19.0.0/16
// through "synack gateway", whose TUN (gw0) sits in cli; the gateway's
// upstream sockets live in namespace "up", where the servers are, on
// 198.19.1.1 (on up's loopback). Nothing routes between the namespaces
// but the gateway.
var (
	gwKern   = "198.18.40.1"
	gwSynack = "198.18.40.2/24"
	gwServer = "198.19.1.1"
)

const gwPayload = 64 << 20

type gwRig struct {
	cli, up *netns.NS
	gw      *proc
	late    chan string // what the :7002 server read after its own FIN
	resets  chan error  // what the :7003 server's read returned after the client's reset
}

// newGatewayRig makes both namespaces, the servers in up, and starts the
// gateway with extra flags; via says how it relays ("directly" or a
// SOCKS5 proxy it starts in up).
func newGatewayRig(t *testing.T, socks bool) *gwRig {
	t.Helper()
	needNetns(t)
	bin := synackBinary(t)
	var r gwRig
	var err error
	for _, p := range []struct {
		ns   **netns.NS
		name string
	}{{&r.cli, "gw-cli"}, {&r.up, "gw-up"}} {
		if *p.ns, err = netns.New(p.name); err != nil {
			t.Fatal(err)
		}
		ns := *p.ns
		t.Cleanup(func() { ns.Close() })
	}
	if out, err := exec.Command("ip", "-n", r.up.Name, "addr", "add", gwServer+"/32", "dev", "lo").CombinedOutput(); err != nil {
		t.Fatalf("ip addr add: %v: %s", err, out)
	}
	r.late, r.resets = make(chan string, 4), make(chan error, 4)
	startGatewayServers(t, r.up, r.late, r.resets)
	args := []string{"gateway", "--netns", r.cli.Name, "--tun", "gw0", "--addr", gwSynack, "--peer", gwKern,
		"--route", "198.19.0.0/16", "--upstream-netns", r.up.Name, "--udp-idle", "2s", "--admin", "127.0.0.1:0"}
	if socks {
		needTool(t, "danted")
		startDante(t, r.up)
		args = append(args, "--socks5", "127.0.0.1:1080")
	}
	r.gw = startCmd(t, exec.Command(bin, args...))
	waitOutput(t, r.gw, "relaying", 10*time.Second)
	// The device runs with its offloads (TSO, checksums), and says so.
	if log := r.gw.stderr.String(); !strings.Contains(log, "offloads csum+tso4+tso6") {
		t.Errorf("the gateway's log does not say the TUN's offloads are on:\n%s", log)
	}
	t.Cleanup(func() {
		r.gw.stop(10 * time.Second)
		if t.Failed() {
			t.Logf("gateway log (tail):\n%s", tail(r.gw.stderr.String(), 40))
		}
	})
	return &r
}

func tail(s string, n int) string {
	ls := strings.Split(s, "\n")
	return strings.Join(ls[max(0, len(ls)-n):], "\n")
}

// startGatewayServers starts, in up: an HTTP server (GET /blob sends the
// payload, POST /sum answers the SHA-256 of the body) on :8000, a server
// that answers "got N bytes" after the client's FIN on :7000, one that
// sends a banner, half-closes, then reports what it read on :7002, an echo
// server on :7001, and a DNS server on :53.
func startGatewayServers(t *testing.T, up *netns.NS, late chan<- string, resets chan<- error) {
	hl, err := up.Listen("tcp4", gwServer+":8000")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /blob", payloadHandler(gwPayload))
	mux.HandleFunc("POST /sum", func(w http.ResponseWriter, r *http.Request) {
		n, sum, err := sumOf(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprintf(w, "%d %s\n", n, sum)
	})
	serveHTTP(t, hl, mux)

	serveTCP := func(port int, h func(c *net.TCPConn)) {
		l, err := up.Listen("tcp4", fmt.Sprintf("%s:%d", gwServer, port))
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
					c.SetDeadline(time.Now().Add(time.Minute))
					h(c.(*net.TCPConn))
				}()
			}
		}()
	}
	serveTCP(7000, func(c *net.TCPConn) { // half-close from the client
		n, _ := io.Copy(io.Discard, c)
		fmt.Fprintf(c, "got %d bytes\n", n)
	})
	serveTCP(7001, func(c *net.TCPConn) { io.Copy(c, c) })
	serveTCP(7002, func(c *net.TCPConn) { // half-close from the server
		io.WriteString(c, "banner\n")
		c.CloseWrite()
		b, _ := io.ReadAll(c)
		late <- string(b)
	})

	serveTCP(7003, func(c *net.TCPConn) { // resets after a line, or reports the client's reset
		line, _ := bufio.NewReader(c).ReadString('\n')
		switch line {
		case "reset me\n":
			c.SetLinger(0)
		case "i will reset\n":
			_, err := c.Read(make([]byte, 1))
			resets <- err
		}
	})

	pc, err := up.ListenPacket("udp4", gwServer+":53")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var m dnsmessage.Message
			if m.Unpack(buf[:n]) != nil || len(m.Questions) != 1 {
				continue
			}
			q := m.Questions[0]
			m.Response, m.RecursionAvailable = true, true
			m.Additionals = nil
			if q.Type == dnsmessage.TypeA {
				a, _ := netip4(gwServer)
				m.Answers = []dnsmessage.Resource{{
					Header: dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 60},
					Body:   &dnsmessage.AResource{A: a},
				}}
			}
			if out, err := m.Pack(); err == nil {
				pc.WriteTo(out, from)
			}
		}
	}()
}

func netip4(s string) ([4]byte, error) {
	ip := net.ParseIP(s).To4()
	var a [4]byte
	copy(a[:], ip)
	return a, nil
}

// startDante runs Dante's SOCKS5 server in up on 127.0.0.1:1080.
func startDante(t *testing.T, up *netns.NS) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "danted.conf")
	os.WriteFile(conf, []byte(`logoutput: stderr
internal: 127.0.0.1 port = 1080
external: lo
socksmethod: none
clientmethod: none
user.privileged: root
user.unprivileged: nobody
client pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }
socks pass { from: 0.0.0.0/0 to: 0.0.0.0/0 command: connect udpassociate udpreply }
`), 0o644)
	p := startCmd(t, up.Command(context.Background(), "danted", "-f", conf, "-p", filepath.Join(dir, "danted.pid")))
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := up.DialContext(context.Background(), "tcp", "127.0.0.1:1080")
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-p.done:
			t.Fatalf("danted exited: %v\n%s", p.err, p.stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("danted did not listen within 10s:\n%s", p.stderr.String())
		}
	}
}

// cliRun runs a shell command line in cli.
func (r *gwRig) cliRun(t *testing.T, d time.Duration, line string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := r.cli.Command(ctx, "sh", "-c", line)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// counters asks the gateway for its counters (SIGUSR1) and parses the
// line it logs.
func (r *gwRig) counters(t *testing.T) map[string]int64 {
	t.Helper()
	// The gateway's line, not the "All counters:" of the table after it.
	const mark = "counters: tcp_open="
	before := strings.Count(r.gw.stderr.String(), mark)
	r.gw.cmd.Process.Signal(syscall.SIGUSR1)
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(r.gw.stderr.String(), mark) == before {
		if time.Now().After(deadline) {
			t.Fatal("the gateway printed no counters after SIGUSR1")
		}
		time.Sleep(10 * time.Millisecond)
	}
	log := r.gw.stderr.String()
	line := log[strings.LastIndex(log, mark):]
	line = line[:strings.IndexByte(line, '\n')]
	m := map[string]int64{}
	for _, kv := range regexp.MustCompile(`(\w+)=(\d+)`).FindAllStringSubmatch(line, -1) {
		m[kv[1]], _ = strconv.ParseInt(kv[2], 10, 64)
	}
	return m
}

func TestGatewayDirect(t *testing.T) { gatewaySuite(t, false) }

func TestGatewaySOCKS5(t *testing.T) { gatewaySuite(t, true) }

func gatewaySuite(t *testing.T, socks bool) {
	needTool(t, "curl")
	r := newGatewayRig(t, socks)
	base := r.counters(t)
	url := fmt.Sprintf("http://%s:8000", gwServer)
	want := payloadSum(t, gwPayload)

	t.Run("curl", func(t *testing.T) {
		out, err := r.cliRun(t, time.Minute, fmt.Sprintf("curl -sS --fail %s/blob | sha256sum", url))
		if err != nil || !strings.HasPrefix(out, want) {
			t.Fatalf("download: %q, %v; want sha256 %s", out, err, want)
		}
		file := filepath.Join(t.TempDir(), "up")
		f, _ := os.Create(file)
		io.Copy(f, payload(gwPayload))
		f.Close()
		out, err = r.cliRun(t, time.Minute, fmt.Sprintf("curl -sS --fail --data-binary @%s %s/sum", file, url))
		if err != nil || out != fmt.Sprintf("%d %s\n", gwPayload, want) {
			t.Fatalf("upload: %q, %v; want %d bytes, sha256 %s", out, err, gwPayload, want)
		}
	})

	t.Run("go", func(t *testing.T) {
		tr := &http.Transport{DialContext: r.cli.DialContext}
		defer tr.CloseIdleConnections()
		client := &http.Client{Timeout: time.Minute, Transport: tr}
		n, sum, err := getSum(client, url+"/blob")
		if err != nil || n != gwPayload || sum != want {
			t.Fatalf("download: %d bytes, %v; sha256 %s, want %s", n, err, sum, want)
		}
		resp, err := client.Post(url+"/sum", "application/octet-stream", payload(gwPayload))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != fmt.Sprintf("%d %s\n", gwPayload, want) {
			t.Fatalf("upload: %q; want %d bytes, sha256 %s", b, gwPayload, want)
		}
	})

	t.Run("refused", func(t *testing.T) {
		// A closed upstream port refuses the client's connect itself: it is
		// never accepted and then closed.
		start := time.Now()
		_, err := r.cli.DialContext(context.Background(), "tcp4", gwServer+":9")
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("connect to a closed upstream port: %v; want ECONNREFUSED", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("the refusal took %v", d)
		}
		// curl says so too (exit status 7: could not connect).
		out, err := r.cliRun(t, 30*time.Second, fmt.Sprintf("curl -sS http://%s:9/", gwServer))
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 7 {
			t.Fatalf("curl to a closed upstream port: %v: %q; want exit status 7", err, out)
		}
	})

	t.Run("half-close", func(t *testing.T) {
		needTool(t, "nc")
		// The client half-closes: the server's reply still arrives.
		out, err := r.cliRun(t, 30*time.Second, fmt.Sprintf("printf hello | nc -N %s 7000", gwServer))
		if err != nil || out != "got 5 bytes\n" {
			t.Fatalf("nc -N: %q, %v; want \"got 5 bytes\"", out, err)
		}
		// The server half-closes first: the client still sends afterwards.
		c, err := r.cli.DialContext(context.Background(), "tcp4", gwServer+":7002")
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(30 * time.Second))
		banner, err := io.ReadAll(c)
		if err != nil || string(banner) != "banner\n" {
			t.Fatalf("read until the server's FIN: %q, %v", banner, err)
		}
		if _, err := io.WriteString(c, "after the server's FIN"); err != nil {
			t.Fatal(err)
		}
		c.(*net.TCPConn).CloseWrite()
		io.ReadAll(c)
		c.Close()
		var got string
		select {
		case got = <-r.late:
		case <-time.After(10 * time.Second):
		}
		if string(got) != "after the server's FIN" {
			t.Fatalf("the server read %q after its own FIN", got)
		}
	})

	t.Run("reset", func(t *testing.T) {
		if socks {
			// SOCKS5 has no way to say "reset": Dante ends the relayed
			// connection with a FIN whichever side reset.
			t.Skip("a SOCKS5 proxy turns resets into closes (RFC 1928 carries no reset)")
		}
		// The server resets: the client's read fails with ECONNRESET.
		c, err := r.cli.DialContext(context.Background(), "tcp4", gwServer+":7003")
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(30 * time.Second))
		io.WriteString(c, "reset me\n")
		_, err = c.Read(make([]byte, 1))
		c.Close()
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("the client read %v after the server's reset; want ECONNRESET", err)
		}
		// The client resets: the server's read fails with ECONNRESET.
		c, err = r.cli.DialContext(context.Background(), "tcp4", gwServer+":7003")
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "i will reset\n")
		time.Sleep(100 * time.Millisecond) // the line reaches the server first
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
		select {
		case err = <-r.resets:
		case <-time.After(10 * time.Second):
			t.Fatal("the server's read did not end after the client's reset")
		}
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("the server read %v after the client's reset; want ECONNRESET", err)
		}
	})

	t.Run("ping", func(t *testing.T) {
		needTool(t, "ping")
		out, err := r.cliRun(t, 30*time.Second, "ping -n -c 3 -i 0.2 -W 2 "+gwServer)
		if err != nil || !strings.Contains(out, "3 received") {
			t.Fatalf("ping %s through the gateway: %v\n%s", gwServer, err, out)
		}
		// An address nobody holds: directly, the gateway pings it from
		// the host and the client gets no reply, as from the real
		// network; a SOCKS5 proxy cannot ping, so the gateway answers
		// itself.
		out, err = r.cliRun(t, 30*time.Second, "ping -n -c 1 -W 1 198.19.99.99")
		if socks {
			if err != nil || !strings.Contains(out, "1 received") {
				t.Fatalf("ping through a SOCKS5 gateway: %v\n%s; want the gateway's own reply", err, out)
			}
		} else if err == nil || !strings.Contains(out, "0 received") {
			t.Fatalf("ping of an address nobody holds through a direct gateway: %v\n%s; want no reply", err, out)
		}
		c := r.counters(t)
		pings, replies := c["pings"]-base["pings"], c["ping_replies"]-base["ping_replies"]
		if want := map[bool][2]int64{false: {4, 3}, true: {0, 0}}[socks]; pings != want[0] || replies != want[1] {
			t.Fatalf("counters: %d pings forwarded, %d answered; want %d, %d (%v)", pings, replies, want[0], want[1], c)
		}
	})

	t.Run("dig", func(t *testing.T) {
		needTool(t, "dig")
		out, err := r.cliRun(t, 30*time.Second, fmt.Sprintf("dig +short +time=2 +tries=2 @%s files.gw.test A", gwServer))
		if err != nil || strings.TrimSpace(out) != gwServer {
			t.Fatalf("dig through the gateway: %q, %v; want %s", out, err, gwServer)
		}
	})

	t.Run("1000-flows", func(t *testing.T) {
		const flows = 1000
		var wg sync.WaitGroup
		errs := make(chan error, flows)
		msg := strings.Repeat("x", 1024)
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		dial := func() (net.Conn, error) { return r.cli.DialContext(ctx, "tcp4", gwServer+":7001") }
		for range flows {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := dial()
				if err != nil {
					errs <- err
					return
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(60 * time.Second))
				if _, err := io.WriteString(c, msg); err != nil {
					errs <- err
					return
				}
				c.(*net.TCPConn).CloseWrite()
				b, err := io.ReadAll(bufio.NewReader(c))
				if err != nil || string(b) != msg {
					errs <- fmt.Errorf("echo: %d bytes, %v", len(b), err)
				}
			}()
		}
		wg.Wait()
		close(errs)
		failed := 0
		var first error
		for err := range errs {
			if first == nil {
				first = err
			}
			failed++
		}
		if failed > 0 {
			t.Fatalf("%d of %d flows failed; first: %v", failed, flows, first)
		}
		// Nothing left behind: no open flows, goroutines and heap back to
		// where they were.
		var c map[string]int64
		for end := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			c = r.counters(t)
			if c["tcp_open"] == 0 && c["udp_open"] == 0 && c["goroutines"] <= base["goroutines"]+5 || time.Now().After(end) {
				break
			}
		}
		if c["tcp_open"] != 0 || c["udp_open"] != 0 || c["goroutines"] > base["goroutines"]+5 {
			t.Fatalf("after 1000 flows: %v; at the start %v", c, base)
		}
		if c["heap_bytes"] > base["heap_bytes"]+32<<20 {
			t.Fatalf("heap %d bytes after 1000 flows, %d at the start", c["heap_bytes"], base["heap_bytes"])
		}
		t.Logf("counters at the start %v, after 1000 flows %v", base, c)
		// The stack's own view, as "synack stat" reads it from --admin.
		log := r.gw.stderr.String()
		m := regexp.MustCompile(`admin interface on http://([^/]+)/`).FindStringSubmatch(log)
		if m == nil {
			t.Fatal("the gateway did not say where its admin interface is")
		}
		resp, err := http.Get("http://" + m[1] + "/stats.json")
		if err != nil {
			t.Fatal(err)
		}
		var st map[string]any
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := st["forward_tcp_requests"].(float64); n < flows || st["forward_tcp_pending"] != float64(0) {
			t.Fatalf("admin stats: forward_tcp_requests %v, forward_tcp_pending %v; want at least %d and 0",
				st["forward_tcp_requests"], st["forward_tcp_pending"], flows)
		}
	})
}
