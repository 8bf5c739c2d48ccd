package fhirpath

import (
	"testing"

	"github.com/concord-health/concord/fhir"
)

// TestSearchParameterExpressionsCompile: every R4 search parameter's
// expression, and every composite part's, compiles.
func TestSearchParameterExpressionsCompile(t *testing.T) {
	n := 0
	for _, p := range fhir.AllSearchParams() {
		for _, expr := range append([]string{p.Expression}, componentExprs(p)...) {
			if expr == "" {
				continue
			}
			n++
			if _, err := Compile(expr); err != nil {
				t.Errorf("%s (%s): %v", p.URL, expr, err)
			}
		}
	}
	if n < 1300 {
		t.Fatalf("only %d expressions", n)
	}
	t.Logf("%d search parameter expressions compile", n)
}

func componentExprs(p *fhir.SearchParameter) []string {
	var out []string
	for _, c := range p.Components {
		out = append(out, c.Expression)
	}
	return out
}
