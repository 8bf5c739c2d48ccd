package sqlite

import (
	"context"
	"database/sql"
	"sync"

	"github.com/concord-health/concord/internal/store/sqldb"
)

// maxReadStatements bounds the read pool's statement cache. Searches
// build their SQL from the parameters asked for, so the set of distinct
// statements is open-ended; when the cache is full it is emptied and
// fills again with what is in use now.
const maxReadStatements = 256

// readPool runs reads on the read-only connections. It keeps each query
// prepared: the driver otherwise compiles the SQL on every call, which
// was a sixth of the server's CPU time when reading by id (the token
// check and the read are two short queries each).
type readPool struct {
	db *sql.DB

	mu    sync.RWMutex
	stmts map[string]*sql.Stmt
}

func newReadPool(db *sql.DB) *readPool {
	return &readPool{db: db, stmts: map[string]*sql.Stmt{}}
}

// Exec runs a statement that returns no rows (reads only: the pool's
// connections are query_only); it is rare and not cached.
func (p *readPool) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := p.db.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// QueryRow runs a query expected to return at most one row.
func (p *readPool) QueryRow(ctx context.Context, q string, args ...any) sqldb.Row {
	var r *sql.Row
	err := p.with(ctx, q, func(st *sql.Stmt) { r = st.QueryRowContext(ctx, args...) })
	if err != nil {
		return errRow{err}
	}
	return row{r}
}

// Query runs a query; the caller closes the rows.
func (p *readPool) Query(ctx context.Context, q string, args ...any) (sqldb.Rows, error) {
	var r *sql.Rows
	var qerr error
	err := p.with(ctx, q, func(st *sql.Stmt) { r, qerr = st.QueryContext(ctx, args...) })
	if err == nil {
		err = qerr
	}
	if err != nil {
		return nil, err
	}
	return rows{r}, nil
}

// with calls fn with q prepared. fn runs under the read lock, so the
// statement is not closed under it; rows it opens keep the statement's
// connection until they are closed, even if the cache is emptied
// meanwhile (database/sql finalizes a closed statement only when its
// last rows are done).
func (p *readPool) with(ctx context.Context, q string, fn func(*sql.Stmt)) error {
	for {
		p.mu.RLock()
		if st := p.stmts[q]; st != nil {
			fn(st)
			p.mu.RUnlock()
			return nil
		}
		p.mu.RUnlock()
		if err := p.prepare(ctx, q); err != nil {
			return err
		}
		// Another caller may have emptied the cache since: look again.
	}
}

// prepare adds q to the cache, emptying it first when it is full.
func (p *readPool) prepare(ctx context.Context, q string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stmts[q] != nil {
		return nil
	}
	if len(p.stmts) >= maxReadStatements {
		for k, old := range p.stmts {
			old.Close()
			delete(p.stmts, k)
		}
	}
	st, err := p.db.PrepareContext(ctx, q)
	if err != nil {
		return err
	}
	p.stmts[q] = st
	return nil
}
