// Package postgres is the storage adapter for PostgreSQL, which several
// Concord nodes can share. It uses a pgx connection pool; write
// transactions go through the shared group-commit writer, and the audit
// chain head row is locked FOR UPDATE so that every node appends to one
// chain.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/store/sqldb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Options tune an opened store.
type Options struct {
	// MaxConns is the size of the pool; 0 means 10.
	MaxConns int32
	// ConnectTimeout bounds the first connection; 0 means 5 seconds.
	ConnectTimeout time.Duration
}

var dialect = sqldb.Dialect{
	LockRow:    " FOR UPDATE",
	SkipLocked: " FOR UPDATE SKIP LOCKED",
	// Any constant works as long as every Concord build uses the same one.
	MigrationLock: "SELECT pg_advisory_xact_lock(74280011)",
	KeyLock:       "SELECT pg_advisory_xact_lock(hashtextextended($1, 74280012))",
}

// Open connects to the database at dsn, applies pending migrations and
// returns the store. Errors name the server without its password.
func Open(ctx context.Context, dsn string, opt Options) (*sqldb.Store, error) {
	if opt.MaxConns <= 0 {
		opt.MaxConns = 10
	}
	if opt.ConnectTimeout <= 0 {
		opt.ConnectTimeout = 5 * time.Second
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, concord.Errorf(concord.EINVALID, "database URL %s: %v", Redact(dsn), "cannot parse it")
	}
	cfg.MaxConns = opt.MaxConns
	cfg.ConnConfig.ConnectTimeout = opt.ConnectTimeout
	// Searches are prepared and cached by pgx; PostgreSQL would switch a
	// cached statement to a generic plan after five runs, one that cannot
	// see which clause is selective for these values (34-53 ms against
	// 0.4 ms measured for Observation?patient&code): plan each run.
	if _, set := cfg.ConnConfig.RuntimeParams["plan_cache_mode"]; !set {
		cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	}
	ms, err := sqldb.LoadMigrations(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, opt.ConnectTimeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(cctx, cfg)
	if err != nil {
		return nil, connectError(dsn, err)
	}
	if err := pool.Ping(cctx); err != nil {
		pool.Close()
		return nil, connectError(dsn, err)
	}
	begin := func(ctx context.Context) (sqldb.TxConn, error) {
		tx, err := pool.Begin(ctx)
		if err != nil {
			return nil, err
		}
		return txConn{tx}, nil
	}
	if err := sqldb.Migrate(ctx, begin, dialect, ms); err != nil {
		pool.Close()
		return nil, fmt.Errorf("migrate %s: %w", Redact(dsn), err)
	}
	stopAnalyze := startAnalyzer(pool)
	return sqldb.New(sqldb.Adapter{
		Kind:    "postgres",
		Dialect: dialect,
		Read:    poolQuerier{pool},
		Begin:   begin,
		Ping:    pool.Ping,
		PoolStats: func() concord.StoreStats {
			s := pool.Stat()
			return concord.StoreStats{
				MaxOpen: int(s.MaxConns()), Open: int(s.TotalConns()), InUse: int(s.AcquiredConns()),
				Idle: int(s.IdleConns()), WaitCount: s.EmptyAcquireCount(), WaitDuration: s.AcquireDuration(),
			}
		},
		Close:         func() error { stopAnalyze(); pool.Close(); return nil },
		SchemaVersion: len(ms),
	}), nil
}

func connectError(dsn string, err error) error {
	var pgErr *pgconn.PgError
	msg := err.Error()
	if errors.As(err, &pgErr) {
		msg = pgErr.Message
	}
	return concord.Errorf(concord.EUNAVAILABLE, "database %s: cannot connect: %s", Redact(dsn), msg)
}

// Redact returns dsn with any password replaced, for messages and logs.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return "(unparseable URL)"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

type poolQuerier struct{ p *pgxpool.Pool }

func (q poolQuerier) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := q.p.Exec(ctx, sql, args...)
	return tag.RowsAffected(), err
}

func (q poolQuerier) QueryRow(ctx context.Context, sql string, args ...any) sqldb.Row {
	return row{q.p.QueryRow(ctx, sql, args...)}
}

func (q poolQuerier) Query(ctx context.Context, sql string, args ...any) (sqldb.Rows, error) {
	r, err := q.p.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return r, nil
}

type txConn struct{ tx pgx.Tx }

func (t txConn) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := t.tx.Exec(ctx, sql, args...)
	return tag.RowsAffected(), err
}

func (t txConn) QueryRow(ctx context.Context, sql string, args ...any) sqldb.Row {
	return row{t.tx.QueryRow(ctx, sql, args...)}
}

func (t txConn) Query(ctx context.Context, sql string, args ...any) (sqldb.Rows, error) {
	r, err := t.tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// ExecBatch sends the statements in one pgx batch: one round trip.
func (t txConn) ExecBatch(ctx context.Context, stmts []sqldb.Stmt) error {
	br, err := t.send(ctx, stmts, nil)
	if err != nil {
		return err
	}
	return br.Close()
}

// QueryRowAfter sends the statements and the query in one pgx batch and
// scans the query's row.
func (t txConn) QueryRowAfter(ctx context.Context, stmts []sqldb.Stmt, query string, args []any, dest []any) error {
	br, err := t.send(ctx, stmts, &sqldb.Stmt{SQL: query, Args: args})
	if err != nil {
		return err
	}
	err = row{br.QueryRow()}.Scan(dest...)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

// send queues stmts (and query, when not nil) in one batch and runs the
// statements; the caller reads the query's answer and closes the batch.
func (t txConn) send(ctx context.Context, stmts []sqldb.Stmt, query *sqldb.Stmt) (pgx.BatchResults, error) {
	b := &pgx.Batch{}
	for _, s := range stmts {
		b.Queue(s.SQL, s.Args...)
	}
	if query != nil {
		b.Queue(query.SQL, query.Args...)
	}
	br := t.tx.SendBatch(ctx, b)
	for _, s := range stmts {
		var err error
		if len(s.Dest) > 0 {
			err = row{br.QueryRow()}.Scan(s.Dest...)
			if err == sqldb.ErrNoRows && s.NoRows != nil {
				err = s.NoRows
			}
		} else {
			_, err = br.Exec()
		}
		if err != nil {
			br.Close()
			return nil, err
		}
	}
	return br, nil
}

func (t txConn) ExecScript(ctx context.Context, script string) error {
	// Without arguments pgx sends the script in one simple-protocol query.
	_, err := t.tx.Exec(ctx, script)
	return err
}

func (t txConn) Commit(ctx context.Context) error   { return t.tx.Commit(ctx) }
func (t txConn) Rollback(ctx context.Context) error { return t.tx.Rollback(ctx) }

type row struct{ r pgx.Row }

func (r row) Scan(dest ...any) error {
	err := r.r.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return sqldb.ErrNoRows
	}
	return err
}
