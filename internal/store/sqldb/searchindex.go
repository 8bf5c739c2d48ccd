package sqldb

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/concord-health/concord"
)

// indexTables are the search index tables, with the columns each row
// adds after rtype and rid.
var indexTables = [...]struct {
	name string
	cols []string
}{
	{"idx_string", []string{"param", "norm", "exact"}},
	{"idx_token", []string{"param", "system", "code", "text"}},
	{"idx_date", []string{"param", "lo", "hi"}},
	{"idx_number", []string{"param", "value"}},
	{"idx_quantity", []string{"param", "system", "code", "value", "canon_code", "canon_value"}},
	{"idx_ref", []string{"param", "ttype", "tid", "url"}},
	{"idx_uri", []string{"param", "uri"}},
	{"idx_composite", []string{"param", "a_system", "a_code", "b_system", "b_code", "b_lo", "b_hi"}},
}

// rowsPerInsert is how many index rows one INSERT carries at most when
// each resource's rows run at once (SQLite).
const rowsPerInsert = 32

// maxInsertRows is the most rows of an INSERT of merged rows (a
// connection that batches: PostgreSQL); see mergedRowSizes.
const maxInsertRows = 256

// insertSQL caches the INSERT statements by table and row count.
var insertSQL [len(indexTables)][maxInsertRows + 1]atomic.Pointer[string]

func insertStatement(table int, n int) string {
	if s := insertSQL[table][n].Load(); s != nil {
		return *s
	}
	t := indexTables[table]
	var b strings.Builder
	b.WriteString("INSERT INTO " + t.name + " (rtype, rid, " + strings.Join(t.cols, ", ") + ") VALUES ")
	width := 2 + len(t.cols)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := 0; c < width; c++ {
			if c > 0 {
				b.WriteString(", ")
			}
			b.WriteString("$" + strconv.Itoa(i*width+c+1))
		}
		b.WriteByte(')')
	}
	s := b.String()
	insertSQL[table][n].Store(&s)
	return s
}

// replaceIndex replaces the search index rows of r with r.Index, after
// running first. A first version has none to remove.
func (t *sqlTx) replaceIndex(ctx context.Context, r *concord.Resource, first ...Stmt) error {
	stmts := first
	if r.Version > 1 {
		for _, tab := range indexTables {
			stmts = append(stmts, Stmt{SQL: `DELETE FROM ` + tab.name + ` WHERE rtype = $1 AND rid = $2`, Args: []any{r.Type, r.ID}, DeletesIndex: true})
		}
	}
	x := r.Index
	if x == nil || r.Deleted {
		return t.later(stmts...)
	}
	// The removal of the old rows is queued before the new rows: on a
	// connection that batches, the new rows wait (laterRows) and a
	// removal sends what waits first.
	if err := t.later(stmts...); err != nil {
		return err
	}
	stmts = nil
	// Each table's rows go out in multi-row INSERTs of up to
	// rowsPerInsert rows, their arguments appended straight into one
	// slice per statement (the type and id boxed once).
	rt, ri := any(r.Type), any(r.ID)
	emit := func(table, n int, row func(i int, args []any) []any) {
		for lo := 0; lo < n; lo += rowsPerInsert {
			k := min(n-lo, rowsPerInsert)
			args := make([]any, 0, k*(2+len(indexTables[table].cols)))
			for i := lo; i < lo+k; i++ {
				args = row(i, append(args, rt, ri))
			}
			if !t.batch.laterRows(table, k, args) {
				stmts = append(stmts, Stmt{SQL: insertStatement(table, k), Args: args})
			}
		}
	}
	emit(0, len(x.Strings), func(i int, a []any) []any {
		v := &x.Strings[i]
		return append(a, v.Param, v.Norm, v.Exact)
	})
	emit(1, len(x.Tokens), func(i int, a []any) []any {
		v := &x.Tokens[i]
		return append(a, v.Param, v.System, v.Code, v.Text)
	})
	emit(2, len(x.Dates), func(i int, a []any) []any {
		v := &x.Dates[i]
		return append(a, v.Param, v.Lo, v.Hi)
	})
	emit(3, len(x.Numbers), func(i int, a []any) []any {
		v := &x.Numbers[i]
		return append(a, v.Param, v.Value)
	})
	emit(4, len(x.Quantities), func(i int, a []any) []any {
		v := &x.Quantities[i]
		return append(a, v.Param, v.System, v.Code, v.Value, v.CanonCode, v.CanonValue)
	})
	emit(5, len(x.Refs), func(i int, a []any) []any {
		v := &x.Refs[i]
		return append(a, v.Param, v.Type, v.ID, v.URL)
	})
	emit(6, len(x.URIs), func(i int, a []any) []any {
		v := &x.URIs[i]
		return append(a, v.Param, v.URI)
	})
	emit(7, len(x.Composites), func(i int, a []any) []any {
		v := &x.Composites[i]
		return append(a, v.Param, v.ASystem, v.ACode, v.BSystem, v.BCode, v.BLo, v.BHi)
	})
	return t.later(stmts...)
}
