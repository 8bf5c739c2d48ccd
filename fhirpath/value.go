package fhirpath

import (
	"strconv"
	"strings"

	"github.com/concord-health/concord/fhir"
)

// Kind is what a value is: an element of a FHIR document, or a FHIRPath
// System value.
type Kind uint8

// Value kinds.
const (
	KindNode     Kind = iota // an element or resource of a FHIR document
	KindBoolean              // System.Boolean
	KindString               // System.String
	KindInteger              // System.Integer
	KindLong                 // System.Long (FHIRPath 2.1 / R5)
	KindDecimal              // System.Decimal
	KindDate                 // System.Date
	KindDateTime             // System.DateTime
	KindTime                 // System.Time
	KindQuantity             // System.Quantity
	KindTypeInfo             // what type() gives: s holds namespace.name
)

var kindNames = [...]string{"node", "Boolean", "String", "Integer", "Long", "Decimal", "Date", "DateTime", "Time", "Quantity", "TypeInfo"}

// Value is one item of a collection.
type Value struct {
	kind  Kind
	scale int8   // Decimal and Quantity: digits after the point
	i     int64  // Boolean (0 or 1), Integer, Long; Decimal and Quantity: the coefficient
	s     string // String; Date, DateTime, Time as written (no @); Quantity: the unit
	// A document element: its JSON value (absent for a primitive given
	// only by extensions), the _name object of a primitive, its type and
	// its definition.
	ref JSONRef
	ext JSONRef
	typ *fhir.TypeDef
	def *fhir.ElementDef
}

// Constructors of System values.
func boolValue(b bool) Value {
	v := Value{kind: KindBoolean}
	if b {
		v.i = 1
	}
	return v
}
func stringValue(s string) Value { return Value{kind: KindString, s: s} }
func intValue(i int64) Value     { return Value{kind: KindInteger, i: i} }
func longValue(i int64) Value    { return Value{kind: KindLong, i: i} }
func decimalValue(d decimal) Value {
	return Value{kind: KindDecimal, i: d.c, scale: d.s}
}
func quantityValue(d decimal, unit string) Value {
	return Value{kind: KindQuantity, i: d.c, scale: d.s, s: unit}
}

// Kind returns the value's kind.
func (v Value) Kind() Kind { return v.kind }

func (v Value) bool() bool       { return v.i != 0 }
func (v Value) decimal() decimal { return decimal{c: v.i, s: v.scale} }

// isNode reports whether v is an element of a document.
func (v Value) isNode() bool { return v.kind == KindNode }

// TypeName returns the value's type as FHIRPath names it: System.X for
// System values, FHIR.x for elements of a document.
func (v Value) TypeName() string {
	if v.kind == KindNode {
		if v.typ == nil {
			return "FHIR.Element"
		}
		return "FHIR." + v.typ.Name
	}
	return "System." + kindNames[v.kind]
}

// system converts a document primitive to its System value (and returns
// other values as they are). ok is false for an element that is not a
// primitive or has no value.
func (v Value) system() (Value, bool) {
	if v.kind != KindNode {
		return v, true
	}
	if v.typ != nil && v.typ.Kind == fhir.KindComplex && v.typ.IsA("Quantity") && v.ref.doc != nil {
		return quantityOfNode(v.ref)
	}
	if v.typ == nil || v.typ.Kind != fhir.KindPrimitive || v.ref.doc == nil {
		return Value{}, false
	}
	r := v.ref
	switch v.typ.SystemType {
	case "System.Boolean":
		switch r.Kind() {
		case JSONTrue:
			return boolValue(true), true
		case JSONFalse:
			return boolValue(false), true
		}
		return Value{}, false
	case "System.Integer":
		n, err := strconv.ParseInt(string(r.Raw()), 10, 64)
		if r.Kind() != JSONNumber || err != nil {
			return Value{}, false
		}
		return intValue(n), true
	case "System.Decimal":
		d, err := parseDecimal(string(r.Raw()))
		if r.Kind() != JSONNumber || err != nil {
			return Value{}, false
		}
		return decimalValue(d), true
	case "System.Date":
		return Value{kind: KindDate, s: r.String()}, r.Kind() == JSONString
	case "System.DateTime":
		s := r.String()
		// A FHIR dateTime without a time is a FHIRPath DateTime too; an
		// instant always has one.
		return Value{kind: KindDateTime, s: s}, r.Kind() == JSONString
	case "System.Time":
		return Value{kind: KindTime, s: r.String()}, r.Kind() == JSONString
	}
	if r.Kind() != JSONString {
		return Value{}, false
	}
	return stringValue(r.String()), true
}

// quantityOfNode reads a FHIR Quantity (or Age, Duration …) as a System
// Quantity: its value, and its UCUM code (the unit text when there is no
// code). A Quantity without a value is not one.
func quantityOfNode(r JSONRef) (Value, bool) {
	val, ok := r.Get("value")
	if !ok || val.Kind() != JSONNumber {
		return Value{}, false
	}
	d, err := parseDecimal(string(val.Raw()))
	if err != nil {
		return Value{}, false
	}
	unit := ""
	if c, ok := r.Get("code"); ok {
		unit = c.String()
	} else if u, ok := r.Get("unit"); ok {
		unit = u.String()
	}
	if unit == "" {
		unit = "1"
	}
	return quantityValue(d, unit), true
}

// String writes a value as FHIRPath's toString() does.
func (v Value) String() string {
	s, ok := v.system()
	if !ok {
		return ""
	}
	switch s.kind {
	case KindBoolean:
		if s.bool() {
			return "true"
		}
		return "false"
	case KindString, KindDate, KindDateTime, KindTime:
		return s.s
	case KindInteger, KindLong:
		return strconv.FormatInt(s.i, 10)
	case KindDecimal:
		return s.decimal().String()
	case KindQuantity:
		return s.decimal().String() + " " + quoteUnit(s.s)
	}
	return ""
}

// quoteUnit writes a quantity's unit as in FHIRPath: calendar words bare,
// UCUM codes quoted.
func quoteUnit(u string) string {
	if calendarUnits[u] {
		return u
	}
	return "'" + strings.ReplaceAll(u, "'", "\\'") + "'"
}

// Collection is the result of an evaluation: an ordered list of values.
type Collection []Value

// Node returns the JSON of a value that is an element of a document; ok
// is false for a System value and for a primitive given only by
// extensions.
func (v Value) Node() (JSONRef, bool) {
	if v.kind != KindNode || v.ref.doc == nil {
		return JSONRef{}, false
	}
	return v.ref, true
}

// FHIRType returns the FHIR type of an element of a document (such as
// CodeableConcept or dateTime), or "" for a System value.
func (v Value) FHIRType() string {
	if v.kind != KindNode || v.typ == nil {
		return ""
	}
	return v.typ.Name
}
