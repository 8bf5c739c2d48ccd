package validate

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/fhir"
	"github.com/concord-health/concord/fhirpath"
)

// validator is the state of one validation.
type validator struct {
	ctx             context.Context
	issues          []concord.Issue
	errors          int
	warnings        int
	droppedWarnings int
	full            bool // MaxIssues errors: stop

	// path is the FHIRPath of the element being checked, grown and cut
	// as the walk goes; it becomes a string only for an issue.
	path []byte
	// res is the resource being checked (%resource for its invariants).
	res fhirpath.Collection
	// scratch holds the members of the object at each depth.
	scratch [][]member

	contained bool // the resource whose invariants are evaluated is contained

	opt       fhirpath.Options
	steps     int  // spent on invariants
	budget    int  // steps allowed
	outOfWork bool // budget spent
}

// member is one element of an object: its value and its _name twin,
// under the JSON name without the underscore.
type member struct {
	name     string
	val, ext fhirpath.JSONRef
	hasVal   bool
	hasExt   bool
	def      *fhir.ElementDef
	count    int // values it gives (items of an array)
}

// add records an issue at the current path, or at the path plus suffix
// (such as ".status" for a missing element).
func (v *validator) add(severity, code, suffix, format string, args ...any) {
	if v.full {
		return
	}
	if severity == concord.SeverityError {
		if v.errors == MaxIssues {
			v.full = true
			return
		}
		v.errors++
	} else {
		if v.warnings == MaxIssues {
			v.droppedWarnings++
			return
		}
		v.warnings++
	}
	v.issues = append(v.issues, concord.Issue{Severity: severity, Code: code,
		Expression: string(v.path) + suffix, Diagnostics: fmt.Sprintf(format, args...)})
}

func (v *validator) errorf(code, format string, args ...any) {
	v.add(concord.SeverityError, code, "", format, args...)
}

// push appends .name to the path and returns the length to cut back to.
func (v *validator) push(name string) int {
	n := len(v.path)
	if n > 0 {
		v.path = append(v.path, '.')
	}
	v.path = append(v.path, name...)
	return n
}

// pushIndex appends [i] to the path.
func (v *validator) pushIndex(i int) int {
	n := len(v.path)
	v.path = append(v.path, '[')
	v.path = strconv.AppendInt(v.path, int64(i), 10)
	v.path = append(v.path, ']')
	return n
}

func (v *validator) pop(n int) { v.path = v.path[:n] }

// resource checks a resource: at the top, contained, in a Bundle entry or
// a Parameters parameter. The path is where it is (empty at the top,
// where the resource type starts it). A contained resource is not asked
// for its own narrative (dom-6): its container's covers it.
func (v *validator) resource(r fhirpath.JSONRef, contained bool) {
	top := len(v.path) == 0
	if r.Kind() != fhirpath.JSONObject {
		v.errorf(CodeStructure, "a resource must be a JSON object, not %s", kindName(r.Kind()))
		return
	}
	rt, ok := r.Get("resourceType")
	if !ok || rt.Kind() != fhirpath.JSONString {
		v.errorf(CodeStructure, "a resource must have a resourceType string")
		return
	}
	name := rt.String()
	t, ok := fhir.Type(name)
	if !ok || !fhir.IsResource(name) {
		v.errorf(CodeStructure, "%q is not an R4 resource type", clip(name))
		return
	}
	if top {
		v.push(name)
		defer v.pop(0)
	}
	saved, savedRoot := v.res, v.opt.RootResource
	v.res, _ = fhirpath.Resource(r)
	if contained {
		// %rootResource is the container for a contained resource's
		// invariants (ref-1 looks for #id among the container's contained).
		v.opt.RootResource = saved
	} else {
		v.opt.RootResource = nil
	}
	v.object(r, t.Root(), t, true)
	v.contained = contained
	v.invariants(r, fhirpath.JSONRef{}, t, t.Root())
	v.contained = false
	v.res, v.opt.RootResource = saved, savedRoot
}

// object checks the members of a JSON object: an element whose children
// are defined inline (def: a backbone element, or a resource's root) or
// by its type (typ).
func (v *validator) object(obj fhirpath.JSONRef, def *fhir.ElementDef, typ *fhir.TypeDef, isResource bool) {
	if v.full {
		return
	}
	depth := len(v.scratch)
	if depth < cap(v.scratch) {
		v.scratch = v.scratch[:depth+1] // the slice this depth used before
	} else {
		v.scratch = append(v.scratch, nil)
	}
	ms := v.gather(obj, isResource, v.scratch[depth][:0])
	for i := range ms {
		v.member(&ms[i], def, typ)
		if v.full {
			break
		}
	}
	if !v.full {
		v.cardinality(ms, def, typ)
	}
	clear(ms)
	v.scratch[depth] = ms[:0]
	v.scratch = v.scratch[:depth]
}

// gather collects an object's members, each value with its _name twin.
func (v *validator) gather(obj fhirpath.JSONRef, isResource bool, ms []member) []member {
	var index map[string]int // for objects too large to search linearly
	if obj.Len() > 64 {
		index = make(map[string]int, obj.Len())
	}
	obj.Each(func(key string, val fhirpath.JSONRef) bool {
		if isResource && key == "resourceType" {
			return true
		}
		name, twin := key, false
		if len(key) > 1 && key[0] == '_' {
			name, twin = key[1:], true
		}
		at := -1
		if index != nil {
			if i, ok := index[name]; ok {
				at = i
			}
		} else {
			for i := range ms {
				if ms[i].name == name {
					at = i
					break
				}
			}
		}
		if at < 0 {
			at = len(ms)
			ms = append(ms, member{name: name})
			if index != nil {
				index[name] = at
			}
		}
		m := &ms[at]
		if (twin && m.hasExt) || (!twin && m.hasVal) {
			n := v.push(key)
			v.errorf(CodeStructure, "member %q appears twice", clip(key))
			v.pop(n)
			return !v.full
		}
		if twin {
			m.ext, m.hasExt = val, true
		} else {
			m.val, m.hasVal = val, true
		}
		return true
	})
	return ms
}

// lookup finds the child element name of an object defined by def or
// typ, with the type its JSON name selects.
func lookup(def *fhir.ElementDef, typ *fhir.TypeDef, name string) (*fhir.ElementDef, string, bool) {
	if def != nil {
		if dd := def.Definition(); len(dd.Children) > 0 {
			return dd.Child(name)
		}
	}
	if typ != nil {
		return typ.Root().Child(name)
	}
	return nil, "", false
}

// childDefs returns the child elements of an object defined by def or typ.
func childDefs(def *fhir.ElementDef, typ *fhir.TypeDef) []*fhir.ElementDef {
	if def != nil {
		if dd := def.Definition(); len(dd.Children) > 0 {
			return dd.Children
		}
	}
	if typ != nil {
		return typ.Root().Children
	}
	return nil
}

// member checks one member of an object (and its twin).
func (v *validator) member(m *member, def *fhir.ElementDef, typ *fhir.TypeDef) {
	n := v.push(m.name)
	defer v.pop(n)
	c, code, ok := lookup(def, typ, m.name)
	if ok && c.Owner.Kind == fhir.KindPrimitive && c.Name == "value" {
		ok = false // a primitive's value is the JSON value itself
	}
	if !ok {
		if m.hasVal {
			v.errorf(CodeStructure, "unknown element %q", clip(m.name))
		} else {
			v.errorf(CodeStructure, "unknown element %q", "_"+clip(m.name))
		}
		return
	}
	if c.IsChoice() && code == "" {
		base := strings.TrimSuffix(c.Name, "[x]")
		v.errorf(CodeStructure, "%s is a choice of types: name it with its type, such as %s%s", c.Name, base, upperFirst(c.Types[0].Code))
		return
	}
	m.def = c
	et := elementType(c, code)
	if m.hasExt && (et.def == nil || et.def.Kind != fhir.KindPrimitive) {
		v.errorf(CodeStructure, "_%s: only primitive elements have a _name member for id and extensions", m.name)
		m.hasExt = false
		if !m.hasVal {
			return
		}
	}
	if c.Max == 0 {
		v.errorf(CodeStructure, "%s is not allowed here (maximum 0)", c.Path)
		return
	}
	if c.IsArray() {
		v.array(m, c, et)
		return
	}
	if (m.hasVal && m.val.Kind() == fhirpath.JSONArray) || (m.hasExt && m.ext.Kind() == fhirpath.JSONArray) {
		v.errorf(CodeStructure, "%s has at most one value: it must not be a JSON array", c.Path)
		m.count = 1 // given, though wrongly: not also "required"
		return
	}
	if m.hasVal && m.val.Kind() == fhirpath.JSONNull {
		v.errorf(CodeStructure, "null is not a value (leave the element out)")
		m.hasVal = false
		if !m.hasExt {
			return
		}
	}
	m.count = 1
	v.value(c, et, m.val, m.hasVal, m.ext, m.hasExt)
}

// array checks a repeating element: a non-empty JSON array, aligned with
// its twin, nulls only where the twin has the item.
func (v *validator) array(m *member, c *fhir.ElementDef, et elemType) {
	for _, side := range [2]struct {
		has    bool
		r      fhirpath.JSONRef
		prefix string // "_" for the primitive's id and extensions
	}{{m.hasVal, m.val, ""}, {m.hasExt, m.ext, "_"}} {
		if !side.has {
			continue
		}
		if side.r.Kind() != fhirpath.JSONArray {
			v.errorf(CodeStructure, "%s repeats: %s%s must be a JSON array", c.Path, side.prefix, m.name)
			m.count = 1 // given, though wrongly: not also "required"
			return
		}
		if side.r.Len() == 0 {
			v.errorf(CodeStructure, "%s%s is an empty array (leave the element out)", side.prefix, m.name)
			return
		}
	}
	if m.hasVal && m.hasExt && m.val.Len() != m.ext.Len() {
		v.errorf(CodeStructure, "%s has %d items and _%s %d: they must match", m.name, m.val.Len(), m.name, m.ext.Len())
		m.count = m.val.Len()
		return
	}
	n := 0
	if m.hasVal {
		n = m.val.Len()
	} else {
		n = m.ext.Len()
	}
	// Walk both arrays in step (Index would make this quadratic).
	var exts []fhirpath.JSONRef
	if m.hasVal && m.hasExt {
		exts = make([]fhirpath.JSONRef, 0, n)
		m.ext.Each(func(_ string, x fhirpath.JSONRef) bool { exts = append(exts, x); return true })
	}
	i := 0
	visit := func(val fhirpath.JSONRef, hasVal bool, ext fhirpath.JSONRef, hasExt bool) bool {
		k := v.pushIndex(i)
		i++
		if hasVal && val.Kind() == fhirpath.JSONNull {
			hasVal = false
		}
		if hasExt && ext.Kind() == fhirpath.JSONNull {
			hasExt = false
		}
		if !hasVal && !hasExt {
			v.errorf(CodeStructure, "null item with no value in the other of %s and _%s", m.name, m.name)
		} else {
			v.value(c, et, val, hasVal, ext, hasExt)
		}
		v.pop(k)
		return !v.full
	}
	switch {
	case m.hasVal && m.hasExt:
		m.val.Each(func(_ string, x fhirpath.JSONRef) bool { return visit(x, true, exts[i], true) })
	case m.hasVal:
		m.val.Each(func(_ string, x fhirpath.JSONRef) bool { return visit(x, true, fhirpath.JSONRef{}, false) })
	default:
		m.ext.Each(func(_ string, x fhirpath.JSONRef) bool { return visit(fhirpath.JSONRef{}, false, x, true) })
	}
	m.count = n
	if c.Max > 1 && n > c.Max {
		v.errorf(CodeStructure, "%s has %d items, at most %d allowed", c.Path, n, c.Max)
	}
}

// value checks one value of an element (an item, for a repeating one):
// val and its twin ext, present as has says.
func (v *validator) value(c *fhir.ElementDef, et elemType, val fhirpath.JSONRef, hasVal bool, ext fhirpath.JSONRef, hasExt bool) {
	t := et.def
	switch {
	case t != nil && t.Kind == fhir.KindPrimitive:
		if hasVal {
			v.primitive(val, t)
		}
		if hasExt {
			if ext.Kind() != fhirpath.JSONObject {
				v.errorf(CodeStructure, "the _%s twin must be a JSON object with id and extension", c.Name)
				hasExt = false
			} else {
				v.object(ext, nil, t, false)
			}
		}
		if !hasVal && (!hasExt || !hasMember(ext, "extension")) {
			v.ele1(c, t)
		}
		v.invariants(val, ext, t, c)
		if hasVal && c.Binding.Strength == "required" && val.Kind() == fhirpath.JSONString {
			v.bindCode(c, val.String())
		}
	case et.resource:
		v.resource(val, c.Name == "contained")
	default:
		if val.Kind() != fhirpath.JSONObject {
			v.errorf(CodeStructure, "%s must be a JSON object, not %s", c.Path, kindName(val.Kind()))
			return
		}
		def := (*fhir.ElementDef)(nil)
		if et.backbone {
			def = c
		}
		v.object(val, def, t, false)
		if onlyID(val) {
			v.ele1(c, t)
		}
		v.invariants(val, fhirpath.JSONRef{}, t, c)
		if t != nil {
			switch t.Name {
			case "Coding", "CodeableConcept":
				if c.Binding.Strength == "required" {
					v.bindCoded(c, t.Name, val)
				}
			case "Reference":
				v.reference(val, et.ref)
			}
		}
	}
}

// cardinality checks the minimum of each child element and that a
// choice element is given once.
func (v *validator) cardinality(ms []member, def *fhir.ElementDef, typ *fhir.TypeDef) {
	for _, c := range childDefs(def, typ) {
		if c.Owner.Kind == fhir.KindPrimitive && c.Name == "value" {
			continue // in a _name twin: the value is beside it
		}
		count, names := 0, 0
		first := ""
		for i := range ms {
			if ms[i].def == c {
				count += ms[i].count
				names++
				if names == 1 {
					first = ms[i].name
				} else if c.IsChoice() {
					v.add(concord.SeverityError, CodeStructure, "."+ms[i].name, "%s is a choice: %s and %s cannot both be given", c.Name, first, ms[i].name)
				}
			}
		}
		if count < c.Min {
			name := strings.TrimSuffix(c.Name, "[x]") // a choice is named without [x] in FHIRPath
			if count == 0 {
				v.add(concord.SeverityError, CodeRequired, "."+name, "%s is required (minimum %d)", c.Path, c.Min)
			} else {
				v.add(concord.SeverityError, CodeRequired, "."+name, "%s needs at least %d items, has %d", c.Path, c.Min, count)
			}
		}
	}
}

// ele1 reports an element with neither a value nor children (ele-1).
func (v *validator) ele1(c *fhir.ElementDef, t *fhir.TypeDef) {
	if k := constraintIn(c, t, "ele-1"); k != nil {
		v.errorf(CodeInvariant, "ele-1: %s", k.Human)
	}
}

// onlyID tells whether an object has no member but id.
func onlyID(obj fhirpath.JSONRef) bool {
	empty := true
	obj.Each(func(name string, _ fhirpath.JSONRef) bool {
		if name != "id" {
			empty = false
		}
		return empty
	})
	return empty
}

func hasMember(obj fhirpath.JSONRef, name string) bool {
	if obj.Kind() != fhirpath.JSONObject {
		return false
	}
	_, ok := obj.Get(name)
	return ok
}

// kindName names a JSON kind for messages.
func kindName(k fhirpath.JSONKind) string {
	switch k {
	case fhirpath.JSONNull:
		return "null"
	case fhirpath.JSONFalse, fhirpath.JSONTrue:
		return "a boolean"
	case fhirpath.JSONNumber:
		return "a number"
	case fhirpath.JSONString:
		return "a string"
	case fhirpath.JSONArray:
		return "an array"
	}
	return "an object"
}

// clip shortens text from the input for a message.
func clip(s string) string {
	if len(s) <= 64 {
		return s
	}
	i := 64
	for i > 0 && s[i]&0xC0 == 0x80 {
		i--
	}
	return s[:i] + "…"
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
