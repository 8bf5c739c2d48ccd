package fhirpath

import "testing"

// FuzzParse: no input crashes the parser, and whatever parses prints (with
// Format) to an expression that parses to the same tree.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"Patient.name.where(use = 'official').given.first()",
		"(1 | 2 | 3).aggregate($this + $total, 0)",
		"Observation.value.as(Quantity) > 5.5 'mg' and @2020-01-02T10:00:00Z < now()",
		"-5 days + %resource.meta.lastUpdated is FHIR.instant",
		"`div`.children()[0] ~ 'a\\u0041' implies {} xor true",
		"/* c */ 1 // d",
		"@T12:30:00.5 != @2015T",
		"%`vs-administrative-gender`.code contains 12L",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err != nil {
			return
		}
		out := Format(n)
		m, err := Parse(out)
		if err != nil {
			t.Fatalf("%q parsed, but its formatted form %q does not: %v", s, out, err)
		}
		if again := Format(m); again != out {
			t.Fatalf("%q: formatted %q, which parses to %q", s, out, again)
		}
	})
}
