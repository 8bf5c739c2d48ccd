package fhir

import (
	"slices"
	"testing"
)

func TestSearchParamCounts(t *testing.T) {
	// The HL7 4.0.1 search-parameters.json has 1375 entries; Medplum's has
	// three more (DetectedIssue-status, ServiceRequest-order-detail and the
	// R5 DeviceDefinition-classification), which are left out.
	if n := len(AllSearchParams()); n != 1375 {
		t.Errorf("%d search parameters, want 1375", n)
	}
	if n := data().sourceParams; n != 1378 {
		t.Errorf("source file has %d, want 1378", n)
	}
	for _, url := range []string{"DetectedIssue-status", "ServiceRequest-order-detail", "DeviceDefinition-classification"} {
		if _, ok := SearchParamByURL("http://hl7.org/fhir/SearchParameter/" + url); ok {
			t.Errorf("%s (not R4) is present", url)
		}
	}
	// Every resource type has at least the Resource parameters.
	for _, rt := range ResourceTypes() {
		if _, ok := SearchParam(rt, "_id"); !ok {
			t.Errorf("%s has no _id", rt)
		}
	}
}

func TestPatientSearchParams(t *testing.T) {
	ps := SearchParams("Patient")
	var codes []string
	for _, p := range ps {
		codes = append(codes, p.Code)
	}
	// 24 of Patient's own (identifier, name, birthdate, …) and 9 that every
	// resource or domain resource has.
	want := []string{
		"_content", "_id", "_lastUpdated", "_profile", "_query", "_security", "_source", "_tag", "_text",
		"active", "address", "address-city", "address-country", "address-postalcode", "address-state",
		"address-use", "birthdate", "death-date", "deceased", "email", "family", "gender",
		"general-practitioner", "given", "identifier", "language", "link", "name", "organization",
		"phone", "phonetic", "telecom",
	}
	if !slices.Equal(codes, want) {
		t.Errorf("Patient search parameters\n got %v\nwant %v", codes, want)
	}
	p, ok := SearchParam("Patient", "birthdate")
	if !ok || p.Type != SearchDate || p.Expression != "Patient.birthDate | Person.birthDate | RelatedPerson.birthDate" {
		t.Errorf("birthdate: %+v", p)
	}
	p, _ = SearchParam("Patient", "general-practitioner")
	if p.Type != SearchReference || !slices.Equal(p.Targets, []string{"Practitioner", "Organization", "PractitionerRole"}) {
		t.Errorf("general-practitioner: %s %v", p.Type, p.Targets)
	}
	if p, _ := SearchParam("Patient", "_lastUpdated"); p.Expression != "Resource.meta.lastUpdated" || p.Type != SearchDate {
		t.Errorf("_lastUpdated: %+v", p)
	}
	if _, ok := SearchParam("Bundle", "_text"); ok {
		t.Error("Bundle is not a DomainResource, it has no _text")
	}
	if SearchParams("HumanName") != nil {
		t.Error("HumanName has search parameters")
	}
}

func TestSearchParamKinds(t *testing.T) {
	c, ok := SearchParam("Observation", "code-value-quantity")
	if !ok || c.Type != SearchComposite || len(c.Components) != 2 {
		t.Fatalf("code-value-quantity: %+v", c)
	}
	if _, ok := SearchParamByURL(c.Components[0].Definition); !ok {
		t.Errorf("component %s not found", c.Components[0].Definition)
	}
	if c.MultipleOr == nil || *c.MultipleOr != false {
		t.Error("code-value-quantity multipleOr should be false")
	}
	p, _ := SearchParam("Observation", "patient")
	if p.URL != "http://hl7.org/fhir/SearchParameter/clinical-patient" || p.Type != SearchReference || len(p.Base) != 32 {
		t.Errorf("Observation patient: %s %s %d bases", p.URL, p.Type, len(p.Base))
	}
	if p, _ := SearchParam("Observation", "date"); !slices.Contains(p.Comparators, "ge") && p.Comparators != nil {
		t.Errorf("date comparators %v", p.Comparators)
	}
	n, _ := SearchParam("Location", "near")
	if n.Type != SearchSpecial {
		t.Errorf("Location near is %s", n.Type)
	}
	// Reverted to the R4 targets (Medplum dropped Group).
	if p, _ := SearchParam("Condition", "patient"); !slices.Equal(p.Targets, []string{"Patient", "Group"}) {
		t.Errorf("clinical-patient targets %v", p.Targets)
	}
	counts := map[string]int{}
	for _, p := range AllSearchParams() {
		counts[p.Type]++
	}
	want := map[string]int{"token": 536, "reference": 472, "string": 133, "date": 109, "composite": 46, "uri": 45, "quantity": 27, "number": 6, "special": 1}
	for k, v := range want {
		if counts[k] != v {
			t.Errorf("%d %s parameters, want %d", counts[k], k, v)
		}
	}
}
