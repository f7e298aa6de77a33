package pkt

import (
	"strings"
	"testing"
)

// The socket options of issue 14 in the runner: each case passes or fails
// for the reason the option gives.
func TestSockoptScripts(t *testing.T) {
	nodelay := linuxListen + "+0 setsockopt(4, SOL_TCP, TCP_NODELAY, [1], 4) = 0\n"
	tests := []struct {
		name   string
		src    string
		status Status
		reason string
	}{
		{"cork", linuxListen + "+0 setsockopt(4, SOL_TCP, TCP_CORK, [1], 4) = 0\n+0 getsockopt(4, SOL_TCP, TCP_CORK, [1], [4]) = 0\n" +
			"+0 write(4, ..., 40) = 40\n+.01 write(4, ..., 40) = 40\n+.01 setsockopt(4, SOL_TCP, TCP_CORK, [0], 4) = 0\n+0 > P. 1:81(80) ack 1\n", Pass, ""},
		{"cork holds", linuxListen + "+0 setsockopt(4, SOL_TCP, TCP_CORK, [1], 4) = 0\n+0 write(4, ..., 40) = 40\n+0 > P. 1:41(40) ack 1\n", Fail, "expected packet was not sent"},
		{"msg_more", nodelay + "+0 send(4, ..., 40, MSG_MORE) = 40\n+.01 send(4, ..., 10, 0) = 10\n+0 > P. 1:51(50) ack 1\n", Pass, ""},
		{"msg_more probe", nodelay + "+0 send(4, ..., 40, MSG_MORE) = 40\n+.3 > P. 1:41(40) ack 1\n", Pass, ""},
		{"msg_eor", nodelay + "+0 setsockopt(4, SOL_TCP, TCP_CORK, [1], 4) = 0\n+0 send(4, ..., 40, MSG_EOR) = 40\n+0 write(4, ..., 40) = 40\n" +
			"+0 setsockopt(4, SOL_TCP, TCP_CORK, [0], 4) = 0\n+0 > P. 1:41(40) ack 1\n+0 > P. 41:81(40) ack 1\n", Pass, ""},
		{"user timeout", linuxListen + "+0 setsockopt(4, SOL_TCP, TCP_USER_TIMEOUT, [1000], 4) = 0\n+0 getsockopt(4, SOL_TCP, TCP_USER_TIMEOUT, [1000], [4]) = 0\n" +
			"+0 write(4, ..., 10) = 10\n+0 > P. 1:11(10) ack 1\n+.3 > P. 1:11(10) ack 1\n+.3 > P. 1:11(10) ack 1\n+.5 write(4, ..., 10) = -1 ETIMEDOUT (Connection timed out)\n", Pass, ""},
		{"linger2", linuxListen + "+0 setsockopt(4, SOL_TCP, TCP_LINGER2, [1], 4) = 0\n+0 getsockopt(4, SOL_TCP, TCP_LINGER2, [1], [4]) = 0\n" +
			"+0 close(4) = 0\n+0 > F. 1:1(0) ack 1\n+0 < . 1:1(0) ack 2 win 257\n+2 < . 1:1(0) ack 2 win 257\n+0 > R 2:2(0) win 0\n", Pass, ""},
		{"linger2 default", linuxListen + "+0 getsockopt(4, SOL_TCP, TCP_LINGER2, [60], [4]) = 0\n", Pass, ""},
		{"defer accept value", "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 setsockopt(3, SOL_TCP, TCP_DEFER_ACCEPT, [5], 4) = 0\n" +
			"+0 getsockopt(3, SOL_TCP, TCP_DEFER_ACCEPT, [7], [4]) = 0\n", Pass, ""},
		{"notsent lowat", linuxListen + "+0 setsockopt(4, SOL_TCP, TCP_NOTSENT_LOWAT, [1000], 4) = 0\n" +
			"+0 getsockopt(4, SOL_TCP, TCP_NOTSENT_LOWAT, [1000], [4]) = 0\n", Pass, ""},
		{"inq", linuxListen + "+0 setsockopt(4, SOL_TCP, TCP_INQ, [1], 4) = 0\n+0 < P. 1:101(100) ack 1 win 257\n" +
			"+0 recvmsg(4, {msg_name(...)=..., msg_iov(1)=[{..., 30}], msg_flags=0, msg_control=[{cmsg_level=SOL_TCP, cmsg_type=TCP_CM_INQ, cmsg_data=70}]}, 0) = 30\n", Pass, ""},
		{"inq wrong", linuxListen + "+0 setsockopt(4, SOL_TCP, TCP_INQ, [1], 4) = 0\n+0 < P. 1:101(100) ack 1 win 257\n" +
			"+0 recvmsg(4, {msg_name(...)=..., msg_iov(1)=[{..., 30}], msg_flags=0, msg_control=[{cmsg_level=SOL_TCP, cmsg_type=TCP_CM_INQ, cmsg_data=71}]}, 0) = 30\n", Fail, "TCP_CM_INQ 70, expected 71"},
		{"inq off", linuxListen + "+0 < P. 1:101(100) ack 1 win 257\n" +
			"+0 recvmsg(4, {msg_name(...)=..., msg_iov(1)=[{..., 30}], msg_flags=0, msg_control=[{cmsg_level=SOL_TCP, cmsg_type=TCP_CM_INQ, cmsg_data=70}]}, 0) = 30\n", Fail, "TCP_INQ is off"},
		{"maxseg on listener", "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n" +
			"+0 setsockopt(3, SOL_TCP, TCP_MAXSEG, [1100], 4) = 0\n+0 < S 0:0(0) win 32792 <mss 1300,nop,wscale 7>\n+0 > S. 0:0(0) ack 1 <mss 1100,nop,wscale 8>\n", Pass, ""},
		{"ip tos", linuxListen + "+0 setsockopt(4, SOL_IP, IP_TOS, [4], 1) = 0\n+0 getsockopt(4, SOL_IP, IP_TOS, [4], [4]) = 0\n" +
			"+0 setsockopt(4, SOL_IP, IP_TTL, [0], 4) = -1 EINVAL (Invalid argument)\n", Pass, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := RunSource(tt.name+".pkt", []byte(tt.src), Config{})
			if res.Status != tt.status || !strings.Contains(res.Reason, tt.reason) {
				t.Errorf("got %s, want %s with %q", res, tt.status, tt.reason)
			}
		})
	}
}
