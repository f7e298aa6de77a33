//go:build linux

package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/synack/synack/interop/netns"
	"github.com/synack/synack/link/tun"
	"github.com/synack/synack/stack"
)

// The addresses of every rig: the kernel side of the TUN and synack.
var (
	kern4 = netip.MustParseAddr("198.18.0.1")
	syn4  = netip.MustParseAddr("198.18.0.2")
	kern6 = netip.MustParseAddr("fd00:5ac::1")
	syn6  = netip.MustParseAddr("fd00:5ac::2")
)

const (
	bits4   = 24
	bits6   = 64
	tunName = "syn0"
)

// family is one address family's pair of addresses.
type family struct {
	name       string
	kern, syn  netip.Addr
	curlFamily string // curl's flag for it
}

var families = []family{
	{"ipv4", kern4, syn4, "-4"},
	{"ipv6", kern6, syn6, "-6"},
}

// hostPort joins an address and a port, bracketing IPv6.
func hostPort(a netip.Addr, port uint16) string { return netip.AddrPortFrom(a, port).String() }

// rigOptions tune a rig.
type rigOptions struct {
	snaplen int  // tcpdump snapshot length; 0: whole packets
	noCap   bool // no capture at all
	noTun   bool // only the namespace: no device, stack or capture
	// offload opens the TUN with its offloads (virtio-net header, TSO,
	// checksums; tunoffload_test.go). Off by default: a tcpdump of the
	// kernel's side then sees MTU-sized packets with complete checksums.
	offload bool
	stack   stack.Options // the synack stack's options
}

// rig is one namespace with a TUN device, its kernel side configured, a
// synack stack on the other side and a tcpdump capture of the device.
type rig struct {
	t   testing.TB
	ns  *netns.NS
	dev *tun.Device
	st  *stack.Stack
	cap string // capture file
}

// newRig builds a rig; everything is undone when t ends: the stack is
// closed, the capture stopped and checked with tshark, the device closed
// and the namespace deleted.
func newRig(t testing.TB, o rigOptions) *rig {
	t.Helper()
	needNetns(t)
	ns, err := netns.New("synack-it")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ns.Close(); err != nil {
			t.Error(err)
		}
	})
	if o.noTun {
		return &rig{t: t, ns: ns}
	}
	dev, err := tun.Open(tun.Options{
		Name:           tunName,
		NetNS:          ns.Name,
		Addrs:          []netip.Prefix{netip.PrefixFrom(kern4, bits4), netip.PrefixFrom(kern6, bits6)},
		DisableOffload: !o.offload,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := dev.Close(); err != nil {
			t.Error(err)
		}
	})
	r := &rig{t: t, ns: ns, dev: dev}
	if !o.noCap {
		r.cap = r.startCapture(tunName, o.snaplen)
	}
	r.st = stack.New(o.stack)
	t.Cleanup(func() { r.st.Close() })
	if err := r.st.AddLink(dev, netip.PrefixFrom(syn4, bits4), netip.PrefixFrom(syn6, bits6)); err != nil {
		t.Fatal(err)
	}
	return r
}

// proc is a process the test started; it is killed, by PID, when the test
// ends if it has not exited.
type proc struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	stderr syncBuffer
	done   chan struct{}
	err    error
}

// start runs name with args in the rig's namespace in the background.
func (r *rig) start(name string, args ...string) *proc {
	r.t.Helper()
	return startCmd(r.t, r.ns.Command(context.Background(), name, args...))
}

// startCmd starts cmd; t's cleanup kills it if it is still running.
func startCmd(t testing.TB, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{cmd: cmd, done: make(chan struct{})}
	if cmd.Stdout == nil {
		cmd.Stdout = &p.stdout
	}
	cmd.Stderr = &p.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %v: %v", cmd.Args, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.kill() })
	return p
}

// kill ends p (SIGKILL, by PID) unless it has exited, and reaps it.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Kill()
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
}

// stop sends SIGINT and waits up to d for p to exit, then kills it.
func (p *proc) stop(d time.Duration) {
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(d):
		p.kill()
	}
}

// wait waits up to d for p to exit and returns its error.
func (p *proc) wait(d time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(d):
		p.kill()
		return fmt.Errorf("%v: still running after %v; killed", p.cmd.Args, d)
	}
}

// run runs name in the rig's namespace, waiting at most d, and returns its
// standard output.
func (r *rig) run(d time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := r.ns.Command(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// startCapture starts tcpdump on interface dev inside the namespace and
// returns the capture's path. When the test ends, tcpdump is stopped and
// tshark checks the capture.
func (r *rig) startCapture(dev string, snaplen int) string {
	t := r.t
	t.Helper()
	needTool(t, "tcpdump")
	tshark := needTool(t, "tshark")
	dir := t.TempDir()
	path := filepath.Join(dir, "tun.pcap")
	// A large buffer (-B, KiB) so that tcpdump keeps up with bursts: a
	// capture with holes makes tshark's dissectors lose their way.
	// --immediate-mode: each packet reaches tcpdump (and, with -U, the
	// file) at once, not when a ring block fills: packets still in the
	// ring when tcpdump is interrupted would be lost.
	args := []string{"-i", dev, "-n", "-U", "--immediate-mode", "-B", "65536", "-w", path}
	// In immediate mode libpcap's ring has one slot per packet, each as
	// large as the snapshot length: 2048 bytes (the TUN's MTU is 1500, so
	// whole packets) makes the 64 MiB buffer hold 30,000 packets, where the
	// default 256 KiB snapshot would leave room for 250.
	if snaplen <= 0 {
		snaplen = fullSnap
	}
	args = append(args, "-s", fmt.Sprint(snaplen))
	p := r.start("tcpdump", args...)
	// tcpdump says "listening on" once the capture is live.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.stderr.String(), "listening on") {
		select {
		case <-p.done:
			t.Fatalf("tcpdump exited: %v\n%s", p.err, p.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("tcpdump did not start within 10s:\n%s", p.stderr.String())
		}
	}
	t.Cleanup(func() {
		settleFile(path, 3*time.Second)
		p.stop(10 * time.Second)
		if m := dropRE.FindStringSubmatch(p.stderr.String()); m != nil && m[1] != "0" {
			t.Errorf("tcpdump: %s packets dropped by kernel; the capture has holes", m[1])
		}
		if t.Failed() {
			t.Logf("capture kept at %s", keep(t, path))
		}
		checkCapture(t, tshark, path)
	})
	return path
}

// kernelMinusZero reports whether a line of checkCapture's tshark output
// flags only a TCP checksum of 0xffff where 0x0000 is computed, in a packet
// from the kernel. Both are the one's-complement zero and receivers accept
// either (RFC 1624 §3); Linux writes 0xffff (CSUM_MANGLED_0) whenever it
// computes a zero checksum in skb_checksum_help, as it does for every
// segment it sends into a TUN without checksum offload. tshark calls that
// a bad checksum; one segment in 65,536 has it. synack itself must write
// 0x0000, so the exemption is for the kernel's packets only.
func kernelMinusZero(line string) bool {
	f := strings.Split(line, "|")
	if len(f) < 8 {
		return false
	}
	malformed, severity, ipck, tcpck, msg, src4, src6 := f[1], f[2], f[3], f[4], f[5], f[6], f[7]
	fromKernel := src4 == kern4.String() || src6 == kern6.String()
	return fromKernel && malformed == "" && !strings.Contains(severity, "8388608") && ipck != "0" && tcpck == "0" &&
		strings.Contains(msg, "instead of 0x0000 (see RFC 1624)")
}

// settleFile waits, at most d, until the file at path has stopped growing
// (tcpdump has written all it has seen).
func settleFile(path string, d time.Duration) {
	deadline := time.Now().Add(d)
	last := int64(-1)
	for time.Now().Before(deadline) {
		fi, err := os.Stat(path)
		if err != nil {
			return
		}
		if fi.Size() == last {
			return
		}
		last = fi.Size()
		time.Sleep(50 * time.Millisecond)
	}
}

// fullSnap is the snapshot length that keeps whole packets on the rig's
// TUN (MTU 1500).
const fullSnap = 2048

var dropRE = regexp.MustCompile(`(\d+) packets? dropped by kernel`)

// keep copies a failed test's capture out of its temporary directory.
func keep(t testing.TB, path string) string {
	dst := filepath.Join(os.TempDir(), strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())+".pcap")
	b, err := os.ReadFile(path)
	if err == nil {
		err = os.WriteFile(dst, b, 0o644)
	}
	if err != nil {
		return fmt.Sprintf("(lost: %v)", err)
	}
	return dst
}

// tsharkFilter selects the frames a clean capture has none of: malformed
// packets, bad IP/TCP/UDP/ICMP checksums and any expert error.
const tsharkFilter = `_ws.malformed || _ws.expert.severity == "Error" || ip.checksum.status == "Bad" || tcp.checksum.status == "Bad" || udp.checksum.status == "Bad" || icmp.checksum.status == "Bad" || icmpv6.checksum.status == "Bad"`

// checkCapture runs tshark over the capture with checksum validation on and
// fails t for every bad frame. In a headers-only capture tshark cannot
// verify TCP checksums (the kernel and synack still do: each drops a
// segment whose checksum is wrong).
func checkCapture(t testing.TB, tshark, path string) {
	t.Helper()
	// A pcap file is a 24-byte header, then 16 bytes and the data per packet.
	if fi, err := os.Stat(path); err != nil || fi.Size() <= 24 {
		t.Errorf("capture %s is empty or missing (%v)", path, err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := []string{"-n", "-r", path,
		"-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
		"-T", "fields", "-E", "separator=|",
		"-e", "frame.number", "-e", "_ws.malformed", "-e", "_ws.expert.severity",
		"-e", "ip.checksum.status", "-e", "tcp.checksum.status", "-e", "_ws.expert.message",
		"-e", "ip.src", "-e", "ipv6.src", "-e", "_ws.col.Info",
		"-Y", tsharkFilter}
	// Payloads are often random data (and only a few bytes of each in a
	// headers-only capture): tshark's heuristic dissectors would take
	// some for Thrift, RPC, TLS, ... and call them malformed. Only IP and
	// TCP (and the protocols on their well-known ports) are under test.
	for _, p := range tcpHeuristics(tshark) {
		args = append(args, "--disable-protocol", p)
	}
	out, err := exec.CommandContext(ctx, tshark, args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Errorf("tshark: %v\n%s", err, ee.Stderr)
		} else {
			t.Errorf("tshark: %v", err)
		}
		return
	}
	var bad []string
	for _, l := range lines(string(out)) {
		if !kernelMinusZero(l) {
			bad = append(bad, l)
		}
	}
	for i, l := range bad {
		if i == 20 {
			t.Errorf("... and %d more", len(bad)-20)
			break
		}
		t.Errorf("tshark flags frame: %s", l)
	}
	if len(bad) > 0 {
		t.Logf("capture kept at %s", keep(t, path))
	}
}

var (
	heurOnce sync.Once
	heurs    []string
)

// tcpHeuristics lists the protocols whose heuristic dissectors look inside
// TCP payloads (those tshark also knows by that name).
func tcpHeuristics(tshark string) []string {
	heurOnce.Do(func() {
		protos, err := exec.Command(tshark, "-G", "protocols").Output()
		if err != nil {
			return
		}
		known := map[string]bool{}
		for _, l := range strings.Split(string(protos), "\n") {
			if f := strings.Split(l, "\t"); len(f) == 3 {
				known[f[2]] = true
			}
		}
		out, err := exec.Command(tshark, "-G", "heuristic-decodes").Output()
		if err != nil {
			return
		}
		for _, l := range lines(string(out)) {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "tcp" && known[f[1]] {
				heurs = append(heurs, f[1])
			}
		}
	})
	return heurs
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitOutput waits up to d for p's standard error to contain want.
func waitOutput(t testing.TB, p *proc, want string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(p.stderr.String(), want) {
		select {
		case <-p.done:
			t.Fatalf("%v exited before saying %q: %v\n%s", p.cmd.Args, want, p.err, p.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v did not say %q within %v:\n%s", p.cmd.Args, want, d, p.stderr.String())
		}
	}
}
