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
	// rows are the search index rows queued for each index table (the
	// arguments of each row one after the other) and how many: they wait
	// past the statements that answer (the next resource's version
	// insert) and go out merged into few large INSERTs, when the Update
	// function ends or before anything reads the index or removes rows
	// from it.
	rows  [len(indexTables)][]any
	nrows [len(indexTables)]int
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
	for _, s := range stmts {
		if s.DeletesIndex {
			c.queueRows()
		}
		c.pending = append(c.pending, s)
	}
	return nil
}

// laterRows queues n index rows of table (args: each row's rtype, rid
// and the table's columns) on a connection that batches; it reports false
// on one that does not, where the caller runs them itself.
func (c *batching) laterRows(table, n int, args []any) bool {
	if c.b == nil {
		return false
	}
	c.rows[table] = append(c.rows[table], args...)
	c.nrows[table] += n
	return true
}

// mergedRowSizes are the row counts of the merged index INSERTs, largest
// first: a few fixed sizes keep the server's prepared statements few.
var mergedRowSizes = []int{256, 64, 16, 4, 1}

// queueRows moves the queued index rows into pending as multi-row
// INSERTs.
func (c *batching) queueRows() {
	for table := range c.rows {
		args, n := c.rows[table], c.nrows[table]
		if n == 0 {
			continue
		}
		width := len(args) / n
		for _, size := range mergedRowSizes {
			for n >= size {
				c.pending = append(c.pending, Stmt{SQL: insertStatement(table, size), Args: args[: size*width : size*width]})
				args, n = args[size*width:], n-size
			}
		}
		c.rows[table], c.nrows[table] = nil, 0
	}
}

// flush sends the queued statements and index rows.
func (c *batching) flush() error {
	c.queueRows()
	if len(c.pending) == 0 {
		return nil
	}
	stmts := c.pending
	c.pending = nil
	return c.b.ExecBatch(c.ctx, stmts)
}

// discard drops the queued statements and index rows (their function
// failed).
func (c *batching) discard() {
	c.pending = nil
	for table := range c.rows {
		c.rows[table], c.nrows[table] = nil, 0
	}
}

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
