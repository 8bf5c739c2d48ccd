package validate

import (
	"context"
	"testing"

	"github.com/concord-health/concord/fhirpath"
)

// BenchmarkSynthea validates every resource of the Synthea bundles (what
// a write of each does); one op is a pass over all of them.
func BenchmarkSynthea(b *testing.B) {
	var res []fhirpath.JSONRef
	for _, doc := range syntheaBundles(b) {
		res = append(res, entries(doc)...)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, r := range res {
			if issues := At(ctx, r); HasErrors(issues) {
				b.Fatalf("errors: %+v", issues)
			}
		}
	}
	b.ReportMetric(float64(len(res)*b.N)/b.Elapsed().Seconds(), "resources/s")
	b.ReportMetric(float64(len(res)), "resources")
}
