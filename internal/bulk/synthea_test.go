package bulk

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/fhir"
)

func TestSystemExportSyntheaSQLite(t *testing.T) { testSystemExportSynthea(t, openSQLite(t)) }

func TestSystemExportSyntheaPostgres(t *testing.T) { testSystemExportSynthea(t, openPostgres(t)) }

// testSystemExportSynthea loads the shared Synthea Bundles, runs a system
// $export whose worker is stopped part way and started again (as after a
// restart), downloads every file and checks that each type's resources
// are exported once each, as many as the store holds, every line JSON of
// its type; types split into several files past FileResources.
func testSystemExportSynthea(t *testing.T, st concord.Store) {
	syntheaFiles(t)
	e := newEnv(t, st, Options{ChunkBytes: 16 << 10, FileResources: 1500, PageSize: 200})
	e.loadSynthea()
	// The first worker stops once a few chunks are stored.
	status := e.kickoff("/fhir/$export", e.admin)
	id := status[len(status)-20:]
	deadline := time.Now().Add(time.Minute)
	for {
		job, err := st.ExportJob(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		files, err := st.ExportFiles(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		chunks := 0
		for _, f := range files {
			chunks += f.Chunks
		}
		if chunks >= 3 || job.Status == concord.ExportCompleted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no chunk stored: %+v", job)
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.stopWorker()
	if job, _ := st.ExportJob(context.Background(), id); job.Status != concord.ExportRunning {
		t.Logf("the export finished before the worker stopped (%s): the resume is not exercised", job.Status)
	}
	e.startWorker(New(st, e.opt)) // the node restarted: same name, new worker
	m := e.wait(status, e.admin)
	got := e.exported(m, e.admin)
	files := map[string]int{}
	for _, f := range m.Output {
		files[f.Type]++
	}
	total := 0
	for _, typ := range fhir.ResourceTypes() {
		want := e.count(typ)
		ids := got[typ]
		if int64(len(ids)) != want {
			t.Errorf("%s: exported %d, the store holds %d", typ, len(ids), want)
		}
		if !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != len(ids) {
			t.Errorf("%s: exported ids are not each once in id order", typ)
		}
		// A file ends at the first chunk boundary after 1,500 resources.
		if maxFiles := int((want + 1499) / 1500); want > 0 && (files[typ] < 1 || files[typ] > maxFiles || (want > 1600 && files[typ] < 2)) {
			t.Errorf("%s: %d resources in %d files, want 1 to %d files", typ, want, files[typ], maxFiles)
		}
		total += len(ids)
	}
	if total < 8000 {
		t.Fatalf("only %d resources exported", total)
	}
	if len(m.Error) != 0 {
		t.Fatalf("error files: %+v", m.Error)
	}
}
