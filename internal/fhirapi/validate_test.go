package fhirapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/store/sqlite"
)

// muxRouter registers routes on a ServeMux without a guard: these tests
// are about the handlers, not about access.
type muxRouter struct{ *http.ServeMux }

func (m muxRouter) Handle(pattern string, _ concord.Access, h http.Handler) {
	m.ServeMux.Handle(pattern, h)
}

// testAPI serves the FHIR API over a fresh SQLite store.
func testAPI(t *testing.T) *httptest.Server {
	t.Helper()
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "concord.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	mux := http.NewServeMux()
	Register(muxRouter{mux}, store, Options{Version: "test"})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

type opOutcome struct {
	ResourceType string
	Issue        []struct {
		Severity, Code, Diagnostics string
		Expression                  []string
	}
}

// do sends a request and returns the status and body.
func do(t *testing.T, srv *httptest.Server, method, path, contentType, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func parseOutcome(t *testing.T, body string) opOutcome {
	t.Helper()
	var oo opOutcome
	if err := json.Unmarshal([]byte(body), &oo); err != nil || oo.ResourceType != "OperationOutcome" {
		t.Fatalf("not an OperationOutcome: %s", body)
	}
	return oo
}

// has tells whether an opOutcome has an issue of severity and code at expr.
func (oo opOutcome) has(severity, code, expr string) bool {
	for _, is := range oo.Issue {
		if is.Severity == severity && is.Code == code && (expr == "" && len(is.Expression) == 0 || len(is.Expression) == 1 && is.Expression[0] == expr) {
			return true
		}
	}
	return false
}

// hasErrors tells whether an opOutcome has an error issue.
func (oo opOutcome) hasErrors() bool {
	for _, is := range oo.Issue {
		if is.Severity == "error" {
			return true
		}
	}
	return false
}

// Synthetic resources.
const (
	fhirJSONType = "application/fhir+json"
	text         = `"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">synthetic</div>"}`
	goodPatient  = `{"resourceType":"Patient",` + text + `,"gender":"female","name":[{"family":"Synthetic"}]}`
	badPatient   = `{"resourceType":"Patient","gender":"m","name":[{"family":"Synthetic","nick":"S"}]}`
)

// TestWritesValidate: create, update and patch refuse a resource with
// errors (400, every issue with its expression) and store nothing;
// warnings do not stop a write.
func TestWritesValidate(t *testing.T) {
	srv := testAPI(t)
	status, body := do(t, srv, "POST", "/fhir/Patient", fhirJSONType, badPatient)
	oo := parseOutcome(t, body)
	if status != 400 || !oo.has("error", "code-invalid", "Patient.gender") || !oo.has("error", "structure", "Patient.name[0].nick") {
		t.Fatalf("create: %d %s", status, body)
	}
	if !oo.has("warning", "invariant", "Patient") {
		t.Errorf("create: warnings are listed with the errors: %s", body)
	}

	status, body = do(t, srv, "POST", "/fhir/Patient", fhirJSONType, `{"resourceType":"Patient","active":true}`)
	if status != 201 {
		t.Fatalf("create with a warning only: %d %s", status, body)
	}

	status, body = do(t, srv, "PUT", "/fhir/Patient/syn-1", fhirJSONType, strings.Replace(badPatient, `"Patient",`, `"Patient","id":"syn-1",`, 1))
	if status != 400 || !parseOutcome(t, body).has("error", "code-invalid", "Patient.gender") {
		t.Fatalf("update: %d %s", status, body)
	}
	if status, _ = do(t, srv, "GET", "/fhir/Patient/syn-1", "", ""); status != 404 {
		t.Fatalf("refused update-as-create stored something: %d", status)
	}
	good := strings.Replace(goodPatient, `"Patient",`, `"Patient","id":"syn-1",`, 1)
	if status, body = do(t, srv, "PUT", "/fhir/Patient/syn-1", fhirJSONType, good); status != 201 {
		t.Fatalf("update as create: %d %s", status, body)
	}

	status, body = do(t, srv, "PATCH", "/fhir/Patient/syn-1", "application/json-patch+json", `[{"op":"replace","path":"/gender","value":"f"}]`)
	if status != 400 || !parseOutcome(t, body).has("error", "code-invalid", "Patient.gender") {
		t.Fatalf("patch: %d %s", status, body)
	}
	status, body = do(t, srv, "GET", "/fhir/Patient/syn-1", "", "")
	if status != 200 || !strings.Contains(body, `"versionId":"1"`) || !strings.Contains(body, `"gender":"female"`) {
		t.Fatalf("after a refused patch: %d %s", status, body)
	}
	if status, body = do(t, srv, "PATCH", "/fhir/Patient/syn-1", "application/json-patch+json", `[{"op":"replace","path":"/gender","value":"other"}]`); status != 200 {
		t.Fatalf("valid patch: %d %s", status, body)
	}
}

// TestValidateOperation: $validate at type and instance level, with the
// resource as the body or in Parameters, its modes and profiles.
func TestValidateOperation(t *testing.T) {
	srv := testAPI(t)
	if status, body := do(t, srv, "PUT", "/fhir/Patient/syn-1", fhirJSONType, strings.Replace(goodPatient, `"Patient",`, `"Patient","id":"syn-1",`, 1)); status != 201 {
		t.Fatalf("setup: %d %s", status, body)
	}
	params := func(resource, mode, profile string) string {
		var ps []string
		if resource != "" {
			ps = append(ps, `{"name":"resource","resource":`+resource+`}`)
		}
		if mode != "" {
			ps = append(ps, `{"name":"mode","valueCode":"`+mode+`"}`)
		}
		if profile != "" {
			ps = append(ps, `{"name":"profile","valueUri":"`+profile+`"}`)
		}
		return `{"resourceType":"Parameters","parameter":[` + strings.Join(ps, ",") + `]}`
	}
	withID := func(src, id string) string { return strings.Replace(src, `"Patient",`, `"Patient","id":"`+id+`",`, 1) }
	cases := []struct {
		name, path, body     string
		severity, code, expr string // an issue the opOutcome must have
		noErrors             bool
	}{
		{"clean resource", "/fhir/Patient/$validate", goodPatient, "information", "informational", "", true},
		{"resource with errors", "/fhir/Patient/$validate", badPatient, "error", "code-invalid", "Patient.gender", false},
		{"in Parameters", "/fhir/Patient/$validate", params(badPatient, "", ""), "error", "structure", "Patient.name[0].nick", false},
		{"warnings only", "/fhir/Patient/$validate", `{"resourceType":"Patient"}`, "warning", "invariant", "Patient", true},
		{"wrong type", "/fhir/Observation/$validate", goodPatient, "error", "invalid", "", false},
		{"base profile", "/fhir/Patient/$validate", params(goodPatient, "", "http://hl7.org/fhir/StructureDefinition/Patient"), "information", "informational", "", true},
		{"other profile", "/fhir/Patient/$validate", params(goodPatient, "", "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"), "error", "not-supported", "", false},
		{"create", "/fhir/Patient/$validate", params(goodPatient, "create", ""), "information", "informational", "", true},
		{"update without id", "/fhir/Patient/$validate", params(goodPatient, "update", ""), "error", "required", "Patient.id", false},
		{"update with the URL's id", "/fhir/Patient/syn-1/$validate", params(withID(goodPatient, "syn-1"), "update", ""), "information", "informational", "", true},
		{"update with another id", "/fhir/Patient/syn-1/$validate", params(withID(goodPatient, "syn-2"), "update", ""), "error", "invalid", "Patient.id", false},
		{"delete of an existing resource", "/fhir/Patient/syn-1/$validate", params("", "delete", ""), "information", "informational", "", true},
		{"delete of a missing resource", "/fhir/Patient/syn-9/$validate", params("", "delete", ""), "error", "not-found", "", false},
		{"mode in the query", "/fhir/Patient/syn-1/$validate?mode=update", withID(goodPatient, "syn-2"), "error", "invalid", "Patient.id", false},
	}
	for _, c := range cases {
		status, body := do(t, srv, "POST", c.path, fhirJSONType, c.body)
		if status != 200 {
			t.Errorf("%s: %d %s", c.name, status, body)
			continue
		}
		oo := parseOutcome(t, body)
		if !oo.has(c.severity, c.code, c.expr) {
			t.Errorf("%s: want %s %s at %q: %s", c.name, c.severity, c.code, c.expr, body)
		}
		if c.noErrors && oo.hasErrors() {
			t.Errorf("%s: errors in %s", c.name, body)
		}
	}
	for name, c := range map[string]struct{ path, body string }{
		"unknown mode":   {"/fhir/Patient/$validate", params(goodPatient, "replace", "")},
		"no resource":    {"/fhir/Patient/$validate", params("", "create", "")},
		"delete, no id":  {"/fhir/Patient/$validate", params("", "delete", "")},
		"not JSON":       {"/fhir/Patient/$validate", "{"},
		"bad id in path": {"/fhir/Patient/a%20b/$validate", goodPatient},
	} {
		if status, body := do(t, srv, "POST", c.path, fhirJSONType, c.body); status != 400 {
			t.Errorf("%s: %d %s", name, status, body)
		}
	}
	// $validate stores nothing.
	if status, body := do(t, srv, "GET", "/fhir/Patient/syn-1/_history", "", ""); status != 200 || strings.Count(body, `"versionId"`) != 1 {
		t.Fatalf("history after $validate: %d %s", status, body)
	}
}

// TestCapabilityValidate: the CapabilityStatement announces $validate.
func TestCapabilityValidate(t *testing.T) {
	srv := testAPI(t)
	status, body := do(t, srv, "GET", "/fhir/metadata", "", "")
	if status != 200 || !strings.Contains(body, `"definition":"http://hl7.org/fhir/OperationDefinition/Resource-validate"`) {
		t.Fatalf("%d %.300s", status, body)
	}
}
