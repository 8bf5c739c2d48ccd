package storetest

import (
	"bytes"
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/fhirpath"
	"github.com/concord-health/concord/internal/search"
)

// loadSearchFixtures stores searchFixtures (synthetic), the i-th last
// updated i hours after at.
func loadSearchFixtures(t *testing.T, s concord.Store, at time.Time) {
	t.Helper()
	for i, js := range searchFixtures {
		doc, err := fhirpath.ParseJSON([]byte(js))
		if err != nil {
			t.Fatal(err)
		}
		idx, err := search.Index(context.Background(), doc)
		if err != nil {
			t.Fatal(err)
		}
		rt, _ := doc.Root().Get("resourceType")
		id, _ := doc.Root().Get("id")
		r := &concord.Resource{Type: rt.String(), ID: id.String(), Version: 1, LastUpdated: at.Add(time.Duration(i) * time.Hour),
			Content: []byte(js), Index: idx}
		if err := putVersion(t, s, r); err != nil {
			t.Fatal(err)
		}
	}
}

// testScanResources: a scan reads the current resources of one type in id
// order over several pages, after an id, since a time, within a
// compartment of some or all owners, and matching any of several
// filters; deleted resources are left out.
func testScanResources(t *testing.T, f *Fixture) {
	s := f.Store
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	loadSearchFixtures(t, s, at)
	// A deleted Observation is never scanned.
	if err := putVersion(t, s, &concord.Resource{Type: "Observation", ID: "o0", Version: 1, LastUpdated: at,
		Content: []byte(`{"resourceType":"Observation","id":"o0","status":"final","subject":{"reference":"Patient/p1"}}`)}); err != nil {
		t.Fatal(err)
	}
	if err := putVersion(t, s, &concord.Resource{Type: "Observation", ID: "o0", Version: 2, LastUpdated: at, Deleted: true}); err != nil {
		t.Fatal(err)
	}
	scan := func(sc concord.ResourceScan) []string {
		t.Helper()
		var ids []string
		err := s.ScanResources(ctx(t), sc, func(r *concord.Resource) error {
			if r.Type != sc.Type || r.Deleted != sc.Deleted || (!sc.Deleted && !bytes.Contains(r.Content, []byte(`"id":"`+r.ID+`"`))) {
				t.Errorf("scan of %s gave %s/%s deleted=%v %s", sc.Type, r.Type, r.ID, r.Deleted, r.Content)
			}
			ids = append(ids, r.ID)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	filter := func(typ, q string) *concord.SearchQuery {
		vals, err := url.ParseQuery(q)
		if err != nil {
			t.Fatal(err)
		}
		req, err := search.Parse(typ, vals, search.Options{Strict: true, Now: at})
		if err != nil {
			t.Fatal(err)
		}
		return &req.Query
	}
	patientCompartment := func(ids ...string) *concord.ScanCompartment {
		return &concord.ScanCompartment{OwnerType: "Patient", IDs: ids, Params: []string{"subject", "performer"}}
	}
	for _, tc := range []struct {
		name string
		scan concord.ResourceScan
		want string
	}{
		{"all, pages of 1", concord.ResourceScan{Type: "Observation", PageSize: 1}, "o1 o2 o3"},
		{"all, pages of 2", concord.ResourceScan{Type: "Observation", PageSize: 2}, "o1 o2 o3"},
		{"all, one page", concord.ResourceScan{Type: "Patient"}, "p1 p2 p3"},
		{"deletions", concord.ResourceScan{Type: "Observation", Deleted: true}, "o0"},
		{"deletions since", concord.ResourceScan{Type: "Observation", Deleted: true, Since: at.Add(time.Hour)}, ""},
		{"after", concord.ResourceScan{Type: "Observation", After: "o1", PageSize: 1}, "o2 o3"},
		{"since", concord.ResourceScan{Type: "Observation", Since: at.Add(6 * time.Hour)}, "o2 o3"},
		{"none of the type", concord.ResourceScan{Type: "Encounter"}, ""},
		{"compartment of p1", concord.ResourceScan{Type: "Observation", Compartment: patientCompartment("p1"), PageSize: 1}, "o1 o3"},
		{"compartment of p1 and p2", concord.ResourceScan{Type: "Observation", Compartment: patientCompartment("p1", "p2")}, "o1 o2 o3"},
		{"compartment of every patient", concord.ResourceScan{Type: "RiskAssessment", Compartment: patientCompartment()}, "r1 r2"},
		{"owners themselves", concord.ResourceScan{Type: "Patient", Compartment: &concord.ScanCompartment{OwnerType: "Patient", IDs: []string{"p2", "p9"}}}, "p2"},
		{"every owner", concord.ResourceScan{Type: "Patient", Compartment: &concord.ScanCompartment{OwnerType: "Patient"}}, "p1 p2 p3"},
		{"outside the compartment", concord.ResourceScan{Type: "Questionnaire", Compartment: patientCompartment()}, ""},
		{"a filter", concord.ResourceScan{Type: "Observation", Filters: []*concord.SearchQuery{filter("Observation", "status=final")}, PageSize: 1}, "o1 o2"},
		{"two filters: either", concord.ResourceScan{Type: "Observation", Filters: []*concord.SearchQuery{
			filter("Observation", "subject=Patient/p2"), filter("Observation", "code=http://loinc.org|85354-9")}}, "o2 o3"},
		{"a filter of two clauses", concord.ResourceScan{Type: "Observation", Filters: []*concord.SearchQuery{
			filter("Observation", "status=final&code=2339-0&subject=Patient/p1")}}, "o1"},
		{"filter, compartment and since", concord.ResourceScan{Type: "Observation", Since: at.Add(6 * time.Hour),
			Compartment: patientCompartment("p1"), Filters: []*concord.SearchQuery{filter("Observation", "status=amended")}}, "o3"},
	} {
		if got := strings.Join(scan(tc.scan), " "); got != tc.want {
			t.Errorf("%s: scanned %q, want %q", tc.name, got, tc.want)
		}
	}
	// As of a time: later changes are undone. After asOf, o1 gets a
	// second version, o2 is deleted, o4 is created, and o0 (deleted
	// before) comes back.
	asOf := at.Add(50 * time.Hour)
	later := at.Add(100 * time.Hour)
	put := func(id string, version int64, content string) {
		t.Helper()
		r := &concord.Resource{Type: "Observation", ID: id, Version: version, LastUpdated: later, Deleted: content == ""}
		if content != "" {
			doc, err := fhirpath.ParseJSON([]byte(content))
			if err != nil {
				t.Fatal(err)
			}
			if r.Index, err = search.Index(context.Background(), doc); err != nil {
				t.Fatal(err)
			}
			r.Content = []byte(content)
		}
		if err := putVersion(t, s, r); err != nil {
			t.Fatal(err)
		}
	}
	put("o1", 2, `{"resourceType":"Observation","id":"o1","status":"cancelled","subject":{"reference":"Patient/p1"}}`)
	put("o2", 2, "")
	put("o4", 1, `{"resourceType":"Observation","id":"o4","status":"final","subject":{"reference":"Patient/p1"}}`)
	put("o0", 3, `{"resourceType":"Observation","id":"o0","status":"final","subject":{"reference":"Patient/p1"}}`)
	var o1 []byte
	if err := s.ScanResources(ctx(t), concord.ResourceScan{Type: "Observation", AsOf: asOf, After: "o0", PageSize: 1}, func(r *concord.Resource) error {
		if r.ID == "o1" {
			o1 = r.Content
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(o1, []byte(`"status":"final"`)) {
		t.Errorf("o1 as of before its update: %s", o1)
	}
	for _, tc := range []struct {
		name string
		scan concord.ResourceScan
		want string
	}{
		{"now", concord.ResourceScan{Type: "Observation", PageSize: 1}, "o0 o1 o3 o4"},
		{"as of", concord.ResourceScan{Type: "Observation", AsOf: asOf, PageSize: 1}, "o1 o2 o3"},
		{"as of, since", concord.ResourceScan{Type: "Observation", AsOf: asOf, Since: at.Add(6 * time.Hour)}, "o2 o3"},
		{"as of, a page", concord.ResourceScan{Type: "Observation", AsOf: asOf, PageSize: 2}, "o1 o2 o3"},
		{"deletions now", concord.ResourceScan{Type: "Observation", Deleted: true}, "o2"},
		{"deletions as of", concord.ResourceScan{Type: "Observation", Deleted: true, AsOf: asOf, PageSize: 1}, "o0"},
	} {
		if got := strings.Join(scan(tc.scan), " "); got != tc.want {
			t.Errorf("%s: scanned %q, want %q", tc.name, got, tc.want)
		}
	}
}

// testExportJobs: a job is created queued, claimed by one owner at a time
// (again once its lease ran out), saved only by its owner, its chunks
// read back in order, deleted for clients at once and swept away, and a
// finished job swept once it expired.
func testExportJobs(t *testing.T, f *Fixture) {
	s := f.Store
	now := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	update := func(fn func(tx concord.Tx) error) error { return s.Update(ctx(t), fn) }
	job := &concord.ExportJob{ID: "j1", Requester: "tok1", Request: "http://x/fhir/$export", Params: `{"level":"system"}`,
		Status: concord.ExportQueued, TransactionTime: now, Created: now}
	if err := update(func(tx concord.Tx) error { return tx.CreateExportJob(ctx(t), job) }); err != nil {
		t.Fatal(err)
	}
	if n, err := s.ActiveExportJobs(ctx(t), "tok1"); err != nil || n != 1 {
		t.Fatalf("ActiveExportJobs = %d, %v", n, err)
	}
	if n, err := s.ActiveExportJobs(ctx(t), "tok2"); err != nil || n != 0 {
		t.Fatalf("ActiveExportJobs of another requester = %d, %v", n, err)
	}
	got, err := s.ExportJob(ctx(t), "j1")
	if err != nil || got.Requester != "tok1" || got.Params != job.Params || got.Status != concord.ExportQueued ||
		!got.TransactionTime.Equal(now) || !got.Finished.IsZero() {
		t.Fatalf("ExportJob = %+v, %v", got, err)
	}
	if _, err := s.ExportJob(ctx(t), "nope"); concord.ErrorCode(err) != concord.ENOTFOUND {
		t.Fatalf("unknown job: %v", err)
	}
	waiting := func(owner string, at time.Time) bool {
		t.Helper()
		ok, err := s.ExportJobWaiting(ctx(t), owner, at)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	claim := func(owner string, at time.Time) *concord.ExportJob {
		t.Helper()
		w := waiting(owner, at)
		var j *concord.ExportJob
		if err := update(func(tx concord.Tx) error {
			var err error
			j, err = tx.ClaimExportJob(ctx(t), owner, at, at.Add(time.Minute))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if w != (j != nil) {
			t.Errorf("ExportJobWaiting(%s) = %v, but the claim gave %+v", owner, w, j)
		}
		return j
	}
	if j := claim("nodeA", now); j == nil || j.ID != "j1" || j.Status != concord.ExportRunning {
		t.Fatalf("first claim = %+v", j)
	}
	if j := claim("nodeB", now.Add(30*time.Second)); j != nil {
		t.Fatalf("a leased job was claimed again: %+v", j)
	}
	// Its owner, restarted, takes it up at once.
	if j := claim("nodeA", now.Add(30*time.Second)); j == nil || j.ID != "j1" {
		t.Fatalf("the owner's claim after a restart = %+v", j)
	}
	// Chunks append in order; the file keeps count, bytes and chunks.
	file := concord.ExportFile{Job: "j1", No: 0, Type: "Patient"}
	for i, chunk := range []string{"{\"a\":1}\n{\"a\":2}\n", "{\"a\":3}\n"} {
		job.Status, job.Cursor = concord.ExportRunning, `{"at":`+string(rune('1'+i))+`}`
		if err := update(func(tx concord.Tx) error {
			if err := tx.SaveExportJob(ctx(t), job, "nodeA", now.Add(time.Minute)); err != nil {
				return err
			}
			return tx.AppendExportChunk(ctx(t), file, []byte(chunk), int64(strings.Count(chunk, "\n")))
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := update(func(tx concord.Tx) error {
		return tx.AppendExportChunk(ctx(t), concord.ExportFile{Job: "j1", No: 1, Type: "OperationOutcome", Kind: concord.ExportError}, []byte("{}\n"), 1)
	}); err != nil {
		t.Fatal(err)
	}
	files, err := s.ExportFiles(ctx(t), "j1")
	if err != nil || len(files) != 2 {
		t.Fatalf("ExportFiles = %d, %v", len(files), err)
	}
	if fl := files[0]; fl.Type != "Patient" || fl.Kind != concord.ExportOutput || fl.Count != 3 || fl.Chunks != 2 || fl.Bytes != 24 {
		t.Fatalf("file 0 = %+v", fl)
	}
	if fl := files[1]; fl.Type != "OperationOutcome" || fl.Kind != concord.ExportError || fl.Count != 1 || fl.No != 1 {
		t.Fatalf("file 1 = %+v", fl)
	}
	if c, err := s.ExportChunk(ctx(t), "j1", 0, 1); err != nil || string(c) != "{\"a\":3}\n" {
		t.Fatalf("chunk 1 = %q, %v", c, err)
	}
	if _, err := s.ExportChunk(ctx(t), "j1", 0, 2); concord.ErrorCode(err) != concord.ENOTFOUND {
		t.Fatalf("chunk past the end: %v", err)
	}
	// Only the owner saves; after its lease ran out another node takes
	// the job over and resumes from the saved cursor.
	if err := update(func(tx concord.Tx) error { return tx.SaveExportJob(ctx(t), job, "nodeB", now) }); concord.ErrorCode(err) != concord.ECONFLICT {
		t.Fatalf("save by a node without the lease: %v", err)
	}
	j := claim("nodeB", now.Add(2*time.Minute))
	if j == nil || j.ID != "j1" || j.Cursor != `{"at":2}` {
		t.Fatalf("takeover claim = %+v", j)
	}
	if err := update(func(tx concord.Tx) error { return tx.SaveExportJob(ctx(t), job, "nodeA", now) }); concord.ErrorCode(err) != concord.ECONFLICT {
		t.Fatalf("save by the node that lost the lease: %v", err)
	}
	job.Status, job.Finished, job.Expires = concord.ExportCompleted, now.Add(3*time.Minute), now.Add(time.Hour)
	if err := update(func(tx concord.Tx) error { return tx.SaveExportJob(ctx(t), job, "nodeB", now) }); err != nil {
		t.Fatal(err)
	}
	if j := claim("nodeC", now.Add(time.Hour)); j != nil {
		t.Fatalf("a completed job was claimed: %+v", j)
	}
	if n, err := s.ActiveExportJobs(ctx(t), "tok1"); err != nil || n != 0 {
		t.Fatalf("ActiveExportJobs after completion = %d, %v", n, err)
	}
	sweep := func(at time.Time) int {
		t.Helper()
		total := 0
		for range 100 {
			var n int
			if err := update(func(tx concord.Tx) error {
				var err error
				n, err = tx.SweepExportJobs(ctx(t), at, 1)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				return total
			}
			total += n
		}
		t.Fatal("the sweep never finished")
		return 0
	}
	if n := sweep(now.Add(30 * time.Minute)); n != 0 {
		t.Fatalf("sweep before expiry removed %d", n)
	}
	// A second job, deleted (cancelled) while queued.
	j2 := *job
	j2.ID, j2.Status, j2.Finished, j2.Expires = "j2", concord.ExportQueued, time.Time{}, time.Time{}
	if err := update(func(tx concord.Tx) error { return tx.CreateExportJob(ctx(t), &j2) }); err != nil {
		t.Fatal(err)
	}
	if err := update(func(tx concord.Tx) error { return tx.DeleteExportJob(ctx(t), "j2") }); err != nil {
		t.Fatal(err)
	}
	if err := update(func(tx concord.Tx) error { return tx.DeleteExportJob(ctx(t), "j2") }); concord.ErrorCode(err) != concord.ENOTFOUND {
		t.Fatalf("second delete: %v", err)
	}
	if j := claim("nodeC", now); j != nil {
		t.Fatalf("a deleted job was claimed: %+v", j)
	}
	// After expiry: j1 (2 files, 3 chunks) and j2 go.
	if n := sweep(now.Add(2 * time.Hour)); n < 1+3+2+2 {
		t.Fatalf("sweep after expiry removed %d rows", n)
	}
	for _, id := range []string{"j1", "j2"} {
		if _, err := s.ExportJob(ctx(t), id); concord.ErrorCode(err) != concord.ENOTFOUND {
			t.Fatalf("%s after the sweep: %v", id, err)
		}
	}
	if files, err := s.ExportFiles(ctx(t), "j1"); err != nil || len(files) != 0 {
		t.Fatalf("files after the sweep: %d, %v", len(files), err)
	}
	if _, err := s.ExportChunk(ctx(t), "j1", 0, 0); concord.ErrorCode(err) != concord.ENOTFOUND {
		t.Fatalf("chunk after the sweep: %v", err)
	}
}
