package fhirpath

import "github.com/concord-health/concord/fhir"

// typeOp compiles x is T and x as T.
func (c *compiler) typeOp(n *TypeOp) (evalFn, error) {
	x, err := c.compile(n.X)
	if err != nil {
		return nil, err
	}
	ts := n.Type
	if n.Op == "is" {
		return func(e *env, focus Collection) (Collection, error) {
			in, err := x(e, focus)
			if err != nil || len(in) == 0 {
				return nil, err
			}
			if len(in) > 1 {
				return nil, evalErrorf(n.At, "is wants one item, got %d", len(in))
			}
			return Collection{boolValue(isType(in[0], ts))}, nil
		}, nil
	}
	return func(e *env, focus Collection) (Collection, error) {
		in, err := x(e, focus)
		if err != nil {
			return nil, err
		}
		return asType(n.At, in, ts)
	}, nil
}

// ofType keeps the items of type ts. For FHIR primitives the type must be
// exactly ts: a code is a string for is, but as(string) and
// ofType(string) do not select it (the R4 suite's testFHIRPathIsFunction2
// and testFHIRPathAsFunction11 and 16).
func ofType(in Collection, ts TypeSpec) Collection {
	var out Collection
	for _, v := range in {
		if isType(v, ts) && (!isPrimitiveNode(v) || v.typ.Name == ts.Name) {
			out = append(out, v)
		}
	}
	return out
}

// asType is as: like ofType on one item; more than one is an error.
func asType(pos int, in Collection, ts TypeSpec) (Collection, error) {
	if len(in) > 1 {
		return nil, evalErrorf(pos, "as on %d items (use ofType)", len(in))
	}
	return ofType(in, ts), nil
}

// isType reports whether v is of type ts or a type derived from it
// (FHIRPath 2.0 section 6.3). System values are System types; elements
// of a document are FHIR types (a FHIR boolean is not a System.Boolean).
// An unqualified name is looked up as a FHIR type for elements and as a
// System type for System values.
func isType(v Value, ts TypeSpec) bool {
	if v.isNode() {
		if ts.Namespace == "System" || v.typ == nil {
			return false
		}
		return v.typ.IsA(ts.Name)
	}
	if ts.Namespace == "FHIR" {
		return false
	}
	return kindNames[v.kind] == ts.Name || (ts.Name == "Any" && ts.Namespace == "System")
}

// typeSpecOf reads a type specifier given as a function argument
// (ofType(Quantity), is(FHIR.string)).
func typeSpecOf(n Node) (TypeSpec, bool) {
	switch n := n.(type) {
	case *Member:
		if n.Target == nil {
			return TypeSpec{Name: n.Name}, true
		}
		if t, ok := n.Target.(*Member); ok && t.Target == nil {
			return TypeSpec{Namespace: t.Name, Name: n.Name}, true
		}
	}
	return TypeSpec{}, false
}

// knownType reports whether a type specifier names a type at all.
func knownType(ts TypeSpec) bool {
	if ts.Namespace == "System" {
		return true // an unknown System type is simply not the type of anything
	}
	if ts.Namespace != "FHIR" {
		for _, k := range kindNames[1:] {
			if k == ts.Name {
				return true
			}
		}
		if ts.Namespace == "System" {
			return ts.Name == "Any"
		}
	}
	_, ok := fhir.Type(ts.Name)
	return ok
}
