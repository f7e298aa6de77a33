package pkt

import (
	"strconv"
	"strings"
)

// syscall parses "name(args) = ret [ERRNO (text)] [(note)]".
func (p *parser) syscall() (*Syscall, error) {
	name, _ := p.next()
	sc := &Syscall{Pos: name.pos, Name: name.text}
	p.next() // '('
	args, err := p.exprList(')')
	if err != nil {
		return nil, err
	}
	sc.Args = args
	if _, err := p.punct('='); err != nil {
		return nil, err
	}
	if sc.Ret, err = p.orExpr(); err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind == tokWord {
		p.next()
		sc.Errno = t.text
		if p.peek().is('(') {
			if sc.ErrnoText, err = p.note(); err != nil {
				return nil, err
			}
		}
	}
	if p.peek().is('(') {
		if sc.Note, err = p.note(); err != nil {
			return nil, err
		}
	}
	return sc, nil
}

// note returns the text between a '(' and its matching ')', as written
// (blanks at both ends removed).
func (p *parser) note() (string, error) {
	open, _ := p.next()
	depth := 1
	for {
		t := p.peek()
		switch {
		case t.kind == tokEOF || t.kind == tokError:
			return "", p.unexpected(t, "')' to end the text opened at line "+strconv.Itoa(open.pos.Line))
		case t.is('('):
			depth++
		case t.is(')'):
			depth--
			if depth == 0 {
				p.next()
				return strings.TrimSpace(p.lex.src[open.end:t.off]), nil
			}
		}
		p.next()
	}
}

// exprList parses expressions separated by ',' up to the closing byte,
// which it consumes. The opening bracket has been consumed.
func (p *parser) exprList(closer byte) ([]Expr, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, p.errAt(p.peek().pos, "expressions nested too deeply")
	}
	var list []Expr
	if p.peek().is(closer) {
		p.next()
		return list, nil
	}
	for {
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		list = append(list, e)
		t := p.peek()
		if t.is(',') {
			p.next()
			continue
		}
		if t.is(closer) {
			p.next()
			return list, nil
		}
		return nil, p.unexpected(t, "',' or '"+string(closer)+"'")
	}
}

// expr parses an expression, including "name=value".
func (p *parser) expr() (Expr, error) {
	x, err := p.orExpr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.is('=') {
		switch x.(type) {
		case *WordExpr, *CallExpr:
		default:
			return nil, p.errAt(t.pos, "'=' must follow a field name")
		}
		p.next()
		v, err := p.expr()
		if err != nil {
			return nil, err
		}
		return &AssignExpr{Pos: ExprPos(x), Name: x, Value: v}, nil
	}
	return x, nil
}

// orExpr parses "a | b | c" (left-associative).
func (p *parser) orExpr() (Expr, error) {
	x, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.peek().is('|') {
		p.next()
		y, err := p.unary()
		if err != nil {
			return nil, err
		}
		x = &BinaryExpr{Pos: ExprPos(x), Op: "|", X: x, Y: y}
	}
	return x, nil
}

// unary parses "&x" or a primary expression.
func (p *parser) unary() (Expr, error) {
	t := p.peek()
	if !t.is('&') {
		return p.primary()
	}
	p.next()
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, p.errAt(t.pos, "expressions nested too deeply")
	}
	x, err := p.unary()
	if err != nil {
		return nil, err
	}
	return &AddrExpr{Pos: t.pos, X: x}, nil
}

// primary parses a literal, word, call, array or structure.
func (p *parser) primary() (Expr, error) {
	t := p.peek()
	switch {
	case t.kind == tokInt:
		p.next()
		v, err := strconv.ParseInt(t.text, 10, 64)
		if err != nil {
			return nil, p.errAt(t.pos, "integer %s out of range", t.text)
		}
		return &IntExpr{Pos: t.pos, Value: v}, nil
	case t.kind == tokHex:
		p.next()
		v, err := strconv.ParseUint(t.text[2:], 16, 64)
		if err != nil {
			return nil, p.errAt(t.pos, "integer %s out of range", t.text)
		}
		return &IntExpr{Pos: t.pos, Value: int64(v), Hex: true}, nil
	case t.kind == tokWord:
		p.next()
		if p.peek().is('(') {
			p.next()
			args, err := p.exprList(')')
			if err != nil {
				return nil, err
			}
			return &CallExpr{Pos: t.pos, Func: t.text, Args: args}, nil
		}
		return &WordExpr{Pos: t.pos, Name: t.text}, nil
	case t.kind == tokString:
		p.next()
		s := &StringExpr{Pos: t.pos, Value: t.text}
		if p.peek().kind == tokEllipsis {
			p.next()
			s.Ellipsis = true
		}
		return s, nil
	case t.kind == tokEllipsis:
		p.next()
		return &EllipsisExpr{Pos: t.pos}, nil
	case t.is('['):
		p.next()
		elems, err := p.exprList(']')
		if err != nil {
			return nil, err
		}
		return &ListExpr{Pos: t.pos, Elems: elems}, nil
	case t.is('{'):
		p.next()
		elems, err := p.exprList('}')
		if err != nil {
			return nil, err
		}
		return &StructExpr{Pos: t.pos, Elems: elems}, nil
	}
	return nil, p.unexpected(t, "expression")
}
