package fhirpath

// Node is a node of a parsed expression.
type Node interface {
	// Pos is the byte offset in the expression where the node starts.
	Pos() int
}

// LiteralKind says what a literal is.
type LiteralKind uint8

// Literal kinds.
const (
	LitEmpty    LiteralKind = iota // {}
	LitBoolean                     // true, false
	LitString                      // 'text'
	LitInteger                     // 12
	LitLong                        // 12L
	LitDecimal                     // 1.5
	LitDate                        // @2020-01-02
	LitDateTime                    // @2020-01-02T10:00Z
	LitTime                        // @T10:00
	LitQuantity                    // 5 'mg', 3 days
)

// Literal is a literal value. Text is the value as written (a string
// unescaped, a date without the @, a quantity's number); Unit is a
// quantity's unit (a UCUM code or a calendar duration word).
type Literal struct {
	At   int
	Kind LiteralKind
	Text string
	Unit string
}

// Member is navigation to a child element (or, at the start of a path,
// a type name or element of the focus): Target.Name, or Name with a nil
// Target.
type Member struct {
	At     int
	Target Node
	Name   string
}

// Call is a function invocation: Target.Name(Args…), or Name(Args…) on
// the focus with a nil Target.
type Call struct {
	At     int
	Target Node
	Name   string
	Args   []Node
}

// Index is Target[Index].
type Index struct {
	At            int
	Target, Index Node
}

// Unary is a polarity operator, + or -, applied to X.
type Unary struct {
	At int
	Op string
	X  Node
}

// Binary is L Op R for the symbolic and word operators (+ - * / div mod &
// | = ~ != !~ < <= > >= in contains and or xor implies).
type Binary struct {
	At   int
	Op   string
	L, R Node
}

// TypeSpec names a type: Namespace is "FHIR", "System" or "" when not
// given.
type TypeSpec struct {
	Namespace, Name string
}

// String returns the qualified name as written.
func (t TypeSpec) String() string {
	if t.Namespace == "" {
		return t.Name
	}
	return t.Namespace + "." + t.Name
}

// TypeOp is X is T or X as T.
type TypeOp struct {
	At   int
	Op   string // "is" or "as"
	X    Node
	Type TypeSpec
}

// Var is an environment variable: %name.
type Var struct {
	At   int
	Name string
}

// Special is $this, $index or $total; Name is without the $.
type Special struct {
	At   int
	Name string
}

// Pos implementations.
func (n *Literal) Pos() int { return n.At }
func (n *Member) Pos() int  { return n.At }
func (n *Call) Pos() int    { return n.At }
func (n *Index) Pos() int   { return n.At }
func (n *Unary) Pos() int   { return n.At }
func (n *Binary) Pos() int  { return n.At }
func (n *TypeOp) Pos() int  { return n.At }
func (n *Var) Pos() int     { return n.At }
func (n *Special) Pos() int { return n.At }

// Format writes a node back as an expression with every operation in
// parentheses, which shows how it was parsed.
func Format(n Node) string {
	switch n := n.(type) {
	case *Literal:
		switch n.Kind {
		case LitEmpty:
			return "{}"
		case LitString:
			return quote(n.Text)
		case LitLong:
			return n.Text + "L"
		case LitDate, LitDateTime:
			return "@" + n.Text
		case LitTime:
			return "@T" + n.Text
		case LitQuantity:
			if calendarUnits[n.Unit] {
				return n.Text + " " + n.Unit
			}
			return n.Text + " " + quote(n.Unit)
		}
		return n.Text
	case *Member:
		if n.Target == nil {
			return ident(n.Name)
		}
		return Format(n.Target) + "." + ident(n.Name)
	case *Call:
		s := n.Name + "("
		if wordOperators[n.Name] || n.Name == "true" || n.Name == "false" || ident(n.Name) != n.Name && !keywords[n.Name] {
			s = ident(n.Name) + "("
		}
		for i, a := range n.Args {
			if i > 0 {
				s += ", "
			}
			s += Format(a)
		}
		s += ")"
		if n.Target == nil {
			return s
		}
		return Format(n.Target) + "." + s
	case *Index:
		return Format(n.Target) + "[" + Format(n.Index) + "]"
	case *Unary:
		return "(" + n.Op + Format(n.X) + ")"
	case *Binary:
		return "(" + Format(n.L) + " " + n.Op + " " + Format(n.R) + ")"
	case *TypeOp:
		t := ident(n.Type.Name)
		if n.Type.Namespace != "" {
			t = ident(n.Type.Namespace) + "." + t
		}
		return "(" + Format(n.X) + " " + n.Op + " " + t + ")"
	case *Var:
		for i := 0; i < len(n.Name); i++ {
			if !isIdentPart(n.Name[i]) && n.Name[i] != '-' {
				return "%" + quoteWith(n.Name, '`')
			}
		}
		if n.Name == "" {
			return "%``"
		}
		return "%" + n.Name
	case *Special:
		return "$" + n.Name
	}
	return "?"
}

// ident writes a name, delimited with backticks when it is not a plain
// identifier or could be read as something else.
func ident(name string) string {
	plain := name != "" && isIdentStart(name[0]) && !wordOperators[name] && !keywords[name]
	for i := 0; plain && i < len(name); i++ {
		plain = isIdentPart(name[i])
	}
	if plain {
		return name
	}
	return quoteWith(name, '`')
}

// keywords are the words besides the operators that a plain identifier
// cannot be everywhere.
var keywords = map[string]bool{"true": true, "false": true, "is": true, "as": true, "in": true, "contains": true}

// quote writes s as a FHIRPath string literal.
func quote(s string) string { return quoteWith(s, '\'') }

// quoteWith writes s between q quotes with the escapes the lexer reads.
func quoteWith(s string, q byte) string {
	out := []byte{q}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case q, '\\':
			out = append(out, '\\', c)
		case '\n':
			out = append(out, '\\', 'n')
		case '\r':
			out = append(out, '\\', 'r')
		case '\t':
			out = append(out, '\\', 't')
		default:
			out = append(out, c)
		}
	}
	return string(append(out, q))
}
