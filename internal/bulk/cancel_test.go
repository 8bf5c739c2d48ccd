package bulk

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concord-health/concord"
)

// gatedStore holds every resource scan until the gate opens, so that a
// test can act on a job while it runs.
type gatedStore struct {
	concord.Store
	gate    chan struct{}
	started chan struct{}
	once    sync.Once
}

func (g *gatedStore) ScanResources(ctx context.Context, f concord.ResourceScan, fn func(*concord.Resource) error) error {
	g.once.Do(func() { close(g.started) })
	select {
	case <-g.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.Store.ScanResources(ctx, f, fn)
}

// TestCancelRunningJob: a job cancelled while its worker runs it stops
// at its next chunk, stores nothing more, and is swept; the worker goes
// on with the next job.
func TestCancelRunningJob(t *testing.T) {
	st := &gatedStore{Store: openSQLite(t), gate: make(chan struct{}), started: make(chan struct{})}
	e := newEnv(t, st, Options{ChunkBytes: 1, SweepEvery: 10 * time.Millisecond})
	e.put(fixtures...)
	status := e.kickoff("/fhir/$export", e.admin)
	id := status[strings.LastIndex(status, "/")+1:]
	select {
	case <-st.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the job did not start")
	}
	if job, err := st.ExportJob(context.Background(), id); err != nil || job.Status != concord.ExportRunning {
		t.Fatalf("job while scanning: %+v, %v", job, err)
	}
	if resp, body := e.do("GET", status, e.admin, ""); resp.StatusCode != 202 || resp.Header.Get("X-Progress") == "" {
		t.Fatalf("status while running: %d %s %v", resp.StatusCode, body, resp.Header)
	}
	if resp, body := e.do("DELETE", status, e.admin, ""); resp.StatusCode != 202 {
		t.Fatalf("DELETE of a running job: %d %s", resp.StatusCode, body)
	}
	close(st.gate)
	e.gone(id)
	// The worker is free for the next job.
	m := e.wait(e.kickoff("/fhir/$export?_type=Patient", e.admin), e.admin)
	if len(m.Output) != 1 || m.Output[0].Count != 3 {
		t.Fatalf("the next job: %+v", m)
	}
	// Nothing of the cancelled job came back after the sweep.
	time.Sleep(50 * time.Millisecond)
	if files, err := st.ExportFiles(context.Background(), id); err != nil || len(files) != 0 {
		t.Fatalf("files of the cancelled job: %d, %v", len(files), err)
	}
}

// TestExportAsOfKickoff: what is written while a job runs does not show in
// it: the export is the store as it was at transactionTime (the
// kick-off), and the next export with _since=transactionTime has the
// changes, the deletion among its deleted files.
func TestExportAsOfKickoff(t *testing.T) {
	st := &gatedStore{Store: openSQLite(t), gate: make(chan struct{}), started: make(chan struct{})}
	e := newEnv(t, st, Options{})
	e.put(fixtures...)
	status := e.kickoff("/fhir/$export?_type=Observation,Condition", e.admin)
	<-st.started
	time.Sleep(2 * time.Millisecond)
	e.put(`{"resourceType":"Observation","id":"ob1","status":"cancelled","code":{"text":"changed"},"subject":{"reference":"Patient/pb"}}`,
		`{"resourceType":"Observation","id":"od1","status":"final","code":{"text":"new"},"subject":{"reference":"Patient/pc"}}`)
	if resp, body := e.do("DELETE", "/fhir/Condition/ca1", e.admin, ""); resp.StatusCode/100 != 2 {
		t.Fatalf("DELETE: %d %s", resp.StatusCode, body)
	}
	close(st.gate)
	m := e.wait(status, e.admin)
	got := e.exported(m, e.admin)
	if o, c := strings.Join(got["Observation"], " "), strings.Join(got["Condition"], " "); o != "oa1 oa2 ob1 oc1" || c != "ca1" || len(m.Deleted) != 0 {
		t.Fatalf("export as of the kick-off: Observation %q, Condition %q, deleted %+v", o, c, m.Deleted)
	}
	for _, f := range m.Output {
		if _, body := e.do("GET", f.URL, e.admin, ""); strings.Contains(body, "changed") {
			t.Fatalf("a version written after the kick-off was exported: %s", body)
		}
	}
	// The next export from that transactionTime.
	m = e.wait(e.kickoff("/fhir/$export?_type=Observation,Condition&_since="+m.TransactionTime, e.admin), e.admin)
	got = e.exported(m, e.admin)
	if o := strings.Join(got["Observation"], " "); o != "ob1 od1" || len(got["Condition"]) != 0 || len(m.Deleted) != 1 {
		t.Fatalf("the next export: %v, deleted %+v", got, m.Deleted)
	}
	if _, body := e.do("GET", m.Deleted[0].URL, e.admin, ""); !strings.Contains(body, `"url":"Condition/ca1"`) {
		t.Fatalf("deleted file: %s", body)
	}
}
