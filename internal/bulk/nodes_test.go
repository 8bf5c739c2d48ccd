package bulk

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/store/postgres"
	"github.com/concord-health/concord/internal/store/storetest"
)

// TestTwoNodesPostgres runs two workers (two nodes) on one PostgreSQL
// database: every job accepted on the first is run by one of them, once,
// and each exports every resource once.
func TestTwoNodesPostgres(t *testing.T) {
	dsn := storetest.PostgresURL(t)
	open := func() concord.Store {
		st, err := postgres.Open(context.Background(), dsn, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	a, b := open(), open()
	e := newEnv(t, a, Options{Node: "node-a", ChunkBytes: 256, PageSize: 2})
	e.put(fixtures...)
	other := New(b, Options{Node: "node-b", Poll: e.opt.Poll, ChunkBytes: 256, PageSize: 2,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { other.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	var statuses []string
	for range maxActiveJobs { // one requester may have that many waiting
		statuses = append(statuses, e.kickoff("/fhir/$export?_type=Patient,Observation", e.admin))
	}
	for _, s := range statuses {
		got := e.exported(e.wait(s, e.admin), e.admin)
		if p, o := strings.Join(got["Patient"], " "), strings.Join(got["Observation"], " "); p != "pa pb pc" || o != "oa1 oa2 ob1 oc1" {
			t.Fatalf("%s: Patient %q, Observation %q", s, p, o)
		}
	}
}
