package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// TestHelpStyle checks every command's --help: exit status 0, every flag
// listed as --name (words joined by hyphens), no default printed twice.
func TestHelpStyle(t *testing.T) {
	dashFlag := regexp.MustCompile(`(?m)^\s+-[a-z]`)
	listed := regexp.MustCompile(`(?m)^  --([a-z0-9-]+)`)
	for _, c := range commands {
		args := []string{c.name, "--help"}
		if c.name == "pkt" {
			args = []string{"pkt", "run", "--help"}
		}
		status, stdout, stderr := synack(t, args...)
		help := stdout + stderr
		if status != 0 || !strings.Contains(help, "Usage: synack "+c.name) {
			t.Errorf("%q: status %d, help:\n%s", args, status, help)
			continue
		}
		if dashFlag.MatchString(help) {
			t.Errorf("%q lists a -flag:\n%s", args, help)
		}
		for _, l := range strings.Split(help, "\n") {
			if strings.Count(l, "(default") > 1 {
				t.Errorf("%q: default twice: %q", args, l)
			}
		}
		if c.name != "version" && len(listed.FindAllString(help, -1)) == 0 {
			t.Errorf("%q lists no --flag:\n%s", args, help)
		}
		for _, m := range listed.FindAllStringSubmatch(help, -1) {
			if strings.Contains(m[1], "_") {
				t.Errorf("%q: flag --%s", args, m[1])
			}
		}
	}
	// One example in full: the default of --seed once, after its usage.
	_, _, help := synack(t, "transfer", "--help")
	if !strings.Contains(help, "  --seed int\n        seed of the simulation, the impairments and the data (default 1)\n") {
		t.Errorf("transfer --help:\n%s", help)
	}
	if !strings.Contains(strings.Join(strings.Fields(help), " "), "packet (default: the bandwidth-delay product, at least one packet) --rate RATE") {
		t.Errorf("--queue's default is not printed once:\n%s", help)
	}
}

// TestMistakesAreOneLine checks that a mistake on the command line of any
// command prints one line saying what is wrong and where to look, with
// exit status 2.
func TestMistakesAreOneLine(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"transfer", "--nope"}, "synack transfer: unknown flag --nope"},
		{[]string{"transfer", "--bytes"}, "synack transfer: --bytes needs a value"},
		{[]string{"transfer", "--bytes", "lots"}, `synack transfer: bad --bytes "lots": size "lots": unknown unit "lots"`},
		{[]string{"transfer", "--json=maybe"}, `synack transfer: bad --json "maybe": parse error`},
		{[]string{"transfer", "extra"}, `synack transfer: unexpected argument "extra"`},
		{[]string{"demo", "--width", "wide"}, `synack demo: bad --width "wide": parse error`},
		{[]string{"serve", "--tun"}, "synack serve: --tun needs a value"},
		{[]string{"dial", "--tun", "t0"}, "synack dial: want one HOST:PORT argument, got 0"},
		{[]string{"dial", "--tun", "t0", "example.com:80"}, `synack dial: "example.com:80" is not HOST:PORT with an IP literal host (IPv6 in brackets)`},
		{[]string{"get", "--tun", "t0"}, "synack get: want one URL argument, got 0"},
		{[]string{"get", "--tun", "t0", "ftp://198.18.0.1/"}, `synack get: "ftp://198.18.0.1/" is not an http:// or https:// URL`},
		{[]string{"ss", "--admin", "10.0.0.1:7070"}, "synack ss: --admin 10.0.0.1:7070: only a loopback address (127.0.0.1, [::1]); the interface has no authentication"},
		{[]string{"stat", "x"}, `synack stat: unexpected argument "x"`},
		{[]string{"gateway", "--tun", "t0", "--addr", "198.18.40.2/24", "--icmp", "echo"}, `synack gateway: --icmp "echo": want forward, answer or drop`},
		{[]string{"ping", "--tun", "t0", "--count", "x", "198.18.0.1"}, `synack ping: bad --count "x": parse error`},
	} {
		status, stdout, stderr := synack(t, tt.args...)
		cmd := strings.Fields(tt.want)[1]
		cmd = strings.TrimSuffix(cmd, ":")
		want := tt.want + "; see 'synack " + cmd + " --help'\n"
		if status != 2 || stdout != "" || stderr != want {
			t.Errorf("synack %q: status %d, stdout %q, stderr\n%q\nwant status 2 and\n%q", tt.args, status, stdout, stderr, want)
		}
	}
}

// TestRefusedValues checks that values that cannot work are refused
// before anything runs, each with its reason.
func TestRefusedValues(t *testing.T) {
	tun := []string{"serve", "--tun", "t0", "--addr", "198.18.0.2/24", "--port", "80", "--echo"}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--tun", "t0", "--addr", "198.18.0.2/24", "--port", "80", "--http", "/nonexistent"},
			"synack serve: --http /nonexistent: no such file or directory"},
		{[]string{"serve", "--tun", "t0", "--addr", "198.18.0.2/24", "--port", "80", "--http", "main.go"},
			"synack serve: --http main.go is not a directory"},
		{append(tun, "--peer", "198.18.0.2"),
			"synack serve: --peer 198.18.0.2 is synack's own address (--addr 198.18.0.2/24); give the kernel another address of 198.18.0.0/24"},
		{append(tun, "--peer", "198.18.1.1"),
			"synack serve: --peer 198.18.1.1 is outside synack's prefix 198.18.0.0/24 (--addr 198.18.0.2/24); the kernel would not reach synack on the device"},
		{append(tun, "--mtu", "100"),
			"synack serve: --mtu 100 is too small: TCP over IPv4 needs 104 (20-byte IPv4 header, 20-byte TCP header, 64-byte smallest MSS)"},
		{append(tun, "--addr", "fd00:5ac::2/64", "--mtu", "1200"),
			"synack serve: --mtu 1200 is below IPv6's minimum of 1280 (RFC 8200); with an IPv6 --addr give at least 1280"},
		{append(tun, "--admin", "0.0.0.0:7070"),
			"synack serve: --admin 0.0.0.0:7070: only a loopback address (127.0.0.1, [::1]); the interface has no authentication"},
		{[]string{"dial", "--tun", "t0", "--peer", "198.18.0.2", "198.18.0.1:7"},
			"synack dial: --peer 198.18.0.2 is synack's own address (--addr 198.18.0.2/24); give the kernel another address of 198.18.0.0/24"},
		{[]string{"dial", "--tun", "t0", "--timeout", "0s", "198.18.0.1:7"}, "synack dial: --timeout must be positive"},
		{append(tun[:len(tun):len(tun)], "--tls", "/nonexistent.pem,key.pem"), "synack serve: --tls /nonexistent.pem: no such file or directory"},
		{[]string{"transfer", "--burst", "-3"}, "synack transfer: --burst -3: a mean burst length is at least 1 packet (0: independent losses)"},
		{[]string{"transfer", "--burst", "4"}, "synack transfer: --burst needs --loss (the average loss the bursts make up)"},
		{[]string{"transfer", "--buffer", "1"}, "synack transfer: --buffer 1 is smaller than one segment (1460 bytes at --mtu 1500)"},
		{[]string{"transfer", "--rate", "10Mbit", "--queue", "1000"}, "synack transfer: --queue 1000 is smaller than one packet (--mtu 1500): nothing could pass the bottleneck"},
		{[]string{"transfer", "--queue", "1MiB"}, "synack transfer: --queue needs --rate (the queue is the bottleneck's)"},
		{[]string{"transfer", "--mtu", "100"}, "synack transfer: --mtu 100: TCP over IPv4 needs at least 104 (20-byte IPv4 header, 20-byte TCP header, 64-byte smallest MSS); at most 65535"},
		{[]string{"demo", "--width", "20"}, "synack demo: --width must be at least 60"},
	} {
		status, stdout, stderr := synack(t, tt.args...)
		cmd := tt.args[0]
		want := tt.want + "; see 'synack " + cmd + " --help'\n"
		if status != 2 || stdout != "" || stderr != want {
			t.Errorf("synack %q: status %d, stderr\n%q\nwant status 2 and\n%q", tt.args, status, stderr, want)
		}
	}
	// The smallest MTU works: every segment fits, none is fragmented.
	status, out, stderr := synack(t, "transfer", "--bytes", "16KiB", "--delay", "1ms", "--mtu", "104")
	if status != 0 || !strings.Contains(out, "(0 rejected by the stacks)") {
		t.Errorf("--mtu 104: status %d\n%s%s", status, out, stderr)
	}
	// With --rate and no --queue, the queue is at least one packet.
	status, out, stderr = synack(t, "transfer", "--bytes", "16KiB", "--delay", "1ms", "--rate", "1Mbit")
	if status != 0 || !strings.Contains(out, "rate 1Mbit/s, queue 1.46KiB") {
		t.Errorf("--rate 1Mbit: status %d\n%s%s", status, out, stderr)
	}
}

// TestTransferJSONKeys checks that every key of transfer --json is
// snake_case, nested ones included.
func TestTransferJSONKeys(t *testing.T) {
	status, out, stderr := synack(t, "transfer", "--bytes", "64KiB", "--delay", "1ms", "--json")
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	snake := regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	var walk func(prefix string, v any)
	n := 0
	walk = func(prefix string, v any) {
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		for k, x := range m {
			n++
			if !snake.MatchString(k) {
				t.Errorf("key %s%s is not snake_case", prefix, k)
			}
			walk(prefix+k+".", x)
		}
	}
	walk("", v)
	srtt, _ := v["srtt_ms"].(map[string]any)
	if n < 30 || srtt["min"] == nil || v["network"].(map[string]any)["queue_full"] == nil {
		t.Errorf("%d keys; srtt_ms %v:\n%s", n, srtt, out)
	}
}
