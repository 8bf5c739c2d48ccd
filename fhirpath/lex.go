package fhirpath

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// tokenKind says what a token is.
type tokenKind uint8

const (
	tokEOF      tokenKind = iota
	tokIdent              // a plain identifier, or a keyword (and, div, true, …)
	tokDelimID            // a `delimited identifier`
	tokString             // a 'string', unescaped in text
	tokNumber             // 12 or 1.5
	tokLong               // 12L (FHIRPath 2.1 / R5)
	tokDate               // @2020-01-02
	tokDateTime           // @2020-01-02T10:00:00Z, @2020T
	tokTime               // @T10:00
	tokConst              // %name, %`name`, %'name'; text is the name
	tokSpecial            // $this, $index, $total; text without the $
	tokOp                 // punctuation and symbolic operators
)

// token is one lexical token; pos is its byte offset in the expression.
type token struct {
	kind tokenKind
	text string
	pos  int
}

// lexer splits an expression into tokens.
type lexer struct {
	src string
	i   int
}

// SyntaxError is an expression that does not parse, with the byte offset
// where the problem is.
type SyntaxError struct {
	Pos int
	Msg string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("fhirpath: syntax error at %d: %s", e.Pos, e.Msg)
}

func (l *lexer) errorf(pos int, format string, args ...any) error {
	return &SyntaxError{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// next returns the next token, skipping white space and comments.
func (l *lexer) next() (token, error) {
	if err := l.skip(); err != nil {
		return token{}, err
	}
	start := l.i
	if l.i >= len(l.src) {
		return token{kind: tokEOF, pos: start}, nil
	}
	c := l.src[l.i]
	switch {
	case isIdentStart(c):
		for l.i < len(l.src) && isIdentPart(l.src[l.i]) {
			l.i++
		}
		return token{tokIdent, l.src[start:l.i], start}, nil
	case isDigit(c):
		return l.number(start)
	}
	switch c {
	case '\'':
		s, err := l.quoted('\'')
		return token{tokString, s, start}, err
	case '`':
		s, err := l.quoted('`')
		return token{tokDelimID, s, start}, err
	case '@':
		return l.dateTime(start)
	case '%':
		l.i++
		if l.i < len(l.src) && (l.src[l.i] == '`' || l.src[l.i] == '\'') {
			s, err := l.quoted(l.src[l.i])
			return token{tokConst, s, start}, err
		}
		n := l.i
		for l.i < len(l.src) && (isIdentPart(l.src[l.i]) || l.src[l.i] == '-') {
			l.i++ // %vs-name and %ext-name carry dashes
		}
		if l.i == n {
			return token{}, l.errorf(start, "%% must be followed by a name")
		}
		return token{tokConst, l.src[n:l.i], start}, nil
	case '$':
		l.i++
		n := l.i
		for l.i < len(l.src) && isIdentPart(l.src[l.i]) {
			l.i++
		}
		switch name := l.src[n:l.i]; name {
		case "this", "index", "total":
			return token{tokSpecial, name, start}, nil
		default:
			return token{}, l.errorf(start, "unknown special variable $%s", name)
		}
	}
	// Symbolic operators, longest first.
	for _, op := range []string{"!=", "!~", "<=", ">="} {
		if strings.HasPrefix(l.src[l.i:], op) {
			l.i += 2
			return token{tokOp, op, start}, nil
		}
	}
	if strings.IndexByte(".[](),+-*/&|=~<>{}", c) >= 0 {
		l.i++
		return token{tokOp, string(c), start}, nil
	}
	r, _ := utf8.DecodeRuneInString(l.src[l.i:])
	return token{}, l.errorf(start, "unexpected character %q", r)
}

// skip passes white space and comments.
func (l *lexer) skip() error {
	for l.i < len(l.src) {
		switch c := l.src[l.i]; {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f':
			l.i++
		case strings.HasPrefix(l.src[l.i:], "//"):
			for l.i < len(l.src) && l.src[l.i] != '\n' {
				l.i++
			}
		case strings.HasPrefix(l.src[l.i:], "/*"):
			end := strings.Index(l.src[l.i+2:], "*/")
			if end < 0 {
				return l.errorf(l.i, "comment not closed")
			}
			l.i += end + 4
		default:
			return nil
		}
	}
	return nil
}

// number reads 12, 1.5 or 12L.
func (l *lexer) number(start int) (token, error) {
	for l.i < len(l.src) && isDigit(l.src[l.i]) {
		l.i++
	}
	if l.i+1 < len(l.src) && l.src[l.i] == '.' && isDigit(l.src[l.i+1]) {
		l.i++
		for l.i < len(l.src) && isDigit(l.src[l.i]) {
			l.i++
		}
		return token{tokNumber, l.src[start:l.i], start}, nil
	}
	if l.i < len(l.src) && l.src[l.i] == 'L' && (l.i+1 >= len(l.src) || !isIdentPart(l.src[l.i+1])) {
		l.i++
		return token{tokLong, l.src[start : l.i-1], start}, nil
	}
	return token{tokNumber, l.src[start:l.i], start}, nil
}

// quoted reads a string or delimited identifier closed by q, decoding
// the escapes \' \" \` \\ \/ \f \n \r \t and \uXXXX.
func (l *lexer) quoted(q byte) (string, error) {
	start := l.i
	l.i++ // the opening quote
	var b strings.Builder
	for l.i < len(l.src) {
		c := l.src[l.i]
		switch {
		case c == q:
			l.i++
			return b.String(), nil
		case c == '\\':
			if l.i+1 >= len(l.src) {
				return "", l.errorf(l.i, "escape at the end of the expression")
			}
			e := l.src[l.i+1]
			l.i += 2
			switch e {
			case '\'', '"', '`', '\\', '/':
				b.WriteByte(e)
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				if l.i+4 > len(l.src) {
					return "", l.errorf(l.i-2, "\\u wants four hex digits")
				}
				var r rune
				for _, h := range []byte(l.src[l.i : l.i+4]) {
					d := hexVal(h)
					if d < 0 {
						return "", l.errorf(l.i-2, "\\u wants four hex digits")
					}
					r = r<<4 | rune(d)
				}
				l.i += 4
				b.WriteRune(r)
			default:
				return "", l.errorf(l.i-2, "unknown escape \\%c", e)
			}
		default:
			b.WriteByte(c)
			l.i++
		}
	}
	return "", l.errorf(start, "%c not closed", q)
}

// dateTime reads @date, @dateTime or @Ttime; the text excludes the @.
func (l *lexer) dateTime(start int) (token, error) {
	l.i++ // @
	if l.i < len(l.src) && l.src[l.i] == 'T' {
		l.i++
		if !l.timePart() {
			return token{}, l.errorf(start, "bad time literal")
		}
		return token{tokTime, l.src[start+2 : l.i], start}, nil
	}
	if !l.digits(4) {
		return token{}, l.errorf(start, "bad date literal")
	}
	for range 2 { // -MM, -DD
		if l.i < len(l.src) && l.src[l.i] == '-' && l.digitsAt(l.i+1, 2) {
			l.i += 3
		} else {
			break
		}
	}
	if l.i >= len(l.src) || l.src[l.i] != 'T' {
		return token{tokDate, l.src[start+1 : l.i], start}, nil
	}
	l.i++ // T
	if l.i < len(l.src) && isDigit(l.src[l.i]) {
		if !l.timePart() {
			return token{}, l.errorf(start, "bad dateTime literal")
		}
		// Time zone: Z or ±hh:mm.
		if l.i < len(l.src) && l.src[l.i] == 'Z' {
			l.i++
		} else if l.i < len(l.src) && (l.src[l.i] == '+' || l.src[l.i] == '-') && l.digitsAt(l.i+1, 2) &&
			l.i+3 < len(l.src) && l.src[l.i+3] == ':' && l.digitsAt(l.i+4, 2) {
			l.i += 6
		}
	}
	return token{tokDateTime, l.src[start+1 : l.i], start}, nil
}

// timePart reads hh(:mm(:ss(.fff)?)?)?.
func (l *lexer) timePart() bool {
	if !l.digits(2) {
		return false
	}
	for range 2 {
		if l.i < len(l.src) && l.src[l.i] == ':' && l.digitsAt(l.i+1, 2) {
			l.i += 3
		} else {
			return true
		}
	}
	if l.i+1 < len(l.src) && l.src[l.i] == '.' && isDigit(l.src[l.i+1]) {
		l.i++
		for l.i < len(l.src) && isDigit(l.src[l.i]) {
			l.i++
		}
	}
	return true
}

func (l *lexer) digits(n int) bool {
	if !l.digitsAt(l.i, n) {
		return false
	}
	l.i += n
	return true
}

func (l *lexer) digitsAt(i, n int) bool {
	if i+n > len(l.src) {
		return false
	}
	for j := i; j < i+n; j++ {
		if !isDigit(l.src[j]) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isIdentPart(c byte) bool  { return isIdentStart(c) || isDigit(c) }

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c|0x20 >= 'a' && c|0x20 <= 'f':
		return int(c|0x20-'a') + 10
	}
	return -1
}
