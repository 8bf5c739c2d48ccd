package validate

import (
	"github.com/concord-health/concord/fhir"
	"github.com/concord-health/concord/fhirpath"
)

// bindCode checks a code (or a string or uri) bound as required: it must
// be in the value set when the value set could be expanded.
func (v *validator) bindCode(c *fhir.ElementDef, code string) {
	in, known := fhir.ValueSetContains(c.Binding.ValueSet, "", code)
	if known && !in {
		v.errorf(CodeCodeInvalid, "%q is not in the value set %s, which %s requires", clip(code), c.Binding.ValueSet, c.Path)
	}
}

// bindCoded checks a Coding or CodeableConcept bound as required: a
// Coding with a code must be in the value set; a CodeableConcept with
// coded codings must have one in it. Codings without a code (text only)
// and value sets that could not be expanded are not checked.
func (v *validator) bindCoded(c *fhir.ElementDef, typ string, val fhirpath.JSONRef) {
	if typ == "Coding" {
		if in, system, code, checked := inValueSet(c.Binding.ValueSet, val); checked && !in {
			v.errorf(CodeCodeInvalid, "%s is not in the value set %s, which %s requires", systemCode(system, code), c.Binding.ValueSet, c.Path)
		}
		return
	}
	codings, ok := val.Get("coding")
	if !ok || codings.Kind() != fhirpath.JSONArray {
		return
	}
	checked, found := 0, false
	first := ""
	codings.Each(func(_ string, cd fhirpath.JSONRef) bool {
		in, system, code, ok := inValueSet(c.Binding.ValueSet, cd)
		if ok {
			if checked == 0 {
				first = systemCode(system, code)
			}
			checked++
			found = found || in
		}
		return !found
	})
	if checked > 0 && !found {
		v.errorf(CodeCodeInvalid, "no coding is in the value set %s, which %s requires (first: %s)", c.Binding.ValueSet, c.Path, first)
	}
}

// inValueSet looks a Coding up in a value set. checked is false when
// there is nothing to check: no code, or a value set not expanded.
func inValueSet(vs string, coding fhirpath.JSONRef) (in bool, system, code string, checked bool) {
	if coding.Kind() != fhirpath.JSONObject {
		return false, "", "", false
	}
	cv, ok := coding.Get("code")
	if !ok || cv.Kind() != fhirpath.JSONString {
		return false, "", "", false
	}
	code = cv.String()
	if sv, ok := coding.Get("system"); ok && sv.Kind() == fhirpath.JSONString {
		system = sv.String()
	}
	in, known := fhir.ValueSetContains(vs, system, code)
	return in, system, code, known
}

func systemCode(system, code string) string {
	if system == "" {
		return "code " + clip(code)
	}
	return clip(system) + "|" + clip(code)
}
