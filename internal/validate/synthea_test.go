package validate

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/concord-health/concord/fhirpath"
)

// syntheaDir holds the shared synthetic patient bundles (Synthea), beside
// the repository.
var syntheaDir = filepath.Join("..", "..", "..", "shared", "data", "synthea")

// syntheaBundles reads and indexes the Synthea bundles; the caller skips
// when there are none.
func syntheaBundles(tb testing.TB) map[string]*fhirpath.Doc {
	tb.Helper()
	files, _ := filepath.Glob(filepath.Join(syntheaDir, "*.json"))
	if len(files) == 0 {
		tb.Skip("shared Synthea data not present")
	}
	out := map[string]*fhirpath.Doc{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		doc, err := fhirpath.ParseJSON(src)
		if err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		out[filepath.Base(f)] = doc
	}
	return out
}

// entries returns the resources of a bundle.
func entries(doc *fhirpath.Doc) []fhirpath.JSONRef {
	var out []fhirpath.JSONRef
	es, _ := doc.Root().Get("entry")
	es.Each(func(_ string, e fhirpath.JSONRef) bool {
		if r, ok := e.Get("resource"); ok {
			out = append(out, r)
		}
		return true
	})
	return out
}

// TestSynthea: every resource of every Synthea bundle, and every whole
// bundle, validates without an error.
func TestSynthea(t *testing.T) {
	ctx := context.Background()
	resources, warnings := 0, map[string]int{}
	for name, doc := range syntheaBundles(t) {
		for _, r := range entries(doc) {
			resources++
			for _, is := range At(ctx, r) {
				if is.IsError() {
					t.Errorf("%s: %s: %s", name, is.Expression, is.Diagnostics)
				} else {
					warnings[is.Diagnostics]++
				}
			}
		}
		for _, is := range Resource(ctx, doc) {
			if is.IsError() {
				t.Errorf("%s (whole bundle): %s: %s", name, is.Expression, is.Diagnostics)
			}
		}
	}
	t.Logf("%d resources validated; warnings: %v", resources, warnings)
}
