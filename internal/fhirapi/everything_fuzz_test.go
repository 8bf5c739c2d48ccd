package fhirapi

import (
	"net/url"
	"testing"

	"github.com/concord-health/concord"
)

// FuzzEverythingParams feeds $everything's parameter readers (the query
// string and a POSTed Parameters body): they answer with a value or a
// *concord.Error, never a panic, and a parsed request keeps its limits.
func FuzzEverythingParams(f *testing.F) {
	f.Add("_count=50&_type=Patient,Observation&_since=2020-01-01T00:00:00Z", []byte(`{"resourceType":"Parameters","parameter":[{"name":"start","valueDate":"2019"}]}`))
	f.Add("_cursor=Observation:40&end=2020-02-30", []byte(`{"resourceType":"Parameters","parameter":[{"name":"_count","valueInteger":7}]}`))
	f.Add("_cursor=Nope:1&_type=,&start=ge2020", []byte(`{"resourceType":"Parameters","parameter":[{"name":"x"}]}`))
	f.Fuzz(func(t *testing.T, query string, body []byte) {
		vals, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		if v, err := parametersValues(body, vals); err == nil {
			vals = v
		} else if concord.ErrorCode(err) != concord.EINVALID {
			t.Fatalf("Parameters: %v", err)
		}
		req, err := parseEverything("Patient", vals)
		if err != nil {
			if c := concord.ErrorCode(err); c != concord.EINVALID && c != concord.EUNSUPPORTED {
				t.Fatalf("%q: %v", query, err)
			}
			return
		}
		if req.count < 1 || req.count > everythingPage || req.at.offset < 0 || req.at.offset > maxCursorOffset {
			t.Fatalf("%q: %+v", query, req)
		}
	})
}
