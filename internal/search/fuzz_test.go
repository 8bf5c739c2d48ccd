package search

import (
	"net/url"
	"testing"
	"time"
)

// FuzzParse: any query string on any resource type is parsed or refused
// with an error, never a panic, and a parsed one stays within the limits.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"name=smith&birthdate=ge1970-01&_count=10",
		"subject:Patient.name=x&_has:Observation:patient:code=1234-5",
		"code=http://loinc.org|1234-5,5678-9&value-quantity=gt5.4|http://unitsofmeasure.org|mg/dL",
		"component-code-value-quantity=http://loinc.org|8480-6$gt100&_sort=-date,_id",
		"_include:iterate=Observation:subject:Patient&_revinclude=Provenance:target&_summary=count",
		`identifier:of-type=a|b|c&name:contains=a\,b&url:below=http://x`,
		"a.b.c.d.e.f=1&_has:X:y:z=1&date=ap2020&_offset=5&_total=none",
	} {
		f.Add("Observation", s)
		f.Add("Patient", s)
	}
	f.Fuzz(func(t *testing.T, typ, query string) {
		vals, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		for _, strict := range []bool{false, true} {
			r, err := Parse(typ, vals, Options{Strict: strict, Now: time.Unix(0, 0)})
			if err != nil {
				continue
			}
			if r.Query.Count > MaxCount || r.Query.Offset > MaxOffset || len(r.Query.Where) > maxClauses {
				t.Fatalf("limits exceeded: %+v", r.Query)
			}
		}
	})
}
