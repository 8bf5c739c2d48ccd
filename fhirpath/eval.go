package fhirpath

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/concord-health/concord/fhir"
)

// DefaultMaxSteps bounds the work of one evaluation when Options gives no
// limit: each node visited and each function item counts one step.
const DefaultMaxSteps = 10_000_000

// ErrTooMuchWork is returned when an evaluation exceeds its step limit.
var ErrTooMuchWork = errors.New("fhirpath: evaluation exceeded its work limit")

// EvalError is an error raised while evaluating (a function given the
// wrong kind of input, a collection where one item is required …).
type EvalError struct {
	Pos int
	Msg string
}

func (e *EvalError) Error() string { return fmt.Sprintf("fhirpath: at %d: %s", e.Pos, e.Msg) }

func evalErrorf(pos int, format string, args ...any) error {
	return &EvalError{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// Resolver finds the resource a reference points to, for resolve().
type Resolver interface {
	Resolve(ctx context.Context, reference string) (*Doc, error)
}

// Terminology answers memberOf() and the %terminologies functions.
type Terminology interface {
	// MemberOf reports whether system|code is in the value set.
	MemberOf(ctx context.Context, valueSet, system, code string) (bool, error)
}

// Options are the inputs of one evaluation besides the resource.
type Options struct {
	// Context bounds the evaluation in time; nil means none.
	Context context.Context
	// Variables are the %name variables the caller defines, besides the
	// ones FHIRPath and FHIR define.
	Variables map[string]Collection
	// RootResource, when set, is %rootResource: the resource that contains
	// the one evaluated (a contained resource's container). Otherwise
	// %rootResource is %resource.
	RootResource Collection
	Resolver     Resolver
	Terminology  Terminology
	// MaxSteps bounds the work; 0 means DefaultMaxSteps.
	MaxSteps int
	// Now is the moment now(), today() and timeOfDay() give; the zero
	// time means the clock at the start of the evaluation.
	Now time.Time
	// Trace receives trace() output; nil drops it.
	Trace func(name string, c Collection)
	// Spent, when not nil, is increased by the steps the evaluation took
	// (also when it fails), so that a caller evaluating many expressions
	// can bound their total work by lowering MaxSteps as it goes.
	Spent *int
	// Strict makes navigation that the definitions do not allow an error
	// (FHIRPath's semantic checking): an element the type does not have,
	// a choice element named with its type (valueQuantity: write
	// value.ofType(Quantity)), or a path that starts with a type the
	// input is not.
	Strict bool
}

// Expression is a compiled expression. It is safe for concurrent use.
type Expression struct {
	src  string
	tree Node
	eval evalFn
}

type evalFn func(e *env, focus Collection) (Collection, error)

// env is the state of one evaluation.
type env struct {
	opt      *Options
	ctx      context.Context
	steps    int
	maxSteps int
	now      time.Time
	root     Collection // %resource, %rootResource, %context
	this     Collection // $this
	index    int        // $index
	total    Collection // $total (aggregate)
	vars     *scope     // variables from defineVariable, innermost first
}

// scope is one variable defined by defineVariable. Scopes are immutable:
// leaving an operand, an argument or an iteration restores the pointer.
type scope struct {
	name string
	val  Collection
	next *scope
}

func (e *env) lookup(name string) (Collection, bool) {
	for s := e.vars; s != nil; s = s.next {
		if s.name == name {
			return s.val, true
		}
	}
	return nil, false
}

// step counts work and checks the limits.
func (e *env) step(n int) error {
	e.steps += n
	if e.steps > e.maxSteps {
		return ErrTooMuchWork
	}
	if e.steps&0x3ff < n && e.ctx != nil {
		if err := e.ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// Compile parses and compiles an expression.
func Compile(expr string) (*Expression, error) {
	tree, err := Parse(expr)
	if err != nil {
		return nil, err
	}
	c := &compiler{}
	fn, err := c.compile(tree)
	if err != nil {
		return nil, err
	}
	return &Expression{src: expr, tree: tree, eval: fn}, nil
}

// MustCompile is Compile for expressions known to be valid; it panics
// on an error.
func MustCompile(expr string) *Expression {
	x, err := Compile(expr)
	if err != nil {
		panic(err)
	}
	return x
}

// String returns the expression as given.
func (x *Expression) String() string { return x.src }

// Evaluate evaluates the expression with a resource as its input (and as
// %resource, %rootResource and %context).
func (x *Expression) Evaluate(doc *Doc, opt *Options) (Collection, error) {
	root := Collection{}
	if doc != nil {
		v, err := resourceNode(doc.Root())
		if err != nil {
			return nil, err
		}
		root = Collection{v}
	}
	return x.EvaluateOn(root, root, opt)
}

// EvaluateOn evaluates the expression on an input collection, with
// resource as %resource.
func (x *Expression) EvaluateOn(input, resource Collection, opt *Options) (Collection, error) {
	if opt == nil {
		opt = &Options{}
	}
	e := &env{opt: opt, ctx: opt.Context, maxSteps: opt.MaxSteps, now: opt.Now, root: resource, this: input}
	if e.maxSteps <= 0 {
		e.maxSteps = DefaultMaxSteps
	}
	if e.now.IsZero() {
		e.now = time.Now()
	}
	out, err := x.eval(e, input)
	if opt.Spent != nil {
		*opt.Spent += e.steps
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// resourceNode makes a document's top-level resource a value, typed by
// its resourceType.
func resourceNode(r JSONRef) (Value, error) {
	rt, ok := r.Get("resourceType")
	if !ok || rt.Kind() != JSONString {
		return Value{}, errors.New("fhirpath: the input has no resourceType")
	}
	t, ok := fhir.Type(rt.String())
	if !ok || t.Kind != fhir.KindResource {
		return Value{}, fmt.Errorf("fhirpath: unknown resource type %q", rt.String())
	}
	return Value{kind: KindNode, ref: r, typ: t, def: t.Root()}, nil
}

// compiler turns a syntax tree into evaluation functions.
type compiler struct{}

func (c *compiler) compile(n Node) (evalFn, error) {
	switch n := n.(type) {
	case *Literal:
		return c.literal(n)
	case *Member:
		return c.member(n)
	case *Call:
		return c.call(n)
	case *Index:
		return c.index(n)
	case *Unary:
		return c.unary(n)
	case *Binary:
		return c.binary(n)
	case *TypeOp:
		return c.typeOp(n)
	case *Var:
		return c.variable(n)
	case *Special:
		return c.special(n)
	}
	return nil, fmt.Errorf("fhirpath: cannot compile %T", n)
}

// literal compiles a literal to a constant collection.
func (c *compiler) literal(n *Literal) (evalFn, error) {
	var v Value
	switch n.Kind {
	case LitEmpty:
		return func(*env, Collection) (Collection, error) { return nil, nil }, nil
	case LitBoolean:
		v = boolValue(n.Text == "true")
	case LitString:
		v = stringValue(n.Text)
	case LitInteger:
		i, ok := parseInt(n.Text)
		if !ok {
			return nil, &SyntaxError{Pos: n.At, Msg: "integer out of range: " + n.Text}
		}
		v = intValue(i)
	case LitLong:
		i, ok := parseInt(n.Text)
		if !ok {
			return nil, &SyntaxError{Pos: n.At, Msg: "long out of range: " + n.Text}
		}
		v = longValue(i)
	case LitDecimal:
		d, err := parseDecimal(n.Text)
		if err != nil {
			return nil, &SyntaxError{Pos: n.At, Msg: err.Error()}
		}
		v = decimalValue(d)
	case LitDate:
		if _, ok := parseDateText(n.Text); !ok {
			return nil, &SyntaxError{Pos: n.At, Msg: "bad date @" + n.Text}
		}
		v = Value{kind: KindDate, s: n.Text}
	case LitDateTime:
		t, ok := parseDateTimeText(n.Text)
		if !ok {
			return nil, &SyntaxError{Pos: n.At, Msg: "bad dateTime @" + n.Text}
		}
		v = Value{kind: KindDateTime, s: t.format()}
	case LitTime:
		if _, ok := parseTimeText(n.Text); !ok {
			return nil, &SyntaxError{Pos: n.At, Msg: "bad time @T" + n.Text}
		}
		v = Value{kind: KindTime, s: n.Text}
	case LitQuantity:
		d, err := parseDecimal(n.Text)
		if err != nil {
			return nil, &SyntaxError{Pos: n.At, Msg: err.Error()}
		}
		v = quantityValue(d, n.Unit)
	}
	out := Collection{v}
	return func(*env, Collection) (Collection, error) { return out, nil }, nil
}

func parseInt(s string) (int64, bool) {
	var n int64
	for i := 0; i < len(s); i++ {
		if n > (1<<63-1-int64(s[i]-'0'))/10 {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}

// member compiles navigation to a child element, or at the start of a
// path a type name that filters the focus (Patient.name).
func (c *compiler) member(n *Member) (evalFn, error) {
	name := n.Name
	typeFilter := n.Target == nil && name != "" && name[0] >= 'A' && name[0] <= 'Z'
	nav := func(e *env, focus Collection) (Collection, error) {
		var out Collection
		for _, v := range focus {
			if typeFilter {
				if v.isNode() && v.typ != nil && v.typ.IsA(name) {
					out = append(out, v)
					continue
				}
				if e.opt.Strict && v.isNode() {
					if _, isType := fhir.Type(name); isType {
						return nil, evalErrorf(n.At, "the input is a %s, not a %s", v.typ.Name, name)
					}
				}
			}
			if v.kind == KindTypeInfo && (name == "namespace" || name == "name") {
				ns, nm, _ := strings.Cut(v.s, ".")
				if name == "namespace" {
					out = append(out, stringValue(ns))
				} else {
					out = append(out, stringValue(nm))
				}
				continue
			}
			if !v.isNode() {
				continue
			}
			if e.opt.Strict {
				if err := checkChild(n.At, v, name); err != nil {
					return nil, err
				}
			}
			var err error
			if out, err = children(e, v, name, out); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	if n.Target == nil {
		return nav, nil
	}
	target, err := c.compile(n.Target)
	if err != nil {
		return nil, err
	}
	return func(e *env, focus Collection) (Collection, error) {
		in, err := target(e, focus)
		if err != nil || len(in) == 0 {
			return nil, err
		}
		return nav(e, in)
	}, nil
}

// checkChild is strict mode's check that an element of v's type may be
// called name.
func checkChild(pos int, v Value, name string) error {
	var d *fhir.ElementDef
	var typ string
	ok := false
	if v.def != nil {
		if dd := v.def.Definition(); len(dd.Children) > 0 {
			d, typ, ok = dd.Child(name)
		}
	}
	if !ok && v.typ != nil {
		d, typ, ok = v.typ.Root().Child(name)
	}
	if !ok {
		what := "this element"
		if v.typ != nil {
			what = v.typ.Name
		}
		return evalErrorf(pos, "%s has no element %s", what, name)
	}
	if d.IsChoice() && typ != "" && name != d.Name {
		return evalErrorf(pos, "%s is a choice: write %s.ofType(%s)", name, d.Name[:len(d.Name)-3], typ)
	}
	return nil
}

// children appends the child elements called name of a document element
// to out: each item of a repeating element, a choice element under each
// of its type names, a primitive with its _name extensions.
func children(e *env, v Value, name string, out Collection) (Collection, error) {
	if v.ref.doc == nil || v.ref.Kind() != JSONObject {
		// A primitive has id and extension in its _name object.
		if v.ext.doc != nil && (name == "id" || name == "extension") {
			return childrenOf(e, v.ext, v.typ, name, out)
		}
		return out, nil
	}
	return childrenOf(e, v.ref, v.typ, name, out, v.def)
}

// childrenOf looks up name in an object whose type is typ (and whose own
// definition, for an inline backbone element, is def).
func childrenOf(e *env, obj JSONRef, typ *fhir.TypeDef, name string, out Collection, def ...*fhir.ElementDef) (Collection, error) {
	var d *fhir.ElementDef
	var childType string
	ok := false
	if len(def) > 0 && def[0] != nil {
		if dd := def[0].Definition(); len(dd.Children) > 0 {
			d, childType, ok = dd.Child(name)
		}
	}
	if !ok && typ != nil {
		d, childType, ok = typ.Root().Child(name)
	}
	if !ok {
		return out, nil
	}
	if d.IsChoice() && childType == "" {
		// value: every value[x] present, typed by its name.
		base := strings.TrimSuffix(d.Name, "[x]")
		for _, t := range d.Types {
			key := t.ChoiceName
			if key == "" {
				key = base + strings.ToUpper(t.Code[:1]) + t.Code[1:]
			}
			var err error
			if out, err = appendElement(e, obj, key, d, t.Code, out); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return appendElement(e, obj, name, d, childType, out)
}

// appendElement appends the value(s) of member key of obj, defined by d
// with type code typeCode.
func appendElement(e *env, obj JSONRef, key string, d *fhir.ElementDef, typeCode string, out Collection) (Collection, error) {
	val, hasVal := obj.Get(key)
	ext, hasExt := JSONRef{}, false
	if typeCode == "" || isPrimitiveCode(typeCode) {
		ext, hasExt = obj.getExtension(key)
	}
	if !hasVal && !hasExt {
		return out, nil
	}
	typ := typeOf(d, typeCode)
	add := func(v, x JSONRef) error {
		if err := e.step(1); err != nil {
			return err
		}
		if v.doc != nil && v.Kind() == JSONNull {
			v = JSONRef{}
		}
		if x.doc != nil && x.Kind() != JSONObject {
			x = JSONRef{}
		}
		if v.doc == nil && x.doc == nil {
			return nil
		}
		item := Value{kind: KindNode, ref: v, ext: x, typ: typ, def: d}
		if typ != nil && typ.Name == "Resource" && v.doc != nil {
			// A contained or bundled resource has the type it says.
			if r, err := resourceNode(v); err == nil {
				item.typ, item.def = r.typ, r.def
			}
		}
		out = append(out, item)
		return nil
	}
	// Arrays are walked item by item (Index would make a long one
	// quadratic), the _name array in step with the values.
	var err error
	switch {
	case hasVal && val.Kind() == JSONArray:
		var xs []JSONRef
		if hasExt && ext.Kind() == JSONArray {
			xs = make([]JSONRef, 0, ext.Len())
			ext.Each(func(_ string, x JSONRef) bool { xs = append(xs, x); return true })
		}
		i := 0
		val.Each(func(_ string, v JSONRef) bool {
			var x JSONRef
			if i < len(xs) {
				x = xs[i]
			}
			i++
			err = add(v, x)
			return err == nil
		})
	case !hasVal && hasExt && ext.Kind() == JSONArray:
		ext.Each(func(_ string, x JSONRef) bool {
			err = add(JSONRef{}, x)
			return err == nil
		})
	default:
		err = add(val, ext)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// typeOf returns the FHIR type of an element with the given type code.
func typeOf(d *fhir.ElementDef, code string) *fhir.TypeDef {
	switch {
	case code == "":
		if len(d.Types) == 1 {
			code = d.Types[0].Code
		} else if d.ContentRef != "" || len(d.Children) > 0 {
			code = "BackboneElement"
		}
	case strings.HasPrefix(code, "System."):
		// Resource.id, Element.id and Extension.url have System types in
		// the definitions; FHIRPath sees them as id, string and uri.
		switch d.Path {
		case "Extension.url":
			code = "uri"
		case "Element.id":
			code = "string"
		default:
			if strings.HasSuffix(d.Path, ".id") && d.Owner != nil && d.Owner.Kind == fhir.KindResource {
				code = "id"
			} else {
				code = "string"
			}
		}
	}
	t, _ := fhir.Type(code)
	return t
}

func isPrimitiveCode(code string) bool {
	if strings.HasPrefix(code, "System.") {
		return true
	}
	return code != "" && code[0] >= 'a' && code[0] <= 'z'
}

// index compiles Target[Index].
func (c *compiler) index(n *Index) (evalFn, error) {
	target, err := c.compile(n.Target)
	if err != nil {
		return nil, err
	}
	idx, err := c.compile(n.Index)
	if err != nil {
		return nil, err
	}
	return func(e *env, focus Collection) (Collection, error) {
		in, err := target(e, focus)
		if err != nil {
			return nil, err
		}
		k, err := idx(e, focus)
		if err != nil {
			return nil, err
		}
		i, ok, err := singletonInt(n.At, k)
		if err != nil || !ok {
			return nil, err
		}
		if i < 0 || i >= int64(len(in)) {
			return nil, nil
		}
		return Collection{in[i]}, nil
	}, nil
}

// variable compiles %name.
func (c *compiler) variable(n *Var) (evalFn, error) {
	name := n.Name
	var constant Collection
	switch {
	case name == "ucum":
		constant = Collection{stringValue("http://unitsofmeasure.org")}
	case name == "sct":
		constant = Collection{stringValue("http://snomed.info/sct")}
	case name == "loinc":
		constant = Collection{stringValue("http://loinc.org")}
	case strings.HasPrefix(name, "vs-"):
		constant = Collection{stringValue("http://hl7.org/fhir/ValueSet/" + name[3:])}
	case strings.HasPrefix(name, "ext-"):
		constant = Collection{stringValue("http://hl7.org/fhir/StructureDefinition/" + name[4:])}
	}
	return func(e *env, focus Collection) (Collection, error) {
		if v, ok := e.lookup(name); ok {
			return v, nil
		}
		if v, ok := e.opt.Variables[name]; ok {
			return v, nil
		}
		switch name {
		case "rootResource":
			if e.opt.RootResource != nil {
				return e.opt.RootResource, nil
			}
			return e.root, nil
		case "resource", "context":
			return e.root, nil
		}
		if constant != nil {
			return constant, nil
		}
		return nil, evalErrorf(n.At, "undefined variable %%%s", name)
	}, nil
}

// special compiles $this, $index and $total.
func (c *compiler) special(n *Special) (evalFn, error) {
	switch n.Name {
	case "this":
		return func(e *env, focus Collection) (Collection, error) { return e.this, nil }, nil
	case "index":
		return func(e *env, focus Collection) (Collection, error) { return Collection{intValue(int64(e.index))}, nil }, nil
	default:
		return func(e *env, focus Collection) (Collection, error) { return e.total, nil }, nil
	}
}

// singletonInt reads a collection that must be empty or one integer.
func singletonInt(pos int, c Collection) (int64, bool, error) {
	if len(c) == 0 {
		return 0, false, nil
	}
	if len(c) > 1 {
		return 0, false, evalErrorf(pos, "expected one integer, got %d items", len(c))
	}
	v, ok := c[0].system()
	if !ok || (v.kind != KindInteger && v.kind != KindLong) {
		return 0, false, evalErrorf(pos, "expected an integer, got %s", c[0].TypeName())
	}
	return v.i, true, nil
}

// Resource returns the resource at r (a top-level resource, or one
// inside a Bundle entry or contained) as an evaluation input, typed by its
// resourceType.
func Resource(r JSONRef) (Collection, error) {
	v, err := resourceNode(r)
	if err != nil {
		return nil, err
	}
	return Collection{v}, nil
}

// Element returns an element of a document as an evaluation input, for
// evaluating an element's invariants on it: val is its JSON value (the
// zero JSONRef for a primitive given only by extensions), ext the _name
// object of a primitive (the zero JSONRef when it has none), typ its type
// and def its definition. A null value counts as absent; the collection
// is empty when nothing is left.
func Element(val, ext JSONRef, typ *fhir.TypeDef, def *fhir.ElementDef) Collection {
	if val.doc != nil && val.Kind() == JSONNull {
		val = JSONRef{}
	}
	if ext.doc != nil && ext.Kind() != JSONObject {
		ext = JSONRef{}
	}
	if val.doc == nil && ext.doc == nil {
		return Collection{}
	}
	return Collection{{kind: KindNode, ref: val, ext: ext, typ: typ, def: def}}
}
