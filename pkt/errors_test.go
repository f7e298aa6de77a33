package pkt

import (
	"errors"
	"testing"
)

func TestSyntaxErrors(t *testing.T) {
	tests := []struct {
		src, want string
	}{
		{"0 socket(..., SOCK_STREAM", `x.pkt:1:26: expected ',' or ')', found end of file`},
		{"0 socket() 3", `x.pkt:1:12: expected "=", found integer "3"`},
		{"0 > S 1:2(5)", `x.pkt:1:7: inconsistent TCP sequence numbers and payload size (1 + 5 != 2)`},
		{"0 > S 0:0(0) win 70000", `x.pkt:1:18: window 70000 out of range [0, 65535]`},
		{"0 > S 4294967296:0(0)", `x.pkt:1:7: sequence number 4294967296 out of range [0, 4294967295]`},
		{"0 > Q 0:0(0)", `x.pkt:1:5: bad TCP flags "Q": unknown flag "Q"`},
		{"0 > P.55 0:0(0)", `x.pkt:1:5: bad TCP flags "P.55": two ACE digits`},
		{"0 > S 0:0(0) <mss>", `x.pkt:1:18: expected mss, found ">"`},
		{"0 > S 0:0(0) <TS val 1>", `x.pkt:1:23: expected "ecr", found ">"`},
		{"0 > S 0:0(0) <nop", `x.pkt:1:18: expected ',' or '>' in TCP options, found end of file`},
		{"0 > S 0:0(0) <foo bar", `x.pkt:1:22: expected '>' to end the TCP options, found end of file`},
		{"0 > S 0:0(0) <>", `x.pkt:1:15: expected TCP option, found ">"`},
		{"0 > S 0:0(0) <FO 0x12>", `x.pkt:1:18: expected ',' or '>' in TCP options, found integer "0x12"`},
		{"0 < S 0:0(0) <...>", `x.pkt:1:14: <...> for TCP options can only be used with outbound packets`},
		{"* < S 0:0(0)", `x.pkt:1:1: event time * can only be used with outbound packets`},
		{"0~1 close(3) = 0", `x.pkt:1:1: event time range can only be used with outbound packets`},
		{"2~1 > S 0:0(0)", `x.pkt:1:1: time range is backwards`},
		{"0~+1 > S 0:0(0)", `x.pkt:1:3: an absolute time range must end with an absolute time`},
		{"+0~1 > S 0:0(0)", `x.pkt:1:4: expected "+", found integer "1"`},
		{"-1 close(3) = 0", `x.pkt:1:1: negative time -1`},
		{"0...1 > S 0:0(0)", `x.pkt:1:7: expected system call after blocking time, found ">"`},
		{"*...1 close(3) = 0", `x.pkt:1:2: a blocking end time needs a plain start time`},
		{"0 < [ect01] S 0:0(0)", `x.pkt:1:3: [ect01] can only be used with outbound packets`},
		{"0 < [ect9] S 0:0(0)", `x.pkt:1:6: unknown IP field "ect9" (want noecn, ect0, ect1, ect01, ce, tos, flowlabel or ttl)`},
		{"0 < [tos 16] S 0:0(0)", `x.pkt:1:10: expected tos (0x...), found integer "16"`},
		{"0 < [ect0,ce] S 0:0(0)", `x.pkt:1:11: ECN given twice`},
		{"0 < [ect0] udp (1)", `x.pkt:1:3: ECN can only be used with TCP packets`},
		{"0 < ipv4 1.1.1.1 > 2.2.2.2: . 1:1(0)", `x.pkt:1:5: encapsulated packets (ipv4) are not supported`},
		{"0 < icmp", `x.pkt:1:9: expected ICMP type, found end of file`},
		{"0 < icmp unreachable [1]", `x.pkt:1:23: quoted TCP packet needs seq:end(len)`},
		{"0 hello", `x.pkt:1:3: expected packet, system call, command or code after the time, found word "hello"`},
		{"close(3) = 0", `x.pkt:1:1: expected time, found word "close"`},
		{"0 close(3) = 0\n--mss=1", `x.pkt:2:1: option --mss after the first event (options must come first)`},
		{"--mss=", `x.pkt:1:1: missing value after --mss=`},
		{"`a`\n0 close(3) = 0\n`b`\n1 close(3) = 0", `x.pkt:4:1: expected end of file after the final command (a command without a time may only come first or last), found integer "1"`},
		{"0 write(3, \"abc, 3) = 3", `x.pkt:1:12: unterminated string`},
		{"0 `ls", `x.pkt:1:3: unterminated back-quoted command`},
		{"0 %{ print(1)", `x.pkt:1:3: unterminated %{ code block`},
		{"/* never closed", `x.pkt:1:1: unterminated /* comment`},
		{"# not a comment in packetdrill", `x.pkt:1:1: expected time, found "#"`},
		{"0 close(99999999999999999999) = 0", `x.pkt:1:9: integer 99999999999999999999 out of range`},
		{"0 f(a=1=2, 3=4) = 0", `x.pkt:1:8: '=' must follow a field name`},
		{"0 connect(3, ..., ...) = -1 EINPROGRESS (Operation", `x.pkt:1:51: expected ')' to end the text opened at line 1, found end of file`},
		{"0 close(3) = 0\n\n  +0 > S 0:0(0) win", `x.pkt:3:20: expected window, found end of file`},
	}
	for _, tc := range tests {
		_, err := Parse("x.pkt", []byte(tc.src))
		if err == nil {
			t.Errorf("%q: no error, want %s", tc.src, tc.want)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("%q:\n got %s\nwant %s", tc.src, err, tc.want)
		}
		var pe *Error
		if !errors.As(err, &pe) {
			t.Errorf("%q: error is %T, not *Error", tc.src, err)
		}
	}
}

func TestDeepNesting(t *testing.T) {
	src := "0 f(" + repeat("[", 10000) + ") = 0"
	_, err := Parse("deep", []byte(src))
	if err == nil || err.Error() != "deep:1:205: expressions nested too deeply" {
		t.Fatalf("err = %v", err)
	}
	src = "0 f(" + repeat("&", 10000) + "x) = 0"
	if _, err := Parse("deep", []byte(src)); err == nil {
		t.Fatal("no error for deep &")
	}
}

func repeat(s string, n int) string {
	b := make([]byte, 0, len(s)*n)
	for i := 0; i < n; i++ {
		b = append(b, s...)
	}
	return string(b)
}

func TestLexerNumbers(t *testing.T) {
	tests := []struct {
		src  string
		kind tokKind
		text string
	}{
		{"0", tokInt, "0"},
		{"-1", tokInt, "-1"},
		{"0.100", tokFloat, "0.100"},
		{".5", tokFloat, ".5"},
		{"-.5", tokFloat, "-.5"},
		{"0x1F", tokHex, "0x1F"},
		{"0xg", tokWord, "0xg"},
		{"1e5", tokWord, "1e5"},
		{"3021b9d2", tokWord, "3021b9d2"},
		{"198.18.0.1", tokIPv4, "198.18.0.1"},
		{"1.2.3", tokFloat, "1.2"},
		{"0...0.5", tokInt, "0"},
		{"...", tokEllipsis, "..."},
		{"-", tokPunct, "-"},
		{"-x", tokPunct, "-"},
		{"SOCK_STREAM", tokWord, "SOCK_STREAM"},
	}
	for _, tc := range tests {
		tok := newLexer(tc.src).next()
		if tok.kind != tc.kind || tok.text != tc.text {
			t.Errorf("%q: %v %q, want %v %q", tc.src, tok.kind, tok.text, tc.kind, tc.text)
		}
	}
}

func TestParseSeconds(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"0", "0s"}, {"1", "1s"}, {".1", "100ms"}, {"0.000001", "1µs"},
		{"2.5", "2.5s"}, {"0.0000000019", "1ns"},
	}
	for _, tc := range tests {
		d, err := parseSeconds(tc.in)
		if err != nil || d.String() != tc.want {
			t.Errorf("%s: %v %v, want %s", tc.in, d, err, tc.want)
		}
	}
	if _, err := parseSeconds("99999999999999999999"); err == nil {
		t.Error("huge time accepted")
	}
	if _, err := parseSeconds("9300000000"); err == nil {
		t.Error("time beyond Duration accepted")
	}
}
