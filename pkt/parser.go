package pkt

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// Error is a syntax error, with where it was found.
type Error struct {
	File string
	Pos
	Msg string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// maxDepth bounds the nesting of brackets in expressions.
const maxDepth = 200

// Parse parses a script. name is used in error messages only. The error,
// if any, is an *Error.
func Parse(name string, src []byte) (*Script, error) {
	p := &parser{file: name, lex: newLexer(string(src))}
	s, err := p.script()
	if err != nil {
		return nil, err
	}
	return s, nil
}

// ParseFile reads and parses the script at path.
func ParseFile(path string) (*Script, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pkt: %w", err)
	}
	return Parse(path, src)
}

// parser is a recursive-descent parser over an on-demand token stream.
type parser struct {
	file  string
	lex   *lexer
	buf   []token // looked-ahead tokens
	depth int
}

// errAt builds an *Error at pos.
func (p *parser) errAt(pos Pos, format string, args ...any) error {
	return &Error{File: p.file, Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// peekN returns the token n places ahead (0 is the next one).
func (p *parser) peekN(n int) token {
	for len(p.buf) <= n {
		p.buf = append(p.buf, p.lex.next())
	}
	return p.buf[n]
}

func (p *parser) peek() token { return p.peekN(0) }

// next consumes the next token. An error token becomes an error.
func (p *parser) next() (token, error) {
	t := p.peek()
	if t.kind == tokError {
		return t, p.errAt(t.pos, "%s", t.text)
	}
	p.buf = p.buf[1:]
	return t, nil
}

// rewind forgets the looked-ahead tokens and restarts lexing at t, which
// must be the next token.
func (p *parser) rewind(t token) {
	p.buf = p.buf[:0]
	p.lex.rewind(t)
}

// unexpected reports t where something else was wanted.
func (p *parser) unexpected(t token, want string) error {
	if t.kind == tokError {
		return p.errAt(t.pos, "%s", t.text)
	}
	return p.errAt(t.pos, "expected %s, found %s", want, t.describe())
}

// punct consumes the punctuation byte c.
func (p *parser) punct(c byte) (token, error) {
	t := p.peek()
	if !t.is(c) {
		return t, p.unexpected(t, fmt.Sprintf("%q", string(c)))
	}
	return p.next()
}

// word consumes the word w.
func (p *parser) word(w string) error {
	t := p.peek()
	if !t.isWord(w) {
		return p.unexpected(t, fmt.Sprintf("%q", w))
	}
	_, err := p.next()
	return err
}

// uint consumes a decimal integer in [0, max]; what names it in errors.
func (p *parser) uint(max uint64, what string) (uint64, token, error) {
	t := p.peek()
	if t.kind != tokInt {
		return 0, t, p.unexpected(t, what)
	}
	if _, err := p.next(); err != nil {
		return 0, t, err
	}
	v, err := strconv.ParseUint(t.text, 10, 64)
	if err != nil || v > max {
		return 0, t, p.errAt(t.pos, "%s %s out of range [0, %d]", what, t.text, max)
	}
	return v, t, nil
}

func (p *parser) u32(what string) (uint32, error) {
	v, _, err := p.uint(1<<32-1, what)
	return uint32(v), err
}

func (p *parser) u16(what string) (uint16, error) {
	v, _, err := p.uint(1<<16-1, what)
	return uint16(v), err
}

func (p *parser) u8(what string) (uint8, error) {
	v, _, err := p.uint(1<<8-1, what)
	return uint8(v), err
}

// hexValue consumes a 0x integer in [0, max].
func (p *parser) hexValue(max uint64, what string) (uint64, error) {
	t := p.peek()
	if t.kind != tokHex {
		return 0, p.unexpected(t, what+" (0x...)")
	}
	if _, err := p.next(); err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(t.text[2:], 16, 64)
	if err != nil || v > max {
		return 0, p.errAt(t.pos, "%s %s out of range [0, %#x]", what, t.text, max)
	}
	return v, nil
}

// script parses a whole script.
func (p *parser) script() (*Script, error) {
	s := &Script{}
	for p.peek().kind == tokOption {
		t, _ := p.next()
		s.Options = append(s.Options, Option{Pos: t.pos, Name: t.text, Value: t.value, HasValue: t.hasValue})
	}
	if t := p.peek(); t.kind == tokCommand {
		p.next()
		s.Init = &Command{Pos: t.pos, Text: t.text}
	}
	for {
		t := p.peek()
		switch t.kind {
		case tokEOF:
			return s, nil
		case tokError:
			return nil, p.errAt(t.pos, "%s", t.text)
		case tokCommand:
			p.next()
			if end := p.peek(); end.kind != tokEOF {
				return nil, p.unexpected(end, "end of file after the final command (a command without a time may only come first or last)")
			}
			s.Cleanup = &Command{Pos: t.pos, Text: t.text}
			return s, nil
		case tokOption:
			return nil, p.errAt(t.pos, "option --%s after the first event (options must come first)", t.text)
		}
		ev, err := p.event()
		if err != nil {
			return nil, err
		}
		s.Events = append(s.Events, ev)
	}
}

// event parses one timed event.
func (p *parser) event() (Event, error) {
	first := p.peek()
	ev := Event{Pos: first.pos}
	tm, err := p.eventTime()
	if err != nil {
		return ev, err
	}
	ev.Time = tm
	t := p.peek()
	switch {
	case t.kind == tokEllipsis:
		p.next()
		end, terr := p.timeValue()
		if terr != nil {
			return ev, terr
		}
		if tm.Span != SpanNone || tm.Kind == TimeAny {
			return ev, p.errAt(t.pos, "a blocking end time needs a plain start time")
		}
		ev.Time.Span, ev.Time.End = SpanBlocking, end
		if n := p.peek(); n.kind != tokWord || !p.peekN(1).is('(') {
			return ev, p.unexpected(n, "system call after blocking time")
		}
		ev.Action, err = p.syscall()
	case t.is('<') || t.is('>'):
		ev.Action, err = p.packet()
	case t.kind == tokCommand:
		p.next()
		ev.Action = &Command{Pos: t.pos, Text: t.text}
	case t.kind == tokCode:
		p.next()
		ev.Action = &Code{Pos: t.pos, Text: t.text}
	case t.kind == tokWord && p.peekN(1).is('('):
		ev.Action, err = p.syscall()
	default:
		return ev, p.unexpected(t, "packet, system call, command or code after the time")
	}
	if err != nil {
		return ev, err
	}
	return ev, p.checkTime(ev)
}

// checkTime applies packetdrill's rules on where * and ranges may be used.
func (p *parser) checkTime(ev Event) error {
	outbound := false
	switch a := ev.Action.(type) {
	case *Packet:
		outbound = a.Dir == Outbound
	case *UDPPacket:
		outbound = a.Dir == Outbound
	case *ICMPPacket:
		outbound = a.Dir == Outbound
	}
	switch {
	case ev.Time.Kind == TimeAny && !outbound:
		return p.errAt(ev.Pos, "event time * can only be used with outbound packets")
	case ev.Time.Span == SpanRange && !outbound:
		return p.errAt(ev.Pos, "event time range can only be used with outbound packets")
	case ev.Time.Span != SpanNone && ev.Time.End < ev.Time.Start && ev.Time.Span == SpanRange:
		return p.errAt(ev.Pos, "time range is backwards")
	}
	return nil
}

// eventTime parses "0.1", "+0.1", "*", "0.1~0.2" or "+0~+0.1".
func (p *parser) eventTime() (Time, error) {
	t := p.peek()
	if t.is('*') {
		p.next()
		return Time{Kind: TimeAny}, nil
	}
	kind := TimeAbsolute
	if t.is('+') {
		p.next()
		kind = TimeRelative
	}
	start, err := p.timeValue()
	if err != nil {
		return Time{}, err
	}
	tm := Time{Kind: kind, Start: start}
	if !p.peek().is('~') {
		return tm, nil
	}
	p.next()
	if kind == TimeRelative {
		if _, err := p.punct('+'); err != nil {
			return tm, err
		}
	} else if n := p.peek(); n.is('+') {
		return tm, p.errAt(n.pos, "an absolute time range must end with an absolute time")
	}
	end, err := p.timeValue()
	if err != nil {
		return tm, err
	}
	tm.Span, tm.End = SpanRange, end
	return tm, nil
}

// timeValue parses a non-negative number of seconds.
func (p *parser) timeValue() (time.Duration, error) {
	t := p.peek()
	if t.kind != tokInt && t.kind != tokFloat {
		return 0, p.unexpected(t, "time")
	}
	p.next()
	d, err := parseSeconds(t.text)
	if err != nil {
		return 0, p.errAt(t.pos, "%v", err)
	}
	return d, nil
}

// parseSeconds turns "1", "0.25" or ".5" into a duration, exactly to the
// nanosecond (further digits are dropped).
func parseSeconds(s string) (time.Duration, error) {
	if len(s) > 0 && s[0] == '-' {
		return 0, errors.New("negative time " + s)
	}
	intPart, frac := s, ""
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			intPart, frac = s[:i], s[i+1:]
			break
		}
	}
	var secs uint64
	if intPart != "" {
		v, err := strconv.ParseUint(intPart, 10, 64)
		if err != nil || v > uint64(1<<63-1)/uint64(time.Second)-1 {
			return 0, errors.New("time " + s + " out of range")
		}
		secs = v
	}
	var ns uint64
	for i := 0; i < 9; i++ {
		ns *= 10
		if i < len(frac) {
			ns += uint64(frac[i] - '0')
		}
	}
	return time.Duration(secs)*time.Second + time.Duration(ns), nil
}
