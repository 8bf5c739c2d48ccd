package validate

import (
	"errors"
	"sync"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/fhir"
	"github.com/concord-health/concord/fhirpath"
)

// rewritten replaces the expressions of constraints whose R4 text fails
// on valid data or costs too much, keeping their meaning. R4's tim-9 uses
// `when in (...)`, an error when when repeats (this is the later
// versions' form). R4's dom-3 uses descendants().as(canonical), an error
// on more than one item (R4B reads ofType), and walks the resource's
// descendants four times for each contained resource: here the
// descendants and the references among them are collected once (the
// context of dom-3 is the resource, so its descendants are %resource's).
var rewritten = map[string]string{
	"tim-9": "offset.empty() or (when.exists() and when.select($this in ('C' | 'CM' | 'CD' | 'CV')).allFalse())",
	"dom-3": "defineVariable('d', descendants()).defineVariable('refs', %d.reference | %d.ofType(canonical) | %d.ofType(uri) | %d.ofType(url))" +
		".contained.where((('#'+id in %refs) or descendants().where(reference = '#').exists() or " +
		"descendants().where(ofType(canonical) = '#').exists()).not()).empty()",
}

// native are the constraints checked without FHIRPath. ele-1 (a value or
// children) holds for nearly every element and costs most if evaluated;
// the walk checks it from the JSON directly.
var native = map[string]bool{"ele-1": true}

// invariant is a constraint compiled once.
type invariant struct {
	c   *fhir.Constraint
	x   *fhirpath.Expression
	err error // the expression does not compile
}

// invariantKey identifies the constraints that apply to an element: those
// of its definition and those of its type.
type invariantKey struct {
	def *fhir.ElementDef
	typ *fhir.TypeDef
}

var invariants = struct {
	sync.RWMutex
	byConstraint map[*fhir.Constraint]*invariant
	byElement    map[invariantKey][]*invariant
}{byConstraint: map[*fhir.Constraint]*invariant{}, byElement: map[invariantKey][]*invariant{}}

// invariantsFor returns the compiled constraints of an element of type
// typ defined by def, without those checked natively, each key once.
func invariantsFor(def *fhir.ElementDef, typ *fhir.TypeDef) []*invariant {
	k := invariantKey{def, typ}
	invariants.RLock()
	list, ok := invariants.byElement[k]
	invariants.RUnlock()
	if ok {
		return list
	}
	invariants.Lock()
	defer invariants.Unlock()
	if list, ok := invariants.byElement[k]; ok {
		return list
	}
	seen := map[string]bool{}
	add := func(cs []*fhir.Constraint) {
		for _, c := range cs {
			if native[c.Key] || seen[c.Key] {
				continue
			}
			seen[c.Key] = true
			inv := invariants.byConstraint[c]
			if inv == nil {
				expr := c.Expression
				if r, ok := rewritten[c.Key]; ok {
					expr = r
				}
				inv = &invariant{c: c}
				inv.x, inv.err = fhirpath.Compile(expr)
				invariants.byConstraint[c] = inv
			}
			list = append(list, inv)
		}
	}
	if def != nil {
		add(def.Constraints)
	}
	if typ != nil && typ.Root() != def {
		add(typ.Root().Constraints)
	}
	invariants.byElement[k] = list
	return list
}

// constraintIn returns the constraint key of def or of typ's root, nil
// when neither has it.
func constraintIn(def *fhir.ElementDef, typ *fhir.TypeDef, key string) *fhir.Constraint {
	for _, e := range []*fhir.ElementDef{def, rootOf(typ)} {
		if e == nil {
			continue
		}
		for _, c := range e.Constraints {
			if c.Key == key {
				return c
			}
		}
	}
	return nil
}

func rootOf(t *fhir.TypeDef) *fhir.ElementDef {
	if t == nil {
		return nil
	}
	return t.Root()
}

// invariants evaluates the constraints of an element (val and its twin
// ext; a resource when def is its type's root) on it. A constraint that
// does not hold gives an issue of its severity; one that cannot be
// evaluated gives a warning.
func (v *validator) invariants(val, ext fhirpath.JSONRef, typ *fhir.TypeDef, def *fhir.ElementDef) {
	list := invariantsFor(def, typ)
	if len(list) == 0 || v.full {
		return
	}
	var in fhirpath.Collection
	if typ != nil && typ.Kind == fhir.KindResource && def == typ.Root() {
		in = v.res
	} else {
		in = fhirpath.Element(val, ext, typ, def)
	}
	if len(in) == 0 {
		return
	}
	for _, inv := range list {
		if v.outOfWork {
			return
		}
		if v.contained && inv.c.Key == "dom-6" {
			continue
		}
		if inv.err != nil {
			v.add(concord.SeverityWarning, CodeInvariant, "", "%s could not be checked: %v", inv.c.Key, inv.err)
			continue
		}
		if v.ctx != nil && v.ctx.Err() != nil {
			v.outOfWork = true
			v.add(concord.SeverityWarning, CodeTooCostly, "", "invariants from here on were not checked: %v", v.ctx.Err())
			return
		}
		left := v.budget - v.steps
		if left <= 0 {
			v.outOfWork = true
			v.add(concord.SeverityWarning, CodeTooCostly, "", "invariants from here on were not checked: the work limit of one validation was reached")
			return
		}
		v.opt.MaxSteps = min(left, maxStepsPerInvariant)
		out, err := inv.x.EvaluateOn(in, v.res, &v.opt)
		if err != nil {
			if errors.Is(err, fhirpath.ErrTooMuchWork) && v.steps >= v.budget {
				continue // reported on the next one
			}
			if v.ctx != nil && v.ctx.Err() != nil {
				v.outOfWork = true
				v.add(concord.SeverityWarning, CodeTooCostly, "", "invariants from here on were not checked: %v", v.ctx.Err())
				return
			}
			v.add(concord.SeverityWarning, CodeInvariant, "", "%s could not be checked: %v", inv.c.Key, err)
			continue
		}
		if holds(out) {
			continue
		}
		sev := concord.SeverityError
		if inv.c.Severity == "warning" {
			sev = concord.SeverityWarning
		}
		v.add(sev, CodeInvariant, "", "%s: %s (%s)", inv.c.Key, inv.c.Human, inv.c.Expression)
	}
}

// holds tells whether an invariant's result lets it pass: anything but
// a single false (empty means it could not be decided, which passes).
func holds(out fhirpath.Collection) bool {
	if len(out) != 1 {
		return true
	}
	k := out[0].Kind()
	if k != fhirpath.KindBoolean && (k != fhirpath.KindNode || out[0].TypeName() != "FHIR.boolean") {
		return true
	}
	return out[0].String() != "false"
}
