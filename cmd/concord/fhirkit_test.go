package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const fhirKitPeer = "../../test/interop/fhirkit"

// fhirKitSteps are the steps test/interop/fhirkit/fhirkit.js reports,
// in order, each as "ok STEP ...".
var fhirKitSteps = []string{
	"metadata", "create", "read", "update", "vread", "patch", "search", "search-paging",
	"history-instance", "history-type", "transaction", "transaction-rollback", "batch",
	"delete", "not-found", "invalid",
}

// TestFHIRKitClientInterop drives the FHIR API with fhir-kit-client
// 2.0.3 (pinned in test/interop/fhirkit): create, read, vread, update
// with If-Match (and a stale one refused), JSON Patch, search, search
// paged with nextPage/prevPage, instance and type history (paged),
// transaction with urn:uuid references (and one rolled back), batch,
// delete then 410, 404, and an invalid resource answered 400 with an
// OperationOutcome.
func TestFHIRKitClientInterop(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	if _, err := os.Stat(filepath.Join(fhirKitPeer, "node_modules", "fhir-kit-client")); err != nil {
		t.Skipf("fhir-kit-client not installed (npm ci in %s)", fhirKitPeer)
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "d")
	n := startServe(t, dir, "--data", data)
	o, e, code := run(t, dir, "token", "create", "--data", data, "--role", "clinician")
	if code != 0 {
		t.Fatalf("token: %s", e)
	}
	script, _ := filepath.Abs(filepath.Join(fhirKitPeer, "fhirkit.js"))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script, n.url+"/fhir", strings.TrimSpace(o))
	cmd.Dir = fhirKitPeer
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node fhirkit.js: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(fhirKitSteps)+1 {
		t.Fatalf("%d lines for %d steps:\n%s", len(lines), len(fhirKitSteps), out)
	}
	for i, step := range fhirKitSteps {
		if f := strings.Fields(lines[i]); len(f) < 2 || f[0] != "ok" || f[1] != step {
			t.Errorf("step %d: %q, want ok %s", i+1, lines[i], step)
		}
	}
	if want := fmt.Sprintf("done %d steps", len(fhirKitSteps)); lines[len(lines)-1] != want {
		t.Errorf("last line %q, want %q", lines[len(lines)-1], want)
	}
	t.Logf("fhir-kit-client:\n%s", out)
}
