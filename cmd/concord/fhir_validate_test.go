package main

import (
	"strings"
	"testing"
)

// TestFHIRValidate: through the real server, a write with errors is
// refused with an OperationOutcome that lists each issue's expression,
// and $validate (a path segment with a $) answers 200 under the type's
// read scope and is refused without it.
func TestFHIRValidate(t *testing.T) {
	n := startFHIR(t)
	tok := n.token
	clin := tok("--role", "clinician")
	obsReader := tok("--role", "clinician", "--scope", "user/Observation.rs")
	base := n.url + "/fhir"

	// Synthetic patient with two errors.
	bad := `{"resourceType":"Patient","gender":"m","name":[{"family":"Synthetic","nick":"S"}]}`
	resp, body := fhirDo(t, "POST", base+"/Patient", clin, bad)
	if resp.StatusCode != 400 || !strings.Contains(body, `"expression":["Patient.gender"]`) ||
		!strings.Contains(body, `"expression":["Patient.name[0].nick"]`) || !strings.Contains(body, `"code":"code-invalid"`) {
		t.Fatalf("invalid create: %d %s", resp.StatusCode, body)
	}
	resp, body = fhirDo(t, "POST", base+"/Patient/$validate", clin, bad)
	if resp.StatusCode != 200 || !strings.Contains(body, `"expression":["Patient.gender"]`) {
		t.Fatalf("$validate: %d %s", resp.StatusCode, body)
	}
	resp, body = fhirDo(t, "POST", base+"/Patient/syn-1/$validate", clin, `{"resourceType":"Parameters","parameter":[{"name":"mode","valueCode":"delete"}]}`)
	if resp.StatusCode != 200 || !strings.Contains(body, `"code":"not-found"`) {
		t.Fatalf("instance $validate: %d %s", resp.StatusCode, body)
	}
	if resp, body = fhirDo(t, "POST", base+"/Patient/$validate", obsReader, bad); resp.StatusCode != 403 {
		t.Fatalf("$validate without the type's scope: %d %s", resp.StatusCode, body)
	}
	if resp, body = fhirDo(t, "POST", base+"/Observation/$validate", obsReader, `{"resourceType":"Observation","status":"final","code":{"text":"x"}}`); resp.StatusCode != 200 {
		t.Fatalf("$validate with the type's scope: %d %s", resp.StatusCode, body)
	}
}
