package fhirapi

import (
	"encoding/json"
	"testing"
)

// TestSearchIncludeScopes: _include and _revinclude add only resources of
// types the caller's scopes let it read.
func TestSearchIncludeScopes(t *testing.T) {
	s := newAPIServer(t, openSQLite(t))
	// Synthetic data, no real person.
	for path, body := range map[string]string{
		"Patient/inc-p":     `{"resourceType":"Patient","id":"inc-p"}`,
		"Observation/inc-o": `{"resourceType":"Observation","id":"inc-o","status":"final","code":{"text":"synthetic"},"subject":{"reference":"Patient/inc-p"}}`,
	} {
		if status, resp := s.do("PUT", "/fhir/"+path, "application/fhir+json", body); status != 201 {
			t.Fatalf("PUT %s: %d %s", path, status, resp)
		}
	}
	included := func(target string) int {
		t.Helper()
		status, body := s.do("GET", target, "", "")
		var b everythingBundle
		json.Unmarshal([]byte(body), &b)
		if status != 200 {
			t.Fatalf("%s: %d %s", target, status, body)
		}
		n := 0
		for _, e := range b.Entry {
			if e.Search.Mode == "include" {
				n++
			}
		}
		return n
	}
	for scopes, want := range map[string]int{"user/*.rs": 1, "user/Observation.rs": 0} {
		s.caller = principal(t, "", scopes)
		if n := included("/fhir/Observation?_include=Observation:subject"); n != want {
			t.Errorf("%s, _include: %d included, want %d", scopes, n, want)
		}
	}
	s.caller = principal(t, "", "user/Patient.rs")
	if n := included("/fhir/Patient?_revinclude=Observation:subject"); n != 0 {
		t.Errorf("user/Patient.rs, _revinclude: %d included", n)
	}
}
