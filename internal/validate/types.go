package validate

import (
	"strings"

	"github.com/concord-health/concord/fhir"
)

// elemType is what an element holds under the JSON name it was given.
type elemType struct {
	// def is the type: a primitive, a complex type (or a profile such as
	// SimpleQuantity), or for an element with inline children
	// BackboneElement or Element.
	def *fhir.TypeDef
	// backbone is true when the element defines its children inline (a
	// backbone element or a content reference).
	backbone bool
	// resource is true for an element holding a resource (contained,
	// Bundle.entry.resource, Parameters.parameter.resource).
	resource bool
	// ref is the element's type reference, for a Reference's targets.
	ref *fhir.TypeRef
}

// elementType returns what element c holds when its JSON name selects
// type code (empty when the name does not choose, as for an element with
// one type).
func elementType(c *fhir.ElementDef, code string) elemType {
	var et elemType
	if code == "" && len(c.Types) == 1 {
		code = c.Types[0].Code
	}
	for i := range c.Types {
		if c.Types[i].Code == code {
			et.ref = &c.Types[i]
			break
		}
	}
	if len(c.Definition().Children) > 0 || (code == "" && c.ContentRef != "") {
		et.backbone = true
		if code == "" || strings.HasPrefix(code, "System.") {
			code = "BackboneElement"
		}
		et.def, _ = fhir.Type(code)
		return et
	}
	if strings.HasPrefix(code, "System.") {
		code = systemTyped(c)
	}
	if code == "Resource" || fhir.IsResource(code) {
		et.resource = true
		return et
	}
	if et.ref != nil {
		for _, p := range et.ref.Profiles {
			if pt, ok := fhir.Type(p[strings.LastIndexByte(p, '/')+1:]); ok && pt.Profile {
				et.def = pt
				return et
			}
		}
	}
	et.def, _ = fhir.Type(code)
	return et
}

// systemTyped returns the FHIR primitive type of an element the
// definitions give a FHIRPath System type: a resource's id is an id,
// Extension.url a uri, other ids (of elements) strings.
func systemTyped(c *fhir.ElementDef) string {
	switch {
	case c.Path == "Extension.url":
		return "uri"
	case c.Name == "id" && c.Owner != nil && c.Owner.Kind == fhir.KindResource && strings.Count(c.Path, ".") == 1:
		return "id"
	}
	return "string"
}
