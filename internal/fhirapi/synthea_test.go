package fhirapi

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/concord-health/concord"
)

// syntheaBundles reads the shared Synthea transaction Bundles (synthetic
// patients), or skips when ../shared is absent.
func syntheaBundles(t testing.TB) map[string][]byte {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("..", "..", "..", "shared", "data", "synthea", "*.json"))
	if len(files) == 0 {
		t.Skip("shared Synthea data not present")
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	return out
}

func TestSyntheaTransactionsSQLite(t *testing.T) { testSynthea(t, openSQLite(t)) }

func TestSyntheaTransactionsPostgres(t *testing.T) { testSynthea(t, openPostgres(t)) }

// testSynthea posts every Synthea Bundle to POST /fhir as a transaction,
// then reads back every resource of each: stored under the id the
// response gave, with every urn:uuid reference rewritten to the Type/id
// of the entry it named.
func testSynthea(t *testing.T, st concord.Store) {
	h := newHarness(t, st)
	ctx := context.Background()
	total := 0
	var implied syntheaCounts
	implied.init()
	for name, body := range syntheaBundles(t) {
		status, resp := h.post(bytes.NewReader(body), "Prefer", "return=minimal")
		if status != 200 {
			t.Fatalf("%s: %d %.500s", name, status, resp)
		}
		rb := decodeResponse(t, resp)
		var req struct {
			Entry []struct {
				FullURL  string          `json:"fullUrl"`
				Resource json.RawMessage `json:"resource"`
			}
		}
		if err := json.Unmarshal(body, &req); err != nil {
			t.Fatal(err)
		}
		if len(rb.Entry) != len(req.Entry) {
			t.Fatalf("%s: %d response entries for %d", name, len(rb.Entry), len(req.Entry))
		}
		// Where each fullUrl went.
		where := map[string]string{}
		for i, e := range rb.Entry {
			if e.Response.Status != "201 Created" || !strings.HasSuffix(e.Response.Location, "/_history/1") {
				t.Fatalf("%s entry %d: %+v", name, i, e.Response)
			}
			loc := strings.TrimSuffix(e.Response.Location, "/_history/1")
			where[req.Entry[i].FullURL] = loc
		}
		implied.add(t, body, where)
		for i, e := range req.Entry {
			typ, id, _ := strings.Cut(where[e.FullURL], "/")
			r, err := st.Resource(ctx, typ, id)
			if err != nil {
				t.Fatalf("%s entry %d: %s/%s: %v", name, i, typ, id, err)
			}
			var sent, stored any
			json.Unmarshal(e.Resource, &sent)
			if err := json.Unmarshal(r.Content, &stored); err != nil {
				t.Fatalf("%s/%s is not JSON: %v", typ, id, err)
			}
			// What was stored is what was sent, with the references
			// rewritten, the server's id and meta.
			want := rewriteRefs(sent, where).(map[string]any)
			want["id"] = id
			got := stored.(map[string]any)
			meta := got["meta"].(map[string]any)
			if meta["versionId"] != "1" || meta["lastUpdated"] == nil {
				t.Fatalf("%s/%s meta: %v", typ, id, meta)
			}
			delete(meta, "versionId")
			delete(meta, "lastUpdated")
			wj, _ := json.Marshal(want)
			gj, _ := json.Marshal(got)
			if !bytes.Equal(wj, gj) {
				t.Fatalf("%s/%s stored as\n%s\nwant\n%s", typ, id, gj, wj)
			}
			if bytes.Contains(r.Content, []byte(`"reference":"urn:uuid:`)) {
				t.Fatalf("%s/%s keeps a urn:uuid reference", typ, id)
			}
			total++
		}
	}
	if total != 8417 {
		t.Errorf("%d resources, want the 8,417 of the shared Bundles", total)
	}
	implied.check(t, st)
}

// rewriteRefs returns v with every "reference" member that names a key
// of where replaced.
func rewriteRefs(v any, where map[string]string) any {
	switch x := v.(type) {
	case map[string]any:
		for k, m := range x {
			if s, ok := m.(string); ok && k == "reference" {
				if to, ok := where[s]; ok {
					x[k] = to
				}
				continue
			}
			x[k] = rewriteRefs(m, where)
		}
	case []any:
		for i := range x {
			x[i] = rewriteRefs(x[i], where)
		}
	}
	return v
}

// BenchmarkSyntheaTransactions posts the shared Synthea Bundles as
// transactions to POST /fhir on SQLite (through the handler, without
// HTTP or the front door): one store transaction per Bundle.
func BenchmarkSyntheaTransactions(b *testing.B) {
	bundles := syntheaBundles(b)
	var bodies [][]byte
	entries := 0
	for _, body := range bundles {
		bodies = append(bodies, body)
		entries += bytes.Count(body, []byte(`"request": {`))
	}
	h := newHarness(b, openSQLite(b))
	b.ResetTimer()
	for b.Loop() {
		for _, body := range bodies {
			if status, resp := h.post(bytes.NewReader(body), "Prefer", "return=minimal"); status != 200 {
				b.Fatalf("%d %.300s", status, resp)
			}
		}
	}
	b.ReportMetric(float64(entries*b.N)/b.Elapsed().Seconds(), "resources/s")
}
