package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/concord-health/concord/internal/store/storetest"
)

func TestFHIRConditionalSQLite(t *testing.T) {
	dir := t.TempDir()
	conditional(t, dir, []string{"--data", filepath.Join(dir, "d")})
}

func TestFHIRConditionalPostgres(t *testing.T) {
	conditional(t, t.TempDir(), []string{"--db", storetest.PostgresURL(t)})
}

// conditional: 50 parallel conditional creates with the same identifier
// leave exactly one resource; conditional update and delete act on the
// one match and refuse several.
func conditional(t *testing.T, dir string, storeArgs []string) {
	n := startServe(t, dir, storeArgs...)
	o, e, code := run(t, dir, append([]string{"token", "create", "--role", "clinician"}, storeArgs...)...)
	if code != 0 {
		t.Fatalf("token: %s", e)
	}
	tok := strings.TrimSpace(o)
	base := n.url + "/fhir"
	// Synthetic patient, no real person.
	body := `{"resourceType":"Patient","identifier":[{"system":"urn:test:mrn","value":"C-1"}],"name":[{"family":"Racer"}]}`
	statuses := make([]int, 50)
	ids := make([]string, 50)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, b := fhirDo(t, "POST", base+"/Patient", tok, body, "If-None-Exist", "identifier=urn:test:mrn|C-1")
			statuses[i] = resp.StatusCode
			var r struct{ ID string }
			json.Unmarshal([]byte(b), &r)
			ids[i] = r.ID
		}()
	}
	wg.Wait()
	created := 0
	for i, s := range statuses {
		switch s {
		case 201:
			created++
		case 200:
		default:
			t.Fatalf("conditional create %d: %d", i, s)
		}
		if ids[i] != ids[0] || ids[i] == "" {
			t.Fatalf("conditional creates answered different resources: %q and %q", ids[0], ids[i])
		}
	}
	if created != 1 {
		t.Fatalf("%d of 50 conditional creates created a resource", created)
	}
	resp, b := fhirDo(t, "GET", base+"/Patient?identifier=urn:test:mrn|C-1", tok, "")
	var s searchset
	json.Unmarshal([]byte(b), &s)
	if resp.StatusCode != 200 || s.Total == nil || *s.Total != 1 {
		t.Fatalf("after the race: %d %s", resp.StatusCode, b)
	}

	// Conditional update: the one match gets a new version.
	resp, b = fhirDo(t, "PUT", base+"/Patient?identifier=urn:test:mrn|C-1", tok,
		`{"resourceType":"Patient","identifier":[{"system":"urn:test:mrn","value":"C-1"}],"name":[{"family":"Racer"}],"gender":"other"}`)
	if resp.StatusCode != 200 || !strings.Contains(b, `"id":"`+ids[0]+`"`) || resp.Header.Get("ETag") != `W/"2"` {
		t.Fatalf("conditional update: %d %s", resp.StatusCode, b)
	}
	// No match: created.
	resp, _ = fhirDo(t, "PUT", base+"/Patient?identifier=urn:test:mrn|C-2", tok,
		`{"resourceType":"Patient","identifier":[{"system":"urn:test:mrn","value":"C-2"}],"name":[{"family":"Racer"}]}`)
	if resp.StatusCode != 201 {
		t.Fatalf("conditional update as create: %d", resp.StatusCode)
	}
	// Several matches: 412, for update, create and delete.
	if resp, b = fhirDo(t, "PUT", base+"/Patient?family=racer", tok, `{"resourceType":"Patient"}`); resp.StatusCode != 412 || !strings.Contains(b, "OperationOutcome") {
		t.Fatalf("ambiguous conditional update: %d %s", resp.StatusCode, b)
	}
	if resp, _ = fhirDo(t, "POST", base+"/Patient", tok, body, "If-None-Exist", "family=racer"); resp.StatusCode != 412 {
		t.Fatalf("ambiguous conditional create: %d", resp.StatusCode)
	}
	if resp, _ = fhirDo(t, "DELETE", base+"/Patient?family=racer", tok, ""); resp.StatusCode != 412 {
		t.Fatalf("ambiguous conditional delete: %d", resp.StatusCode)
	}
	// Conditional delete of the one match.
	if resp, _ = fhirDo(t, "DELETE", base+"/Patient?identifier=urn:test:mrn|C-2", tok, ""); resp.StatusCode != 204 {
		t.Fatalf("conditional delete: %d", resp.StatusCode)
	}
	resp, b = fhirDo(t, "GET", base+"/Patient?family=racer", tok, "")
	s = searchset{}
	json.Unmarshal([]byte(b), &s)
	if s.Total == nil || *s.Total != 1 {
		t.Fatalf("after the delete: %s", b)
	}
}
