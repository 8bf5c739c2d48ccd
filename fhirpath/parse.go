package fhirpath

import "fmt"

// Limits on what Parse accepts, so that a hostile expression cannot
// exhaust the stack or memory.
const (
	MaxExpressionLength = 64 << 10 // bytes
	MaxDepth            = 200      // nesting of operators, parentheses and arguments
)

// Binding powers of the infix operators (FHIRPath 2.0 section 6.7,
// operator precedence), from loosest to tightest; polarity binds tighter
// than every infix operator but '.' and '['.
var infixPower = map[string]int{
	"implies": 1,
	"or":      2, "xor": 2,
	"and": 3,
	"in":  4, "contains": 4,
	"=": 5, "~": 5, "!=": 5, "!~": 5,
	"<": 6, "<=": 6, ">": 6, ">=": 6,
	"|":  7,
	"is": 8, "as": 8,
	"+": 9, "-": 9, "&": 9,
	"*": 10, "/": 10, "div": 10, "mod": 10,
	".": 12, "[": 12,
}

const polarityPower = 11

// wordOperators are the operators written as words; at the start of a
// term they are not identifiers.
var wordOperators = map[string]bool{"implies": true, "or": true, "xor": true, "and": true, "div": true, "mod": true}

// calendarUnits are the words a quantity literal may take as its unit.
var calendarUnits = map[string]bool{
	"year": true, "years": true, "month": true, "months": true, "week": true, "weeks": true,
	"day": true, "days": true, "hour": true, "hours": true, "minute": true, "minutes": true,
	"second": true, "seconds": true, "millisecond": true, "milliseconds": true,
}

// Parse parses a FHIRPath expression into its syntax tree.
func Parse(expr string) (Node, error) {
	if len(expr) > MaxExpressionLength {
		return nil, &SyntaxError{Msg: fmt.Sprintf("expression longer than %d bytes", MaxExpressionLength)}
	}
	p := &parser{lx: lexer{src: expr}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	n, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		return nil, p.unexpected()
	}
	return n, nil
}

type parser struct {
	lx    lexer
	tok   token
	depth int
}

func (p *parser) advance() error {
	t, err := p.lx.next()
	p.tok = t
	return err
}

func (p *parser) is(op string) bool { return p.tok.kind == tokOp && p.tok.text == op }

func (p *parser) expect(op string) error {
	if !p.is(op) {
		return p.lx.errorf(p.tok.pos, "want %q, got %s", op, describe(p.tok))
	}
	return p.advance()
}

func (p *parser) unexpected() error {
	return p.lx.errorf(p.tok.pos, "unexpected %s", describe(p.tok))
}

func describe(t token) string {
	if t.kind == tokEOF {
		return "end of expression"
	}
	return fmt.Sprintf("%q", t.text)
}

// infix returns the operator of the current token and its binding power.
func (p *parser) infix() (string, int) {
	switch p.tok.kind {
	case tokOp, tokIdent:
		if bp, ok := infixPower[p.tok.text]; ok {
			return p.tok.text, bp
		}
	}
	return "", 0
}

// expr parses an expression whose operators bind tighter than minPower.
func (p *parser) expr(minPower int) (Node, error) {
	if p.depth++; p.depth > MaxDepth {
		return nil, p.lx.errorf(p.tok.pos, "expression nested deeper than %d", MaxDepth)
	}
	defer func() { p.depth-- }()
	left, err := p.prefix()
	if err != nil {
		return nil, err
	}
	for {
		op, bp := p.infix()
		if bp == 0 || bp <= minPower {
			return left, nil
		}
		at := p.tok.pos
		if err := p.advance(); err != nil {
			return nil, err
		}
		switch op {
		case ".":
			if left, err = p.invocation(left, at); err != nil {
				return nil, err
			}
		case "[":
			idx, err := p.expr(0)
			if err != nil {
				return nil, err
			}
			if err := p.expect("]"); err != nil {
				return nil, err
			}
			left = &Index{At: at, Target: left, Index: idx}
		case "is", "as":
			ts, err := p.typeSpec()
			if err != nil {
				return nil, err
			}
			left = &TypeOp{At: at, Op: op, X: left, Type: ts}
		default:
			right, err := p.expr(bp)
			if err != nil {
				return nil, err
			}
			left = &Binary{At: at, Op: op, L: left, R: right}
		}
	}
}

// prefix parses a term or a polarity expression.
func (p *parser) prefix() (Node, error) {
	t := p.tok
	switch t.kind {
	case tokNumber:
		if err := p.advance(); err != nil {
			return nil, err
		}
		kind := LitInteger
		for i := 0; i < len(t.text); i++ {
			if t.text[i] == '.' {
				kind = LitDecimal
			}
		}
		// A number followed by a unit is a quantity.
		if p.tok.kind == tokString || (p.tok.kind == tokIdent && calendarUnits[p.tok.text]) {
			unit := p.tok.text
			if err := p.advance(); err != nil {
				return nil, err
			}
			return &Literal{At: t.pos, Kind: LitQuantity, Text: t.text, Unit: unit}, nil
		}
		return &Literal{At: t.pos, Kind: kind, Text: t.text}, nil
	case tokLong, tokString, tokDate, tokDateTime, tokTime:
		kind := map[tokenKind]LiteralKind{tokLong: LitLong, tokString: LitString, tokDate: LitDate,
			tokDateTime: LitDateTime, tokTime: LitTime}[t.kind]
		return &Literal{At: t.pos, Kind: kind, Text: t.text}, p.advance()
	case tokConst:
		return &Var{At: t.pos, Name: t.text}, p.advance()
	case tokSpecial:
		return &Special{At: t.pos, Name: t.text}, p.advance()
	case tokIdent:
		switch {
		case t.text == "true" || t.text == "false":
			return &Literal{At: t.pos, Kind: LitBoolean, Text: t.text}, p.advance()
		case wordOperators[t.text]:
			return nil, p.unexpected()
		}
		return p.invocation(nil, t.pos)
	case tokDelimID:
		return p.invocation(nil, t.pos)
	case tokOp:
		switch t.text {
		case "(":
			if err := p.advance(); err != nil {
				return nil, err
			}
			n, err := p.expr(0)
			if err != nil {
				return nil, err
			}
			return n, p.expect(")")
		case "{":
			if err := p.advance(); err != nil {
				return nil, err
			}
			return &Literal{At: t.pos, Kind: LitEmpty}, p.expect("}")
		case "+", "-":
			if err := p.advance(); err != nil {
				return nil, err
			}
			x, err := p.expr(polarityPower)
			if err != nil {
				return nil, err
			}
			return &Unary{At: t.pos, Op: t.text, X: x}, nil
		}
	}
	return nil, p.unexpected()
}

// invocation parses a member or function name after '.' (or at the start
// of a term, with a nil target) and, for a function, its arguments.
func (p *parser) invocation(target Node, at int) (Node, error) {
	t := p.tok
	switch t.kind {
	case tokIdent, tokDelimID:
	case tokSpecial:
		if target == nil {
			return &Special{At: t.pos, Name: t.text}, p.advance()
		}
		return nil, p.lx.errorf(t.pos, "$%s after '.'", t.text)
	default:
		return nil, p.lx.errorf(t.pos, "want a name, got %s", describe(t))
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if !p.is("(") {
		return &Member{At: at, Target: target, Name: t.text}, nil
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	call := &Call{At: at, Target: target, Name: t.text}
	if p.is(")") {
		return call, p.advance()
	}
	for {
		arg, err := p.expr(0)
		if err != nil {
			return nil, err
		}
		call.Args = append(call.Args, arg)
		if p.is(")") {
			return call, p.advance()
		}
		if err := p.expect(","); err != nil {
			return nil, err
		}
	}
}

// typeSpec parses a type name: Name or Namespace.Name.
func (p *parser) typeSpec() (TypeSpec, error) {
	name := func() (string, error) {
		if p.tok.kind != tokIdent && p.tok.kind != tokDelimID {
			return "", p.lx.errorf(p.tok.pos, "want a type name, got %s", describe(p.tok))
		}
		s := p.tok.text
		return s, p.advance()
	}
	first, err := name()
	if err != nil {
		return TypeSpec{}, err
	}
	if !p.is(".") {
		return TypeSpec{Name: first}, nil
	}
	// Only a namespace may be followed by '.'; otherwise the dot starts
	// an invocation on the type expression's result: (x as Quantity).value
	// is written with parentheses, so "FHIR.X" and "System.X" are the
	// qualified forms.
	if first != "FHIR" && first != "System" {
		return TypeSpec{Name: first}, nil
	}
	if err := p.advance(); err != nil {
		return TypeSpec{}, err
	}
	second, err := name()
	if err != nil {
		return TypeSpec{}, err
	}
	return TypeSpec{Namespace: first, Name: second}, nil
}
