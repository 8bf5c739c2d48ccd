package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestFHIRSummaryAndElements: _summary and _elements shape what read and
// vread return, and mark it SUBSETTED; bad values are refused.
func TestFHIRSummaryAndElements(t *testing.T) {
	n := startFHIR(t)
	clin := n.token("--role", "clinician")
	url := n.url + "/fhir/Observation/syn-obs-1"
	// A synthetic observation.
	obs := `{"resourceType":"Observation","id":"syn-obs-1","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">synthetic</div>"},
		"status":"final","code":{"text":"synthetic blood pressure"},"subject":{"reference":"Patient/syn-1"},
		"valueQuantity":{"value":120,"unit":"mmHg"},"note":[{"text":"synthetic"}],
		"component":[{"code":{"text":"systolic"},"valueQuantity":{"value":120},"interpretation":[{"text":"normal"}]}]}`
	if resp, body := fhirDo(t, "PUT", url, clin, obs); resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	get := func(u string) (int, map[string]any) {
		t.Helper()
		resp, body := fhirDo(t, "GET", u, clin, "")
		var m map[string]any
		if resp.StatusCode == 200 {
			if err := json.Unmarshal([]byte(body), &m); err != nil {
				t.Fatalf("%s: %v", u, err)
			}
		} else if !strings.Contains(body, "OperationOutcome") {
			t.Errorf("%s: %d without an OperationOutcome: %s", u, resp.StatusCode, body)
		}
		return resp.StatusCode, m
	}
	subsetted := func(m map[string]any) bool {
		b, _ := json.Marshal(m["meta"])
		return strings.Contains(string(b), `"code":"SUBSETTED"`) && strings.Contains(string(b), "v3-ObservationValue")
	}
	for _, c := range []struct {
		query         string
		has, lacks    []string
		wantSubsetted bool
	}{
		{"", []string{"text", "note", "valueQuantity"}, nil, false},
		{"?_summary=false", []string{"text", "note"}, nil, false},
		{"?_summary=true", []string{"id", "meta", "status", "code", "subject", "valueQuantity", "component"}, []string{"text", "note"}, true},
		{"?_summary=text", []string{"text", "status", "code"}, []string{"subject", "valueQuantity", "note"}, true},
		{"?_summary=data", []string{"status", "note", "valueQuantity"}, []string{"text"}, true},
		{"?_elements=value,nosuch", []string{"valueQuantity", "status", "code", "id"}, []string{"subject", "note", "text"}, true},
		{"/_history/1?_elements=subject", []string{"subject", "status"}, []string{"valueQuantity"}, true},
	} {
		status, m := get(url + c.query)
		if status != 200 {
			t.Errorf("%s: %d", c.query, status)
			continue
		}
		for _, k := range c.has {
			if _, ok := m[k]; !ok {
				t.Errorf("%s: no %s", c.query, k)
			}
		}
		for _, k := range c.lacks {
			if _, ok := m[k]; ok {
				t.Errorf("%s: %s should be left out", c.query, k)
			}
		}
		if subsetted(m) != c.wantSubsetted {
			t.Errorf("%s: SUBSETTED %v, want %v", c.query, subsetted(m), c.wantSubsetted)
		}
	}
	_, m := get(url + "?_summary=true")
	if comp := m["component"].([]any)[0].(map[string]any); comp["interpretation"] != nil || comp["code"] == nil {
		t.Errorf("_summary=true keeps only summary elements of a component: %v", comp)
	}
	for _, q := range []string{"?_summary=count", "?_summary=yes", "?_summary=true&_elements=status"} {
		if status, _ := get(url + q); status != 400 {
			t.Errorf("%s: %d, want 400", q, status)
		}
	}
}

// TestFHIRHistoryAt: _at lists the versions current at some moment of
// the period it gives, at instance, type and system level.
func TestFHIRHistoryAt(t *testing.T) {
	n := startFHIR(t)
	clin := n.token("--role", "clinician")
	base := n.url + "/fhir"
	// write stores a version and returns its lastUpdated, after waiting
	// until the clock has left that millisecond, so the next version's
	// instant differs.
	write := func(method, path, body string) string {
		t.Helper()
		resp, out := fhirDo(t, method, base+path, clin, body)
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, out)
		}
		var r struct{ Meta struct{ LastUpdated string } }
		json.Unmarshal([]byte(out), &r)
		at, err := time.Parse(time.RFC3339Nano, r.Meta.LastUpdated)
		if err != nil {
			t.Fatalf("%s %s: lastUpdated %q", method, path, r.Meta.LastUpdated)
		}
		for !time.Now().Truncate(time.Millisecond).After(at) {
			time.Sleep(time.Millisecond)
		}
		return r.Meta.LastUpdated
	}
	obs := func(id, status string) string {
		return `{"resourceType":"Observation","id":"` + id + `","status":"` + status + `","code":{"text":"synthetic"}}`
	}
	t1 := write("PUT", "/Observation/syn-a", obs("syn-a", "preliminary"))
	t2 := write("PUT", "/Observation/syn-a", obs("syn-a", "final"))
	t3 := write("PUT", "/Observation/syn-b", obs("syn-b", "final"))
	t4 := write("PUT", "/Observation/syn-a", obs("syn-a", "amended"))

	history := func(path string) []string {
		t.Helper()
		resp, body := fhirDo(t, "GET", base+path, clin, "")
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
		var b struct {
			Entry []struct {
				FullURL  string
				Response struct{ Etag string }
			}
		}
		json.Unmarshal([]byte(body), &b)
		var out []string
		for _, e := range b.Entry {
			out = append(out, strings.TrimPrefix(e.FullURL, base+"/Observation/")+" "+e.Response.Etag)
		}
		return out
	}
	day := t1[:10]
	for _, c := range []struct {
		path string
		want string
	}{
		{"/Observation/syn-a/_history?_at=" + t1, `syn-a W/"1"`},
		{"/Observation/syn-a/_history?_at=" + t2, `syn-a W/"2"`},
		{"/Observation/syn-a/_history?_at=" + t3, `syn-a W/"2"`},
		{"/Observation/syn-a/_history?_at=" + t4, `syn-a W/"3"`},
		{"/Observation/_history?_at=" + t3, `syn-b W/"1",syn-a W/"2"`},
		{"/_history?_at=" + t1, `syn-a W/"1"`},
		{"/_history?_at=" + t4, `syn-a W/"3",syn-b W/"1"`},
		{"/Observation/syn-a/_history?_at=lt1990", ``},
		{"/Observation/syn-a/_history?_at=ge" + t2, `syn-a W/"3",syn-a W/"2"`},
	} {
		if got := strings.Join(history(c.path), ","); got != c.want {
			t.Errorf("%s: %s, want %s", c.path, got, c.want)
		}
	}
	// A day is a period: every version current that day (unless the test
	// ran across midnight UTC).
	if t4[:10] == day {
		if got := strings.Join(history("/Observation/syn-a/_history?_at="+day), ","); got != `syn-a W/"3",syn-a W/"2",syn-a W/"1"` {
			t.Errorf("_at=%s: %s", day, got)
		}
	}
	// The next page keeps the period.
	resp, body := fhirDo(t, "GET", base+"/_history?_at=ge2000&_count=1", clin, "")
	if resp.StatusCode != 200 || !strings.Contains(body, `"relation":"next"`) || !strings.Contains(body, "_at=ge2000") {
		t.Errorf("paged _at: %d %s", resp.StatusCode, body)
	}
	for _, bad := range []string{"yesterday", "ap2026", "2026-13-01", "2026-02-30"} {
		if resp, body := fhirDo(t, "GET", base+"/Observation/_history?_at="+bad, clin, ""); resp.StatusCode != 400 || !strings.Contains(body, "OperationOutcome") {
			t.Errorf("_at=%s: %d %s", bad, resp.StatusCode, body)
		}
	}
}
