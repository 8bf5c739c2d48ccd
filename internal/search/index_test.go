package search

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/fhirpath"
)

func indexOf(t *testing.T, js string) *concord.SearchIndex {
	t.Helper()
	doc, err := fhirpath.ParseJSON([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	x, err := Index(context.Background(), doc)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// Synthetic resources (no real patient data).
const testPatient = `{"resourceType":"Patient","id":"p1","active":true,
 "identifier":[{"system":"urn:oid:1.2.36.146.595.217.0.1","value":"12345",
   "type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}]}}],
 "name":[{"family":"Müller","given":["Zoë","Anne"]}],"gender":"female","birthDate":"1974-12",
 "telecom":[{"system":"phone","value":"555-0100"}],
 "address":[{"line":["1 Test Street"],"city":"Springfield","postalCode":"01234"}],
 "generalPractitioner":[{"reference":"Practitioner/dr1"}]}`

func TestIndexPatient(t *testing.T) {
	x := indexOf(t, testPatient)
	hasString := func(param, norm string) bool {
		return slices.ContainsFunc(x.Strings, func(s concord.IndexString) bool { return s.Param == param && s.Norm == norm })
	}
	for _, c := range []struct{ param, norm string }{
		{"family", "muller"}, {"given", "zoe"}, {"name", "anne"}, {"name", "muller"}, {"address-city", "springfield"},
		{"address", "1 test street"}, {"address-postalcode", "01234"},
	} {
		if !hasString(c.param, c.norm) {
			t.Errorf("no string %s=%q in %+v", c.param, c.norm, x.Strings)
		}
	}
	hasToken := func(param, system, code string) bool {
		return slices.ContainsFunc(x.Tokens, func(k concord.IndexToken) bool {
			return k.Param == param && k.System == system && k.Code == code
		})
	}
	for _, c := range []struct{ param, system, code string }{
		{"gender", "", "female"}, {"active", "", "true"}, {"identifier", "urn:oid:1.2.36.146.595.217.0.1", "12345"},
		{"identifier:of-type", "http://terminology.hl7.org/CodeSystem/v2-0203", "MR|12345"}, {"phone", "phone", "555-0100"},
	} {
		if !hasToken(c.param, c.system, c.code) {
			t.Errorf("no token %s=%s|%s in %+v", c.param, c.system, c.code, x.Tokens)
		}
	}
	lo, hi, _ := DateRange("1974-12")
	if !slices.Contains(x.Dates, concord.IndexDate{Param: "birthdate", Lo: lo, Hi: hi}) {
		t.Errorf("birthdate: %+v", x.Dates)
	}
	if !slices.Contains(x.Refs, concord.IndexRef{Param: "general-practitioner", Type: "Practitioner", ID: "dr1"}) {
		t.Errorf("refs: %+v", x.Refs)
	}
}

func TestIndexObservation(t *testing.T) {
	x := indexOf(t, `{"resourceType":"Observation","id":"o1","status":"final",
	 "code":{"coding":[{"system":"http://loinc.org","code":"2339-0","display":"Glucose"}],"text":"Glucose Bld-mCnc"},
	 "subject":{"reference":"Patient/p1"},"effectiveDateTime":"2024-03-05T10:15:00+01:00",
	 "valueQuantity":{"value":95,"unit":"mg/dL","system":"http://unitsofmeasure.org","code":"mg/dL"},
	 "component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},
	   "valueQuantity":{"value":120,"system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}`)
	if !slices.Contains(x.Refs, concord.IndexRef{Param: "patient", Type: "Patient", ID: "p1"}) ||
		!slices.Contains(x.Refs, concord.IndexRef{Param: "subject", Type: "Patient", ID: "p1"}) {
		t.Errorf("patient/subject refs: %+v", x.Refs)
	}
	var q *concord.IndexQuantity
	for i := range x.Quantities {
		if x.Quantities[i].Param == "value-quantity" {
			q = &x.Quantities[i]
		}
	}
	// 95 mg/dL = 950 mg/L = 0.95 g/L = 950 g/m3.
	if q == nil || q.Value != 95 || q.CanonCode != "g.m-3" || q.CanonValue < 949.99 || q.CanonValue > 950.01 {
		t.Errorf("value-quantity: %+v", x.Quantities)
	}
	lo, _, _ := DateRange("2024-03-05T09:15:00Z")
	if !slices.ContainsFunc(x.Dates, func(d concord.IndexDate) bool { return d.Param == "date" && d.Lo == lo }) {
		t.Errorf("date: %+v", x.Dates)
	}
	if !slices.ContainsFunc(x.Tokens, func(k concord.IndexToken) bool {
		return k.Param == "code" && k.Code == "2339-0" && k.Text == "glucose bld-mcnc"
	}) {
		t.Errorf("code: %+v", x.Tokens)
	}
	if !slices.ContainsFunc(x.Composites, func(c concord.IndexComposite) bool {
		return c.Param == "component-code-value-quantity" && c.ACode == "8480-6" && c.BCode == "mm[Hg]" && c.BLo == 120
	}) {
		t.Errorf("composite: %+v", x.Composites)
	}
}

func TestDateRange(t *testing.T) {
	cases := []struct{ in, lo, hi string }{
		{"2024", "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z"},
		{"2024-02", "2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z"},
		{"2024-02-29", "2024-02-29T00:00:00Z", "2024-03-01T00:00:00Z"},
		{"2024-02-29T10:15", "2024-02-29T10:15:00Z", "2024-02-29T10:16:00Z"},
		{"2024-02-29T10:15:30+02:00", "2024-02-29T08:15:30Z", "2024-02-29T08:15:31Z"},
		{"2024-02-29T10:15:30.5Z", "2024-02-29T10:15:30.5Z", "2024-02-29T10:15:30.6Z"},
	}
	for _, c := range cases {
		lo, hi, err := DateRange(c.in)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		wl, _, _ := DateRange(c.lo)
		wh, _, _ := DateRange(c.hi)
		if lo != wl || hi != wh-1 {
			t.Errorf("%s: [%d, %d], want [%d, %d]", c.in, lo, hi, wl, wh-1)
		}
	}
	for _, bad := range []string{"", "24", "2024-13", "2023-02-29", "2024-01-01T25:00", "2024-01-01T10", "x"} {
		if _, _, err := DateRange(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestIndexSynthea indexes every resource of the Synthea bundles
// (synthetic patients) without an error, and each gets rows.
func TestIndexSynthea(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "..", "shared", "data", "synthea", "*.json"))
	if len(files) == 0 {
		t.Skip("../shared/data/synthea is absent")
	}
	n, rows := 0, 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := fhirpath.ParseJSON(b)
		if err != nil {
			t.Fatal(err)
		}
		entries, _ := doc.Root().Get("entry")
		for i := 0; i < entries.Len(); i++ {
			e, _ := entries.Index(i)
			res, _ := e.Get("resource")
			one, err := fhirpath.ParseJSON(res.JSON())
			if err != nil {
				t.Fatal(err)
			}
			x, err := Index(context.Background(), one)
			if err != nil {
				t.Fatal(err)
			}
			n++
			rows += x.Rows()
		}
	}
	t.Logf("%d resources, %d index rows (%.1f per resource)", n, rows, float64(rows)/float64(n))
	if n == 0 || rows < n {
		t.Fatalf("%d resources gave %d rows", n, rows)
	}
}

func TestParseReference(t *testing.T) {
	for _, c := range []struct{ ref, typ, id, url string }{
		{"Patient/123", "Patient", "123", ""},
		{"Patient/123/_history/2", "Patient", "123", ""},
		{"http://example.org/fhir/Observation/o-1", "Observation", "o-1", "http://example.org/fhir/Observation/o-1"},
		{"http://example.org/fhir/Observation/o-1/_history/4", "Observation", "o-1", "http://example.org/fhir/Observation/o-1/_history/4"},
		{"/Patient/1", "Patient", "1", ""},
		{"urn:uuid:9d3f2c1e-0000-4000-8000-000000000001", "", "", "urn:uuid:9d3f2c1e-0000-4000-8000-000000000001"},
		{"#contained-1", "", "", ""},
		{"Patient", "", "", ""},
		{"/1", "", "", ""},
		{"Unknown/1", "", "", ""},
		{"Patient/not an id", "", "", ""},
		{"", "", "", ""},
	} {
		typ, id, url := ParseReference(c.ref)
		if typ != c.typ || id != c.id || url != c.url {
			t.Errorf("%q: %q %q %q, want %q %q %q", c.ref, typ, id, url, c.typ, c.id, c.url)
		}
	}
}
