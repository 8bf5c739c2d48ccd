package sqldb

import (
	"context"
	"strconv"
	"strings"
	"sync"

	"github.com/concord-health/concord"
)

// indexTables are the search index tables, with the columns each row
// adds after rtype and rid.
var indexTables = []struct {
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

// rowsPerInsert is how many index rows one INSERT carries at most.
const rowsPerInsert = 32

// insertSQL caches the INSERT statements by table and row count.
var insertSQL sync.Map // string -> string

func insertStatement(table int, n int) string {
	key := strconv.Itoa(table) + ":" + strconv.Itoa(n)
	if s, ok := insertSQL.Load(key); ok {
		return s.(string)
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
	insertSQL.Store(key, s)
	return s
}

// replaceIndex replaces the search index rows of r with r.Index, after
// running first. A first version has none to remove.
func (t *sqlTx) replaceIndex(ctx context.Context, r *concord.Resource, first ...Stmt) error {
	stmts := first
	if r.Version > 1 {
		for _, tab := range indexTables {
			stmts = append(stmts, Stmt{`DELETE FROM ` + tab.name + ` WHERE rtype = $1 AND rid = $2`, []any{r.Type, r.ID}})
		}
	}
	x := r.Index
	if x == nil || r.Deleted {
		return t.later(stmts...)
	}
	var rows [][]any
	add := func(vals ...any) { rows = append(rows, vals) }
	flush := func(table int) error {
		for len(rows) > 0 {
			n := min(len(rows), rowsPerInsert)
			args := make([]any, 0, n*(2+len(indexTables[table].cols)))
			for _, row := range rows[:n] {
				args = append(args, r.Type, r.ID)
				args = append(args, row...)
			}
			stmts = append(stmts, Stmt{insertStatement(table, n), args})
			rows = rows[n:]
		}
		return nil
	}
	for _, v := range x.Strings {
		add(v.Param, v.Norm, v.Exact)
	}
	if err := flush(0); err != nil {
		return err
	}
	for _, v := range x.Tokens {
		add(v.Param, v.System, v.Code, v.Text)
	}
	if err := flush(1); err != nil {
		return err
	}
	for _, v := range x.Dates {
		add(v.Param, v.Lo, v.Hi)
	}
	if err := flush(2); err != nil {
		return err
	}
	for _, v := range x.Numbers {
		add(v.Param, v.Value)
	}
	if err := flush(3); err != nil {
		return err
	}
	for _, v := range x.Quantities {
		add(v.Param, v.System, v.Code, v.Value, v.CanonCode, v.CanonValue)
	}
	if err := flush(4); err != nil {
		return err
	}
	for _, v := range x.Refs {
		add(v.Param, v.Type, v.ID, v.URL)
	}
	if err := flush(5); err != nil {
		return err
	}
	for _, v := range x.URIs {
		add(v.Param, v.URI)
	}
	if err := flush(6); err != nil {
		return err
	}
	for _, v := range x.Composites {
		add(v.Param, v.ASystem, v.ACode, v.BSystem, v.BCode, v.BLo, v.BHi)
	}
	if err := flush(7); err != nil {
		return err
	}
	return t.later(stmts...)
}
