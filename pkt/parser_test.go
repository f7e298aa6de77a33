package pkt

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// clearPos zeroes every Pos in v, so that ASTs from different texts can be
// compared.
func clearPos(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			clearPos(v.Elem())
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			clearPos(v.Index(i))
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[Pos]() {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			clearPos(v.Field(i))
		}
	}
}

func withoutPos(s *Script) *Script {
	clearPos(reflect.ValueOf(s))
	return s
}

func mustParse(t *testing.T, name, src string) *Script {
	t.Helper()
	s, err := Parse(name, []byte(src))
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return s
}

// checkRoundTrip asserts parse(print(s)) == s, positions aside.
func checkRoundTrip(t *testing.T, name string, s *Script) {
	t.Helper()
	out := s.String()
	again, err := Parse(name+" (printed)", []byte(out))
	if err != nil {
		t.Fatalf("%s: printed script does not parse: %v\n%s", name, err, out)
	}
	if a, b := withoutPos(s), withoutPos(again); !reflect.DeepEqual(a, b) {
		t.Fatalf("%s: round trip changed the script:\nprinted:\n%s\nreprinted:\n%s", name, out, again.String())
	}
	if out2 := again.String(); out2 != out {
		t.Fatalf("%s: printing is not stable:\n%s\nvs\n%s", name, out, out2)
	}
}

func TestTestdataParseAndRoundTrip(t *testing.T) {
	files, err := filepath.Glob("testdata/*.pkt")
	if err != nil || len(files) < 20 {
		t.Fatalf("testdata: %d files, %v", len(files), err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			s, err := ParseFile(f)
			if err != nil {
				t.Fatal(err)
			}
			checkRoundTrip(t, f, s)
		})
	}
}

func TestParseFileMissing(t *testing.T) {
	_, err := ParseFile("testdata/does-not-exist.pkt")
	if err == nil || !strings.Contains(err.Error(), "does-not-exist.pkt") {
		t.Fatalf("err = %v", err)
	}
}

func TestHandshakeServerAST(t *testing.T) {
	s, err := ParseFile("testdata/handshake_server.pkt")
	if err != nil {
		t.Fatal(err)
	}
	want := &Script{
		Options: []Option{
			{Pos: Pos{2, 1}, Name: "tolerance_usecs", Value: "10000", HasValue: true},
			{Pos: Pos{3, 1}, Name: "local_ip", Value: "198.18.0.1", HasValue: true},
			{Pos: Pos{4, 1}, Name: "remote_ip", Value: "198.18.0.2", HasValue: true},
		},
		Events: []Event{
			{Pos: Pos{6, 1}, Time: Time{Kind: TimeAbsolute}, Action: &Syscall{
				Pos: Pos{6, 7}, Name: "socket",
				Args: []Expr{
					&EllipsisExpr{Pos: Pos{6, 14}},
					&WordExpr{Pos: Pos{6, 19}, Name: "SOCK_STREAM"},
					&WordExpr{Pos: Pos{6, 32}, Name: "IPPROTO_TCP"},
				},
				Ret: &IntExpr{Pos: Pos{6, 47}, Value: 3},
			}},
			{Pos: Pos{7, 1}, Time: Time{Kind: TimeRelative}, Action: &Syscall{
				Pos: Pos{7, 7}, Name: "setsockopt",
				Args: []Expr{
					&IntExpr{Pos: Pos{7, 18}, Value: 3},
					&WordExpr{Pos: Pos{7, 21}, Name: "SOL_SOCKET"},
					&WordExpr{Pos: Pos{7, 33}, Name: "SO_REUSEADDR"},
					&ListExpr{Pos: Pos{7, 47}, Elems: []Expr{&IntExpr{Pos: Pos{7, 48}, Value: 1}}},
					&IntExpr{Pos: Pos{7, 52}, Value: 4},
				},
				Ret: &IntExpr{Pos: Pos{7, 57}, Value: 0},
			}},
			{Pos: Pos{8, 1}, Time: Time{Kind: TimeRelative}, Action: &Syscall{
				Pos: Pos{8, 7}, Name: "bind",
				Args: []Expr{
					&IntExpr{Pos: Pos{8, 12}, Value: 3},
					&EllipsisExpr{Pos: Pos{8, 15}},
					&EllipsisExpr{Pos: Pos{8, 20}},
				},
				Ret: &IntExpr{Pos: Pos{8, 27}, Value: 0},
			}},
			{Pos: Pos{9, 1}, Time: Time{Kind: TimeRelative}, Action: &Syscall{
				Pos: Pos{9, 7}, Name: "listen",
				Args: []Expr{&IntExpr{Pos: Pos{9, 14}, Value: 3}, &IntExpr{Pos: Pos{9, 17}, Value: 1}},
				Ret:  &IntExpr{Pos: Pos{9, 22}, Value: 0},
			}},
			{Pos: Pos{11, 1}, Time: Time{Kind: TimeRelative, Start: 100 * time.Millisecond}, Action: &Packet{
				Pos: Pos{11, 7}, Dir: Inbound, Flags: FlagSYN, Seq: 0, End: 0, Len: 0,
				Win: new(uint16(65535)),
				Options: []TCPOption{
					{Pos: Pos{11, 29}, Kind: OptMSS, Value: 1460},
					{Pos: Pos{11, 38}, Kind: OptSACKOK},
					{Pos: Pos{11, 45}, Kind: OptTimestamp, TSVal: 100, TSEcr: 0},
					{Pos: Pos{11, 62}, Kind: OptNOP},
					{Pos: Pos{11, 66}, Kind: OptWScale, Value: 7},
				},
			}},
			{Pos: Pos{12, 1}, Time: Time{Kind: TimeRelative}, Action: &Packet{
				Pos: Pos{12, 7}, Dir: Outbound, Flags: FlagSYN | FlagACK,
				Ack: new(uint32(1)),
				Options: []TCPOption{
					{Pos: Pos{12, 26}, Kind: OptMSS, Value: 1460},
					{Pos: Pos{12, 35}, Kind: OptSACKOK},
					{Pos: Pos{12, 42}, Kind: OptTimestamp, TSVal: 200, TSEcr: 100},
					{Pos: Pos{12, 61}, Kind: OptNOP},
					{Pos: Pos{12, 65}, Kind: OptWScale, Value: 8},
				},
			}},
			{Pos: Pos{13, 1}, Time: Time{Kind: TimeRelative, Start: 50 * time.Millisecond}, Action: &Packet{
				Pos: Pos{13, 7}, Dir: Inbound, Flags: FlagACK, Seq: 1, End: 1,
				Ack: new(uint32(1)), Win: new(uint16(512)),
				Options: []TCPOption{
					{Pos: Pos{13, 33}, Kind: OptNOP},
					{Pos: Pos{13, 37}, Kind: OptNOP},
					{Pos: Pos{13, 41}, Kind: OptTimestamp, TSVal: 150, TSEcr: 200},
				},
			}},
			{Pos: Pos{14, 1}, Time: Time{Kind: TimeRelative}, Action: &Syscall{
				Pos: Pos{14, 7}, Name: "accept",
				Args: []Expr{
					&IntExpr{Pos: Pos{14, 14}, Value: 3},
					&EllipsisExpr{Pos: Pos{14, 17}},
					&EllipsisExpr{Pos: Pos{14, 22}},
				},
				Ret: &IntExpr{Pos: Pos{14, 29}, Value: 4},
			}},
		},
	}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("got:\n%s\nwant:\n%s", dump(s), dump(want))
	}
}

// dump shows a script with its positions, for failure messages.
func dump(s *Script) string {
	var b strings.Builder
	for _, e := range s.Events {
		b.WriteString(e.String())
		b.WriteString("  @")
		b.WriteString(posString(e.Pos))
		b.WriteByte('/')
		b.WriteString(posString(ActionPos(e.Action)))
		b.WriteByte('\n')
	}
	return b.String()
}

func posString(p Pos) string {
	return strings.Join([]string{itoa(p.Line), itoa(p.Col)}, ":")
}

func itoa(i int) string { return u64(uint64(i)) }

func TestTimesAST(t *testing.T) {
	s := withoutPos(mustParse(t, "times", mustRead(t, "testdata/times.pkt")))
	want := []Time{
		{Kind: TimeAbsolute},
		{Kind: TimeAbsolute, Start: 100 * time.Millisecond},
		{Kind: TimeRelative, Start: 250 * time.Millisecond},
		{Kind: TimeRelative, Start: time.Second},
		{Kind: TimeAbsolute, Start: 2500 * time.Millisecond},
		{Kind: TimeAny},
		{Kind: TimeAbsolute, Span: SpanRange, Start: 3 * time.Second, End: 3500 * time.Millisecond},
		{Kind: TimeRelative, Span: SpanRange, Start: 0, End: 200 * time.Millisecond},
		{Kind: TimeRelative, Span: SpanRange, Start: 10 * time.Millisecond, End: 1100 * time.Millisecond},
		{Kind: TimeRelative, Span: SpanBlocking, Start: 0, End: 500 * time.Millisecond},
		{Kind: TimeAbsolute, Span: SpanBlocking, Start: 4 * time.Second, End: 4250 * time.Millisecond},
		{Kind: TimeRelative, Span: SpanBlocking, Start: 0, End: 52 * time.Millisecond},
		{Kind: TimeRelative, Start: time.Nanosecond},
	}
	if len(s.Events) != len(want) {
		t.Fatalf("%d events, want %d", len(s.Events), len(want))
	}
	for i, w := range want {
		if s.Events[i].Time != w {
			t.Errorf("event %d: time %+v, want %+v", i, s.Events[i].Time, w)
		}
	}
	if got := s.Events[2].Action.(*Syscall).Name; got != "close" {
		t.Errorf("event 2 is %q", got)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFlagsAST(t *testing.T) {
	s := withoutPos(mustParse(t, "flags", mustRead(t, "testdata/flags.pkt")))
	type fl struct {
		flags TCPFlags
		ace   int // -1: none
	}
	want := []fl{
		{FlagSYN, -1},
		{FlagSYN | FlagACK, -1},
		{FlagFIN | FlagACK, -1},
		{FlagRST, -1},
		{FlagRST | FlagACK, -1},
		{FlagPSH | FlagACK, -1},
		{FlagURG | FlagACK, -1},
		{FlagSYN | FlagECE | FlagCWR, -1},
		{FlagSYN | FlagECE | FlagACK, -1},
		{FlagSYN | FlagECE | FlagCWR | FlagAE, -1},
		{0, -1},
		{FlagPSH | FlagACK, 5},
		{FlagFIN | FlagACK, 5},
		{FlagACK, 5},
		{FlagCWR | FlagAE | FlagACK, -1},
		{FlagECE | FlagAE | FlagPSH | FlagACK, -1},
	}
	if len(s.Events) != len(want) {
		t.Fatalf("%d events, want %d", len(s.Events), len(want))
	}
	for i, w := range want {
		p := s.Events[i].Action.(*Packet)
		ace := -1
		if p.ACE != nil {
			ace = int(*p.ACE)
		}
		if p.Flags != w.flags || ace != w.ace {
			t.Errorf("event %d: flags %v ace %d, want %v ace %d", i, p.Flags, ace, w.flags, w.ace)
		}
	}
	if got := s.Events[6].Action.(*Packet).Urg; got == nil || *got != 1 {
		t.Errorf("urg = %v", got)
	}
}

func TestOptionsAST(t *testing.T) {
	s := withoutPos(mustParse(t, "options", mustRead(t, "testdata/options.pkt")))
	want := [][]TCPOption{
		{{Kind: OptNOP}, {Kind: OptEOL}},
		{{Kind: OptMSS, Value: 536}},
		{{Kind: OptWScale, Value: 14}},
		{{Kind: OptWScale, Wildcard: true}},
		{{Kind: OptSACKOK}},
		{{Kind: OptSACK, Blocks: []SACKBlock{{1001, 2001}, {3001, 4001}, {5001, 6001}}}},
		{{Kind: OptNOP}, {Kind: OptNOP}, {Kind: OptTimestamp, TSVal: 4294967295, TSEcr: 0}},
		{{Kind: OptMD5, Cookie: "000102030405060708090a0b0c0d0e0f"}},
		{{Kind: OptMD5}},
		{{Kind: OptFastOpen}},
		{{Kind: OptFastOpen, Cookie: "abcd1234"}},
		{{Kind: OptFastOpen, Cookie: "12345678"}},
		{{Kind: OptFastOpenExp}},
		{{Kind: OptFastOpenExp, Cookie: "1234abcd"}},
		{{Kind: OptFastOpenExp, Cookie: "TFO_COOKIE"}},
		{{Kind: OptMSS, Value: 1460}, {Kind: OptUnsupported, Text: "ECN e0b 1 ceb 0 e1b 1"}, {Kind: OptNOP}},
		{{Kind: OptMSS, Value: 1460}, {Kind: OptSACKOK}, {Kind: OptNOP}, {Kind: OptWScale, Value: 7}},
		nil, // <...>
		nil, // no options
	}
	if len(s.Events) != len(want) {
		t.Fatalf("%d events, want %d", len(s.Events), len(want))
	}
	for i, w := range want {
		p := s.Events[i].Action.(*Packet)
		if !reflect.DeepEqual(p.Options, w) {
			t.Errorf("event %d: options %+v, want %+v", i, p.Options, w)
		}
	}
	if p := s.Events[17].Action.(*Packet); !p.AnyOptions {
		t.Errorf("<...> not seen")
	}
	if p := s.Events[18].Action.(*Packet); p.AnyOptions || p.Options != nil {
		t.Errorf("absent options: %+v %v", p.Options, p.AnyOptions)
	}
}

func TestSeqFormsAST(t *testing.T) {
	s := withoutPos(mustParse(t, "seq", mustRead(t, "testdata/seq_forms.pkt")))
	p := s.Events[0].Action.(*Packet)
	if p.Seq != 4294967295 || p.End != 4294967295 || p.Len != 0 || p.SeqOnly {
		t.Errorf("event 0: %+v", p)
	}
	p = s.Events[2].Action.(*Packet)
	if p.Seq != 1 || p.End != 65536 || p.Len != 65535 || *p.Win != 0 {
		t.Errorf("event 2: %+v", p)
	}
	p = s.Events[3].Action.(*Packet)
	if *p.Ack != 4294967295 || *p.Win != 10 || *p.Urg != 65535 {
		t.Errorf("event 3: %+v", p)
	}
	p = s.Events[4].Action.(*Packet)
	if p.Seq != 7 || p.End != 7 || p.Len != 0 || !p.SeqOnly || *p.Ack != 1 {
		t.Errorf("event 4: %+v", p)
	}
	p = s.Events[5].Action.(*Packet)
	if p.Ack != nil || p.Win != nil || p.Urg != nil || p.Options != nil {
		t.Errorf("event 5: %+v", p)
	}
}

func TestIPInfoAST(t *testing.T) {
	s := withoutPos(mustParse(t, "ecn", mustRead(t, "testdata/ecn_ip.pkt")))
	want := []IPInfo{
		{ECN: ECNECT0},
		{ECN: ECNECT1},
		{ECN: ECNCE},
		{ECN: ECNNone},
		{ECN: ECNECT01},
		{TOS: new(uint8(0x10))},
		{TOS: new(uint8(2)), FlowLabel: new(uint32(0x12345))},
		{FlowLabel: new(uint32(0xfffff))},
		{TTL: new(uint8(64))},
		{ECN: ECNECT0, TTL: new(uint8(1))},
	}
	for i, w := range want {
		if got := s.Events[i].Action.(*Packet).IP; !reflect.DeepEqual(got, w) {
			t.Errorf("event %d: %v, want %v", i, got, w)
		}
	}
}

func TestUDPAndICMPAST(t *testing.T) {
	s := withoutPos(mustParse(t, "udp_icmp", mustRead(t, "testdata/udp_icmp.pkt")))
	want := []Action{
		&UDPPacket{Dir: Inbound, Len: 100},
		&UDPPacket{Dir: Outbound, Len: 0},
		&UDPPacket{Dir: Inbound, Ports: &Ports{Src: 53, Dst: 1024}, Len: 512},
		&UDPPacket{Dir: Inbound, IP: IPInfo{TOS: new(uint8(4))}, Len: 8},
		&ICMPPacket{Dir: Inbound, Type: "unreachable", Code: "port_unreachable"},
		&ICMPPacket{Dir: Inbound, Type: "unreachable", Code: "frag_needed", MTU: new(uint32(1200)),
			Echoed: &ICMPEchoed{Proto: EchoedTCP, Seq: 1, End: 1461, Len: 1460}},
		&ICMPPacket{Dir: Inbound, Type: "unreachable", Code: "port_unreachable",
			Echoed: &ICMPEchoed{Proto: EchoedUDP, Len: 100}},
		&ICMPPacket{Dir: Inbound, Type: "unreachable", Code: "protocol_unreachable",
			Echoed: &ICMPEchoed{Proto: EchoedRaw, Len: 20}},
		&ICMPPacket{Dir: Inbound, Type: "echo_reply", ID: new(uint16(7))},
		&ICMPPacket{Dir: Inbound, Type: "packet_too_big", MTU: new(uint32(1280))},
		&ICMPPacket{Dir: Inbound, Type: "unreachable", Code: "host_unreachable",
			Echoed: &ICMPEchoed{Proto: EchoedTCP, Seq: 1, End: 1}},
		&ICMPPacket{Dir: Inbound, Type: "time_exceeded"},
	}
	if len(s.Events) != len(want) {
		t.Fatalf("%d events, want %d", len(s.Events), len(want))
	}
	for i, w := range want {
		if got := s.Events[i].Action; !reflect.DeepEqual(got, w) {
			t.Errorf("event %d: %s, want %s", i, FormatAction(got), FormatAction(w))
		}
	}
}

func TestSyscallExprAST(t *testing.T) {
	s := withoutPos(mustParse(t, "structs", mustRead(t, "testdata/syscalls_structs.pkt")))
	w := func(n string) *WordExpr { return &WordExpr{Name: n} }
	i := func(v int64) *IntExpr { return &IntExpr{Value: v} }
	as := func(n string, v Expr) *AssignExpr { return &AssignExpr{Name: w(n), Value: v} }
	or := func(x, y Expr) *BinaryExpr { return &BinaryExpr{Op: "|", X: x, Y: y} }
	ell := &EllipsisExpr{}
	want := []*Syscall{
		{Name: "poll", Args: []Expr{
			&ListExpr{Elems: []Expr{&StructExpr{Elems: []Expr{
				as("fd", i(4)), as("events", or(w("POLLIN"), w("POLLOUT"))), as("revents", w("POLLOUT")),
			}}}},
			i(1), i(100),
		}, Ret: i(1)},
		{Name: "poll", Args: []Expr{
			&ListExpr{Elems: []Expr{&StructExpr{Elems: []Expr{as("fd", i(4)), as("events", w("POLLIN"))}}}},
			i(1), i(0),
		}, Ret: i(0)},
		{Name: "connect", Args: []Expr{
			i(3),
			&StructExpr{Elems: []Expr{
				as("sa_family", w("AF_INET")),
				as("sin_port", &CallExpr{Func: "htons", Args: []Expr{i(8080)}}),
				as("sin_addr", &CallExpr{Func: "inet_addr", Args: []Expr{&StringExpr{Value: "198.18.0.2"}}}),
			}},
			i(16),
		}, Ret: i(0)},
		{Name: "setsockopt", Args: []Expr{
			i(3), w("SOL_SOCKET"), w("SO_LINGER"),
			&StructExpr{Elems: []Expr{as("onoff", i(1)), as("linger", i(0))}}, i(8),
		}, Ret: i(0)},
		{Name: "epoll_ctl", Args: []Expr{
			i(5), w("EPOLL_CTL_ADD"), i(4),
			&StructExpr{Elems: []Expr{
				as("events", or(or(w("EPOLLOUT"), w("EPOLLIN")), w("EPOLLET"))), as("fd", i(4)),
			}},
		}, Ret: i(0)},
		{Name: "epoll_wait", Args: []Expr{
			i(5), &StructExpr{Elems: []Expr{as("events", i(0)), as("ptr", i(0))}}, i(1), i(0),
		}, Ret: i(0)},
		{Name: "sendmsg", Args: []Expr{
			i(4),
			&StructExpr{Elems: []Expr{
				&AssignExpr{Name: &CallExpr{Func: "msg_name", Args: []Expr{ell}}, Value: ell},
				&AssignExpr{Name: &CallExpr{Func: "msg_iov", Args: []Expr{i(2)}}, Value: &ListExpr{Elems: []Expr{
					&StructExpr{Elems: []Expr{ell, i(500)}},
					&StructExpr{Elems: []Expr{ell, i(1000)}},
				}}},
				as("msg_flags", i(0)),
			}},
			w("MSG_NOSIGNAL"),
		}, Ret: i(1500)},
		{Name: "writev", Args: []Expr{
			i(4),
			&ListExpr{Elems: []Expr{&StructExpr{Elems: []Expr{ell, i(100)}}, &StructExpr{Elems: []Expr{ell, i(200)}}}},
			i(2),
		}, Ret: i(300)},
		{Name: "getsockopt", Args: []Expr{
			i(4), w("SOL_TCP"), w("TCP_INFO"), &StructExpr{Elems: []Expr{ell}}, &ListExpr{Elems: []Expr{i(104)}},
		}, Ret: i(0)},
		{Name: "setsockopt", Args: []Expr{
			i(4), w("SOL_SOCKET"), w("SO_RCVBUF"), &ListExpr{}, i(0),
		}, Ret: i(-1), Errno: "EINVAL", ErrnoText: "Invalid argument"},
		{Name: "ioctl", Args: []Expr{i(4), w("FIONREAD"), &AddrExpr{X: w("avail")}}, Ret: i(0)},
	}
	if len(s.Events) != len(want) {
		t.Fatalf("%d events, want %d", len(s.Events), len(want))
	}
	for k, w := range want {
		if got := s.Events[k].Action; !reflect.DeepEqual(got, w) {
			t.Errorf("event %d:\n got %s\nwant %s", k, FormatAction(got), FormatAction(w))
		}
	}
}

func TestSyscallErrnoAST(t *testing.T) {
	s := withoutPos(mustParse(t, "errno", mustRead(t, "testdata/syscalls_errno.pkt")))
	type res struct{ ret, errno, text, note string }
	want := []res{
		{"3", "", "", ""},
		{"0", "", "", ""},
		{"-1", "EINPROGRESS", "Operation now in progress", ""},
		{"-1", "EAGAIN", "Resource temporarily unavailable", ""},
		{"-1", "EPIPE", "Broken pipe", ""},
		{"-1", "EWOULDBLOCK", "operation would block", ""},
		{"-1", "ECONNREFUSED", "Connection refused", "server said no"},
		{"0", "", "", "just a note"},
		{"-1", "EBADF", "", ""},
	}
	for i, w := range want {
		sc := s.Events[i].Action.(*Syscall)
		got := res{FormatExpr(sc.Ret), sc.Errno, sc.ErrnoText, sc.Note}
		if got != w {
			t.Errorf("event %d: %+v, want %+v", i, got, w)
		}
	}
}

func TestStringsAST(t *testing.T) {
	s := withoutPos(mustParse(t, "strings", mustRead(t, "testdata/syscalls_strings.pkt")))
	want := []StringExpr{
		{Value: "hello"},
		{Value: `line\n`},
		{Value: `quote \" inside`},
		{Value: "abc", Ellipsis: true},
		{Value: "/tmp/x"},
	}
	for i, w := range want {
		sc := s.Events[i].Action.(*Syscall)
		arg := sc.Args[0]
		if sc.Name == "write" {
			arg = sc.Args[1]
		}
		if got := arg.(*StringExpr); *got != w {
			t.Errorf("event %d: %+v, want %+v", i, *got, w)
		}
	}
}

func TestCommandsAndCodeAST(t *testing.T) {
	s := mustParse(t, "commands", mustRead(t, "testdata/commands.pkt"))
	if s.Init == nil || s.Init.Text != "sysctl -q net.ipv4.tcp_timestamps=1" || s.Init.Pos != (Pos{2, 1}) {
		t.Errorf("init = %+v", s.Init)
	}
	if s.Cleanup == nil || s.Cleanup.Text != "echo done" || s.Cleanup.Pos != (Pos{10, 1}) {
		t.Errorf("cleanup = %+v", s.Cleanup)
	}
	if c := s.Events[1].Action.(*Command); c.Text != "echo one; echo two" || c.Pos != (Pos{5, 7}) {
		t.Errorf("command = %+v", c)
	}
	if c := s.Events[2].Action.(*Command); c.Text != "sysctl -q \\\n         net.ipv4.tcp_sack=1" {
		t.Errorf("multi-line command = %q", c.Text)
	}
	if e := s.Events[3]; e.Pos != (Pos{8, 1}) {
		t.Errorf("event after multi-line command at %v", e.Pos)
	}

	s = mustParse(t, "code", mustRead(t, "testdata/code.pkt"))
	want := []string{
		"assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd",
		"\nassert tcpi_ca_state == TCP_CA_Open, tcpi_ca_state\n# a python comment with a } brace\nassert tcpi_snd_ssthresh == 7\n",
		"print(tcpi_rto)",
	}
	for i, w := range want {
		if got := s.Events[i+1].Action.(*Code).Text; got != w {
			t.Errorf("code %d = %q, want %q", i, got, w)
		}
	}
	if p := s.Events[3].Pos; p != (Pos{9, 1}) {
		t.Errorf("event after code block at %v", p)
	}
}

func TestOptionLinesAST(t *testing.T) {
	s := withoutPos(mustParse(t, "opts", mustRead(t, "testdata/options_lines.pkt")))
	want := []Option{
		{Name: "ip_version", Value: "ipv4", HasValue: true},
		{Name: "local_ip", Value: "198.18.0.1", HasValue: true},
		{Name: "gateway_ip", Value: "198.18.0.254", HasValue: true},
		{Name: "netmask_ip", Value: "255.255.0.0", HasValue: true},
		{Name: "mss", Value: "1000", HasValue: true},
		{Name: "tolerance_usecs", Value: "20000", HasValue: true},
		{Name: "define", Value: "PROTO=IPPROTO_TCP", HasValue: true},
		{Name: "define", Value: `CC="reno"`, HasValue: true},
		{Name: "dry_run"},
		{Name: "wire_server_ip", Value: "198.18.0.9", HasValue: true},
		{Name: "bind_port", Value: "8080", HasValue: true},
	}
	if !reflect.DeepEqual(s.Options, want) {
		t.Fatalf("options:\n%+v\nwant\n%+v", s.Options, want)
	}
	s = withoutPos(mustParse(t, "v6", mustRead(t, "testdata/ipv6_options.pkt")))
	if s.Options[1].Value != "2001:db8::1" || s.Options[2].Value != "2001:db8::2" {
		t.Errorf("ipv6 options: %+v", s.Options)
	}
}

func TestEmptyAndCommandOnly(t *testing.T) {
	s := mustParse(t, "empty", "")
	if s.Init != nil || s.Cleanup != nil || len(s.Events) != 0 || len(s.Options) != 0 {
		t.Errorf("empty: %+v", s)
	}
	s = mustParse(t, "cmd", "`true`\n")
	if s.Init == nil || s.Init.Text != "true" || s.Cleanup != nil {
		t.Errorf("command only: %+v", s)
	}
}

func TestCRLFPositions(t *testing.T) {
	s := mustParse(t, "crlf", mustRead(t, "testdata/crlf.pkt"))
	if len(s.Events) != 2 || s.Events[1].Pos != (Pos{2, 1}) {
		t.Fatalf("events %+v", s.Events)
	}
}
