package main

import (
	"strings"
	"testing"
)

// TestTunCommandsUsage checks the flags and errors of serve, dial and get
// that need no device (the interop package runs them on real TUNs).
func TestTunCommandsUsage(t *testing.T) {
	tests := []struct {
		args   []string
		status int
		stdout string
		stderr string
	}{
		{args: []string{"serve", "--help"}, status: 0, stderr: "Usage: synack serve --tun NAME"},
		{args: []string{"dial", "--help"}, status: 0, stderr: "Usage: synack dial --tun NAME"},
		{args: []string{"get", "--help"}, status: 0, stderr: "Usage: synack get --tun NAME"},
		{args: []string{"ping", "--help"}, status: 0, stderr: "Usage: synack ping --tun NAME"},
		{args: []string{"ping", "--tun", "t0"}, status: 2, stderr: "synack ping: want one ADDR argument, got 0; see 'synack ping --help'\n"},
		{args: []string{"ping", "--tun", "t0", "example.com"}, status: 2, stderr: `synack ping: "example.com" is not an IP address`},
		{args: []string{"ping", "198.18.0.1"}, status: 2, stderr: "--tun is required"},
		{args: []string{"ping", "--tun", "t0", "--count", "0", "198.18.0.1"}, status: 2, stderr: "--count must be at least 1"},
		{args: []string{"ping", "--tun", "t0", "--interval", "1ms", "198.18.0.1"}, status: 2, stderr: "--interval must be at least 10ms"},
		{args: []string{"ping", "--tun", "t0", "--size", "70000", "198.18.0.1"}, status: 2, stderr: "--size must be 0 to 65000"},
		{args: []string{"ping", "--netns", "/nonexistent/ns", "--tun", "t0", "198.18.0.1"}, status: 1, stderr: "no such file"},
		{args: []string{"serve", "--port", "80", "--echo"}, status: 2, stderr: "--tun is required"},
		{args: []string{"serve", "--tun", "t0", "--port", "80", "--echo"}, status: 2, stderr: "--addr is required"},
		{args: []string{"serve", "--tun", "t0", "--addr", "198.18.0.2/24", "--echo"}, status: 2, stderr: "--port must be"},
		{args: []string{"serve", "--tun", "t0", "--addr", "198.18.0.2/24", "--port", "80"}, status: 2, stderr: "exactly one of"},
		{args: []string{"serve", "--tun", "t0", "--addr", "198.18.0.2/24", "--port", "80", "--echo", "--discard"}, status: 2, stderr: "exactly one of"},
		{args: []string{"serve", "--tun", "t0", "--addr", "198.18.0.2", "--port", "80", "--echo"}, status: 2, stderr: "want ADDR/PREFIX"},
		{args: []string{"serve", "--tun", "t0", "--addr", "198.18.0.2/24", "--peer", "fd00:5ac::1", "--port", "80", "--echo"}, status: 2, stderr: "no --addr of its family"},
		{args: []string{"serve", "--tun", "t0", "--addr", "198.18.0.2/24", "--port", "80", "--source", "lots"}, status: 2, stderr: `bad size "lots"`},
		{args: []string{"serve", "--tun", "t0", "--addr", "198.18.0.2/24", "--port", "80", "--echo", "--tls", "cert.pem"}, status: 2, stderr: "--tls wants CERT,KEY"},
		{args: []string{"serve", "--tun", "t0", "--addr", "198.18.0.2/24", "--port", "80", "--echo", "extra"}, status: 2, stderr: "unexpected argument"},
		{args: []string{"dial", "--tun", "t0"}, status: 2, stderr: "want one HOST:PORT"},
		{args: []string{"dial", "198.18.0.1:7"}, status: 2, stderr: "--tun is required"},
		{args: []string{"get", "--tun", "t0"}, status: 2, stderr: "want one URL"},
		{args: []string{"get", "--tun", "t0", "--peer", "nonsense", "http://198.18.0.1/"}, status: 2, stderr: "synack get: bad --peer \"nonsense\": ParseAddr(\"nonsense\"): unable to parse IP; see 'synack get --help'\n"},
		// A namespace that does not exist fails before any device is made.
		{args: []string{"serve", "--netns", "/nonexistent/ns", "--tun", "t0", "--addr", "198.18.0.2/24", "--port", "80", "--echo"}, status: 1, stderr: "no such file"},
		{args: []string{"dial", "--netns", "/nonexistent/ns", "--tun", "t0", "198.18.0.1:7"}, status: 1, stderr: "no such file"},
		{args: []string{"get", "--netns", "/nonexistent/ns", "--tun", "t0", "http://198.18.0.1/"}, status: 1, stderr: "no such file"},
	}
	for _, tt := range tests {
		status, stdout, stderr := synack(t, tt.args...)
		if status != tt.status || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
			t.Errorf("synack %q: status %d, stdout %q, stderr %q; want status %d with %q / %q",
				tt.args, status, stdout, stderr, tt.status, tt.stdout, tt.stderr)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"1234", 1234, true},
		{"4K", 4 << 10, true},
		{"64M", 64 << 20, true},
		{"64MiB", 64 << 20, true},
		{"64mb", 64 << 20, true},
		{"2G", 2 << 30, true},
		{"", 0, false},
		{"-1", 0, false},
		{"1T", 0, false},
		{"M", 0, false},
		{"99999999999999999999", 0, false},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
