package hl7v2

import "bytes"

// Levels of a Value in the tree of a field.
const (
	levelField = iota // a whole field: repetitions
	levelRep          // one repetition: components
	levelComp         // one component: subcomponents
	levelSub          // one subcomponent: text
	levelLeaf         // MSH-1 and MSH-2: never split, never unescaped
)

// Value is a field, repetition, component or subcomponent of a message: a
// view of its encoded bytes that knows its level. Asking for a part that
// is not there gives an empty Value.
type Value struct {
	raw   []byte
	d     Delimiters
	level int8
	plain bool // known to hold no escape character
}

// Raw returns the encoded bytes (escape sequences not decoded). The caller
// must not modify them.
func (v Value) Raw() []byte { return v.raw }

// IsEmpty reports whether the value has no content.
func (v Value) IsEmpty() bool { return len(v.raw) == 0 }

// IsNull reports whether the value is the HL7 null "" (two double
// quotes), which tells a receiver to delete what it holds.
func (v Value) IsNull() bool { return len(v.raw) == 2 && v.raw[0] == '"' && v.raw[1] == '"' }

// String returns the value with escape sequences decoded. Delimiters of
// the levels below the value stay as they are, so for a composite value
// read its components instead.
func (v Value) String() string {
	if v.level == levelLeaf || v.plain {
		return string(v.raw)
	}
	if bytes.IndexByte(v.raw, v.d.Escape) < 0 {
		return string(v.raw)
	}
	return string(Unescape(nil, v.raw, &v.d))
}

// AppendText appends the decoded value to dst and returns the result, so
// that callers can decode without allocating.
func (v Value) AppendText(dst []byte) []byte {
	if v.level == levelLeaf || v.plain {
		return append(dst, v.raw...)
	}
	return Unescape(dst, v.raw, &v.d)
}

func (v Value) delimiter() byte {
	switch v.level {
	case levelField:
		return v.d.Repetition
	case levelRep:
		return v.d.Component
	case levelComp:
		return v.d.Subcomponent
	}
	return 0
}

// count returns how many pieces v splits into at its next level.
func (v Value) count() int {
	if len(v.raw) == 0 {
		return 0
	}
	c := v.delimiter()
	if c == 0 {
		return 1
	}
	return bytes.Count(v.raw, []byte{c}) + 1
}

// child returns the n-th (1-based) piece of v at its next level.
func (v Value) child(n int) Value {
	next := Value{d: v.d, level: v.level + 1}
	c := v.delimiter()
	if c == 0 || n < 1 {
		if n == 1 {
			next.raw, next.level = v.raw, v.level
		}
		return next
	}
	next.raw = piece(v.raw, c, n)
	return next
}

// piece returns the n-th (1-based) part of b split on c, or nil.
func piece(b []byte, c byte, n int) []byte {
	start := 0
	for n > 1 {
		i := bytes.IndexByte(b[start:], c)
		if i < 0 {
			return nil
		}
		start += i + 1
		n--
	}
	if end := bytes.IndexByte(b[start:], c); end >= 0 {
		return b[start : start+end]
	}
	return b[start:]
}

// Reps returns the number of repetitions of a field (0 when empty).
func (v Value) Reps() int {
	if v.level != levelField {
		if len(v.raw) == 0 {
			return 0
		}
		return 1
	}
	return v.count()
}

// Rep returns repetition n (1-based) of a field. On a repetition or below,
// Rep(1) is the value itself.
func (v Value) Rep(n int) Value {
	if v.level != levelField {
		if n == 1 {
			return v
		}
		return Value{d: v.d, level: v.level}
	}
	return v.child(n)
}

// Components returns the number of components of the value (of its first
// repetition, for a field).
func (v Value) Components() int {
	switch v.level {
	case levelField:
		return v.Rep(1).count()
	case levelRep:
		return v.count()
	}
	if len(v.raw) == 0 {
		return 0
	}
	return 1
}

// Component returns component n (1-based). On a field it reads the first
// repetition, as HL7 paths do (PID-5.1 is the first name's family name).
// On a component or subcomponent, Component(1) is the value itself.
func (v Value) Component(n int) Value {
	switch v.level {
	case levelField:
		return v.Rep(1).child(n)
	case levelRep:
		return v.child(n)
	}
	if n == 1 {
		return v
	}
	return Value{d: v.d, level: levelSub}
}

// Subcomponents returns the number of subcomponents of the value (of its
// first component, for a field or repetition).
func (v Value) Subcomponents() int {
	switch v.level {
	case levelField, levelRep:
		return v.Component(1).count()
	case levelComp:
		return v.count()
	}
	if len(v.raw) == 0 {
		return 0
	}
	return 1
}

// Sub returns subcomponent n (1-based) of a component. On a field or
// repetition it reads the first component.
func (v Value) Sub(n int) Value {
	switch v.level {
	case levelField, levelRep:
		return v.Component(1).child(n)
	case levelComp:
		return v.child(n)
	}
	if n == 1 {
		return v
	}
	return Value{d: v.d, level: levelSub}
}

// eachPart yields the pieces of v at its next level in one pass over its
// bytes: repetitions of a field, components of a repetition,
// subcomponents of a component. A subcomponent yields itself.
func (v Value) eachPart(yield func(Value) bool) {
	c := v.delimiter()
	if len(v.raw) == 0 {
		return
	}
	if c == 0 {
		yield(v)
		return
	}
	b := v.raw
	for {
		i := bytes.IndexByte(b, c)
		if i < 0 {
			yield(Value{raw: b, d: v.d, level: v.level + 1})
			return
		}
		if !yield(Value{raw: b[:i], d: v.d, level: v.level + 1}) {
			return
		}
		b = b[i+1:]
	}
}

// EachRep yields the repetitions of a field in one pass; use it as
// "for rep := range field.EachRep". On a repetition or below it yields the
// value itself.
func (v Value) EachRep(yield func(Value) bool) {
	if v.level != levelField {
		Value{raw: v.raw, d: v.d, level: levelSub}.eachPart(yield)
		return
	}
	v.eachPart(yield)
}

// EachComponent yields the components of a repetition (of the first
// repetition, for a field) in one pass.
func (v Value) EachComponent(yield func(Value) bool) {
	switch v.level {
	case levelField:
		v.Rep(1).eachPart(yield)
	case levelRep:
		v.eachPart(yield)
	default:
		Value{raw: v.raw, d: v.d, level: levelSub}.eachPart(yield)
	}
}

// EachSub yields the subcomponents of a component in one pass.
func (v Value) EachSub(yield func(Value) bool) {
	switch v.level {
	case levelField, levelRep:
		v.Component(1).eachPart(yield)
	default:
		v.eachPart(yield)
	}
}

// Leaf is one subcomponent of a field with its position: repetition,
// component and subcomponent numbers, each from 1.
type Leaf struct {
	Rep, Component, Sub int
	Value               Value
}

// EachLeaf yields every subcomponent of a field, empty ones included, with
// its position, in one pass over the field's bytes: the fast way to read
// a whole field. Use it as "for leaf := range field.EachLeaf".
func (v Value) EachLeaf(yield func(Leaf) bool) {
	if len(v.raw) == 0 {
		return
	}
	if v.level == levelLeaf {
		yield(Leaf{1, 1, 1, v})
		return
	}
	d := v.d
	rd, cd, sd, ed := d.Repetition, d.Component, d.Subcomponent, d.Escape
	switch v.level {
	case levelRep:
		rd = 0
	case levelComp:
		rd, cd = 0, 0
	case levelSub:
		rd, cd, sd = 0, 0, 0
	}
	b := v.raw
	rep, comp, sub, start := 1, 1, 1, 0
	plain := true
	emit := func(end int) bool {
		return yield(Leaf{rep, comp, sub, Value{raw: b[start:end], d: d, level: levelSub, plain: plain}})
	}
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == ed:
			plain = false
		case c == sd && sd != 0:
			if !emit(i) {
				return
			}
			sub, start, plain = sub+1, i+1, true
		case c == cd && cd != 0:
			if !emit(i) {
				return
			}
			comp, sub, start, plain = comp+1, 1, i+1, true
		case c == rd && rd != 0:
			if !emit(i) {
				return
			}
			rep, comp, sub, start, plain = rep+1, 1, 1, i+1, true
		}
	}
	emit(len(b))
}
