package pkt

import (
	"strings"
	"testing"
)

// The runner's Fast Open: the tcp_fastopen sysctls, TCP_FASTOPEN on a
// listener, FO options both ways and MSG_FASTOPEN, against scripts
// written as Linux's are (cookies of Linux's algorithm: TFO_COOKIE is the
// cookie of defaults.sh's key for the default addresses).
func TestFastOpenScripts(t *testing.T) {
	tests := []struct {
		name, src string
		status    Status
		reason    string
	}{
		{"server", "`sysctl -q net.ipv4.tcp_fastopen=0x3 net.ipv4.tcp_fastopen_key=a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4`\n" +
			"0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n" +
			"+0 setsockopt(3, SOL_TCP, TCP_FASTOPEN, [1], 4) = 0\n" +
			// A cookie request is answered with the cookie; the data of
			// the SYN is not taken.
			"+0 < S 0:10(10) win 32792 <mss 1460,sackOK,nop,nop,FO,nop,nop>\n" +
			"+0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,FO 3021b9d889017eeb,nop,nop>\n" +
			"+0 < . 1:1(0) ack 1 win 257\n+0 accept(3, ..., ...) = 4\n" +
			"+0 %{ assert (tcpi_options & TCPI_OPT_SYN_DATA) == 0 }%\n" +
			"+0 close(4) = 0\n+0 > F. 1:1(0) ack 1\n+0 < F. 1:1(0) ack 2 win 257\n+0 > . 2:2(0) ack 2\n" +
			// The cookie: the data is acknowledged by the SYN-ACK and
			// read before the final ACK, and the reply goes at once.
			"+0 < S 1000:1010(10) win 32792 <mss 1460,sackOK,nop,nop,FO TFO_COOKIE,nop,nop>\n" +
			"+0 > S. 0:0(0) ack 1011 <mss 1460,nop,nop,sackOK>\n" +
			"+0 accept(3, ..., ...) = 4\n+0 %{ assert (tcpi_options & TCPI_OPT_SYN_DATA) != 0 }%\n" +
			"+0 read(4, ..., 100) = 10\n+0 write(4, ..., 20) = 20\n+0 > P. 1:21(20) ack 11\n", Pass, ""},
		{"client", "`sysctl -q net.ipv4.tcp_timestamps=0`\n" +
			"0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n" +
			"+0 sendto(3, ..., 0, MSG_FASTOPEN, ..., ...) = -1 EINPROGRESS\n" +
			"+0 > S 0:0(0) <mss 1460,nop,nop,sackOK,nop,wscale 8,FO,nop,nop>\n" +
			"+.01 < S. 123:123(0) ack 1 win 5840 <mss 1460,nop,nop,sackOK,nop,wscale 6,FOEXP 1234abcd>\n" +
			"+0 > . 1:1(0) ack 1\n+0 close(3) = 0\n" +
			// The cached cookie rides on the next SYN, in the kind it
			// came in, with the data.
			"+.01 socket(..., SOCK_STREAM, IPPROTO_TCP) = 4\n+0 fcntl(4, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n" +
			"+0 sendto(4, ..., 500, MSG_FASTOPEN, ..., ...) = 500\n" +
			"+0 > S 0:500(500) <mss 1460,nop,nop,sackOK,nop,wscale 8,FOEXP 1234abcd>\n" +
			"+0 sendto(4, ..., 500, MSG_FASTOPEN, ..., ...) = -1 EALREADY\n" +
			"+.01 < S. 77:77(0) ack 501 win 5840 <mss 1460,nop,nop,sackOK,nop,wscale 6>\n" +
			"+0 > . 501:501(0) ack 1\n+0 %{ assert (tcpi_options & TCPI_OPT_SYN_DATA) != 0 }%\n" +
			"+0 < P. 1:101(100) ack 501 win 257\n+0 > . 501:501(0) ack 101\n", Pass, ""},
		{"tcp_ecn after the stack", "`sysctl -q net.ipv4.tcp_ecn=0`\n" +
			"0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n" +
			"+0 < SEW 0:0(0) win 32792 <mss 1460>\n+0 > S. 0:0(0) ack 1 <mss 1460>\n" +
			"+0 < . 1:1(0) ack 1 win 100\n+0 accept(3, ..., ...) = 4\n+0 close(3) = 0\n" +
			"+0 `sysctl -q net.ipv4.tcp_ecn=2`\n" +
			"+0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0\n" +
			"+0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n" +
			"+0 < SEW 500:500(0) win 32792 <mss 1460>\n+0 > SE. 0:0(0) ack 501 <mss 1460>\n", Pass, ""},
		{"client off", "`sysctl -q net.ipv4.tcp_fastopen=0`\n" +
			"0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n" +
			"+0 sendto(3, ..., 10, MSG_FASTOPEN, ..., ...) = -1 EOPNOTSUPP\n" +
			"+0 setsockopt(3, SOL_TCP, TCP_FASTOPEN_CONNECT, [1], 4) = -1 EOPNOTSUPP\n", Pass, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := RunSource(tt.name+".pkt", []byte(tt.src), Config{QueueOutbound: true})
			if res.Status != tt.status || !strings.Contains(res.Reason, tt.reason) {
				t.Errorf("got %s", res)
			}
		})
	}
}
