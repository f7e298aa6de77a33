package pkt

import "fmt"

// tokKind is the kind of a lexical token.
type tokKind uint8

const (
	tokEOF      tokKind = iota
	tokError            // text is the message
	tokWord             // [A-Za-z0-9_]+
	tokInt              // -?[0-9]+
	tokHex              // 0x[0-9a-fA-F]+
	tokFloat            // -?[0-9]*\.[0-9]+
	tokIPv4             // a.b.c.d
	tokString           // "..."; text is the inside, as written
	tokCommand          // `...`; text is the inside, as written
	tokCode             // %{ ... }%; text is the inside, trimmed
	tokOption           // --name[=value]; text is the name
	tokEllipsis         // ...
	tokPunct            // any other single byte; text is that byte
)

func (k tokKind) String() string {
	switch k {
	case tokEOF:
		return "end of file"
	case tokError:
		return "error"
	case tokWord:
		return "word"
	case tokInt, tokHex:
		return "integer"
	case tokFloat:
		return "number"
	case tokIPv4:
		return "IPv4 address"
	case tokString:
		return "string"
	case tokCommand:
		return "command"
	case tokCode:
		return "code block"
	case tokOption:
		return "option"
	case tokEllipsis:
		return "'...'"
	default:
		return "punctuation"
	}
}

// token is one lexical token. off and end delimit it in the source.
type token struct {
	kind     tokKind
	text     string
	value    string // tokOption: the value
	hasValue bool   // tokOption: a value was written
	pos      Pos
	off, end int
}

// is reports whether t is the punctuation byte c.
func (t token) is(c byte) bool {
	return t.kind == tokPunct && len(t.text) == 1 && t.text[0] == c
}

// isWord reports whether t is the word w.
func (t token) isWord(w string) bool {
	return t.kind == tokWord && t.text == w
}

// describe names t for error messages.
func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of file"
	case tokPunct:
		return fmt.Sprintf("%q", t.text)
	case tokString:
		return "string"
	case tokCommand:
		return "back-quoted command"
	case tokCode:
		return "code block"
	case tokOption:
		return "option --" + t.text
	case tokEllipsis:
		return "'...'"
	default:
		return fmt.Sprintf("%s %q", t.kind, t.text)
	}
}

// lexer splits a script into tokens on demand.
type lexer struct {
	src  string
	off  int
	line int
	col  int
}

func newLexer(src string) *lexer {
	return &lexer{src: src, line: 1, col: 1}
}

// pos is the current position.
func (l *lexer) pos() Pos { return Pos{Line: l.line, Col: l.col} }

// rewind moves the lexer back to the start of t.
func (l *lexer) rewind(t token) {
	l.off, l.line, l.col = t.off, t.pos.Line, t.pos.Col
}

// advance moves n bytes forward, keeping line and column.
func (l *lexer) advance(n int) {
	for i := 0; i < n && l.off < len(l.src); i++ {
		if l.src[l.off] == '\n' {
			l.line++
			l.col = 1
		} else {
			l.col++
		}
		l.off++
	}
}

func (l *lexer) peekByte(i int) byte {
	if l.off+i < len(l.src) {
		return l.src[l.off+i]
	}
	return 0
}

func (l *lexer) hasPrefix(s string) bool {
	return len(l.src)-l.off >= len(s) && l.src[l.off:l.off+len(s)] == s
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isHex(c byte) bool   { return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') }
func isWordCh(c byte) bool {
	return isDigit(c) || c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// skip passes blanks and comments. It returns an error token for an
// unterminated /* comment.
func (l *lexer) skip() (token, bool) {
	for l.off < len(l.src) {
		c := l.src[l.off]
		switch {
		case isSpace(c):
			l.advance(1)
		case l.hasPrefix("//"):
			for l.off < len(l.src) && l.src[l.off] != '\n' {
				l.advance(1)
			}
		case l.hasPrefix("/*"):
			start := l.pos()
			startOff := l.off
			l.advance(2)
			for !l.hasPrefix("*/") {
				if l.off >= len(l.src) {
					return token{kind: tokError, text: "unterminated /* comment", pos: start, off: startOff, end: l.off}, false
				}
				l.advance(1)
			}
			l.advance(2)
		default:
			return token{}, true
		}
	}
	return token{}, true
}

// next returns the next token.
func (l *lexer) next() token {
	if t, ok := l.skip(); !ok {
		return t
	}
	start, startOff := l.pos(), l.off
	mk := func(k tokKind, text string) token {
		return token{kind: k, text: text, pos: start, off: startOff, end: l.off}
	}
	fail := func(msg string) token {
		return token{kind: tokError, text: msg, pos: start, off: startOff, end: l.off}
	}
	if l.off >= len(l.src) {
		return mk(tokEOF, "")
	}
	c := l.src[l.off]
	switch {
	case l.hasPrefix("..."):
		l.advance(3)
		return mk(tokEllipsis, "...")
	case l.hasPrefix("--") && isWordCh(l.peekByte(2)):
		return l.option(start, startOff)
	case c == '"' || c == '`':
		n, ok := l.quoted(c)
		if !ok {
			l.advance(len(l.src) - l.off)
			if c == '"' {
				return fail("unterminated string")
			}
			return fail("unterminated back-quoted command")
		}
		text := l.src[l.off+1 : l.off+n-1]
		l.advance(n)
		if c == '"' {
			return mk(tokString, text)
		}
		return mk(tokCommand, text)
	case l.hasPrefix("%{"):
		l.advance(2)
		inner := l.off
		for !l.hasPrefix("}%") {
			if l.off >= len(l.src) {
				return fail("unterminated %{ code block")
			}
			l.advance(1)
		}
		text := trimBlanks(l.src[inner:l.off])
		l.advance(2)
		return mk(tokCode, text)
	case isWordCh(c) || ((c == '-' || c == '.') && l.numberStart()):
		kind, n := l.scanNumberOrWord()
		text := l.src[l.off : l.off+n]
		l.advance(n)
		return mk(kind, text)
	}
	l.advance(1)
	return mk(tokPunct, string(c))
}

// numberStart reports whether a '-' or '.' at the current offset begins a
// number ("-1", "-.5", ".5").
func (l *lexer) numberStart() bool {
	i := 0
	if l.peekByte(0) == '-' {
		i = 1
	}
	if isDigit(l.peekByte(i)) {
		return true
	}
	return l.peekByte(i) == '.' && isDigit(l.peekByte(i+1))
}

// scanNumberOrWord picks the longest of the number and word forms at the
// current offset (ties go to float, then integer, hex, word, IPv4, the
// order packetdrill's scanner lists them in).
func (l *lexer) scanNumberOrWord() (tokKind, int) {
	s := l.src[l.off:]
	digits := func(i int) int {
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		return j - i
	}
	neg := 0
	if len(s) > 0 && s[0] == '-' {
		neg = 1
	}
	// float: -?[0-9]*\.[0-9]+
	fl := 0
	if d := digits(neg); neg+d < len(s) && s[neg+d] == '.' {
		if f := digits(neg + d + 1); f > 0 {
			fl = neg + d + 1 + f
		}
	}
	// integer: -?[0-9]+
	in := 0
	if d := digits(neg); d > 0 {
		in = neg + d
	}
	// hex: 0x[0-9a-fA-F]+
	hx := 0
	if neg == 0 && len(s) > 2 && s[0] == '0' && s[1] == 'x' && isHex(s[2]) {
		hx = 3
		for hx < len(s) && isHex(s[hx]) {
			hx++
		}
	}
	// word: [A-Za-z0-9_]+
	wd := 0
	if neg == 0 {
		for wd < len(s) && isWordCh(s[wd]) {
			wd++
		}
	}
	// IPv4: [0-9]+(\.[0-9]+){3}
	ip := 0
	if neg == 0 {
		i := 0
		for part := 0; part < 4; part++ {
			if part > 0 {
				if i >= len(s) || s[i] != '.' {
					i = 0
					break
				}
				i++
			}
			d := digits(i)
			if d == 0 {
				i = 0
				break
			}
			i += d
		}
		ip = i
	}
	kind, n := tokFloat, fl
	for _, c := range []struct {
		k tokKind
		n int
	}{{tokInt, in}, {tokHex, hx}, {tokWord, wd}, {tokIPv4, ip}} {
		if c.n > n {
			kind, n = c.k, c.n
		}
	}
	if n == 0 { // a lone '-' or '.': punctuation
		return tokPunct, 1
	}
	return kind, n
}

// quoted returns the length of the quoted text starting at the current
// offset with quote q, backslash escapes included, and whether it ends.
func (l *lexer) quoted(q byte) (int, bool) {
	s := l.src[l.off:]
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case q:
			return i + 1, true
		}
	}
	return 0, false
}

// option scans "--name", "--name=value" or "--name value".
func (l *lexer) option(start Pos, startOff int) token {
	l.advance(2)
	nameOff := l.off
	for l.off < len(l.src) && isWordCh(l.src[l.off]) {
		l.advance(1)
	}
	t := token{kind: tokOption, text: l.src[nameOff:l.off], pos: start, off: startOff}
	switch {
	case l.peekByte(0) == '=':
		l.advance(1)
		t.hasValue = true
	default:
		// "--name value" on the same line.
		i := 0
		for l.peekByte(i) == ' ' || l.peekByte(i) == '\t' {
			i++
		}
		rest := l.src[min(l.off+i, len(l.src)):]
		if i == 0 || rest == "" || isSpace(rest[0]) || hasAnyPrefix(rest, "--", "//", "/*") {
			t.end = l.off
			return t
		}
		l.advance(i)
		t.hasValue = true
	}
	valOff := l.off
	for l.off < len(l.src) && !isSpace(l.src[l.off]) {
		if c := l.src[l.off]; c == '"' || c == '`' {
			n, ok := l.quoted(c)
			if !ok {
				l.advance(len(l.src) - l.off)
				return token{kind: tokError, text: "unterminated quote in option value", pos: start, off: startOff, end: l.off}
			}
			l.advance(n)
			continue
		}
		l.advance(1)
	}
	t.value = l.src[valOff:l.off]
	t.end = l.off
	if t.value == "" {
		return token{kind: tokError, text: "missing value after --" + t.text + "=", pos: start, off: startOff, end: l.off}
	}
	return t
}

// flags scans a TCP flags field ("S.", "P.5", "-", "SEWA") at the current
// offset, which must be at its first byte.
func (l *lexer) flags() token {
	start, startOff := l.pos(), l.off
	n := 0
	if l.peekByte(0) == '-' {
		n = 1
	} else {
		for c := l.peekByte(n); isWordCh(c) || c == '.'; c = l.peekByte(n) {
			n++
		}
	}
	text := l.src[l.off : l.off+n]
	l.advance(n)
	return token{kind: tokWord, text: text, pos: start, off: startOff, end: l.off}
}

func hasAnyPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if len(s) >= len(p) && s[:len(p)] == p {
			return true
		}
	}
	return false
}

// trimBlanks removes spaces and tabs (not newlines) at both ends.
func trimBlanks(s string) string {
	i, j := 0, len(s)
	for i < j && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	for j > i && (s[j-1] == ' ' || s[j-1] == '\t') {
		j--
	}
	return s[i:j]
}
