package terminology

import "testing"

// TestSystemURI: table 0396 names of standard systems become their FHIR
// URIs, HL7 tables theirs, URIs stay, everything else is the sender's own.
func TestSystemURI(t *testing.T) {
	for _, tc := range []struct {
		sender, name, uri string
		local             bool
	}{
		{"LAB^NORTH", "LN", "http://loinc.org", false},
		{"LAB^NORTH", "ln", "http://loinc.org", false},
		{"LAB^NORTH", " SCT ", "http://snomed.info/sct", false},
		{"LAB^NORTH", "I10", "http://hl7.org/fhir/sid/icd-10", false},
		{"LAB^NORTH", "I10C", "http://hl7.org/fhir/sid/icd-10-cm", false},
		{"PHARM^NORTH", "RXNORM", "http://www.nlm.nih.gov/research/umls/rxnorm", false},
		{"LAB^NORTH", "UCUM", "http://unitsofmeasure.org", false},
		{"LAB^NORTH", "HL70078", "http://terminology.hl7.org/CodeSystem/v2-0078", false},
		{"LAB^NORTH", "http://loinc.org", "http://loinc.org", false},
		{"LAB^NORTH", "L", "urn:concord:local:LAB%5ENORTH:L", true},
		{"LAB^NORTH", "", "urn:concord:local:LAB%5ENORTH:L", true},
		{"LAB^NORTH", "99LAB", "urn:concord:local:LAB%5ENORTH:99LAB", true},
		{"LAB^SOUTH", "99LAB", "urn:concord:local:LAB%5ESOUTH:99LAB", true},
		{"LAB^NORTH", "HL7007", "urn:concord:local:LAB%5ENORTH:HL7007", true},
		{"LAB^NORTH", "W1", "urn:concord:local:LAB%5ENORTH:W1", true}, // a 0396 name Concord has no URI for
		{"A B:C/é^", "x y", "urn:concord:local:A%20B%3AC%2F%C3%A9%5E:x%20y", true},
		{"LAB^NORTH", "urn:concord:local:LAB%5ENORTH:L", "urn:concord:local:LAB%5ENORTH:L", true},
	} {
		uri, local := SystemURI(tc.sender, tc.name)
		if uri != tc.uri || local != tc.local {
			t.Errorf("SystemURI(%q, %q) = %q, %v; want %q, %v", tc.sender, tc.name, uri, local, tc.uri, tc.local)
		}
	}
}

// TestCodingSystemName: the way back, for messages Concord writes.
func TestCodingSystemName(t *testing.T) {
	for uri, want := range map[string]string{
		"http://loinc.org": "LN", "http://snomed.info/sct": "SCT", "http://hl7.org/fhir/sid/icd-9-cm": "I9C",
		"http://terminology.hl7.org/CodeSystem/v2-0203": "HL70203", "http://www.nlm.nih.gov/research/umls/rxnorm": "RXNORM",
	} {
		if got, ok := CodingSystemName(uri); !ok || got != want {
			t.Errorf("CodingSystemName(%q) = %q, %v; want %q", uri, got, ok, want)
		}
	}
	for _, uri := range []string{"http://example.org/codes", "urn:concord:local:X:L", "http://terminology.hl7.org/CodeSystem/v2-12"} {
		if got, ok := CodingSystemName(uri); ok {
			t.Errorf("CodingSystemName(%q) = %q, want none", uri, got)
		}
	}
	// Every name maps back to a name of the same URI.
	for name, uri := range codingSystems {
		back, ok := CodingSystemName(uri)
		if !ok || codingSystems[back] != uri {
			t.Errorf("%s → %s → %s", name, uri, back)
		}
	}
}
