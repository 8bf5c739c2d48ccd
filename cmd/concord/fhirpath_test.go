package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFHIRPathCommand: -e prints the result as a JSON array, from JSON or
// XML input; suite ends with the summary line; a bad expression is one
// line on stderr and a non-zero exit.
func TestFHIRPathCommand(t *testing.T) {
	dir := t.TempDir()
	res := filepath.Join(dir, "patient.json")
	os.WriteFile(res, []byte(`{"resourceType":"Patient","id":"syn","name":[{"given":["Pat"],"family":"Synthetic"}],"birthDate":"1980-01-02"}`), 0o600)
	o, e, code := run(t, dir, "fhirpath", "-e", "Patient.name.given | birthDate | name", res)
	if code != 0 || strings.TrimSpace(o) != `["Pat","1980-01-02",{"given":["Pat"],"family":"Synthetic"}]` {
		t.Fatalf("fhirpath -e: %d %q %q", code, o, e)
	}
	xml := filepath.Join(dir, "patient.xml")
	os.WriteFile(xml, []byte(`<Patient xmlns="http://hl7.org/fhir"><id value="syn"/><active value="true"/><name><given value="Pat"/><given value="Q"/></name></Patient>`), 0o600)
	if o, _, code := run(t, dir, "fhirpath", "-e", "Patient.name.given.count() = 2 and active", xml); code != 0 || strings.TrimSpace(o) != "[true]" {
		t.Fatalf("fhirpath -e on XML: %d %q", code, o)
	}
	if _, e, code := run(t, dir, "fhirpath", "-e", "1 +", res); code == 0 || !strings.Contains(e, "syntax error") || strings.Count(strings.TrimSpace(e), "\n") != 0 {
		t.Fatalf("bad expression: %d %q", code, e)
	}
	suite, _ := filepath.Abs(filepath.Join("..", "..", "..", "shared", "data", "fhirpath", "r4", "tests-fhir-r4.xml"))
	if _, err := os.Stat(suite); err != nil {
		t.Skip("shared test data not present")
	}
	o, _, code = run(t, dir, "fhirpath", "suite", suite)
	lines := strings.Split(strings.TrimSpace(o), "\n")
	if code != 0 || !strings.HasSuffix(lines[len(lines)-1], " skipped") || !strings.Contains(lines[len(lines)-1], " passed, ") {
		t.Fatalf("suite: %d %q", code, o)
	}
}
