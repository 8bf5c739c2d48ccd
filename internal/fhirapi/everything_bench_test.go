package fhirapi

import (
	"encoding/json"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/concord-health/concord"
)

// BenchmarkPatientEverything measures GET /fhir/Patient/{id}/$everything
// through the routes (the guard stood in by guardRouter, no HTTP) with one
// client, on SQLite and (with CONCORD_TEST_POSTGRES) PostgreSQL, for the
// shared Synthea patient whose bundle is closest to 300 resources (every
// bundle loaded: the store also holds the other 29 patients). For
// comparison, Blaze 15.7 ms p50 with 1 client.
//
//	go test ./internal/fhirapi -run '^$' -bench BenchmarkPatientEverything -benchtime 10s
func BenchmarkPatientEverything(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchPatientEverything(b, openSQLite(b)) })
	b.Run("postgres", func(b *testing.B) { benchPatientEverything(b, openPostgres(b)) })
}

func benchPatientEverything(b *testing.B, st concord.Store) {
	patients := loadSynthea(b, st, 0)
	sp := slices.MinFunc(patients, func(x, y loadedPatient) int {
		return abs(len(x.refs)-300) - abs(len(y.refs)-300)
	})
	s := newAPIServer(b, st)
	target := "/fhir/Patient/" + sp.patient + "/$everything"
	entries := 0
	var lat []time.Duration
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		req := httptest.NewRequest("GET", target, nil)
		w := httptest.NewRecorder()
		s.mux.ServeHTTP(w, req)
		lat = append(lat, time.Since(start))
		if w.Code != 200 {
			b.Fatalf("%d %.300s", w.Code, w.Body)
		}
		if entries == 0 {
			var bundle struct{ Entry []json.RawMessage }
			json.Unmarshal(w.Body.Bytes(), &bundle)
			entries = len(bundle.Entry)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	ms := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(float64(entries), "resources")
	b.ReportMetric(ms(0.50), "p50-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
