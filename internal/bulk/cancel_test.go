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
