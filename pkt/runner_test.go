package pkt

import (
	"strings"
	"testing"
)

const listenPrefix = `0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>
`

const ecnPrefix = `0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < [ect0] SEW 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>
`

// TestRunOutcomes checks how the runner reports scripts it passes, fails
// and skips.
func TestRunOutcomes(t *testing.T) {
	tests := []struct {
		name   string
		src    string
		status Status
		line   int
		reason string
	}{
		{"pass", listenPrefix + "+0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>\n", Pass, 0, ""},
		{"bad flags", listenPrefix + "+0 > S 0:0(0) <...>\n", Fail, 5, "bad flags: expected S, actual S."},
		{"bad option", listenPrefix + "+0 > S. 0:0(0) ack 1 <mss 1400,nop,nop,sackOK,nop,wscale 8>\n", Fail, 5, "bad TCP option: expected mss 1400, actual mss 1460"},
		{"lenient options", "--lenient\n" + listenPrefix + "+0 > S. 0:0(0) ack 1 win 1 <sackOK,wscale 2,mss 1460>\n", Pass, 0, ""},
		{"too late", listenPrefix + "+.1 > S. 0:0(0) ack 1 <...>\n", Fail, 5, "timing error: expected at 0.100"},
		{"tolerance", "--tolerance_usecs=200000\n" + listenPrefix + "+.1 > S. 0:0(0) ack 1 <...>\n", Pass, 0, ""},
		{"never sent", listenPrefix + "+0 > S. 0:0(0) ack 1 <...>\n+0 > . 1:1(0) ack 1\n", Fail, 6, "expected packet was not sent"},
		{"unexpected", listenPrefix + "+.1 < . 1:1(0) ack 1 win 257\n", Fail, 5, "unexpected packet"},
		{"syscall result", listenPrefix + "+0 > S. 0:0(0) ack 1 <...>\n+0 accept(3, ..., ...) = 4\n", Fail, 6, "accept did not return by 0.000"},
		{"errno", "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 read(3, ..., 10) = -1 EAGAIN\n", Fail, 2, "read returned -1 ENOTCONN, expected -1 EAGAIN"},
		{"bad fd", "0 close(7) = -1 EBADF (Bad file descriptor)\n", Pass, 0, ""},
		{"syntax", "0 socket(\n", Fail, 2, "syntax error"},
		{"code", "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 %{ import os }%\n", Skip, 2, "Python statement not evaluated: import os"},
		{"command", "`tc qdisc add dev tun0 root netem delay 10ms`\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n", Skip, 1, "netem delays and losses are not emulated"},
		{"defaults", "`../common/defaults.sh`\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n", Pass, 0, ""},
		{"sysctl unknown", "0 `sysctl -q net.ipv4.tcp_frobnicate=3`\n+0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n", Skip, 1, "no synack equivalent"},
		{"udp", "0 socket(..., SOCK_DGRAM, IPPROTO_UDP) = 3\n+0 < udp (10)\n", Skip, 2, "UDP packets are not supported"},
		{"udp socket", "0 socket(..., SOCK_DGRAM, IPPROTO_UDP) = 3\n", Skip, 1, "only SOCK_STREAM"},
		{"unknown call", "0 pipe([3, 4]) = 0\n", Skip, 1, "system call pipe is not supported"},
		{"unknown option", "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 setsockopt(3, SOL_TCP, TCP_WINDOW_CLAMP, [1], 4) = 0\n", Skip, 2, "TCP_WINDOW_CLAMP is not supported"},
		{"ecn on", "`sysctl -q net.ipv4.tcp_ecn=1`\n" + ecnPrefix + "+0 > [noecn] SE. 0:0(0) ack 1 <...>\n", Pass, 0, ""},
		{"ecn default accepts", ecnPrefix + "+0 > SE. 0:0(0) ack 1 <...>\n", Pass, 0, ""},
		{"ecn off", "`sysctl -q net.ipv4.tcp_ecn=0`\n" + ecnPrefix + "+0 > S. 0:0(0) ack 1 <...>\n", Pass, 0, ""},
		{"ecn codepoint", "`sysctl -q net.ipv4.tcp_ecn=1`\n" + ecnPrefix + "+0 > [ect0] SE. 0:0(0) ack 1 <...>\n", Fail, 6, "bad ECN codepoint: expected ect0"},
		{"ecn bad value", "`sysctl -q net.ipv4.tcp_ecn=3`\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n", Skip, 1, "tcp_ecn=3: no synack equivalent"},
		{"ecn active default", "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n+0 connect(3, ..., ...) = -1 EINPROGRESS\n+0 > S 0:0(0) <...>\n", Pass, 0, ""},
		{"accecn", listenPrefix + "+0 > S.A 0:0(0) ack 1 <...>\n", Skip, 5, "AccECN"},
		{"fast open off", listenPrefix + "+0 > S. 0:0(0) ack 1 <mss 1460,FO 0102030405060708,nop,nop>\n", Fail, 5, "bad TCP options"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := RunSource(tt.name+".pkt", []byte(tt.src), Config{})
			if res.Status != tt.status || res.Line != tt.line || !strings.Contains(res.Reason, tt.reason) {
				t.Errorf("got %s (line %d), want %s at line %d with %q", res, res.Line, tt.status, tt.line, tt.reason)
			}
		})
	}
}
