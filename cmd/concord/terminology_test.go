package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestTerminologyReportServed: concord serve answers the "needs mapping"
// report for an integration token (an empty array on a fresh store) and
// refuses a clinician's.
func TestTerminologyReportServed(t *testing.T) {
	dir := t.TempDir()
	data := []string{"--data", filepath.Join(dir, "d")}
	n := startServe(t, dir, data...)
	token := func(role string) string {
		out, errOut, code := run(t, dir, append([]string{"token", "create", "--role", role, "--label", "synthetic"}, data...)...)
		if code != 0 {
			t.Fatalf("token create: %s", errOut)
		}
		return strings.TrimSpace(out)
	}
	code, body := get(t, n.url+"/api/terminology/unmapped?sender=LAB", token("integration"))
	if code != 200 || strings.TrimSpace(body) != "[]" {
		t.Fatalf("report: %d %s", code, body)
	}
	if code, _ := get(t, n.url+"/api/terminology/unmapped", token("clinician")); code != 403 {
		t.Fatalf("clinician: %d, want 403", code)
	}
	n.stop(t)
}
