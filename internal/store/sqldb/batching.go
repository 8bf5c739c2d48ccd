package sqldb

import "context"

// batching wraps a write transaction's connection so that statements
// whose results nobody reads (index rows, audit records) wait and go to
// the server together, in one round trip, with the next statement that
// must answer or at the end of the Update function that queued them (see
// writer.attempt). On a connection that cannot batch (SQLite, in process)
// they run at once.
type batching struct {
	TxConn
	b       Batcher // nil when TxConn cannot batch
	ctx     context.Context
	pending []Stmt
}

func newBatching(ctx context.Context, tc TxConn) *batching {
	b, _ := tc.(Batcher)
	return &batching{TxConn: tc, b: b, ctx: ctx}
}

// later queues statements, or runs them now on a connection that cannot
// batch.
func (c *batching) later(stmts ...Stmt) error {
	if c.b == nil {
		for _, s := range stmts {
			if _, err := c.TxConn.Exec(c.ctx, s.SQL, s.Args...); err != nil {
				return err
			}
		}
		return nil
	}
	c.pending = append(c.pending, stmts...)
	return nil
}

// flush sends the queued statements.
func (c *batching) flush() error {
	if len(c.pending) == 0 {
		return nil
	}
	stmts := c.pending
	c.pending = nil
	return c.b.ExecBatch(c.ctx, stmts)
}

// discard drops the queued statements (their function failed).
func (c *batching) discard() { c.pending = nil }

func (c *batching) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	if err := c.flush(); err != nil {
		return 0, err
	}
	return c.TxConn.Exec(ctx, query, args...)
}

// QueryRow sends the queued statements with the query, in one round
// trip.
func (c *batching) QueryRow(ctx context.Context, query string, args ...any) Row {
	if c.b == nil || len(c.pending) == 0 {
		return c.TxConn.QueryRow(ctx, query, args...)
	}
	stmts := c.pending
	c.pending = nil
	return rowFunc(func(dest ...any) error { return c.b.QueryRowAfter(ctx, stmts, query, args, dest) })
}

// rowFunc is a Row whose Scan runs the query.
type rowFunc func(dest ...any) error

func (f rowFunc) Scan(dest ...any) error { return f(dest...) }

func (c *batching) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	if err := c.flush(); err != nil {
		return nil, err
	}
	return c.TxConn.Query(ctx, query, args...)
}

// errRow is a Row whose Scan reports err.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
