package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// fhirNode is a running concord on a fresh SQLite data directory, for the
// FHIR API's tests.
type fhirNode struct {
	*node
	t         *testing.T
	dir, data string
}

// startFHIR starts concord serve on a fresh data directory.
func startFHIR(t *testing.T) *fhirNode {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "d")
	return &fhirNode{node: startServe(t, dir, "--data", data), t: t, dir: dir, data: data}
}

// token creates a token with the given flags (--role, --scope, --patient)
// and returns it.
func (f *fhirNode) token(args ...string) string {
	f.t.Helper()
	o, e, code := run(f.t, f.dir, append([]string{"token", "create", "--data", f.data}, args...)...)
	if code != 0 {
		f.t.Fatalf("token: %s", e)
	}
	return strings.TrimSpace(o)
}
