package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/concord-health/concord/internal/store/storetest"
)

// TestAnalyzeStale: a table that changed much since its last analysis
// gets analysed, so searches are planned with statistics even when
// autovacuum is off.
func TestAnalyzeStale(t *testing.T) {
	dsn := storetest.PostgresURL(t)
	s, err := Open(context.Background(), dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `INSERT INTO idx_uri (rtype, rid, param, uri)
		SELECT 'Questionnaire', 'q' || i, 'url', 'http://example.org/q/' || i FROM generate_series(1, 3000) AS i`); err != nil {
		t.Fatal(err)
	}
	analyzed := func() bool {
		var n int
		pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_user_tables
			WHERE schemaname = current_schema() AND relname = 'idx_uri' AND last_analyze IS NOT NULL`).Scan(&n)
		return n == 1
	}
	if analyzed() {
		t.Fatal("idx_uri was analysed before the test asked")
	}
	// The statistics of the insert reach pg_stat_user_tables within a
	// second or so; analyse until they have and the table is analysed.
	deadline := time.Now().Add(20 * time.Second)
	for !analyzed() {
		if time.Now().After(deadline) {
			t.Fatal("idx_uri was not analysed")
		}
		analyzeStale(ctx, pool)
		time.Sleep(200 * time.Millisecond)
	}
}
