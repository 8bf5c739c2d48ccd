package hl7v2

import (
	"fmt"
	"strconv"
)

// Path addresses a value: segment (and which occurrence), field,
// repetition, component and subcomponent, as in PID-3[2].1 or
// OBX[4]-5.2.1. Numbers are 1-based; 0 means "not given".
type Path struct {
	Segment    string
	Occurrence int // which segment of that name; 0 means the first
	Field      int
	Rep        int // 0: the whole field (reading), the first repetition (components)
	Component  int
	Sub        int
}

// ParsePath reads a path: SEG[n]-F[r].C.S, where [n] and [r] may also be
// written (n) and (r), and everything after the field is optional.
func ParsePath(s string) (Path, error) {
	var p Path
	bad := func(why string) (Path, error) { return Path{}, fmt.Errorf("hl7v2: path %q: %s", s, why) }
	if len(s) < 3 {
		return bad("want a segment ID such as PID")
	}
	p.Segment = s[:3]
	for _, c := range []byte(p.Segment) {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return bad("segment ID must be upper-case letters and digits")
		}
	}
	rest := s[3:]
	var err error
	if p.Occurrence, rest, err = index(rest); err != nil {
		return bad(err.Error())
	}
	if rest == "" {
		return p, nil
	}
	if rest[0] != '-' {
		return bad("want '-' and a field number after the segment")
	}
	if p.Field, rest, err = number(rest[1:]); err != nil {
		return bad("field: " + err.Error())
	}
	if p.Rep, rest, err = index(rest); err != nil {
		return bad(err.Error())
	}
	if rest != "" {
		if rest[0] != '.' {
			return bad("want '.' and a component number")
		}
		if p.Component, rest, err = number(rest[1:]); err != nil {
			return bad("component: " + err.Error())
		}
	}
	if rest != "" {
		if rest[0] != '.' {
			return bad("want '.' and a subcomponent number")
		}
		if p.Sub, rest, err = number(rest[1:]); err != nil {
			return bad("subcomponent: " + err.Error())
		}
	}
	if rest != "" {
		return bad("unexpected " + strconv.Quote(rest))
	}
	return p, nil
}

// number reads a positive decimal number of at most 5 digits.
func number(s string) (int, string, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 || i > 5 {
		return 0, s, errorString("want a number from 1 to 99999")
	}
	n, _ := strconv.Atoi(s[:i])
	if n == 0 {
		return 0, s, errorString("numbers start at 1")
	}
	return n, s[i:], nil
}

// index reads an optional [n] or (n).
func index(s string) (int, string, error) {
	if s == "" || (s[0] != '[' && s[0] != '(') {
		return 0, s, nil
	}
	closer := byte(']')
	if s[0] == '(' {
		closer = ')'
	}
	n, rest, err := number(s[1:])
	if err != nil {
		return 0, s, err
	}
	if rest == "" || rest[0] != closer {
		return 0, s, errorString("unclosed index")
	}
	return n, rest[1:], nil
}

// String writes the path back in the SEG[n]-F[r].C.S form.
func (p Path) String() string {
	s := p.Segment
	if p.Occurrence > 0 {
		s += "[" + strconv.Itoa(p.Occurrence) + "]"
	}
	if p.Field == 0 {
		return s
	}
	s += "-" + strconv.Itoa(p.Field)
	if p.Rep > 0 {
		s += "[" + strconv.Itoa(p.Rep) + "]"
	}
	if p.Component > 0 {
		s += "." + strconv.Itoa(p.Component)
		if p.Sub > 0 {
			s += "." + strconv.Itoa(p.Sub)
		}
	}
	return s
}

// Value returns the value p addresses; missing parts give an empty Value.
func (m *Message) Value(p Path) Value {
	occ := p.Occurrence
	if occ == 0 {
		occ = 1
	}
	seg, ok := m.Find(p.Segment, occ)
	if !ok || p.Field == 0 {
		return Value{d: m.delims, level: levelField}
	}
	v := seg.Field(p.Field)
	if p.Rep > 0 {
		v = v.Rep(p.Rep)
	}
	if p.Component > 0 {
		v = v.Component(p.Component)
		if p.Sub > 0 {
			v = v.Sub(p.Sub)
		}
	}
	return v
}

// Lookup returns the value at a path written as text.
func (m *Message) Lookup(path string) (Value, error) {
	p, err := ParsePath(path)
	if err != nil {
		return Value{}, err
	}
	return m.Value(p), nil
}

// Get returns the decoded text at a path, or "" when the path is invalid
// or the value absent.
func (m *Message) Get(path string) string {
	v, err := m.Lookup(path)
	if err != nil {
		return ""
	}
	return v.String()
}
