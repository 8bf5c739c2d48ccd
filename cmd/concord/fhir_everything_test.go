package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestFHIREverythingAndImport: through a running server with real tokens,
// POST /fhir/$import stores NDJSON (audited per resource) and refuses a
// token without write scopes on every type; GET Patient/{id}/$everything
// answers the patient's data with its Practitioner included, to a
// patient token on its own patient only, and is audited as a read of
// that patient's data.
func TestFHIREverythingAndImport(t *testing.T) {
	n := startFHIR(t)
	clin := n.token("--role", "clinician")
	narrow := n.token("--role", "clinician", "--scope", "user/Patient.cruds")
	own := n.token("--role", "patient", "--patient", "syn-e1")
	other := n.token("--role", "patient", "--patient", "syn-e2")
	base := n.url + "/fhir"
	// Synthetic data, no real person.
	ndjson := strings.Join([]string{
		`{"resourceType":"Patient","id":"syn-e1","name":[{"family":"Synthetic"}],"generalPractitioner":[{"reference":"Practitioner/syn-dr"}]}`,
		`{"resourceType":"Practitioner","id":"syn-dr","name":[{"family":"Synthetic"}]}`,
		`{"resourceType":"Encounter","id":"syn-enc","status":"finished","class":{"code":"AMB"},"subject":{"reference":"Patient/syn-e1"}}`,
		`{"resourceType":"Observation","id":"syn-obs","status":"final","code":{"text":"synthetic"},"subject":{"reference":"Patient/syn-e1"},"encounter":{"reference":"Encounter/syn-enc"}}`,
		`{"resourceType":"Patient","id":"syn-e2"}`,
	}, "\n")
	resp, body := fhirDo(t, "POST", base+"/$import", narrow, ndjson, "Content-Type", "application/fhir+ndjson")
	if resp.StatusCode != 403 {
		t.Fatalf("$import with Patient scopes only: %d %s", resp.StatusCode, body)
	}
	resp, body = fhirDo(t, "POST", base+"/$import", clin, ndjson, "Content-Type", "application/fhir+ndjson")
	if resp.StatusCode != 200 || !strings.Contains(body, "5 resources: 5 created, 0 updated, 0 unchanged, 0 failed") {
		t.Fatalf("$import: %d %s", resp.StatusCode, body)
	}
	resp, body = fhirDo(t, "GET", base+"/Patient/syn-e1/$everything", own, "")
	var b struct {
		Entry []struct {
			FullURL string `json:"fullUrl"`
			Search  struct{ Mode string }
		}
	}
	json.Unmarshal([]byte(body), &b)
	var got []string
	for _, e := range b.Entry {
		got = append(got, e.FullURL[strings.Index(e.FullURL, "/fhir/")+6:]+" "+e.Search.Mode)
	}
	if want := "Patient/syn-e1 match,Encounter/syn-enc match,Observation/syn-obs match,Practitioner/syn-dr include"; resp.StatusCode != 200 || strings.Join(got, ",") != want {
		t.Fatalf("$everything: %d %v\nwant %s", resp.StatusCode, got, want)
	}
	if resp, body = fhirDo(t, "GET", base+"/Patient/syn-e1/$everything", other, ""); resp.StatusCode != 403 {
		t.Errorf("another patient's token: %d %s", resp.StatusCode, body)
	}
	o, _, _ := run(t, n.dir, "audit", "export", "--data", n.data)
	for _, want := range []string{"Patient/syn-e1/$everything", "Observation/syn-obs/_history/1"} {
		if !strings.Contains(o, want) {
			t.Errorf("audit export lacks %s", want)
		}
	}
}
