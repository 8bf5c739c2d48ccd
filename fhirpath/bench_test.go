package fhirpath

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/concord-health/concord/fhir"
)

// benchResource is one resource of a Synthea bundle with the search
// parameter expressions of its type.
type benchResource struct {
	in    Collection
	exprs []*Expression
}

// loadSynthea indexes the shared Synthea bundles and compiles, once per
// resource type, the expressions of its search parameters.
func loadSynthea(b *testing.B) []benchResource {
	files, _ := filepath.Glob(filepath.Join("..", "..", "shared", "data", "synthea", "*.json"))
	if len(files) == 0 {
		b.Skip("shared Synthea data not present")
	}
	compiled := map[string][]*Expression{}
	var out []benchResource
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		doc, err := ParseJSON(src)
		if err != nil {
			b.Fatal(err)
		}
		entries, _ := doc.Root().Get("entry")
		entries.Each(func(_ string, e JSONRef) bool {
			r, ok := e.Get("resource")
			if !ok {
				return true
			}
			in, err := Resource(r)
			if err != nil {
				b.Fatal(err)
			}
			typ := in[0].typ.Name
			xs, ok := compiled[typ]
			if !ok {
				for _, p := range fhir.SearchParams(typ) {
					if p.Expression != "" {
						xs = append(xs, MustCompile(p.Expression))
					}
				}
				compiled[typ] = xs
			}
			out = append(out, benchResource{in: in, exprs: xs})
			return true
		})
	}
	return out
}

// BenchmarkSearchParams evaluates every search parameter expression of
// each resource of the Synthea bundles (what indexing a resource on
// write does); one op is a pass over all of them. The peer is
// bench/fhirpath-js/searchparams.js (fhirpath@5.2.0) on the same data.
func BenchmarkSearchParams(b *testing.B) {
	res := loadSynthea(b)
	evals := 0
	for _, r := range res {
		evals += len(r.exprs)
	}
	opt := &Options{}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, r := range res {
			for _, x := range r.exprs {
				if _, err := x.EvaluateOn(r.in, r.in, opt); err != nil {
					b.Fatalf("%s: %v", x, err)
				}
			}
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(len(res)*b.N)/secs, "resources/s")
	b.ReportMetric(float64(evals*b.N)/secs, "evals/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(evals*b.N), "allocs/eval")
	b.ReportMetric(float64(len(res)), "resources")
}
