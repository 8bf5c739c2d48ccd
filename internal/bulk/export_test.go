package bulk

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/concord-health/concord"
)

// Synthetic fixtures: three patients, their observations, a practitioner
// and a Group of two of the patients (one more member inactive, one not
// a Patient).
var fixtures = []string{
	`{"resourceType":"Practitioner","id":"dr1","name":[{"family":"Synthetic"}]}`,
	`{"resourceType":"Patient","id":"pa","name":[{"family":"Alpha"}],"gender":"female"}`,
	`{"resourceType":"Patient","id":"pb","name":[{"family":"Beta"}],"gender":"male"}`,
	`{"resourceType":"Patient","id":"pc","name":[{"family":"Gamma"}],"gender":"female"}`,
	`{"resourceType":"Observation","id":"oa1","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8302-2"}]},"subject":{"reference":"Patient/pa"}}`,
	`{"resourceType":"Observation","id":"oa2","status":"preliminary","code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}]},"subject":{"reference":"Patient/pa"}}`,
	`{"resourceType":"Observation","id":"ob1","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8302-2"}]},"subject":{"reference":"Patient/pb"}}`,
	`{"resourceType":"Observation","id":"oc1","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8302-2"}]},"subject":{"reference":"Patient/pc"}}`,
	`{"resourceType":"Condition","id":"ca1","subject":{"reference":"Patient/pa"}}`,
	`{"resourceType":"Group","id":"g1","type":"person","actual":true,"member":[
	  {"entity":{"reference":"Patient/pa"}},{"entity":{"reference":"Patient/pb"}},
	  {"entity":{"reference":"Patient/pc"},"inactive":true},{"entity":{"reference":"Practitioner/dr1"}}]}`,
}

// run kicks off path as bearer, waits for it and returns the exported ids
// by type ("Type/id" joined by spaces, sorted) and the manifest.
func (e *env) run(path, bearer string) (map[string]string, exportManifest) {
	e.t.Helper()
	m := e.wait(e.kickoff(path, bearer), bearer)
	out := map[string]string{}
	for typ, ids := range e.exported(m, bearer) {
		slices.Sort(ids)
		out[typ] = strings.Join(ids, " ")
	}
	return out, m
}

func TestExportParametersSQLite(t *testing.T) { testExportParameters(t, openSQLite(t)) }

func TestExportParametersPostgres(t *testing.T) { testExportParameters(t, openPostgres(t)) }

func testExportParameters(t *testing.T, st concord.Store) {
	e := newEnv(t, st, Options{})
	e.put(fixtures...)
	got, m := e.run("/fhir/$export", e.admin)
	if got["Patient"] != "pa pb pc" || got["Observation"] != "oa1 oa2 ob1 oc1" || got["Practitioner"] != "dr1" || got["Group"] != "g1" || len(got) != 5 {
		t.Fatalf("system export: %v", got)
	}
	if !strings.HasSuffix(m.Request, "/fhir/$export") {
		t.Fatalf("manifest request %q", m.Request)
	}
	// The CapabilityStatement says so.
	if resp, body := e.do("GET", "/fhir/metadata", "", ""); resp.StatusCode != 200 ||
		!strings.Contains(body, `"instantiates":["http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"]`) ||
		!strings.Contains(body, `{"name":"export","definition":"http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"}`) ||
		!strings.Contains(body, `{"name":"export","definition":"http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export"}`) ||
		!strings.Contains(body, `{"name":"export","definition":"http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export"}`) {
		t.Fatalf("metadata: %d %.300s", resp.StatusCode, body)
	}
	// _type
	got, _ = e.run("/fhir/$export?_type=Patient,Condition", e.admin)
	if got["Patient"] != "pa pb pc" || got["Condition"] != "ca1" || len(got) != 2 {
		t.Fatalf("_type=Patient,Condition: %v", got)
	}
	// _since: only what changed after it.
	time.Sleep(5 * time.Millisecond)
	since := time.Now().UTC()
	time.Sleep(5 * time.Millisecond)
	e.put(`{"resourceType":"Observation","id":"ob1","status":"amended","code":{"coding":[{"system":"http://loinc.org","code":"8302-2"}]},"subject":{"reference":"Patient/pb"}}`)
	if resp, body := e.do("DELETE", "/fhir/Condition/ca1", e.admin, ""); resp.StatusCode/100 != 2 {
		t.Fatalf("DELETE: %d %s", resp.StatusCode, body)
	}
	got, m = e.run("/fhir/$export?_since="+url.QueryEscape(since.Format(time.RFC3339Nano)), e.admin)
	if got["Observation"] != "ob1" || len(got) != 1 {
		t.Fatalf("_since: %v", got)
	}
	// What was deleted since: transaction Bundles of DELETEs.
	if len(m.Deleted) != 1 || m.Deleted[0].Type != "Bundle" || m.Deleted[0].Count != 1 {
		t.Fatalf("_since: deleted files %+v", m.Deleted)
	}
	resp, body := e.do("GET", m.Deleted[0].URL, e.admin, "")
	if resp.StatusCode != 200 || !strings.Contains(body, `"type":"transaction"`) ||
		!strings.Contains(body, `{"request":{"method":"DELETE","url":"Condition/ca1"}}`) || strings.Count(body, "\n") != 1 {
		t.Fatalf("deleted file: %d %s", resp.StatusCode, body)
	}
	// Without _since, nothing is listed as deleted.
	if _, m = e.run("/fhir/$export?_type=Condition", e.admin); len(m.Output) != 0 || len(m.Deleted) != 0 {
		t.Fatalf("after the delete, _type=Condition: %+v", m)
	}
	// _typeFilter: each type's filters are alternatives; other types are
	// exported whole.
	q := "_type=Observation,Patient&_typeFilter=" + url.QueryEscape("Observation?status=final&code=http://loinc.org|8302-2") +
		"&_typeFilter=" + url.QueryEscape("Observation?status=preliminary") + "&_typeFilter=" + url.QueryEscape("Patient?gender=female")
	got, _ = e.run("/fhir/$export?"+q, e.admin)
	if got["Observation"] != "oa1 oa2 oc1" || got["Patient"] != "pa pc" || len(got) != 2 {
		t.Fatalf("_typeFilter: %v", got)
	}
	// POST with a Parameters body.
	params := `{"resourceType":"Parameters","parameter":[{"name":"_type","valueString":"Observation"},
	  {"name":"_typeFilter","valueString":"Observation?subject=Patient/pc"},{"name":"_outputFormat","valueString":"ndjson"}]}`
	resp, out := e.do("POST", "/fhir/$export", e.admin, params, "Prefer", "respond-async", "Content-Type", "application/fhir+json")
	if resp.StatusCode != 202 {
		t.Fatalf("POST $export: %d %s", resp.StatusCode, out)
	}
	ids := e.exported(e.wait(resp.Header.Get("Content-Location"), e.admin), e.admin)
	if strings.Join(ids["Observation"], " ") != "oc1" || len(ids) != 1 {
		t.Fatalf("POST $export: %v", ids)
	}
	// A resource written with line breaks in its JSON is still one line.
	e.put("{\n  \"resourceType\": \"Practitioner\",\n  \"id\": \"dr2\",\r\n  \"name\": [ {\"family\": \"Two\"} ]\n}")
	if got, _ = e.run("/fhir/$export?_type=Practitioner", e.admin); got["Practitioner"] != "dr1 dr2" {
		t.Fatalf("_type=Practitioner: %v", got)
	}
	// Refusals: 400 with an OperationOutcome.
	for _, tc := range []struct{ path, prefer, why string }{
		{"/fhir/$export", "", "respond-async"},
		{"/fhir/$export?_outputFormat=text/csv", "respond-async", "_outputFormat"},
		{"/fhir/$export?_outputFormat=application/fhir%2Bndjson", "respond-async", ""},
		{"/fhir/$export?_outputFormat=application/fhir+ndjson", "respond-async", ""},
		{"/fhir/$export?_type=Nothing", "respond-async", "Nothing"},
		{"/fhir/$export?_since=yesterday", "respond-async", "_since"},
		{"/fhir/$export?_elements=id", "respond-async", "_elements"},
		{"/fhir/$export?_typeFilter=" + url.QueryEscape("Observation?_sort=date"), "respond-async", "_sort"},
		{"/fhir/$export?_typeFilter=" + url.QueryEscape("Observation?colour=red"), "respond-async", "colour"},
		{"/fhir/$export?_type=Patient&_typeFilter=" + url.QueryEscape("Observation?status=final"), "respond-async", "not among"},
		{"/fhir/Patient/$export?_type=Practitioner", "respond-async", "compartment"},
	} {
		resp, out := e.do("GET", tc.path, e.admin, "", "Prefer", tc.prefer)
		if tc.why == "" {
			if resp.StatusCode != 202 {
				t.Errorf("%s: %d %s", tc.path, resp.StatusCode, out)
			}
			continue
		}
		if resp.StatusCode != 400 || !strings.Contains(out, "OperationOutcome") || !strings.Contains(out, tc.why) {
			t.Errorf("%s (Prefer %q): %d %s; want 400 naming %s", tc.path, tc.prefer, resp.StatusCode, out, tc.why)
		}
	}
}

func TestPatientAndGroupExportSQLite(t *testing.T) { testPatientAndGroupExport(t, openSQLite(t)) }

func TestPatientAndGroupExportPostgres(t *testing.T) { testPatientAndGroupExport(t, openPostgres(t)) }

func testPatientAndGroupExport(t *testing.T, st concord.Store) {
	e := newEnv(t, st, Options{})
	e.put(fixtures...)
	// Patient level: every patient's compartment, nothing outside it
	// (the Group is in its members' compartments: Group.member).
	got, _ := e.run("/fhir/Patient/$export", e.admin)
	if got["Patient"] != "pa pb pc" || got["Observation"] != "oa1 oa2 ob1 oc1" || got["Condition"] != "ca1" || got["Group"] != "g1" || len(got) != 4 {
		t.Fatalf("Patient export: %v", got)
	}
	// Group level: the active Patient members only; the Practitioner
	// member is reported in the error file.
	got, m := e.run("/fhir/Group/g1/$export", e.admin)
	if got["Patient"] != "pa pb" || got["Observation"] != "oa1 oa2 ob1" || got["Condition"] != "ca1" || got["Group"] != "g1" || len(got) != 4 {
		t.Fatalf("Group export: %v", got)
	}
	if len(m.Error) != 1 || m.Error[0].Type != "OperationOutcome" || m.Error[0].Count != 1 {
		t.Fatalf("Group export error files: %+v", m.Error)
	}
	resp, body := e.do("GET", m.Error[0].URL, e.admin, "")
	if resp.StatusCode != 200 || !strings.Contains(body, "Practitioner/dr1") || strings.Count(body, "\n") != 1 {
		t.Fatalf("error file: %d %s", resp.StatusCode, body)
	}
	// With _since, the Group's deletions since: those of its members'
	// resources only.
	since := time.Now().UTC()
	time.Sleep(2 * time.Millisecond)
	for _, path := range []string{"/fhir/Observation/oa2", "/fhir/Observation/oc1", "/fhir/Practitioner/dr1"} {
		if resp, body := e.do("DELETE", path, e.admin, ""); resp.StatusCode/100 != 2 {
			t.Fatalf("DELETE %s: %d %s", path, resp.StatusCode, body)
		}
	}
	got, m = e.run("/fhir/Group/g1/$export?_since="+url.QueryEscape(since.Format(time.RFC3339Nano)), e.admin)
	if len(got) != 0 || len(m.Deleted) != 1 || m.Deleted[0].Count != 1 {
		t.Fatalf("Group export since the deletions: %v, deleted %+v", got, m.Deleted)
	}
	if _, body := e.do("GET", m.Deleted[0].URL, e.admin, ""); !strings.Contains(body, `"url":"Observation/oa2"`) {
		t.Fatalf("Group export deleted file: %s", body)
	}
	if _, m = e.run("/fhir/Patient/$export?_since="+url.QueryEscape(since.Format(time.RFC3339Nano)), e.admin); len(m.Deleted) != 1 || m.Deleted[0].Count != 2 {
		t.Fatalf("Patient export since the deletions: deleted %+v", m.Deleted)
	}
	// The patient parameter narrows a Group (POST).
	params := `{"resourceType":"Parameters","parameter":[{"name":"patient","valueReference":{"reference":"Patient/pb"}},
	  {"name":"_type","valueString":"Observation"}]}`
	resp, body = e.do("POST", "/fhir/Group/g1/$export", e.admin, params, "Prefer", "respond-async", "Content-Type", "application/fhir+json")
	if resp.StatusCode != 202 {
		t.Fatalf("POST Group $export: %d %s", resp.StatusCode, body)
	}
	ids := e.exported(e.wait(resp.Header.Get("Content-Location"), e.admin), e.admin)
	if strings.Join(ids["Observation"], " ") != "ob1" || len(ids) != 1 {
		t.Fatalf("Group export for Patient/pb: %v", ids)
	}
	// And a Patient export.
	params = `{"resourceType":"Parameters","parameter":[{"name":"patient","valueReference":{"reference":"Patient/pb"}},
	  {"name":"_type","valueString":"Patient,Observation,Condition"}]}`
	resp, body = e.do("POST", "/fhir/Patient/$export", e.admin, params, "Prefer", "respond-async", "Content-Type", "application/fhir+json")
	if resp.StatusCode != 202 {
		t.Fatalf("POST Patient $export: %d %s", resp.StatusCode, body)
	}
	ids = e.exported(e.wait(resp.Header.Get("Content-Location"), e.admin), e.admin)
	if strings.Join(ids["Observation"], " ") != "ob1" || strings.Join(ids["Patient"], " ") != "pb" || len(ids) != 2 {
		t.Fatalf("Patient export for Patient/pb: %v", ids)
	}
	if resp, body := e.do("GET", "/fhir/$export?patient=Patient/pb", e.admin, "", "Prefer", "respond-async"); resp.StatusCode != 400 {
		t.Fatalf("patient on a system export: %d %s", resp.StatusCode, body)
	}
	if resp, body := e.do("GET", "/fhir/Group/nope/$export", e.admin, "", "Prefer", "respond-async"); resp.StatusCode != 404 {
		t.Fatalf("unknown Group: %d %s", resp.StatusCode, body)
	}
}

func TestExportAccessSQLite(t *testing.T) { testExportAccess(t, openSQLite(t)) }

func TestExportAccessPostgres(t *testing.T) { testExportAccess(t, openPostgres(t)) }

func testExportAccess(t *testing.T, st concord.Store) {
	e := newEnv(t, st, Options{})
	e.put(fixtures...)
	prefer := []string{"Prefer", "respond-async"}
	// A patient-bound token cannot start any export.
	patient := e.token(concord.RoleClinician, "pa", "patient/*.rs")
	for _, path := range []string{"/fhir/$export", "/fhir/Patient/$export", "/fhir/Group/g1/$export"} {
		if resp, body := e.do("GET", path, patient, "", prefer...); resp.StatusCode != 403 {
			t.Errorf("patient token, %s: %d %s", path, resp.StatusCode, body)
		}
	}
	// Types the caller may not read are refused, not skipped.
	narrow := e.token(concord.RoleIntegration, "", "system/Patient.rs")
	if resp, body := e.do("GET", "/fhir/$export", narrow, "", prefer...); resp.StatusCode != 403 || !strings.Contains(body, "_type") {
		t.Errorf("system/Patient.rs, every type: %d %s", resp.StatusCode, body)
	}
	if resp, body := e.do("GET", "/fhir/$export?_type=Patient,Observation", narrow, "", prefer...); resp.StatusCode != 403 || !strings.Contains(body, "Observation") {
		t.Errorf("system/Patient.rs, _type=Patient,Observation: %d %s", resp.StatusCode, body)
	}
	status := e.kickoff("/fhir/$export?_type=Patient", narrow)
	m := e.wait(status, narrow)
	if len(m.Output) != 1 || m.Output[0].Count != 3 {
		t.Fatalf("system/Patient.rs, _type=Patient: %+v", m)
	}
	// Nobody else sees the job or its files; not even that they exist.
	other := e.token(concord.RoleAdmin, "")
	for _, tc := range []struct{ method, url string }{{"GET", status}, {"GET", m.Output[0].URL}, {"DELETE", status}} {
		if resp, body := e.do(tc.method, tc.url, other, ""); resp.StatusCode != 404 {
			t.Errorf("another requester, %s %s: %d %s", tc.method, tc.url, resp.StatusCode, body)
		}
		if resp, _ := e.do(tc.method, tc.url, "", ""); resp.StatusCode != 401 {
			t.Errorf("no token, %s %s: %d", tc.method, tc.url, resp.StatusCode)
		}
	}
	if resp, _ := e.do("GET", m.Output[0].URL, narrow, ""); resp.StatusCode != 200 {
		t.Fatalf("the requester lost its file: %d", resp.StatusCode)
	}
	if resp, _ := e.do("GET", strings.Replace(m.Output[0].URL, "/0", "/7", 1), narrow, ""); resp.StatusCode != 404 {
		t.Fatalf("a file that does not exist: %d", resp.StatusCode)
	}
	// Every step is in the audit trail, refusals included.
	want := map[string]bool{}
	if err := e.store.AuditRecords(context.Background(), concord.AuditFilter{}, func(r *concord.AuditRecord) error {
		switch {
		case r.Action == concord.AuditExecute && strings.Contains(r.Detail, "/fhir/$export 202"):
			want["kick-off"] = true
		case r.Action == concord.AuditExecute && r.Outcome == concord.OutcomeMinor && strings.Contains(r.Detail, "403"):
			want["kick-off refused"] = true
		case r.Action == concord.AuditRead && strings.HasPrefix(r.Object, "export/") && strings.Contains(r.Detail, "$export-status/{job} 200"):
			want["status"] = true
		case r.Action == concord.AuditRead && strings.Contains(r.Detail, "$export-file/{job}/{file} 200"):
			want["download"] = true
		case r.Action == concord.AuditRead && strings.Contains(r.Detail, "$export-file/{job}/{file} 404"):
			want["download refused"] = true
		case r.Action == concord.AuditDelete && strings.Contains(r.Detail, "404"):
			want["delete refused"] = true
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"kick-off", "kick-off refused", "status", "download", "download refused", "delete refused"} {
		if !want[k] {
			t.Errorf("no audit record of %s", k)
		}
	}
}

func TestExportCancelAndExpirySQLite(t *testing.T) { testExportCancelAndExpiry(t, openSQLite(t)) }

func TestExportCancelAndExpiryPostgres(t *testing.T) { testExportCancelAndExpiry(t, openPostgres(t)) }

func testExportCancelAndExpiry(t *testing.T, st concord.Store) {
	e := newEnv(t, st, Options{Expiry: time.Hour, SweepEvery: 10 * time.Millisecond})
	e.put(fixtures...)
	// Cancel a finished job: gone at once, its files removed by the sweep.
	status := e.kickoff("/fhir/$export", e.admin)
	m := e.wait(status, e.admin)
	id := status[strings.LastIndex(status, "/")+1:]
	if resp, body := e.do("DELETE", status, e.admin, ""); resp.StatusCode != 202 {
		t.Fatalf("DELETE: %d %s", resp.StatusCode, body)
	}
	if resp, _ := e.do("GET", status, e.admin, ""); resp.StatusCode != 404 {
		t.Fatalf("status after DELETE: %d", resp.StatusCode)
	}
	if resp, _ := e.do("GET", m.Output[0].URL, e.admin, ""); resp.StatusCode != 404 {
		t.Fatalf("file after DELETE: %d", resp.StatusCode)
	}
	if resp, _ := e.do("DELETE", status, e.admin, ""); resp.StatusCode != 404 {
		t.Fatalf("second DELETE: %d", resp.StatusCode)
	}
	e.gone(id)
	// Cancel a queued job (no worker runs): it never runs. A requester
	// has at most maxActiveJobs waiting.
	e.stopWorker()
	for range maxActiveJobs - 1 {
		e.kickoff("/fhir/$export", e.admin)
	}
	status = e.kickoff("/fhir/$export", e.admin)
	if resp, body := e.do("GET", "/fhir/$export", e.admin, "", "Prefer", "respond-async"); resp.StatusCode != 409 {
		t.Fatalf("kick-off past %d active jobs: %d %s", maxActiveJobs, resp.StatusCode, body)
	}
	if resp, body := e.do("DELETE", status, e.admin, ""); resp.StatusCode != 202 {
		t.Fatalf("DELETE of a queued job: %d %s", resp.StatusCode, body)
	}
	e.startWorker(e.exp)
	e.gone(status[strings.LastIndex(status, "/")+1:])
	// A finished job expires: kept for Expiry, then swept.
	status = e.kickoff("/fhir/$export", e.admin)
	e.wait(status, e.admin)
	resp, _ := e.do("GET", status, e.admin, "")
	if exp, err := http.ParseTime(resp.Header.Get("Expires")); err != nil || exp.Before(time.Now().Add(50*time.Minute)) {
		t.Fatalf("Expires %q", resp.Header.Get("Expires"))
	}
	time.Sleep(50 * time.Millisecond)
	if resp, _ := e.do("GET", status, e.admin, ""); resp.StatusCode != 200 {
		t.Fatalf("status before expiry: %d", resp.StatusCode)
	}
	e.clock.advance(61 * time.Minute)
	e.gone(status[strings.LastIndex(status, "/")+1:])
	if resp, _ := e.do("GET", status, e.admin, ""); resp.StatusCode != 404 {
		t.Fatalf("status after expiry: %d", resp.StatusCode)
	}
}

// gone waits until the sweep removed the job and its files.
func (e *env) gone(id string) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := e.store.ExportJob(context.Background(), id)
		files, ferr := e.store.ExportFiles(context.Background(), id)
		if concord.ErrorCode(err) == concord.ENOTFOUND && ferr == nil && len(files) == 0 {
			if _, err := e.store.ExportChunk(context.Background(), id, 0, 0); concord.ErrorCode(err) != concord.ENOTFOUND {
				e.t.Fatalf("a chunk of %s is left: %v", id, err)
			}
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("job %s not swept: %v, %d files", id, err, len(files))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
