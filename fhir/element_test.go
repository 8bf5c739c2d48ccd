package fhir

import "testing"

func TestElementResolve(t *testing.T) {
	cases := []struct {
		path, def, typ string
	}{
		{"Patient", "Patient", "Patient"},
		{"Patient.contact.name", "Patient.contact.name", "HumanName"},
		{"Patient.contact.name.family", "HumanName.family", "string"},
		{"Patient.name.given", "HumanName.given", "string"},
		{"Patient.birthDate.extension", "date.extension", "Extension"},
		{"Patient.deceasedBoolean", "Patient.deceased[x]", "boolean"},
		{"Patient.deceased", "Patient.deceased[x]", ""},
		{"Patient.deceased[x]", "Patient.deceased[x]", ""},
		{"Observation.valueQuantity", "Observation.value[x]", "Quantity"},
		{"Observation.valueQuantity.unit", "Quantity.unit", "string"},
		{"Observation.component.valueCodeableConcept.coding.code", "Coding.code", "code"},
		{"Observation.subject.reference", "Reference.reference", "string"},
		{"Observation.meta.lastUpdated", "Meta.lastUpdated", "instant"},
		{"Questionnaire.item.item", "Questionnaire.item.item", ""},
		{"Questionnaire.item.item.linkId", "Questionnaire.item.linkId", "string"},
		{"Questionnaire.item.item.item.answerOption.valueCoding", "Questionnaire.item.answerOption.value[x]", "Coding"},
		{"Bundle.entry.resource", "Bundle.entry.resource", "Resource"},
		{"Bundle.entry.resource.id", "Resource.id", "System.String"},
		{"Extension.valueString", "Extension.value[x]", "string"},
	}
	for _, c := range cases {
		m, ok := Element(c.path)
		if !ok {
			t.Errorf("Element(%q) not found", c.path)
			continue
		}
		if m.Def.Path != c.def || m.Type != c.typ {
			t.Errorf("Element(%q) = %s as %q, want %s as %q", c.path, m.Def.Path, m.Type, c.def, c.typ)
		}
	}
	qi, _ := Element("Questionnaire.item.item")
	if qi.Def.Ref == nil || qi.Def.Definition().Path != "Questionnaire.item" || qi.Def.ContentRef != "#Questionnaire.item" {
		t.Errorf("Questionnaire.item.item does not point to Questionnaire.item: %+v", qi.Def)
	}
	for _, path := range []string{"", "Nope", "Patient.nope", "Patient.name.nope", "Observation.valueFoo", "Observation.value.unit", "Patient.name.given.extension.url.x"} {
		if m, ok := Element(path); ok {
			t.Errorf("Element(%q) = %s, want not found", path, m.Def.Path)
		}
	}
}

// Every element of every type is found by its own path.
func TestElementEveryPath(t *testing.T) {
	n := 0
	for _, ty := range Types() {
		for _, e := range ty.Elements {
			n++
			m, ok := Element(e.Path)
			if !ok || m.Def != e {
				t.Errorf("Element(%q) does not find itself", e.Path)
			}
			if e.ContentRef != "" && e.Ref == nil {
				t.Errorf("%s: content reference %s not resolved", e.Path, e.ContentRef)
			}
			if e.Max == 0 && e.Path != ty.Name {
				// Only profiles forbid elements, and xhtml its extensions.
				if !ty.Profile && e.Path != "xhtml.extension" {
					t.Errorf("%s: max 0", e.Path)
				}
			}
			if e.ContentRef == "" && len(e.Types) == 0 && e.Path != ty.Name {
				t.Errorf("%s: no types", e.Path)
			}
		}
	}
	if n < 7000 {
		t.Errorf("only %d elements", n)
	}
}
