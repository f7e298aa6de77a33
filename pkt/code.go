package pkt

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/synack/synack/tcp"
	"github.com/synack/synack/tcp/cc"
)

// Linux scripts assert TCP_INFO fields in %{ }% Python blocks:
//
//	+0 %{ assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd }%
//	+0 %{ print(tcpi_snd_cwnd); cwnd += 10; assert tcpi_snd_cwnd == cwnd }%
//
// The runner evaluates the common subset itself, without Python: statements
// separated by newlines or ';' — assert EXPR[, message], print(...) (not
// printed), NAME = EXPR, NAME += EXPR, NAME -= EXPR — over integers, with
// comparisons (chained), and, or, not, |, &, +, -, *, //, % and
// parentheses. The tcpi_* names are the fields of the socket the script
// used last, from tcp.Info; a field synack has no equivalent for, or any
// other Python, makes the script SKIP, naming it. Variables keep their
// values from one block to the next.

// codeSkip and codeFail are how evaluation stops.
type codeSkip struct{ why string }
type codeFail struct{ why string }

// codeEnv is what a block sees.
type codeEnv struct {
	vars map[string]int64
	info *tcp.Info // nil: no connected socket yet
	mss  int       // the MSS the socket advertises
	// state is the socket's state (also for a listener or a socket
	// without a connection); hasState is false when there is no socket.
	state    tcp.State
	hasState bool
	freeBSD  bool    // number states as FreeBSD does
	sk       *socket // the socket, for the Fast Open fields (fastopen.go)
	foUsed   bool    // the script uses Fast Open (fastopen.go)
}

// tcpInfoConsts are the constants the scripts compare with (Linux's).
var tcpInfoConsts = map[string]int64{
	"TCP_CA_Open": 0, "TCP_CA_Disorder": 1, "TCP_CA_CWR": 2, "TCP_CA_Recovery": 3, "TCP_CA_Loss": 4,
	"TCP_ESTABLISHED": 1, "TCP_SYN_SENT": 2, "TCP_SYN_RECV": 3, "TCP_FIN_WAIT1": 4, "TCP_FIN_WAIT2": 5,
	"TCP_TIME_WAIT": 6, "TCP_CLOSE": 7, "TCP_CLOSE_WAIT": 8, "TCP_LAST_ACK": 9, "TCP_LISTEN": 10, "TCP_CLOSING": 11,
	"TCPI_OPT_TIMESTAMPS": 1, "TCPI_OPT_SACK": 2, "TCPI_OPT_WSCALE": 4, "TCPI_OPT_ECN": 8,
	"TCPI_OPT_ECN_SEEN": 16, "TCPI_OPT_SYN_DATA": 32,
	"True": 1, "False": 0,
	// nplab's names of FreeBSD's states (FreeBSD scripts).
	"TCPI_CLOSED": 0, "TCPI_LISTEN": 1, "TCPI_SYN_SENT": 2, "TCPI_SYN_RECEIVED": 3, "TCPI_ESTABLISHED": 4,
	"TCPI_CLOSE_WAIT": 5, "TCPI_FIN_WAIT_1": 6, "TCPI_CLOSING": 7, "TCPI_LAST_ACK": 8, "TCPI_FIN_WAIT_2": 9,
	"TCPI_TIME_WAIT": 10,
}

// freeBSDStateNumbers are FreeBSD's numbers of the states (tcpi_state in a
// FreeBSD script).
var freeBSDStateNumbers = map[tcp.State]int64{
	tcp.StateClosed: 0, tcp.StateListen: 1, tcp.StateSynSent: 2, tcp.StateSynReceived: 3,
	tcp.StateEstablished: 4, tcp.StateCloseWait: 5, tcp.StateFinWait1: 6, tcp.StateClosing: 7,
	tcp.StateLastAck: 8, tcp.StateFinWait2: 9, tcp.StateTimeWait: 10,
}

// linuxStates are Linux's numbers of the TCP states (tcpi_state).
var linuxStates = map[tcp.State]int64{
	tcp.StateEstablished: 1, tcp.StateSynSent: 2, tcp.StateSynReceived: 3, tcp.StateFinWait1: 4,
	tcp.StateFinWait2: 5, tcp.StateTimeWait: 6, tcp.StateClosed: 7, tcp.StateCloseWait: 8,
	tcp.StateLastAck: 9, tcp.StateListen: 10, tcp.StateClosing: 11,
}

func usec(d time.Duration) int64 { return int64(d / time.Microsecond) }

// tcpInfoField returns a tcpi_* field; ok is false when synack has no
// equivalent.
func (e *codeEnv) tcpInfoField(name string) (int64, bool) {
	if name == "tcpi_state" && e.hasState {
		if e.freeBSD {
			return freeBSDStateNumbers[e.state], true
		}
		return linuxStates[e.state], true
	}
	in := e.info
	if in == nil {
		return 0, false
	}
	mss := int64(max(in.SndMSS, 1))
	switch name {
	case "tcpi_snd_cwnd":
		// Linux counts the window in segments, synack in bytes.
		return int64(in.Cwnd) / mss, true
	case "tcpi_snd_ssthresh":
		if in.Ssthresh >= cc.InfiniteSsthresh {
			return 0x7fffffff, true
		}
		return int64(in.Ssthresh) / mss, true
	case "tcpi_ca_state":
		switch {
		case in.CWR:
			return 2, true
		case in.Disorder:
			return 1, true
		case !in.InRecovery:
			return 0, true
		case in.Retransmits > 0:
			return 4, true // recovering from a timeout: Loss
		}
		return 3, true
	case "tcpi_rto":
		return usec(in.RTO), true
	case "tcpi_rtt":
		return usec(in.SRTT), true
	case "tcpi_rttvar":
		return usec(in.RTTVar), true
	case "tcpi_min_rtt":
		return usec(in.MinRTT), true
	case "tcpi_snd_mss":
		return int64(in.SndMSS), true
	case "tcpi_advmss":
		// Linux's advmss is the MSS option less the timestamps.
		m := int64(e.mss)
		if in.Timestamps {
			m -= 12
		}
		return m, true
	case "tcpi_options":
		var o int64
		if in.Timestamps {
			o |= 1
		}
		if in.SACKPermitted {
			o |= 2
		}
		if in.SndWScale > 0 || in.RcvWScale > 0 {
			o |= 4
		}
		if in.ECN {
			o |= 8 // TCPI_OPT_ECN
		}
		o |= fastOpenInfoOptions(e.sk) // TCPI_OPT_SYN_DATA
		return o, true
	case "tcpi_total_retrans":
		return int64(in.TotalRetransmits), true
	case "tcpi_retransmits", "tcpi_backoff":
		return int64(in.Retransmits), true
	case "tcpi_snd_wscale":
		return int64(in.SndWScale), true
	case "tcpi_rcv_wscale":
		return int64(in.RcvWScale), true
	}
	return fastOpenInfoField(e, name)
}

// runCode evaluates a %{ }% block.
func (r *runner) runCode(line int, text string) {
	env := &codeEnv{vars: r.codeVars, mss: r.base.MSS, freeBSD: r.freeBSD}
	if env.mss == 0 {
		env.mss = tcp.DefaultMSS
	}
	if sk := r.socks[r.lastFD]; sk != nil {
		env.hasState = true
		env.sk, env.foUsed = sk, r.fo.used
		switch {
		case sk.conn != nil:
			info := sk.conn.Info()
			env.info = &info
			env.state = info.State
			if m := r.config(sk).MSS; m > 0 {
				env.mss = m
			}
		case sk.lst != nil:
			env.state = tcp.StateListen
		default:
			env.state = tcp.StateClosed
		}
	}
	why, failed := env.run(text)
	switch {
	case why == "":
	case failed:
		r.failf(line, "%s", why)
	default:
		r.skipf(line, "%%{ }%%: %s", why)
	}
}

// run evaluates the statements of a block; it returns why it stopped and
// whether that is a failure (an assertion) rather than a skip.
func (e *codeEnv) run(text string) (why string, failed bool) {
	defer func() {
		switch v := recover().(type) {
		case nil:
		case codeSkip:
			why, failed = v.why, false
		case codeFail:
			why, failed = v.why, true
		default:
			panic(v)
		}
	}()
	for _, st := range codeStatements(text) {
		e.statement(st)
	}
	return "", false
}

// codeStatements splits a block into statements at newlines and ';'
// outside strings and brackets, dropping comments and joining
// backslash-continued lines.
func codeStatements(text string) []string {
	var out []string
	var cur strings.Builder
	depth := 0
	var quote byte
	flush := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			out = append(out, s)
		}
		cur.Reset()
	}
	for i := 0; i < len(text); i++ {
		ch := text[i]
		switch {
		case quote != 0:
			if ch == '\\' && i+1 < len(text) {
				cur.WriteByte(ch)
				i++
				ch = text[i]
			} else if ch == quote {
				quote = 0
			}
		case ch == '\'' || ch == '"':
			quote = ch
		case ch == '#':
			for i < len(text) && text[i] != '\n' {
				i++
			}
			i--
			continue
		case ch == '\\' && i+1 < len(text) && text[i+1] == '\n':
			i++
			cur.WriteByte(' ')
			continue
		case ch == '(' || ch == '[':
			depth++
		case ch == ')' || ch == ']':
			depth--
		case (ch == '\n' || ch == ';') && depth <= 0:
			flush()
			continue
		}
		cur.WriteByte(ch)
	}
	flush()
	return out
}

// statement evaluates one statement.
func (e *codeEnv) statement(st string) {
	p := &codeParser{env: e, toks: codeTokens(st), src: st}
	switch {
	case p.peek() == "assert":
		p.next()
		v := p.expr()
		if p.peek() == "," {
			p.rest() // the message: not evaluated
		}
		p.end()
		if v == 0 {
			panic(codeFail{fmt.Sprintf("%%{ }%% assertion failed: %s%s", strings.TrimPrefix(st, "assert "), e.describe(st))})
		}
	case p.peek() == "print":
		p.rest()
	case len(p.toks) >= 2 && isIdent(p.toks[0]) && (p.toks[1] == "=" || p.toks[1] == "+=" || p.toks[1] == "-="):
		name, op := p.next(), p.next()
		if strings.HasPrefix(name, "tcpi_") {
			panic(codeSkip{"assignment to " + name})
		}
		v := p.expr()
		p.end()
		switch op {
		case "+=":
			v = p.lookup(name) + v
		case "-=":
			v = p.lookup(name) - v
		}
		e.vars[name] = v
	default:
		panic(codeSkip{"Python statement not evaluated: " + st})
	}
}

// describe lists the tcpi_* values a failed assertion used.
func (e *codeEnv) describe(st string) string {
	var parts []string
	seen := map[string]bool{}
	for _, t := range codeTokens(st) {
		if strings.HasPrefix(t, "tcpi_") && !seen[t] {
			seen[t] = true
			if v, ok := e.tcpInfoField(t); ok {
				parts = append(parts, fmt.Sprintf("%s=%d", t, v))
			}
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// codeTokens splits a statement into tokens.
func codeTokens(s string) []string {
	var toks []string
	for i := 0; i < len(s); {
		ch := s[i]
		switch {
		case ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n':
			i++
		case isIdentByte(ch) || (ch >= '0' && ch <= '9'):
			j := i
			for j < len(s) && (isIdentByte(s[j]) || (s[j] >= '0' && s[j] <= '9')) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		case ch == '\'' || ch == '"':
			j := i + 1
			for j < len(s) && s[j] != ch {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			toks = append(toks, s[i:min(j+1, len(s))])
			i = j + 1
		default:
			if i+1 < len(s) {
				two := s[i : i+2]
				switch two {
				case "==", "!=", "<=", ">=", "+=", "-=", "//", "**", "<<", ">>":
					toks = append(toks, two)
					i += 2
					continue
				}
			}
			toks = append(toks, string(ch))
			i++
		}
	}
	return toks
}

func isIdentByte(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdent(t string) bool { return t != "" && isIdentByte(t[0]) }

// codeParser evaluates an expression as it parses it.
type codeParser struct {
	env  *codeEnv
	toks []string
	pos  int
	src  string
}

func (p *codeParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *codeParser) next() string {
	t := p.peek()
	p.pos++
	return t
}

func (p *codeParser) rest() { p.pos = len(p.toks) }

func (p *codeParser) end() {
	if p.pos < len(p.toks) {
		panic(codeSkip{"Python not evaluated: " + p.src})
	}
}

func (p *codeParser) lookup(name string) int64 {
	if v, ok := p.env.vars[name]; ok {
		return v
	}
	if v, ok := tcpInfoConsts[name]; ok {
		return v
	}
	if strings.HasPrefix(name, "tcpi_") {
		if v, ok := p.env.tcpInfoField(name); ok {
			return v
		}
		if p.env.info == nil {
			panic(codeSkip{name + ": no connected socket"})
		}
		panic(codeSkip{name + " has no synack equivalent"})
	}
	panic(codeSkip{"unknown name " + name})
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// expr: or_test.
func (p *codeParser) expr() int64 {
	v := p.and()
	for p.peek() == "or" {
		p.next()
		w := p.and()
		v = b2i(v != 0 || w != 0)
	}
	return v
}

func (p *codeParser) and() int64 {
	v := p.not()
	for p.peek() == "and" {
		p.next()
		w := p.not()
		v = b2i(v != 0 && w != 0)
	}
	return v
}

func (p *codeParser) not() int64 {
	if p.peek() == "not" {
		p.next()
		return b2i(p.not() == 0)
	}
	return p.comparison()
}

// comparison handles chains such as 5000 <= tcpi_rtt <= 20000.
func (p *codeParser) comparison() int64 {
	left := p.bitOr()
	result := int64(1)
	chained := false
	for {
		op := p.peek()
		switch op {
		case "==", "!=", "<", ">", "<=", ">=":
		default:
			if chained {
				return result
			}
			return left
		}
		p.next()
		right := p.bitOr()
		var ok bool
		switch op {
		case "==":
			ok = left == right
		case "!=":
			ok = left != right
		case "<":
			ok = left < right
		case ">":
			ok = left > right
		case "<=":
			ok = left <= right
		case ">=":
			ok = left >= right
		}
		if !ok {
			result = 0
		}
		chained = true
		left = right
	}
}

func (p *codeParser) bitOr() int64 {
	v := p.bitAnd()
	for p.peek() == "|" {
		p.next()
		v |= p.bitAnd()
	}
	return v
}

func (p *codeParser) bitAnd() int64 {
	v := p.sum()
	for p.peek() == "&" {
		p.next()
		v &= p.sum()
	}
	return v
}

func (p *codeParser) sum() int64 {
	v := p.product()
	for {
		switch p.peek() {
		case "+":
			p.next()
			v += p.product()
		case "-":
			p.next()
			v -= p.product()
		default:
			return v
		}
	}
}

func (p *codeParser) product() int64 {
	v := p.unary()
	for {
		switch op := p.peek(); op {
		case "*", "//", "%":
			p.next()
			w := p.unary()
			switch {
			case op == "*":
				v *= w
			case w == 0:
				panic(codeSkip{"division by zero in " + p.src})
			case op == "//":
				v /= w
			default:
				v %= w
			}
		default:
			return v
		}
	}
}

func (p *codeParser) unary() int64 {
	switch p.peek() {
	case "-":
		p.next()
		return -p.unary()
	case "+":
		p.next()
		return p.unary()
	}
	return p.primary()
}

func (p *codeParser) primary() int64 {
	t := p.next()
	switch {
	case t == "(":
		v := p.expr()
		if p.next() != ")" {
			panic(codeSkip{"Python not evaluated: " + p.src})
		}
		return v
	case t != "" && t[0] >= '0' && t[0] <= '9':
		v, err := strconv.ParseInt(t, 0, 64)
		if err != nil {
			panic(codeSkip{"number " + t + " not evaluated"})
		}
		return v
	case isIdent(t) && p.peek() != "(" && p.peek() != "." && p.peek() != "[":
		return p.lookup(t)
	}
	panic(codeSkip{"Python not evaluated: " + p.src})
}
