package fhirapi

import (
	"bytes"
	"context"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/concord-health/concord"
)

// BenchmarkSearchObservation runs Observation?patient=X&code=Y through
// the search handler (no HTTP, no front door) over the shared Synthea
// Bundles loaded once on SQLite.
func BenchmarkSearchObservation(b *testing.B) {
	h := newHarness(b, openSQLite(b))
	for _, body := range syntheaBundles(b) {
		if status, resp := h.post(bytes.NewReader(body), "Prefer", "return=minimal"); status != 200 {
			b.Fatalf("%d %.300s", status, resp)
		}
	}
	ctx := context.Background()
	refs, err := h.store.References(ctx, "Observation", "patient", nil)
	_ = refs
	if err != nil {
		b.Fatal(err)
	}
	page, _, err := h.store.Search(ctx, &concord.SearchQuery{Type: "Patient", Count: 1})
	if err != nil || len(page) == 0 {
		b.Fatal("no patient", err)
	}
	q := url.Values{"patient": {"Patient/" + page[0].ID}, "code": {"http://loinc.org|8302-2"}}
	target := "/fhir/Observation?" + q.Encode()
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest("GET", target, nil)
		rctx := concord.WithPrincipal(req.Context(), h.p)
		w := httptest.NewRecorder()
		h.a.compartmented("Observation", h.a.searchType).ServeHTTP(w, req.WithContext(rctx))
		if w.Code != 200 {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}
