package fhir_test

import (
	"slices"
	"testing"

	"github.com/concord-health/concord/fhir"
)

func TestCompartmentParamsKnownFacts(t *testing.T) {
	for _, tc := range []struct {
		compartment, typ string
		want             []string
	}{
		// From http://hl7.org/fhir/R4/compartmentdefinition-patient.html and
		// the other four R4 compartment pages.
		{fhir.CompartmentPatient, "Observation", []string{"subject", "performer"}},
		{fhir.CompartmentPatient, "AllergyIntolerance", []string{"patient", "recorder", "asserter"}},
		{fhir.CompartmentPatient, "Patient", []string{"link"}},
		{fhir.CompartmentPatient, "Encounter", []string{"patient"}},
		{fhir.CompartmentPatient, "Task", nil},
		{fhir.CompartmentPatient, "Organization", nil},
		{fhir.CompartmentEncounter, "Observation", []string{"encounter"}},
		{fhir.CompartmentEncounter, "Encounter", []string{fhir.CompartmentDefiner}},
		{fhir.CompartmentEncounter, "Patient", nil},
		{fhir.CompartmentPractitioner, "Practitioner", []string{fhir.CompartmentDefiner}},
		{fhir.CompartmentPractitioner, "Encounter", []string{"practitioner", "participant"}},
		{fhir.CompartmentRelatedPerson, "RelatedPerson", []string{fhir.CompartmentDefiner}},
		{fhir.CompartmentDevice, "Observation", []string{"subject", "device"}},
		{"Group", "Observation", nil},
	} {
		got := fhir.CompartmentParams(tc.compartment, tc.typ)
		if !slices.Equal(got, tc.want) {
			t.Errorf("CompartmentParams(%s, %s) = %q, want %q", tc.compartment, tc.typ, got, tc.want)
		}
	}
}

func TestCompartmentTypes(t *testing.T) {
	want := map[string]int{ // resource types with inclusion criteria in R4
		fhir.CompartmentPatient:       66,
		fhir.CompartmentEncounter:     25,
		fhir.CompartmentPractitioner:  59,
		fhir.CompartmentRelatedPerson: 32,
		fhir.CompartmentDevice:        32,
	}
	for c, n := range want {
		types := fhir.CompartmentTypes(c)
		if len(types) != n {
			t.Errorf("%s compartment: %d types, want %d", c, len(types), n)
		}
		if !slices.IsSorted(types) {
			t.Errorf("%s compartment: types not sorted", c)
		}
		for _, typ := range types {
			if fhir.CompartmentParams(c, typ) == nil {
				t.Errorf("%s compartment lists %s without parameters", c, typ)
			}
		}
	}
	if !slices.Contains(fhir.CompartmentTypes(fhir.CompartmentPatient), "Observation") {
		t.Error("Observation is not in the Patient compartment")
	}
	if fhir.CompartmentTypes("Group") != nil {
		t.Error("Group is not a compartment")
	}
}

// TestCompartmentParamsAreSearchParams cross-checks the compartment data
// with the search parameters: every listed parameter but {def} must be a
// reference search parameter of its resource type.
func TestCompartmentParamsAreSearchParams(t *testing.T) {
	for _, c := range []string{fhir.CompartmentPatient, fhir.CompartmentEncounter, fhir.CompartmentRelatedPerson, fhir.CompartmentPractitioner, fhir.CompartmentDevice} {
		for _, typ := range fhir.CompartmentTypes(c) {
			if _, ok := fhir.Type(typ); !ok {
				t.Errorf("%s compartment: %s is not a type", c, typ)
			}
			for _, code := range fhir.CompartmentParams(c, typ) {
				if code == fhir.CompartmentDefiner {
					continue
				}
				p, ok := fhir.SearchParam(typ, code)
				if !ok {
					t.Errorf("%s compartment: %s has no search parameter %s", c, typ, code)
					continue
				}
				if p.Type != fhir.SearchReference {
					t.Errorf("%s compartment: %s.%s is a %s parameter, not a reference", c, typ, code, p.Type)
				}
			}
		}
	}
}
