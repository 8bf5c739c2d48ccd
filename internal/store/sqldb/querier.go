package sqldb

import (
	"context"
	"errors"
)

// ErrNoRows is returned by Row.Scan when the query matched nothing. Adapters
// translate their driver's own value into it.
var ErrNoRows = errors.New("sqldb: no rows")

// Querier runs SQL. Adapters implement it over database/sql and over pgx.
type Querier interface {
	// Exec runs a statement and returns the number of rows it affected.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	// QueryRow runs a query expected to return at most one row.
	QueryRow(ctx context.Context, query string, args ...any) Row
	// Query runs a query returning rows; the caller closes them.
	Query(ctx context.Context, query string, args ...any) (Rows, error)
}

// Row is a single result row.
type Row interface {
	// Scan copies the row's columns into dest, or returns ErrNoRows.
	Scan(dest ...any) error
}

// Rows is a result set read row by row.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Stmt is a statement and its arguments.
type Stmt struct {
	SQL  string
	Args []any
	// DeletesIndex marks a statement that removes search index rows:
	// index rows queued before it go to the server first.
	DeletesIndex bool
	// Dest, when set, receives the one row the statement returns (an
	// INSERT … RETURNING) when it is sent; NoRows is the error when it
	// returns none.
	Dest   []any
	NoRows error
}

// Batcher is implemented by a TxConn that can send several statements in
// one round trip to the server (PostgreSQL); others run them one by one.
type Batcher interface {
	// ExecBatch runs the statements in order and stops at the first
	// error.
	ExecBatch(ctx context.Context, stmts []Stmt) error
	// QueryRowAfter runs the statements, then the query, in one round
	// trip, and scans the query's row into dest (ErrNoRows when none).
	QueryRowAfter(ctx context.Context, stmts []Stmt, query string, args []any, dest []any) error
}

// TxConn is a write transaction on one connection.
type TxConn interface {
	Querier
	// ExecScript runs several statements separated by semicolons.
	ExecScript(ctx context.Context, script string) error
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// Dialect holds what differs between the engines in the shared queries.
type Dialect struct {
	// LockRow is appended to a SELECT that must lock the row it reads until
	// the transaction ends (" FOR UPDATE" on PostgreSQL; SQLite has a single
	// writer, so it needs nothing).
	LockRow string
	// SkipLocked is appended to a SELECT that claims a row of a work
	// queue: it locks the row and passes over rows other transactions
	// hold (" FOR UPDATE SKIP LOCKED" on PostgreSQL; SQLite's single
	// writer needs nothing).
	SkipLocked string
	// MigrationLock, when set, is run first in every migration transaction
	// to keep several nodes from migrating at once.
	MigrationLock string
	// ByResource, when set, is appended to an index table's name in a
	// search's per-resource checks (EXISTS … WHERE rid = r.id) to make the
	// engine use the table's by-resource index: SQLite's planner, having
	// no statistics, would otherwise pick the value index and scan every
	// row with that value for each resource checked.
	ByResource func(table string) string
	// KeyLock, when set, takes a lock on a string ($1) until the
	// transaction ends (an advisory lock on PostgreSQL). SQLite has a
	// single writer, whose transactions never overlap: it needs none.
	KeyLock string
}
