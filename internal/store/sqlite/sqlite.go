// Package sqlite is the embedded storage adapter: one SQLite database file
// in WAL mode with synchronous=FULL, one writer connection whose
// transactions are group-committed, and a pool of read-only connections.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/store/sqldb"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Options tune an opened store.
type Options struct {
	// Readers is the size of the read pool; 0 means 4.
	Readers int
}

// Open opens (creating if needed) the database at path, applies pending
// migrations and returns the store.
func Open(ctx context.Context, path string, opt Options) (*sqldb.Store, error) {
	if opt.Readers <= 0 {
		opt.Readers = 4
	}
	ms, err := sqldb.LoadMigrations(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	// synchronous=FULL: a commit is on disk before Update returns, so an
	// acknowledgment never outruns durability. busy_timeout lets a second
	// process (the concord CLI beside a running server) wait for the lock.
	base := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)" +
		"&_pragma=foreign_keys(1)"
	wdb, err := sql.Open("sqlite", base)
	if err != nil {
		return nil, err
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	if err := wdb.PingContext(ctx); err != nil {
		wdb.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	rdb, err := sql.Open("sqlite", base+"&_pragma=query_only(1)")
	if err != nil {
		wdb.Close()
		return nil, err
	}
	rdb.SetMaxOpenConns(opt.Readers)
	rdb.SetMaxIdleConns(opt.Readers)
	rdb.SetConnMaxLifetime(0)

	conn, err := wdb.Conn(ctx)
	if err != nil {
		wdb.Close()
		rdb.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	w := &writerConn{conn: conn, stmts: make(map[string]*sql.Stmt)}
	if err := sqldb.Migrate(ctx, w.begin, sqldb.Dialect{}, ms); err != nil {
		w.close()
		wdb.Close()
		rdb.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	return sqldb.New(sqldb.Adapter{
		Kind:    "sqlite",
		Dialect: sqldb.Dialect{},
		Read:    dbQuerier{rdb},
		Begin:   w.begin,
		Ping:    rdb.PingContext,
		PoolStats: func() concord.StoreStats {
			r := rdb.Stats()
			return concord.StoreStats{
				MaxOpen: r.MaxOpenConnections + 1, Open: r.OpenConnections + 1,
				InUse: r.InUse, Idle: r.Idle, WaitCount: r.WaitCount, WaitDuration: r.WaitDuration,
			}
		},
		Close: func() error {
			return errors.Join(w.close(), rdb.Close(), wdb.Close())
		},
		SchemaVersion: len(ms),
	}), nil
}

// writerConn is the single writer connection, held for the store's life
// and used only by the store's writer goroutine (and by migrations before
// it starts). It runs transactions with explicit BEGIN IMMEDIATE, COMMIT
// and ROLLBACK statements and keeps every statement it has prepared: the
// writer runs the same few statements (savepoints, inserts, the chain head)
// in every transaction, so each is compiled once for the store's life.
type writerConn struct {
	conn  *sql.Conn
	stmts map[string]*sql.Stmt
}

func (w *writerConn) begin(ctx context.Context) (sqldb.TxConn, error) {
	if _, err := w.Exec(ctx, "BEGIN IMMEDIATE"); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *writerConn) close() error {
	for _, st := range w.stmts {
		st.Close()
	}
	return w.conn.Close()
}

func (w *writerConn) prepared(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := w.stmts[q]; ok {
		return st, nil
	}
	st, err := w.conn.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	w.stmts[q] = st
	return st, nil
}

func (w *writerConn) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	st, err := w.prepared(ctx, q)
	if err != nil {
		return 0, err
	}
	res, err := st.ExecContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (w *writerConn) ExecScript(ctx context.Context, script string) error {
	_, err := w.conn.ExecContext(ctx, script)
	return err
}

func (w *writerConn) QueryRow(ctx context.Context, q string, args ...any) sqldb.Row {
	st, err := w.prepared(ctx, q)
	if err != nil {
		return errRow{err}
	}
	return row{st.QueryRowContext(ctx, args...)}
}

func (w *writerConn) Query(ctx context.Context, q string, args ...any) (sqldb.Rows, error) {
	r, err := w.conn.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return rows{r}, nil
}

func (w *writerConn) Commit(ctx context.Context) error {
	_, err := w.Exec(ctx, "COMMIT")
	return err
}

// Rollback ends the transaction, if one is open. SQLite may already have
// rolled back on its own (after some errors), so "no transaction" is fine.
func (w *writerConn) Rollback(ctx context.Context) error {
	_, err := w.Exec(ctx, "ROLLBACK")
	if err != nil && strings.Contains(err.Error(), "no transaction is active") {
		return nil
	}
	return err
}

// dbQuerier runs reads on the read pool.
type dbQuerier struct{ db *sql.DB }

func (d dbQuerier) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := d.db.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (d dbQuerier) QueryRow(ctx context.Context, q string, args ...any) sqldb.Row {
	return row{d.db.QueryRowContext(ctx, q, args...)}
}

func (d dbQuerier) Query(ctx context.Context, q string, args ...any) (sqldb.Rows, error) {
	r, err := d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return rows{r}, nil
}

type row struct{ r *sql.Row }

func (r row) Scan(dest ...any) error {
	err := r.r.Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return sqldb.ErrNoRows
	}
	return err
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

type rows struct{ *sql.Rows }

func (r rows) Close() { r.Rows.Close() }
