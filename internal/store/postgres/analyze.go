package postgres

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// analyzeEvery is how often the store looks for tables whose statistics
// are out of date.
const analyzeEvery = time.Minute

// staleTables lists Concord's tables changed by more than a tenth of
// their rows (and at least 1,000) since they were last analysed: the rule
// autovacuum applies by default.
const staleTables = `SELECT relname FROM pg_stat_user_tables
	WHERE schemaname = current_schema()
	AND n_mod_since_analyze > GREATEST(1000, 0.1 * n_live_tup)`

// startAnalyzer keeps the planner's statistics current: it analyses the
// tables that changed much since their last analysis, once a minute.
// autovacuum does the same when it is on, but it may be off (it is on
// some managed and test servers), and without statistics PostgreSQL plans
// searches over a freshly loaded store as if every table were empty
// (39 ms against 0.4 ms measured). It returns the function that stops it.
func startAnalyzer(pool *pgxpool.Pool) func() {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(analyzeEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				analyzeStale(ctx, pool)
			}
		}
	}()
	return func() { cancel(); wg.Wait() }
}

// analyzeStale analyses the stale tables; errors are left for the next
// round (a failed ANALYZE changes nothing).
func analyzeStale(ctx context.Context, pool *pgxpool.Pool) {
	rows, err := pool.Query(ctx, staleTables)
	if err != nil {
		return
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return
	}
	for _, n := range names {
		if _, err := pool.Exec(ctx, "ANALYZE "+pgx.Identifier{n}.Sanitize()); err != nil {
			return
		}
	}
}
