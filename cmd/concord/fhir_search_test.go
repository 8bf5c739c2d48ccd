package main

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// searchset is the part of a search result the tests read.
type searchset struct {
	ResourceType string
	Type         string
	Total        *int
	Link         []struct{ Relation, URL string }
	Entry        []struct {
		FullURL  string
		Resource json.RawMessage
		Search   struct{ Mode string }
	}
}

func (s searchset) ids(mode string) []string {
	var out []string
	for _, e := range s.Entry {
		var r struct{ ResourceType, ID string }
		json.Unmarshal(e.Resource, &r)
		if e.Search.Mode == mode {
			out = append(out, r.ResourceType+"/"+r.ID)
		}
	}
	return out
}

func (s searchset) link(rel string) string {
	for _, l := range s.Link {
		if l.Relation == rel {
			return l.URL
		}
	}
	return ""
}

// TestFHIRSearch: searches over HTTP give searchset Bundles with totals,
// paging links, includes, _summary; unknown parameters are refused or
// reported per Prefer: handling; compartment searches and patient tokens
// see only the compartment; hostile parameters get OperationOutcome.
func TestFHIRSearch(t *testing.T) {
	n := startFHIR(t)
	tok := n.token
	clin := tok("--role", "clinician")
	base := n.url + "/fhir"
	put := func(path, body string) {
		t.Helper()
		if resp, b := fhirDo(t, "PUT", base+"/"+path, clin, body); resp.StatusCode/100 != 2 {
			t.Fatalf("PUT %s: %d %s", path, resp.StatusCode, b)
		}
	}
	// Synthetic data, no real patients.
	put("Practitioner/dr1", `{"resourceType":"Practitioner","id":"dr1","name":[{"family":"Smith"}]}`)
	put("Patient/pa", `{"resourceType":"Patient","id":"pa","gender":"female","birthDate":"1970-01-01","name":[{"family":"Alpha"}],"generalPractitioner":[{"reference":"Practitioner/dr1"}]}`)
	put("Patient/pb", `{"resourceType":"Patient","id":"pb","gender":"male","birthDate":"1980-01-01","name":[{"family":"Beta"}]}`)
	for i, p := range []string{"pa", "pa", "pa", "pb"} {
		id := "ob" + string(rune('1'+i))
		put("Observation/"+id, `{"resourceType":"Observation","id":"`+id+`","status":"final","subject":{"reference":"Patient/`+p+`"},
			"code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"effectiveDateTime":"2024-01-0`+string(rune('1'+i))+`"}`)
	}
	get := func(bearer, query string, headers ...string) (int, searchset, string) {
		t.Helper()
		resp, body := fhirDo(t, "GET", base+"/"+query, bearer, "", headers...)
		var s searchset
		json.Unmarshal([]byte(body), &s)
		return resp.StatusCode, s, body
	}

	code, s, body := get(clin, "Observation?subject=Patient/pa&code=http://loinc.org|8867-4&_count=2&_sort=date")
	if code != 200 || s.ResourceType != "Bundle" || s.Type != "searchset" || s.Total == nil || *s.Total != 3 {
		t.Fatalf("search: %d %s", code, body)
	}
	if got := strings.Join(s.ids("match"), ","); got != "Observation/ob1,Observation/ob2" {
		t.Fatalf("page 1: %s", got)
	}
	next := s.link("next")
	if next == "" || !strings.HasPrefix(next, base+"/Observation?") || s.link("self") == "" {
		t.Fatalf("links: %+v", s.Link)
	}
	u, _ := url.Parse(next)
	code, s, _ = get(clin, "Observation?"+u.RawQuery)
	if got := strings.Join(s.ids("match"), ","); code != 200 || got != "Observation/ob3" || s.link("next") != "" || s.link("previous") == "" {
		t.Fatalf("page 2: %d %s %+v", code, got, s.Link)
	}
	if !strings.HasPrefix(s.Entry[0].FullURL, base+"/Observation/") {
		t.Fatalf("fullUrl %q", s.Entry[0].FullURL)
	}

	// POST _search with a form body.
	resp, body := fhirDo(t, "POST", base+"/Patient/_search", clin, "gender=male", "Content-Type", "application/x-www-form-urlencoded")
	if resp.StatusCode != 200 || !strings.Contains(body, `"id":"pb"`) || strings.Contains(body, `"id":"pa"`) {
		t.Fatalf("POST _search: %d %s", resp.StatusCode, body)
	}

	// _include and _revinclude (with :iterate).
	_, s, _ = get(clin, "Observation?_id=ob1&_include=Observation:subject&_include:iterate=Patient:general-practitioner")
	if got := strings.Join(s.ids("include"), ","); got != "Patient/pa,Practitioner/dr1" {
		t.Fatalf("_include: %s", got)
	}
	_, s, _ = get(clin, "Patient?_id=pb&_revinclude=Observation:subject")
	if got := strings.Join(s.ids("include"), ","); got != "Observation/ob4" {
		t.Fatalf("_revinclude: %s", got)
	}

	// _summary=count and _elements.
	_, s, body = get(clin, "Observation?_summary=count")
	if s.Total == nil || *s.Total != 4 || len(s.Entry) != 0 {
		t.Fatalf("_summary=count: %s", body)
	}
	_, _, body = get(clin, "Patient?_id=pa&_elements=gender")
	if !strings.Contains(body, `"gender":"female"`) || strings.Contains(body, `"birthDate"`) || !strings.Contains(body, "SUBSETTED") {
		t.Fatalf("_elements: %s", body)
	}

	// Unknown parameters: ignored and reported (lenient, the default) or
	// refused (strict).
	code, s, body = get(clin, "Patient?nonsense=1&gender=male")
	if code != 200 || len(s.ids("match")) != 1 || len(s.ids("outcome")) != 1 || !strings.Contains(body, "nonsense") {
		t.Fatalf("lenient: %d %s", code, body)
	}
	if code, _, body = get(clin, "Patient?nonsense=1", "Prefer", "handling=strict"); code != 400 || !strings.Contains(body, "OperationOutcome") {
		t.Fatalf("strict: %d %s", code, body)
	}

	// Compartment search.
	_, s, _ = get(clin, "Patient/pb/Observation")
	if got := strings.Join(s.ids("match"), ","); got != "Observation/ob4" {
		t.Fatalf("Patient/pb/Observation: %s", got)
	}
	_, s, _ = get(clin, "Patient/pa/Observation?date=2024-01-02")
	if got := strings.Join(s.ids("match"), ","); got != "Observation/ob2" {
		t.Fatalf("Patient/pa/Observation?date: %s", got)
	}

	// A patient token sees only its compartment: in searches, includes
	// and reads.
	pb := tok("--role", "patient", "--patient", "pb")
	_, s, _ = get(pb, "Observation")
	if got := strings.Join(s.ids("match"), ","); got != "Observation/ob4" {
		t.Fatalf("patient token, Observation: %s", got)
	}
	_, s, _ = get(pb, "Patient")
	if got := strings.Join(s.ids("match"), ","); got != "Patient/pb" {
		t.Fatalf("patient token, Patient: %s", got)
	}
	_, s, _ = get(pb, "Observation?_id=ob4&_revinclude=Observation:subject&_include=Observation:subject")
	if got := strings.Join(s.ids("include"), ","); got != "Patient/pb" {
		t.Fatalf("patient token, includes: %s", got)
	}
	if code, _, _ := get(pb, "Observation/ob1"); code != 404 {
		t.Fatalf("patient token reads another's Observation: %d", code)
	}
	if code, _, _ := get(pb, "Observation/ob4"); code != 200 {
		t.Fatalf("patient token reads its own Observation: %d", code)
	}
	if code, _, _ := get(pb, "Patient/pa/Observation"); code != 403 {
		t.Fatalf("patient token, another's compartment: %d", code)
	}
	// History: only the compartment's versions.
	if code, _, body := get(pb, "Observation/_history"); code != 200 || !strings.Contains(body, `"id":"ob4"`) || strings.Contains(body, `"id":"ob1"`) {
		t.Fatalf("patient token, type history: %d %.300s", code, body)
	}
	if code, _, _ := get(pb, "Observation/ob1/_history"); code != 404 {
		t.Fatalf("patient token, another's instance history: %d", code)
	}
	if code, _, _ := get(pb, "Observation/ob4/_history"); code != 200 {
		t.Fatalf("patient token, its own instance history: %d", code)
	}

	// Bundles: reads only, and only the compartment's.
	reads := `{"resourceType":"Bundle","type":"batch","entry":[
		{"request":{"method":"GET","url":"Observation/ob4"}},{"request":{"method":"GET","url":"Observation/ob1"}},
		{"request":{"method":"GET","url":"Observation?status=final"}}]}`
	resp, body = fhirDo(t, "POST", base, pb, reads)
	if resp.StatusCode != 200 || !strings.Contains(body, `"status":"200 OK"`) || !strings.Contains(body, `"status":"404 Not Found"`) ||
		strings.Contains(body, `"id":"ob1"`) || strings.Contains(body, `"id":"ob2"`) {
		t.Fatalf("patient token, batch of reads: %d %s", resp.StatusCode, body)
	}
	write := `{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"POST","url":"Observation"},
		"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/pb"}}}]}`
	if resp, body = fhirDo(t, "POST", base, pb, write); resp.StatusCode != 403 {
		t.Fatalf("patient token, transaction with a write: %d %s", resp.StatusCode, body)
	}

	// Hostile and malformed parameters.
	for _, q := range []string{
		"Patient?birthdate=notadate",
		"Patient?name:exact:x=1",
		"Patient?_count=-1",
		"Patient?_sort=nonsense",
		"Patient?_offset=99999999",
		"Patient?gender=x'%20OR%201=1--",
		"Observation?subject.subject.subject.subject.subject.name=x",
		"Patient?_include=Nope:x",
		"Observation?value-quantity=abc",
		"Patient?_summary=maybe",
	} {
		code, _, body := get(clin, q, "Prefer", "handling=strict")
		if code != 400 || !strings.Contains(body, "OperationOutcome") {
			if !(q == "Patient?gender=x'%20OR%201=1--" && code == 200) { // an odd value is just a value
				t.Errorf("%s: %d %.200s", q, code, body)
			}
		}
	}
	// A huge _count is capped, not refused.
	if code, s, _ := get(clin, "Observation?_count=100000000"); code != 200 || len(s.ids("match")) != 4 {
		t.Fatalf("huge _count: %d", code)
	}
	// The injection attempt matched nothing.
	if _, s, _ := get(clin, "Patient?gender=x'%20OR%201=1--"); len(s.ids("match")) != 0 {
		t.Fatalf("injection matched %v", s.ids("match"))
	}
}
