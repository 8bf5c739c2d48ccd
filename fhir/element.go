package fhir

import "strings"

// ElementMatch is the element a path leads to, and the type the path
// selects for it.
type ElementMatch struct {
	// Def is the element the path names. For a path through a content
	// reference (Questionnaire.item.item) it is the referencing element,
	// with its own cardinality; Def.Definition() has the rest.
	Def *ElementDef
	// Type is the one type the element has on this path: the type a choice
	// element is named with (Observation.valueQuantity: Quantity), or the
	// element's only type. It is empty when the element allows several and
	// the path does not choose (Observation.value), and for backbone
	// elements and content references.
	Type string
}

// Element resolves a path such as Patient.contact.name.family or
// Observation.valueQuantity.unit. The first part is a type name; each
// further part names a child by its JSON name, walking into the child's
// type when the child is not defined inline (name → HumanName), through
// content references (Questionnaire.item.item.linkId) and through choice
// elements named with their type (valueQuantity is value[x] as a
// Quantity).
func Element(path string) (ElementMatch, bool) {
	s := data()
	first, rest, _ := strings.Cut(path, ".")
	t := s.typeByName[first]
	if t == nil {
		return ElementMatch{}, false
	}
	m := ElementMatch{Def: t.Root(), Type: t.Name}
	for rest != "" {
		var name string
		name, rest, _ = strings.Cut(rest, ".")
		c, ok := m.Def.children[name]
		if !ok {
			if len(m.Def.children) > 0 || m.Type == "" {
				return ElementMatch{}, false
			}
			t := s.typeByName[m.Type]
			if t == nil {
				return ElementMatch{}, false
			}
			if c, ok = t.Root().children[name]; !ok {
				return ElementMatch{}, false
			}
		}
		m = ElementMatch{Def: c.def, Type: c.typ}
	}
	return m, true
}

// Definition returns the element that defines e's content: for an element
// with a content reference the referenced element, else e itself.
func (e *ElementDef) Definition() *ElementDef {
	if e.Ref != nil {
		return e.Ref
	}
	return e
}
