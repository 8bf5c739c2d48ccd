package bulk

import (
	"net/url"
	"testing"
	"time"

	"github.com/concord-health/concord"
)

// FuzzKickoff feeds arbitrary POST bodies and GET queries to the kick-off
// parsers: they must never panic, must answer a refusal with a taxonomy
// code, and what they accept must be exportable (known types, filters
// that parse again as the worker will parse them).
func FuzzKickoff(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Parameters","parameter":[{"name":"_type","valueString":"Patient,Observation"},{"name":"_since","valueInstant":"2026-01-02T03:04:05Z"}]}`),
		"_type=Observation&_typeFilter=Observation%3Fstatus%3Dfinal")
	f.Add([]byte(`{"resourceType":"Parameters","parameter":[{"name":"patient","valueReference":{"reference":"Patient/p1"}},{"name":"_outputFormat","valueString":"ndjson"}]}`),
		"_outputFormat=application/ndjson&_since=2026-01-02T03:04:05.123+01:00")
	f.Add([]byte(`{"resourceType":"Parameters","parameter":[{"name":"_typeFilter","valueString":"Observation?code=http://loinc.org|8302-2&date=ge2020"}]}`),
		"_typeFilter=Patient%3F_sort%3Dname")
	f.Add([]byte(`{"resourceType":"Parameters","parameter":[1,{"name":3},{"valueString":"x"}]}`), "_type=,&_type=Nothing")
	f.Add([]byte(`[]`), "%zz")
	f.Fuzz(func(t *testing.T, body []byte, query string) {
		now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
		check := func(raw rawParams) {
			for _, level := range []string{levelSystem, levelPatient, levelGroup} {
				p, err := parse(level, "g", raw, now)
				if err != nil {
					if concord.ErrorCode(err) == "" {
						t.Fatalf("refusal without a code: %v", err)
					}
					continue
				}
				if len(p.Types) == 0 {
					t.Fatalf("accepted with no type: %+v", p)
				}
				for typ, qs := range p.TypeFilters {
					for _, q := range qs {
						if _, err := typeFilter(typ, q, now); err != nil {
							t.Fatalf("accepted filter %s?%s does not parse again: %v", typ, q, err)
						}
					}
				}
				if _, err := decodeParams(p.encode()); err != nil {
					t.Fatal(err)
				}
			}
		}
		if raw, err := fromParameters(body); err == nil {
			check(raw)
		} else if concord.ErrorCode(err) == "" {
			t.Fatalf("refusal without a code: %v", err)
		}
		if vals, err := url.ParseQuery(query); err == nil {
			check(fromQuery(vals))
		}
	})
}
