package fhir

import (
	"slices"
	"testing"
)

func TestAdministrativeGender(t *testing.T) {
	e, _ := Element("Patient.gender")
	vs, ok := ValueSet(e.Def.Binding.ValueSet)
	if !ok || !vs.Expanded {
		t.Fatalf("administrative-gender: %+v", vs)
	}
	if len(vs.Systems) != 1 || vs.Systems[0].System != "http://hl7.org/fhir/administrative-gender" ||
		!slices.Equal(vs.Systems[0].Codes, []string{"male", "female", "other", "unknown"}) {
		t.Errorf("administrative-gender expands to %+v", vs.Systems)
	}
	if c, known := ValueSetContains("http://hl7.org/fhir/ValueSet/administrative-gender|4.0.1", "http://hl7.org/fhir/administrative-gender", "female"); !c || !known {
		t.Error("female not in administrative-gender")
	}
	if c, known := ValueSetContains("http://hl7.org/fhir/ValueSet/administrative-gender", "", "unknown"); !c || !known {
		t.Error("code unknown not in administrative-gender")
	}
	if c, known := ValueSetContains("http://hl7.org/fhir/ValueSet/administrative-gender", "", "M"); c || !known {
		t.Error("M is in administrative-gender")
	}
	if c, _ := ValueSetContains("http://hl7.org/fhir/ValueSet/administrative-gender", "http://example.org", "male"); c {
		t.Error("male from another system accepted")
	}
	if _, known := ValueSetContains("http://hl7.org/fhir/ValueSet/nope", "", "x"); known {
		t.Error("unknown value set reported as known")
	}
}

// Every required binding of every element names a value set that is
// either expanded or listed as not expandable with a reason.
func TestEveryRequiredBinding(t *testing.T) {
	bound := map[string]bool{}
	for _, ty := range Types() {
		for _, e := range ty.Elements {
			if e.Binding.Strength != "required" {
				continue
			}
			bound[e.Binding.ValueSet] = true
			vs, ok := ValueSet(e.Binding.ValueSet)
			switch {
			case !ok:
				t.Errorf("%s: value set %s missing", e.Path, e.Binding.ValueSet)
			case vs.Expanded && len(vs.Systems) == 0:
				t.Errorf("%s: value set %s expanded to nothing", e.Path, vs.URL)
			case !vs.Expanded && vs.Reason == "":
				t.Errorf("%s: value set %s not expanded, no reason", e.Path, vs.URL)
			}
		}
	}
	all := RequiredValueSets()
	if len(all) != len(bound) {
		t.Errorf("%d value sets stored, %d bound as required", len(all), len(bound))
	}
	var notExpanded []string
	for _, vs := range all {
		if !vs.Expanded {
			notExpanded = append(notExpanded, vs.URL)
		}
	}
	// External code systems (currencies, MIME types, UCUM) and a LOINC
	// answer list are not in the specification.
	want := []string{
		"http://hl7.org/fhir/ValueSet/currencies",
		"http://hl7.org/fhir/ValueSet/mimetypes",
		"http://hl7.org/fhir/ValueSet/ucum-units",
		"http://loinc.org/vs/LL379-9",
	}
	if !slices.Equal(notExpanded, want) {
		t.Errorf("not expanded: %v, want %v", notExpanded, want)
	}
	if len(all) != 223 {
		t.Errorf("%d required value sets, want 223", len(all))
	}
}

func TestValueSetExpansions(t *testing.T) {
	cases := []struct {
		url, system, code string
	}{
		{"http://hl7.org/fhir/ValueSet/observation-status", "http://hl7.org/fhir/observation-status", "entered-in-error"},
		{"http://hl7.org/fhir/ValueSet/bundle-type", "http://hl7.org/fhir/bundle-type", "transaction-response"},
		// Codes nested in a hierarchical code system are in.
		{"http://hl7.org/fhir/ValueSet/resource-types", "http://hl7.org/fhir/resource-types", "Patient"},
		{"http://hl7.org/fhir/ValueSet/all-types", "http://hl7.org/fhir/data-types", "HumanName"},
		// The R4 binding of DetectedIssue.status, reverted from Medplum's.
		{"http://hl7.org/fhir/ValueSet/observation-status", "http://hl7.org/fhir/observation-status", "final"},
	}
	for _, c := range cases {
		if ok, known := ValueSetContains(c.url, c.system, c.code); !ok || !known {
			t.Errorf("%s does not contain %s|%s (known %v)", c.url, c.system, c.code, known)
		}
	}
	if e, _ := Element("DetectedIssue.status"); e.Def.Binding.ValueSet != "http://hl7.org/fhir/ValueSet/observation-status" {
		t.Errorf("DetectedIssue.status bound to %s", e.Def.Binding.ValueSet)
	}
}
