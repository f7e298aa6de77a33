//go:build linux

package interop

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// walkthrough returns the commands of the README's section "Attach synack
// to a real network", in order: the lines of its ```sh blocks, with
// backslash continuations joined.
func walkthrough(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "\n## Attach synack to a real network\n")
	if i < 0 {
		t.Fatal(`README.md has no section "Attach synack to a real network"`)
	}
	s = s[i+1:]
	if j := strings.Index(s[3:], "\n## "); j >= 0 {
		s = s[:j+3]
	}
	var cmds []string
	in := false
	cur := ""
	for _, l := range strings.Split(s, "\n") {
		switch {
		case !in && l == "```sh":
			in = true
		case in && l == "```":
			in = false
		case in && strings.HasSuffix(l, "\\"):
			cur += strings.TrimSuffix(l, "\\")
		case in:
			if c := strings.TrimSpace(cur + l); c != "" {
				cmds = append(cmds, c)
			}
			cur = ""
		}
	}
	return cmds
}

// TestREADMEWalkthrough runs the README's TUN walkthrough as written, with
// the built binary for ./synack, its own namespace, directory and admin
// port, and checks what each command prints. Background commands (&) are
// processes of the test, ended by PID; "kill %N" signals the Nth of them.
func TestREADMEWalkthrough(t *testing.T) {
	needNetns(t)
	for _, tool := range []string{"curl", "python3", "nc", "ping", "ss"} {
		needTool(t, tool)
	}
	bin := synackBinary(t)
	cmds := walkthrough(t)
	if len(cmds) < 14 {
		t.Fatalf("only %d commands in the walkthrough:\n%s", len(cmds), strings.Join(cmds, "\n"))
	}
	dir := t.TempDir()
	ns := fmt.Sprintf("synack-readme-%d", os.Getpid())
	t.Cleanup(func() {
		// Normally the walkthrough's own "ip netns del" has done it.
		if _, err := os.Stat("/run/netns/" + ns); err == nil {
			exec.Command("ip", "netns", "del", ns).Run()
		}
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	admin := l.Addr().String()
	l.Close()
	subst := strings.NewReplacer(
		"sudo ", "",
		"./synack ", bin+" ",
		"synack-demo", ns,
		"/tmp/www", filepath.Join(dir, "www"),
		"/tmp/synack.pcap", filepath.Join(dir, "synack.pcap"),
		"127.0.0.1:7070", admin,
	)
	jobSignal := regexp.MustCompile(`^kill (-INT )?%(\d+)`)
	lastPort := regexp.MustCompile(`\b(\d{4,5})\b`)
	var jobs []*proc
	job := func(spec string) *proc {
		n, _ := strconv.Atoi(spec)
		if n < 1 || n > len(jobs) {
			t.Fatalf("no job %%%s: %d started", spec, len(jobs))
		}
		return jobs[n-1]
	}
	ran := 0
	for _, readme := range cmds {
		if strings.HasPrefix(readme, "go build ") {
			continue // the test built the binary
		}
		cmd := subst.Replace(readme)
		ran++
		start := time.Now()
		t.Logf("$ %s", readme)
		logTime := func() { t.Logf("  (%v)", time.Since(start).Round(time.Millisecond)) }
		if m := jobSignal.FindStringSubmatch(cmd); m != nil {
			p := job(m[2])
			if m[1] != "" {
				p.stop(10 * time.Second) // SIGINT, then SIGKILL after 10 s
				if p.err != nil {
					t.Errorf("%s: %v\n%s", readme, p.err, p.stderr.String())
				}
			} else {
				p.kill()
			}
			logTime()
			continue
		}
		if bg, ok := strings.CutSuffix(cmd, " &"); ok {
			p := startCmd(t, exec.Command("bash", "-c", "exec "+bg))
			jobs = append(jobs, p)
			if strings.Contains(bg, " serve ") {
				waitOutput(t, p, "listening on", 20*time.Second)
			} else if ports := lastPort.FindAllString(bg, -1); len(ports) > 0 {
				waitListeningIn(t, ns, ports[len(ports)-1], 20*time.Second, p)
			}
			logTime()
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		c := exec.CommandContext(ctx, "bash", "-c", cmd)
		var stderr syncBuffer
		c.Stderr = &stderr
		out, err := c.Output()
		cancel()
		logTime()
		if err != nil {
			t.Fatalf("%s\n(run as %s): %v\n%s%s", readme, cmd, err, out, stderr.String())
		}
		check := func(ok bool) {
			t.Helper()
			if !ok {
				t.Errorf("%s\nprinted:\n%s", readme, out)
			}
		}
		switch o := string(out); {
		case strings.Contains(readme, " curl "), strings.Contains(readme, "synack get "):
			check(o == "hello from synack\n")
		case strings.Contains(readme, "synack dial "):
			check(o == "hello from the kernel\n")
			// nc, the last job, exits by itself once dial has closed.
			nc := jobs[len(jobs)-1]
			if err := nc.wait(10 * time.Second); err != nil {
				t.Errorf("nc: %v", err)
			}
			if got := nc.stdout.String(); got != "hello from synack\n" {
				t.Errorf("nc printed %q", got)
			}
		case strings.Contains(readme, "synack ss "):
			check(strings.Contains(o, "LISTEN") && strings.Contains(o, "*:80"))
		case strings.Contains(readme, "synack stat "):
			check(strings.Contains(o, "Tcp:\n") && strings.Contains(o, " passive connection openings\n"))
		case strings.Contains(readme, " ping "):
			check(strings.Contains(o, "3 received"))
		}
	}
	if ran < 13 {
		t.Errorf("ran %d commands", ran)
	}
	if _, err := os.Stat("/run/netns/" + ns); err == nil {
		t.Errorf("the walkthrough left namespace %s behind", ns)
	}
}

// waitListeningIn waits up to d until a TCP socket listens on port in
// namespace ns, failing the test if p exits first.
func waitListeningIn(t *testing.T, ns, port string, d time.Duration, p *proc) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		out, err := exec.Command("ip", "netns", "exec", ns, "ss", "-Htln", "sport = :"+port).Output()
		if err == nil && strings.TrimSpace(string(out)) != "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on port %s after %v\n%s", port, d, p.stderr.String())
		}
		select {
		case <-p.done:
			t.Fatalf("%v exited: %v\n%s", p.cmd.Args, p.err, p.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestCLIBusyTUN: a second synack on a device name another process holds
// is told which name is taken and to pick another with --tun.
func TestCLIBusyTUN(t *testing.T) {
	bin := synackBinary(t)
	r := newRig(t, rigOptions{noCap: true}) // the rig holds device tunName
	cmd := exec.Command(bin, "dial", "--netns", r.ns.Name, "--tun", tunName, "--timeout", "1s", hostPort(kern4, 9))
	var stderr syncBuffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	want := fmt.Sprintf("synack dial: TUN device %q is taken (another synack serve, dial or get holds it?): give this one another name with --tun NAME (tun: TUNSETIFF %q: device or resource busy)\n", tunName, tunName)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || stderr.String() != want {
		t.Errorf("dial on a busy device: %v, stderr\n%q\nwant exit status 1 and\n%q", err, stderr.String(), want)
	}
}
