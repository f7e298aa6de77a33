package pkt

import (
	"strings"
	"testing"
	"time"

	"github.com/synack/synack/stack"
)

// The runner features the public suites need (FreeBSD's tcp-testsuite,
// Linux's gtests): each case passes, fails or skips for the reason the
// feature gives.

// freeBSDListen establishes a connection on a listener as FreeBSD's scripts
// do (no timestamps, no window scaling from the peer).
const freeBSDListen = ` 0.00 ` + "`sysctl -w net.inet.tcp.sack.enable=1`" + `
+0.00 ` + "`sysctl -w net.inet.tcp.recvspace=65536`" + `
+0.00 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.00 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0.00 bind(3, ..., ...) = 0
+0.00 listen(3, 1) = 0
+0.00 < S   0:0(0) win 65535 <mss 1460,sackOK,eol,eol>
+0.00 > S.  0:0(0) ack 1 win 65535 <mss 1460,sackOK,eol,eol>
+0.01 <  .  1:1(0) ack 1 win 65535
+0.00 accept(3, ..., ...) = 4
`

// linuxListen is the usual Linux gtests opening.
const linuxListen = `0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>
+0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>
+.1 < . 1:1(0) ack 1 win 257
+0 accept(3, ..., ...) = 4
`

func sysctlW(s string) string { return "+0 `sysctl -w " + s + "`\n" }

func TestPublicSuiteFeatures(t *testing.T) {
	tests := []struct {
		name   string
		src    string
		status Status
		reason string
	}{
		// FreeBSD sysctl -w: settings that describe synack are accepted,
		// the others SKIP naming the setting.
		{"freebsd defaults", sysctlW("net.inet.tcp.blackhole=0") + sysctlW("net.inet.tcp.insecure_rst=0") +
			sysctlW("net.inet.tcp.insecure_syn=0") + sysctlW("net.inet.tcp.rexmit_slop=200") +
			sysctlW("net.inet.tcp.drop_synfin=0") + sysctlW("net.inet.tcp.syncookies=1") +
			sysctlW("net.inet.tcp.syncookies_only=0") + freeBSDListen, Pass, ""},
		{"freebsd blackhole", sysctlW("net.inet.tcp.blackhole=1") + freeBSDListen, Skip, "sysctl net.inet.tcp.blackhole=1: synack behaves as =0"},
		{"freebsd insecure rst", sysctlW("net.inet.tcp.insecure_rst=1") + freeBSDListen, Skip, "net.inet.tcp.insecure_rst=1"},
		{"freebsd unknown", sysctlW("net.inet.tcp.frobnicate=1") + freeBSDListen, Skip, "net.inet.tcp.frobnicate=1: no synack equivalent"},
		// syncookies_only=1 maps to SYN cookies for every SYN: the
		// SYN-ACK then carries only what a cookie encodes (no SACK
		// without timestamps).
		{"freebsd syncookies only", sysctlW("net.inet.tcp.syncookies_only=1") + strings.Replace(freeBSDListen,
			"> S.  0:0(0) ack 1 win 65535 <mss 1460,sackOK,eol,eol>", "> S.  0:0(0) ack 1 win 65535 <mss 1460>", 1), Pass, ""},
		// FreeBSD rounds the receive buffer up to a multiple of the MSS.
		{"freebsd rcvbuf rounding", freeBSDListen + "+0 getsockopt(4, SOL_SOCKET, SO_RCVBUF, [65700], [4]) = 0\n", Pass, ""},
		{"freebsd keepalive sysctls", sysctlW("net.inet.tcp.keepidle=15000") + sysctlW("net.inet.tcp.keepintvl=2000") +
			sysctlW("net.inet.tcp.keepcnt=3") + freeBSDListen +
			"+0 getsockopt(4, IPPROTO_TCP, TCP_KEEPIDLE, [15], [4]) = 0\n+0 getsockopt(4, IPPROTO_TCP, TCP_KEEPINTVL, [2], [4]) = 0\n" +
			"+0 getsockopt(4, IPPROTO_TCP, TCP_KEEPCNT, [3], [4]) = 0\n", Pass, ""},
		// Linux sysctls are never ignored silently.
		{"early retrans off", "`sysctl -q net.ipv4.tcp_early_retrans=0`\n" + linuxListen, Skip, "sysctl net.ipv4.tcp_early_retrans=0"},
		{"slow start after idle", "`sysctl -q net.ipv4.tcp_slow_start_after_idle=1`\n" + linuxListen, Skip, "tcp_slow_start_after_idle=1"},
		{"unknown congestion control", "`sysctl -q net.ipv4.tcp_congestion_control=bbr`\n" + linuxListen, Skip, "no congestion controller bbr"},
		// set_sysctls.py with /proc/sys paths, names with slashes, comment
		// lines and defaults.sh in one back-quoted block.
		{"set_sysctls", "`../common/defaults.sh\n# Timestamps off:\n../common/set_sysctls.py /proc/sys/net/ipv4/tcp_timestamps=0 \\\n  /proc/sys/net/ipv4/tcp_sack=1`\n" +
			"0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n" +
			"+0 < S 0:0(0) win 32792 <mss 1000,sackOK,TS val 1 ecr 0,nop,wscale 7>\n+0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>\n", Pass, ""},
		{"sysctl slashes", "`sysctl -q net/ipv4/tcp_timestamps=0`\n" +
			"0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n" +
			"+0 < S 0:0(0) win 32792 <mss 1000,sackOK,TS val 1 ecr 0,nop,wscale 7>\n+0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>\n", Pass, ""},
		{"timestamps still on", "`sysctl -q net/ipv4/tcp_sack=1`\n" +
			"0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n" +
			"+0 < S 0:0(0) win 32792 <mss 1000,sackOK,TS val 1 ecr 0,nop,wscale 7>\n+0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>\n", Fail, "bad TCP options"},
		// defaults.sh sets tcp_ecn=0: an ECN SYN is answered without ECE.
		{"defaults.sh ecn off", "`../common/defaults.sh`\n" + ecnPrefix + "+0 > S. 0:0(0) ack 1 <...>\n", Pass, ""},
		{"ip route advmss", "`ip route change 192.0.2.1 via 192.168.0.2 dev tun0 advmss 1100 mtu lock 1140`\n" +
			"0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n" +
			"+0 < S 0:0(0) win 32792 <mss 1460,sackOK,nop,nop,nop,wscale 7>\n+0 > S. 0:0(0) ack 1 <mss 1100,nop,nop,sackOK,nop,wscale 8>\n", Pass, ""},
		{"ip route initcwnd", "`ip route change 192.0.2.1 via 192.168.0.2 dev tun0 initcwnd 11`\n" + linuxListen, Skip, "route attribute initcwnd"},
		{"ethtool offloads off", "`ethtool -K tun0 gso off tso off`\n" + linuxListen, Pass, ""},
		{"hystart parameter", "`echo 3 > /sys/module/tcp_cubic/parameters/hystart_detect`\n" + linuxListen, Skip, "shell commands are not run"},
		// MSG_PEEK leaves the data to the next read.
		{"msg peek", freeBSDListen + "+0 < P. 1:100(99) ack 1 win 65535\n+0 recv(4, ..., 1024, MSG_PEEK) = 99\n" +
			"+0 recv(4, ..., 10, MSG_PEEK) = 10\n+0 recv(4, ..., 1024, 0) = 99\n+0 recv(4, ..., 1024, MSG_PEEK|MSG_DONTWAIT) = -1 EAGAIN (Resource temporarily unavailable)\n", Pass, ""},
		{"msg peek blocks", freeBSDListen + "+0...0.1 recv(4, ..., 1024, MSG_PEEK) = 99\n+.1 < P. 1:100(99) ack 1 win 65535\n+0 read(4, ..., 1024) = 99\n", Pass, ""},
		{"msg peek wrong", freeBSDListen + "+0 < P. 1:100(99) ack 1 win 65535\n+0 recv(4, ..., 1024, MSG_PEEK) = 99\n+0 recv(4, ..., 1024, 0) = 0\n", Fail, "recv returned 99, expected 0"},
		// sockstat checks answered from the stack's connection states.
		{"sockstat", freeBSDListen + "+0 `sockstat -4 -P tcp -s | grep packetdril | grep -c ESTABLISHED | grep 1`\n" +
			"+0 `sockstat -4 -P tcp -p 8080 -s | grep -c SYN_RCVD | grep 0`\n", Pass, ""},
		{"sockstat time-wait", freeBSDListen + "+0 close(4) = 0\n+0 > F. 1:1(0) ack 1 win 65535\n+0 < F. 1:1(0) ack 2 win 65535\n" +
			"+0 > . 2:2(0) ack 2 win 65535\n+0 `sockstat -4 -P tcp -s | grep packetdril | grep -c TIME_WAIT | grep 1`\n", Pass, ""},
		{"sockstat wrong", freeBSDListen + "+0 `sockstat -4 -P tcp -s | grep packetdril | grep -c TIME_WAIT | grep 1`\n", Fail, "found 0 sockets, expected 1"},
		// The nplab preprocessor: STANDARD is defined, FreeBSD is not.
		{"ifdef", freeBSDListen + "#ifdef FreeBSD\n+0 > . 1:1(0) ack 1\n#else\n+0 close(4) = 0\n#endif\n#ifdef STANDARD\n+0 > F. 1:1(0) ack 1 win 65535\n#endif\n", Pass, ""},
		{"ifdef unbalanced", freeBSDListen + "#ifdef FreeBSD\n", Fail, "without #endif"},
		// %{ }% assertions over tcp.Info.
		{"tcp_info cwnd", linuxListen + "+0 %{ assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd }%\n" +
			"+0 %{ cwnd = 10; cwnd += 2\nassert tcpi_snd_cwnd + 2 == cwnd and tcpi_ca_state == TCP_CA_Open }%\n" +
			"+0 %{ assert tcpi_snd_ssthresh == 0x7fffffff; assert 90000 <= tcpi_rtt <= 110000, 'rtt=%d' % tcpi_rtt }%\n" +
			"+0 %{ assert tcpi_state == TCP_ESTABLISHED and (tcpi_options & TCPI_OPT_SACK) != 0 }%\n", Pass, ""},
		{"tcp_info wrong", linuxListen + "+0 %{ assert tcpi_snd_cwnd == 11, tcpi_snd_cwnd }%\n", Fail, "assertion failed: tcpi_snd_cwnd == 11, tcpi_snd_cwnd (tcpi_snd_cwnd=10)"},
		{"tcp_info unknown field", linuxListen + "+0 %{ assert tcpi_delivered == 1 }%\n", Skip, "tcpi_delivered has no synack equivalent"},
		{"freebsd tcpi_state", freeBSDListen + "+0 %{ assert tcpi_state == TCPI_ESTABLISHED }%\n+0 close(4) = 0\n" +
			"+0 > F. 1:1(0) ack 1 win 65535\n+0 fcntl(3, F_GETFL) = 0x2\n+0 %{ assert tcpi_state == TCPI_LISTEN }%\n", Pass, ""},
		// ioctl(SIOCINQ/SIOCOUTQ).
		{"siocinq", linuxListen + "+0 < P. 1:1001(1000) ack 1 win 257\n+0 ioctl(4, SIOCINQ, [1000]) = 0\n+0 read(4, ..., 600) = 600\n" +
			"+0 ioctl(4, SIOCINQ, [400]) = 0\n+0 write(4, ..., 100) = 100\n+0 ioctl(4, SIOCOUTQ, [100]) = 0\n+0 > P. 1:101(100) ack 1001\n" +
			"+.1 < . 1001:1001(0) ack 101 win 257\n+0 ioctl(4, SIOCOUTQ, [0]) = 0\n", Pass, ""},
		{"siocinq wrong", linuxListen + "+0 < P. 1:1001(1000) ack 1 win 257\n+0 ioctl(4, SIOCINQ, [999]) = 0\n", Fail, "ioctl: value 1000, expected [999]"},
		// Script descriptors: socket() returns the number the script expects.
		{"script fd", "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 4\n+0 bind(4, ..., ...) = 0\n+0 listen(4, 1) = 0\n" +
			"+0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>\n+0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>\n" +
			"+.1 < . 1:1(0) ack 1 win 257\n+0 accept(4, ..., ...) = 7\n+0 close(7) = 0\n", Pass, ""},
		// A packet sent at the time of a call line waits for the next '>'.
		{"same-time buffering", linuxListen + "+0 write(4, ..., 100) = 100\n+0 getsockopt(4, SOL_SOCKET, SO_ERROR, [0], [4]) = 0\n+0 > P. 1:101(100) ack 1\n", Pass, ""},
		{"queue outbound", "--queue_outbound\n" + linuxListen + "+0 write(4, ..., 100) = 100\n+.1 < . 1:1(0) ack 101 win 257\n", Pass, ""},
		{"queued packet compared", "--queue_outbound\n" + linuxListen + "+0 write(4, ..., 100) = 100\n+.1 < . 1:1(0) ack 101 win 257\n+0 write(4, ..., 100) = 100\n+0 > P. 101:201(100) ack 1\n", Fail, "bad sequence number: expected 101, actual 1"},
		{"earlier packet unexpected", linuxListen + "+0 write(4, ..., 100) = 100\n+.1 getsockopt(4, SOL_SOCKET, SO_ERROR, [0], [4]) = 0\n+0 > P. 1:101(100) ack 1\n", Fail, "unexpected packet"},
		// epoll, level- and edge-triggered.
		{"epoll level", linuxListen + "+0 epoll_create(1) = 5\n+0 epoll_ctl(5, EPOLL_CTL_ADD, 4, {events=EPOLLIN, fd=4}) = 0\n" +
			"+0 epoll_wait(5, {events=0, ptr=0}, 1, 0) = 0\n+0...0.1 epoll_wait(5, {events=EPOLLIN, fd=4}, 1, 1000) = 1\n" +
			"+.1 < P. 1:101(100) ack 1 win 257\n+0 epoll_wait(5, {events=EPOLLIN, fd=4}, 1, 0) = 1\n" +
			"+0 epoll_ctl(5, EPOLL_CTL_ADD, 4, {events=EPOLLIN, fd=4}) = -1 EEXIST (File exists)\n", Pass, ""},
		{"epoll edge", linuxListen + "+0 epoll_create(1) = 5\n+0 epoll_ctl(5, EPOLL_CTL_ADD, 4, {events=EPOLLIN|EPOLLOUT|EPOLLET, fd=4}) = 0\n" +
			"+0 epoll_wait(5, {events=EPOLLOUT, fd=4}, 1, 0) = 1\n+0 epoll_wait(5, {events=0, ptr=0}, 1, 0) = 0\n" +
			"+0 < P. 1:101(100) ack 1 win 257\n+0 epoll_wait(5, {events=EPOLLIN|EPOLLOUT, fd=4}, 1, 0) = 1\n" +
			"+0 read(4, ..., 10) = 10\n+0 epoll_wait(5, {events=0, ptr=0}, 1, 0) = 0\n", Pass, ""},
		{"epoll edge wrong", linuxListen + "+0 epoll_create(1) = 5\n+0 epoll_ctl(5, EPOLL_CTL_ADD, 4, {events=EPOLLIN|EPOLLOUT|EPOLLET, fd=4}) = 0\n" +
			"+0 epoll_wait(5, {events=EPOLLOUT, fd=4}, 1, 0) = 1\n+0 epoll_wait(5, {events=EPOLLOUT, fd=4}, 1, 0) = 1\n", Fail, "epoll_wait: events 0x0 for 0, expected {events=EPOLLOUT, fd=4}"},
		// SHUT_RD marks the socket only, as on Linux: data still queues.
		{"shut_rd", linuxListen + "+0 shutdown(4, SHUT_RD) = 0\n+0 read(4, ..., 1000) = 0\n+0 < P. 1:1001(1000) ack 1 win 257\n" +
			"+0~+.04 > . 1:1(0) ack 1001\n+0 read(4, ..., 1000) = 1000\n+0 read(4, ..., 1000) = 0\n", Pass, ""},
		// A NULL buffer faults.
		{"null buffer", linuxListen + "+0 write(4, NULL, 1000) = -1 EFAULT (Bad address)\n+0 fcntl(4, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n" +
			"+0 read(4, NULL, 1000) = -1 EAGAIN (Resource temporarily unavailable)\n+0 < . 1:1001(1000) ack 1 win 200\n" +
			"+0 recv(4, NULL, 1000, 0) = -1 EFAULT (Bad address)\n+0 read(4, ..., 1000) = 1000\n", Pass, ""},
		// keepinit: a connect gives up after TCP_KEEPINIT seconds.
		{"keepinit", "--lenient\n0 `sysctl -w net.inet.tcp.rexmit_initial=1000`\n+0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n" +
			"+0 setsockopt(3, IPPROTO_TCP, TCP_KEEPINIT, [2], 4) = 0\n+0 getsockopt(3, IPPROTO_TCP, TCP_KEEPINIT, [2], [4]) = 0\n" +
			"1...3 connect(3, ..., ...) = -1 ETIMEDOUT (Operation timed out)\n+0 > S 0:0(0) <...>\n+1 > S 0:0(0) <...>\n", Pass, ""},
		// ICMP errors are injected: port unreachable in SYN-SENT refuses.
		{"icmp", "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n" +
			"+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)\n+0 > S 0:0(0) <...>\n" +
			"+.1 < icmp unreachable port_unreachable [0:0(0)]\n+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNREFUSED], [4]) = 0\n", Pass, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := tt.src
			if strings.Contains(src, "net.inet.tcp.recvspace") {
				// FreeBSD's scripts run with --lenient.
				src = "--lenient\n--tolerance_usecs=10000\n" + src
			}
			res := RunSource(tt.name+".pkt", []byte(src), Config{})
			if res.Status != tt.status || !strings.Contains(res.Reason, tt.reason) {
				t.Errorf("got %s, want %s with %q", res, tt.status, tt.reason)
			}
		})
	}
}

// TestSysctlMapping checks the settings that become engine configuration.
func TestSysctlMapping(t *testing.T) {
	cfg, err := applyOptions(Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := newRunner(&Script{}, cfg)
	for _, c := range []string{
		"-w net.inet.tcp.delacktime=100", "-w net.inet.tcp.keepidle=15000", "-w net.inet.tcp.keepintvl=2000",
		"-w net.inet.tcp.keepcnt=3", "-w net.inet.tcp.keepinit=5000", "-w net.inet.tcp.syncookies_only=1",
		"-q net.ipv4.tcp_frto=0", "-q net/ipv4/tcp_retries2=4",
	} {
		if why := r.applyCommand("sysctl "+c, true); why != "" {
			t.Fatalf("sysctl %s: %s", c, why)
		}
	}
	b := r.base
	if b.DelayedACK != 100*time.Millisecond || b.KeepAlive.Idle != 15*time.Second || b.KeepAlive.Interval != 2*time.Second ||
		b.KeepAlive.Count != 3 || r.keepInit != 5*time.Second || r.synCookies != stack.SynCookiesAlways ||
		!b.DisableFRTO || b.MaxRetries != 4 {
		t.Errorf("got %+v, keepinit %v, cookies %v", b, r.keepInit, r.synCookies)
	}
	if !r.freeBSD || b.ReceiveBufferSize != 65536 || b.SendBufferSize != 32768 {
		t.Errorf("a FreeBSD script starts from FreeBSD's buffers: got %d/%d", b.ReceiveBufferSize, b.SendBufferSize)
	}
	// Checking does not apply.
	r2 := newRunner(&Script{}, cfg)
	if why := r2.applyCommand("sysctl -w net.inet.tcp.delacktime=100", false); why != "" || r2.base.DelayedACK != 0 || r2.freeBSD {
		t.Errorf("check applied the setting: %q %v", why, r2.base.DelayedACK)
	}
}
