package fhirapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/concord-health/concord"
)

// syntheaNDJSON turns the smallest shared Synthea Bundle into NDJSON as a
// Bulk Data export would write it: each resource with its id (the entry's
// urn:uuid) and references as Type/id. It returns the NDJSON, the
// Patient's id and the Type/id of every resource.
func syntheaNDJSON(t *testing.T) ([]byte, string, []string) {
	bundles := syntheaBundles(t)
	var body []byte
	for _, b := range bundles {
		if body == nil || len(b) < len(body) {
			body = b
		}
	}
	var bundle struct {
		Entry []struct {
			FullURL  string         `json:"fullUrl"`
			Resource map[string]any `json:"resource"`
		}
	}
	if err := json.Unmarshal(body, &bundle); err != nil {
		t.Fatal(err)
	}
	where := map[string]string{}
	for _, e := range bundle.Entry {
		where[e.FullURL] = e.Resource["resourceType"].(string) + "/" + strings.TrimPrefix(e.FullURL, "urn:uuid:")
	}
	var out bytes.Buffer
	var refs []string
	patient := ""
	for _, e := range bundle.Entry {
		res := rewriteRefs(e.Resource, where).(map[string]any)
		res["id"] = strings.TrimPrefix(e.FullURL, "urn:uuid:")
		line, _ := json.Marshal(res)
		out.Write(line)
		out.WriteByte('\n')
		refs = append(refs, where[e.FullURL])
		if res["resourceType"] == "Patient" {
			patient = res["id"].(string)
		}
	}
	return out.Bytes(), patient, refs
}

type importOutcome struct {
	Issue []struct {
		Severity, Code, Diagnostics string
		Expression                  []string
	}
}

func (s *apiServer) importNDJSON(body string) (int, importOutcome) {
	s.t.Helper()
	status, resp := s.do("POST", "/fhir/$import", "application/fhir+ndjson", body)
	var oo importOutcome
	if err := json.Unmarshal([]byte(resp), &oo); err != nil {
		s.t.Fatalf("%d %.300s", status, resp)
	}
	return status, oo
}

// TestImportNDJSONSynthea: a Synthea patient's resources posted as NDJSON
// are all created (and audited), $everything then finds them all; posting
// the same again stores nothing.
func TestImportNDJSONSynthea(t *testing.T) {
	ndjson, patient, refs := syntheaNDJSON(t)
	s := newAPIServer(t, openSQLite(t))
	status, oo := s.importNDJSON(string(ndjson))
	want := regexp.MustCompile(`^(\d+) resources: (\d+) created, 0 updated, 0 unchanged, 0 failed$`)
	if m := want.FindStringSubmatch(oo.Issue[0].Diagnostics); status != 200 || m == nil || m[1] != m[2] || m[1] != itoa(len(refs)) {
		t.Fatalf("import: %d %+v", status, oo.Issue[0])
	}
	if len(oo.Issue) != 1+len(refs) || oo.Issue[5].Expression[0] != "line 5" || !strings.HasSuffix(oo.Issue[5].Diagnostics, "created (version 1)") {
		t.Errorf("per-line issues: %d, the fifth %+v", len(oo.Issue), oo.Issue[5])
	}
	ids, _, _ := s.everything("/fhir/Patient/" + patient + "/$everything")
	got := append(ids["match"], ids["include"]...)
	slices.Sort(got)
	slices.Sort(refs)
	if !slices.Equal(got, refs) {
		t.Errorf("$everything after the import: %d resources, want the %d imported", len(got), len(refs))
	}
	// Each write is audited (as a PUT: update, whether it created).
	writes := 0
	s.store.AuditRecords(context.Background(), concord.AuditFilter{}, func(r *concord.AuditRecord) error {
		if (r.Action == concord.AuditCreate || r.Action == concord.AuditUpdate) && r.Actor == "test-token" {
			writes++
		}
		return nil
	})
	if writes != len(refs) {
		t.Errorf("%d write audit records for %d resources", writes, len(refs))
	}
	before, _ := s.store.LastChange(context.Background())
	status, oo = s.importNDJSON(string(ndjson))
	if status != 200 || oo.Issue[0].Diagnostics != itoa(len(refs))+" resources: 0 created, 0 updated, "+itoa(len(refs))+" unchanged, 0 failed" {
		t.Errorf("again: %d %+v", status, oo.Issue[0])
	}
	if after, _ := s.store.LastChange(context.Background()); after != before {
		t.Errorf("the second import stored versions: change log %d → %d", before, after)
	}
}

// TestImportNDJSONBadLines: lines that are not JSON, not resources, have
// no id, do not validate or are too long fail alone, each named by its
// line number; the good lines are stored.
func TestImportNDJSONBadLines(t *testing.T) {
	s := newAPIServer(t, openSQLite(t))
	body := strings.Join([]string{
		`{"resourceType":"Patient","id":"good1","gender":"female"}`,
		``,
		`{"resourceType":"Patient","id":"bad3","gender":"robot"}`,
		`this is not JSON`,
		`{"resourceType":"Nope","id":"x"}`,
		`{"resourceType":"Patient","gender":"male"}`,
		`{"resourceType":"Observation","id":"good7","status":"final","code":{"text":"synthetic"},"subject":{"reference":"Patient/good1"}}`,
		`{"resourceType":"Patient","id":"big8","name":[{"family":"` + strings.Repeat("x", maxResource) + `"}]}`,
		`{"resourceType":"Patient","id":"good9"}`,
	}, "\r\n")
	status, oo := s.importNDJSON(body)
	if status != 200 || oo.Issue[0].Diagnostics != "8 resources: 3 created, 0 updated, 0 unchanged, 5 failed" || oo.Issue[0].Severity != "warning" {
		t.Fatalf("%d %+v", status, oo.Issue[0])
	}
	failed := map[string]string{}
	for _, is := range oo.Issue[1:] {
		if is.Severity == "error" {
			failed[is.Expression[0]] += is.Diagnostics + " | " + strings.Join(is.Expression, ",")
		}
	}
	for line, want := range map[string]string{"line 3": "Patient.gender", "line 4": "JSON", "line 5": "Nope", "line 6": "no id", "line 8": "longer than"} {
		if !strings.Contains(failed[line], want) {
			t.Errorf("%s: %q, want it to name %q", line, failed[line], want)
		}
	}
	if len(failed) != 5 {
		t.Errorf("failed lines: %v", failed)
	}
	for _, id := range []string{"Patient/good1", "Observation/good7", "Patient/good9"} {
		typ, rid, _ := strings.Cut(id, "/")
		if _, err := s.store.Resource(context.Background(), typ, rid); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
}

// TestImportNDJSONRefused: a caller without write scopes on every type,
// or limited to a patient, is refused; other bodies than NDJSON are
// refused; an empty body is 400.
func TestImportNDJSONRefused(t *testing.T) {
	s := newAPIServer(t, openSQLite(t))
	line := `{"resourceType":"Patient","id":"p1"}`
	s.caller = principal(t, "", "user/Patient.cruds")
	if status, _ := s.do("POST", "/fhir/$import", "application/fhir+ndjson", line); status != 403 {
		t.Errorf("Patient scopes only: %d", status)
	}
	s.caller = principal(t, "", "user/*.rs")
	if status, _ := s.do("POST", "/fhir/$import", "application/fhir+ndjson", line); status != 403 {
		t.Errorf("read scopes: %d", status)
	}
	s.caller = principal(t, "p1", "patient/*.cruds")
	if status, _ := s.do("POST", "/fhir/$import", "application/fhir+ndjson", line); status != 403 {
		t.Errorf("patient token: %d", status)
	}
	if _, err := s.store.Resource(context.Background(), "Patient", "p1"); concord.ErrorCode(err) != concord.ENOTFOUND {
		t.Errorf("a refused import stored Patient/p1: %v", err)
	}
	s.caller = principal(t, "", "user/*.cruds")
	for ct, want := range map[string]int{"application/fhir+json": 501, "text/plain": 400, "": 400} {
		if status, _ := s.do("POST", "/fhir/$import", ct, line); status != want {
			t.Errorf("Content-Type %q: %d, want %d", ct, status, want)
		}
	}
	if status, _ := s.do("POST", "/fhir/$import", "application/ndjson", "\n\n"); status != 400 {
		t.Errorf("empty: %d", status)
	}
}

// TestNDJSONReader: lines end with \n or \r\n (the last may have no end),
// a line over the cap is skipped to its end and the next is read, and a
// body over its cap stops the reading with ETOOLARGE.
func TestNDJSONReader(t *testing.T) {
	rd := newNDJSONReader(strings.NewReader("ab\r\n0123456789\ncd\n\nef"), 5, 1000)
	var got []string
	for {
		line, err := rd.next()
		if err == io.EOF {
			break
		}
		var le *lineError
		if errors.As(err, &le) {
			got = append(got, "long@"+itoa(rd.line))
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(line)+"@"+itoa(rd.line))
	}
	if want := []string{"ab@1", "long@2", "cd@3", "@4", "ef@5"}; !slices.Equal(got, want) {
		t.Errorf("lines %q, want %q", got, want)
	}
	rd = newNDJSONReader(strings.NewReader("abc\ndef\nghi\n"), 100, 6)
	if line, err := rd.next(); err != nil || string(line) != "abc" {
		t.Fatalf("%q %v", line, err)
	}
	if _, err := rd.next(); concord.ErrorCode(err) != concord.ETOOLARGE {
		t.Errorf("over the body's cap: %v", err)
	}
	rd = newNDJSONReader(strings.NewReader("abc\nde\n"), 100, 7)
	n := 0
	for {
		if _, err := rd.next(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("a body of exactly the cap: %v", err)
		}
		n++
	}
	if n != 2 {
		t.Errorf("%d lines", n)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
