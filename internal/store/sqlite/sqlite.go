// Package sqlite is the embedded storage adapter: one SQLite database file
// in WAL mode with synchronous=FULL, one writer connection whose
// transactions are group-committed, and a pool of read-only connections.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/store/sqldb"

	msqlite "modernc.org/sqlite" // also registers the "sqlite" driver for database/sql
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
	// Readers do not map the database file (mmap_size): with a writer
	// committing all the time (every request's audit record), each read
	// transaction found the database changed and unmapped and mapped it
	// again, which cost more (a fifth of the time when reading by id) than
	// the read calls mapping saves (6%).
	rdb, err := sql.Open("sqlite", base+"&_pragma=query_only(1)")
	if err != nil {
		wdb.Close()
		return nil, err
	}
	rdb.SetMaxOpenConns(opt.Readers)
	rdb.SetMaxIdleConns(opt.Readers)
	rdb.SetConnMaxLifetime(0)

	// The writer keeps statement journals in memory (temp_store): a
	// multi-row INSERT inside a transaction otherwise writes one to a
	// temporary file, page by page; and a larger page cache (16 MiB)
	// keeps a big transaction (a Bundle of hundreds of resources and their
	// index rows) from spilling to the WAL before its commit.
	// Its commits never checkpoint (wal_autocheckpoint 0): the
	// checkpointer does, on its own connection, so copying the WAL into
	// the database (14% of the writer's time during a Bundle import) runs
	// beside the writer instead of in its commits.
	w, err := openWriter(base + "&_pragma=temp_store(MEMORY)&_pragma=cache_size(-16384)&_pragma=wal_autocheckpoint(0)")
	if err != nil {
		wdb.Close()
		rdb.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := sqldb.Migrate(ctx, w.begin, dialect, ms); err != nil {
		w.close()
		wdb.Close()
		rdb.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	stopCheckpoints := startCheckpointer(wdb)
	return sqldb.New(sqldb.Adapter{
		Kind:    "sqlite",
		Dialect: dialect,
		Read:    newReadPool(rdb),
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
			stopCheckpoints()
			return errors.Join(w.close(), rdb.Close(), wdb.Close())
		},
		SchemaVersion: len(ms),
	}), nil
}

// writerConn is the single writer connection. It talks to the SQLite
// driver directly rather than through database/sql: it is used by one
// goroutine only (migrations, then the store's writer), so database/sql's
// pooling, locking and per-argument conversion would be pure overhead on
// the hottest path of the store. It runs transactions with explicit BEGIN
// IMMEDIATE, COMMIT and ROLLBACK and keeps every statement it prepares for
// the store's life: the writer runs the same few statements in every
// transaction.
type writerConn struct {
	conn  driver.Conn
	stmts map[string]driver.Stmt
	args  []driver.NamedValue // reused: only one statement runs at a time
}

func openWriter(dsn string) (*writerConn, error) {
	c, err := (&msqlite.Driver{}).Open(dsn)
	if err != nil {
		return nil, err
	}
	return &writerConn{conn: c, stmts: make(map[string]driver.Stmt)}, nil
}

func (w *writerConn) begin(ctx context.Context) (sqldb.TxConn, error) {
	// BEGIN IMMEDIATE may wait for another process's lock: that wait, and
	// only that one, runs under ctx (see stmtCtx).
	st, err := w.prepared(ctx, "BEGIN IMMEDIATE")
	if err != nil {
		return nil, err
	}
	if _, err := st.(driver.StmtExecContext).ExecContext(ctx, nil); err != nil {
		return nil, err
	}
	return w, nil
}

// stmtCtx is the context the writer's statements run under in the driver,
// once ctx has been checked. The driver watches a context that can end
// with a goroutine per statement (and a progress handler); the writer runs
// a few short statements per Update, so it checks ctx before each instead
// and gives the driver a context that never ends. The transaction's lock
// wait is the one that can take long, and BEGIN IMMEDIATE keeps ctx.
func stmtCtx(ctx context.Context) (context.Context, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return context.Background(), nil
}

func (w *writerConn) close() error {
	for _, st := range w.stmts {
		st.Close()
	}
	return w.conn.Close()
}

func (w *writerConn) prepared(ctx context.Context, q string) (driver.Stmt, error) {
	if st, ok := w.stmts[q]; ok {
		return st, nil
	}
	st, err := w.conn.(driver.ConnPrepareContext).PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	w.stmts[q] = st
	return st, nil
}

// bind converts args the way database/sql would for the few Go types the
// store's queries use.
func (w *writerConn) bind(args []any) ([]driver.NamedValue, error) {
	w.args = w.args[:0]
	for i, a := range args {
		switch v := a.(type) {
		case int:
			a = int64(v)
		case int32:
			a = int64(v)
		case nil, int64, float64, bool, string, []byte:
		default:
			return nil, fmt.Errorf("sqlite writer: unsupported argument type %T", a)
		}
		w.args = append(w.args, driver.NamedValue{Ordinal: i + 1, Value: a})
	}
	return w.args, nil
}

func (w *writerConn) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	ctx, err := stmtCtx(ctx)
	if err != nil {
		return 0, err
	}
	st, err := w.prepared(ctx, q)
	if err != nil {
		return 0, err
	}
	nv, err := w.bind(args)
	if err != nil {
		return 0, err
	}
	res, err := st.(driver.StmtExecContext).ExecContext(ctx, nv)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (w *writerConn) ExecScript(ctx context.Context, script string) error {
	_, err := w.conn.(driver.ExecerContext).ExecContext(ctx, script, nil)
	return err
}

func (w *writerConn) Query(ctx context.Context, q string, args ...any) (sqldb.Rows, error) {
	ctx, err := stmtCtx(ctx)
	if err != nil {
		return nil, err
	}
	st, err := w.prepared(ctx, q)
	if err != nil {
		return nil, err
	}
	nv, err := w.bind(args)
	if err != nil {
		return nil, err
	}
	r, err := st.(driver.StmtQueryContext).QueryContext(ctx, nv)
	if err != nil {
		return nil, err
	}
	return &driverRows{r: r, vals: make([]driver.Value, len(r.Columns()))}, nil
}

func (w *writerConn) QueryRow(ctx context.Context, q string, args ...any) sqldb.Row {
	rows, err := w.Query(ctx, q, args...)
	if err != nil {
		return errRow{err}
	}
	return driverRow{rows.(*driverRows)}
}

func (w *writerConn) Commit(ctx context.Context) error {
	_, err := w.Exec(ctx, "COMMIT")
	return err
}

// Rollback ends the transaction, if one is open. SQLite may already have
// rolled back on its own (after some errors), so "no transaction" is fine.
func (w *writerConn) Rollback(ctx context.Context) error {
	// Even when ctx has ended: the connection must leave the transaction.
	_, err := w.Exec(context.Background(), "ROLLBACK")
	if err != nil && strings.Contains(err.Error(), "no transaction is active") {
		return nil
	}
	return err
}

// driverRows reads a driver's result set into the store's scan targets.
type driverRows struct {
	r    driver.Rows
	vals []driver.Value
	err  error
}

func (d *driverRows) Next() bool {
	if d.err != nil {
		return false
	}
	if err := d.r.Next(d.vals); err != nil {
		if err != io.EOF {
			d.err = err
		}
		return false
	}
	return true
}

func (d *driverRows) Scan(dest ...any) error {
	if len(dest) != len(d.vals) {
		return fmt.Errorf("sqlite writer: scan of %d columns into %d values", len(d.vals), len(dest))
	}
	for i, v := range d.vals {
		if err := assign(dest[i], v); err != nil {
			return fmt.Errorf("sqlite writer: column %d: %w", i, err)
		}
	}
	return nil
}

func (d *driverRows) Err() error { return d.err }
func (d *driverRows) Close()     { d.r.Close() }

// driverRow is the first row of a result set, for QueryRow.
type driverRow struct{ rows *driverRows }

func (r driverRow) Scan(dest ...any) error {
	defer r.rows.Close()
	if !r.rows.Next() {
		if r.rows.err != nil {
			return r.rows.err
		}
		return sqldb.ErrNoRows
	}
	return r.rows.Scan(dest...)
}

// assign stores a driver value in one of the scan targets the store uses.
func assign(dest any, v driver.Value) error {
	switch d := dest.(type) {
	case *int64:
		if n, ok := v.(int64); ok {
			*d = n
			return nil
		}
	case *int:
		if n, ok := v.(int64); ok {
			*d = int(n)
			return nil
		}
	case *string:
		switch s := v.(type) {
		case string:
			*d = s
			return nil
		case []byte:
			*d = string(s)
			return nil
		}
	case *float64:
		switch n := v.(type) {
		case float64:
			*d = n
			return nil
		case int64:
			*d = float64(n)
			return nil
		}
	case *[]byte:
		switch b := v.(type) {
		case []byte:
			*d = append([]byte(nil), b...)
			return nil
		case string:
			*d = []byte(b)
			return nil
		}
	}
	return fmt.Errorf("cannot store %T in %T", v, dest)
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

// dialect is SQLite's: per-resource search checks name the by-resource
// index (see sqldb.Dialect.ByResource).
var dialect = sqldb.Dialect{ByResource: func(table string) string { return " INDEXED BY " + table + "_res" }}
