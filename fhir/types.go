package fhir

import (
	"slices"
	"strings"

	"github.com/concord-health/concord/fhir/internal/defs"
)

// Kinds of types.
const (
	KindPrimitive = "primitive-type"
	KindComplex   = "complex-type"
	KindResource  = "resource"
	KindLogical   = "logical"
)

// TypeDef is a FHIR type: a primitive, a complex type, a resource
// (abstract ones included: Resource, DomainResource, Element,
// BackboneElement) or a profile of a type (SimpleQuantity, MoneyQuantity).
type TypeDef struct {
	Name     string
	URL      string
	Kind     string   // KindPrimitive, KindComplex, KindResource or KindLogical
	Base     string   // the base type's name; empty for Element and Resource
	BaseType *TypeDef // the base type; nil for Element and Resource
	Abstract bool
	// Profile is true for a constraint on another type (SimpleQuantity
	// and MoneyQuantity constrain Quantity); its elements are named after
	// the profile (SimpleQuantity.value).
	Profile bool
	// SystemType is, for a primitive, the FHIRPath System type its value
	// has: System.Boolean, System.Integer, System.Decimal, System.String,
	// System.Date, System.DateTime or System.Time.
	SystemType string
	// Regex is, for a primitive, the pattern its value must match in full,
	// as the specification gives it (empty when it gives none).
	Regex string
	// Elements are all elements of the type in definition order, inherited
	// ones included; Elements[0] is the root, whose path is the type name.
	Elements []*ElementDef

	byPath map[string]*ElementDef
}

// ElementDef is one element of a type.
type ElementDef struct {
	Path string // e.g. Patient.contact.name or Observation.value[x]
	Name string // the last part of the path, e.g. name or value[x]
	Min  int
	Max  int // -1 for *
	// Types are the allowed types. A choice element (value[x]) has one per
	// choice; an element with a content reference has none.
	Types []TypeRef
	// ContentRef is a content reference such as #Questionnaire.item: the
	// element has the definition of that element; Ref points to it.
	ContentRef  string
	Ref         *ElementDef
	IsModifier  bool
	IsSummary   bool
	Binding     Binding // Strength is empty when there is none
	Constraints []*Constraint
	// Children are the element's child elements in definition order (for a
	// content reference, those of the referenced element). Elements whose
	// children come from their type (Patient.name, a HumanName) have none:
	// look the type up.
	Children []*ElementDef
	Owner    *TypeDef

	children map[string]childRef // by JSON name, choice names included
}

type childRef struct {
	def *ElementDef
	typ string
}

// TypeRef is an allowed type of an element.
type TypeRef struct {
	// Code is a type name, or for the value of a primitive, a FHIRPath
	// System type such as System.String.
	Code string
	// ChoiceName, for a type of a choice element, is the JSON name of the
	// element in that type (valueQuantity for Quantity in value[x]).
	ChoiceName string
	// Targets are the resource types a Reference may point to, or the
	// types a canonical may name; empty means any.
	Targets []string
	// Profiles are profiles on the type, such as SimpleQuantity.
	Profiles []string
}

// Binding ties a coded element to a value set.
type Binding struct {
	Strength string // required, extensible, preferred or example
	ValueSet string // canonical URL, without a version
}

// Constraint is an invariant on an element, as a FHIRPath expression.
type Constraint struct {
	Key        string // e.g. ele-1
	Severity   string // error or warning
	Human      string
	Expression string
	Source     string // the type that declares it
}

// Exclusion is something the source package holds that is not FHIR R4 and
// was left out or reverted by the generator.
type Exclusion struct {
	Kind   string // StructureDefinition, element, constraint, target or SearchParameter
	Name   string
	Reason string
}

func linkType(dt *defs.Type, constraints []*Constraint) *TypeDef {
	t := &TypeDef{
		Name:       dt.Name,
		URL:        dt.URL,
		Kind:       dt.Kind,
		Base:       dt.Base,
		Abstract:   dt.Abstract,
		Profile:    dt.Derivation == "constraint",
		SystemType: dt.SystemType,
		Regex:      dt.Regex,
		Elements:   make([]*ElementDef, len(dt.Elements)),
		byPath:     make(map[string]*ElementDef, len(dt.Elements)),
	}
	els := make([]ElementDef, len(dt.Elements)) // one allocation per type
	for i := range dt.Elements {
		de := &dt.Elements[i]
		e := &els[i]
		*e = ElementDef{
			Path:       de.Path,
			Name:       de.Path[strings.LastIndexByte(de.Path, '.')+1:],
			Min:        de.Min,
			Max:        de.Max,
			ContentRef: de.ContentRef,
			IsModifier: de.IsModifier,
			IsSummary:  de.IsSummary,
			Binding:    Binding(de.Binding),
			Owner:      t,
		}
		if len(de.Types) > 0 {
			e.Types = make([]TypeRef, len(de.Types))
			for k, tr := range de.Types {
				e.Types[k] = TypeRef{Code: tr.Code, Targets: tr.Targets, Profiles: tr.Profiles}
			}
		}
		if len(de.Constraints) > 0 {
			e.Constraints = make([]*Constraint, len(de.Constraints))
			for k, c := range de.Constraints {
				e.Constraints[k] = constraints[c]
			}
		}
		t.Elements[i] = e
		t.byPath[e.Path] = e
	}
	for _, e := range t.Elements[1:] {
		parent := t.byPath[e.Path[:strings.LastIndexByte(e.Path, '.')]]
		if parent != nil {
			parent.Children = append(parent.Children, e)
		}
	}
	for _, e := range t.Elements {
		if e.ContentRef != "" {
			e.Ref = t.byPath[strings.TrimPrefix(e.ContentRef, "#")]
			if e.Ref != nil {
				e.Children = e.Ref.Children
			}
		}
	}
	for _, e := range t.Elements {
		if len(e.Children) == 0 {
			continue
		}
		e.children = make(map[string]childRef, len(e.Children))
		for _, c := range e.Children {
			if base, ok := strings.CutSuffix(c.Name, "[x]"); ok {
				for i, tr := range c.Types {
					name := base + strings.ToUpper(tr.Code[:1]) + tr.Code[1:]
					e.children[name] = childRef{def: c, typ: tr.Code}
					c.Types[i].ChoiceName = name
				}
				e.children[base] = childRef{def: c}
				e.children[c.Name] = childRef{def: c}
				continue
			}
			typ := ""
			if len(c.Types) == 1 {
				typ = c.Types[0].Code
			}
			e.children[c.Name] = childRef{def: c, typ: typ}
		}
	}
	return t
}

// Type returns the type with the given name, such as Patient, HumanName,
// string or SimpleQuantity.
func Type(name string) (*TypeDef, bool) {
	t, ok := data().typeByName[name]
	return t, ok
}

// Types returns every type, in the order of the specification's files.
func Types() []*TypeDef { return data().types }

// ResourceTypes returns the names of the concrete resource types, sorted.
// It does not decode the definitions.
func ResourceTypes() []string { return slices.Clone(resourceTypes[:]) }

// IsResource tells whether name is a concrete resource type. It does not
// decode the definitions.
func IsResource(name string) bool {
	_, ok := slices.BinarySearch(resourceTypes[:], name)
	return ok
}

// Element returns the element of t with the given full path, such as
// Patient.contact.name or Observation.value[x]. It does not look into
// other types or follow content references: use the package function
// Element for that.
func (t *TypeDef) Element(path string) (*ElementDef, bool) {
	e, ok := t.byPath[path]
	return e, ok
}

// Root returns the type's root element, which holds the type's own
// constraints.
func (t *TypeDef) Root() *ElementDef { return t.Elements[0] }

// IsA tells whether t is the type name or derives from it (Patient is a
// DomainResource and a Resource; positiveInt is an integer).
func (t *TypeDef) IsA(name string) bool {
	for x := t; x != nil; x = x.BaseType {
		if x.Name == name {
			return true
		}
	}
	return false
}

// IsChoice tells whether the element is a choice of types (value[x]).
func (e *ElementDef) IsChoice() bool { return strings.HasSuffix(e.Name, "[x]") }

// IsArray tells whether the element may repeat.
func (e *ElementDef) IsArray() bool { return e.Max != 1 && e.Max != 0 }

// Child returns the child element with the given JSON name, and the type
// it has under that name: for a choice element named with its type
// (valueQuantity) that type, for an element with one type that type, and
// otherwise (value, or a backbone element) the empty string or the one
// type code. It looks only at children defined in the element's own type;
// see Element for walking into other types.
func (e *ElementDef) Child(name string) (*ElementDef, string, bool) {
	c, ok := e.children[name]
	return c.def, c.typ, ok
}
