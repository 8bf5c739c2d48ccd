package sqldb

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/concord-health/concord"
)

// maxUnicode bounds a prefix range: every string that starts with p sorts
// below p + maxUnicode (the index columns compare bytes: COLLATE "C" on
// PostgreSQL, SQLite's default).
const maxUnicode = "\U0010FFFF"

// query builds one SQL statement with numbered arguments.
type query struct {
	args []any
	d    Dialect
	// exists makes every plain clause an EXISTS on the resource's own
	// index rows: for scans in id order (ScanResources), which would
	// otherwise build the IN list of the most selective clause again for
	// every page.
	exists bool
}

// arg adds an argument and returns its placeholder.
func (q *query) arg(v any) string {
	q.args = append(q.args, v)
	return "$" + strconv.Itoa(len(q.args))
}

// param is the condition on an index row's parameter: param itself, or
// the parameters whose rows stand for it.
func (q *query) param(param string, stored []string) string {
	if len(stored) == 0 {
		return "param = " + q.arg(param)
	}
	ps := make([]string, len(stored))
	for i, p := range stored {
		ps[i] = q.arg(p)
	}
	return "param IN (" + strings.Join(ps, ", ") + ")"
}

// kindTable maps a parameter type to its index table.
var kindTable = map[string]string{
	"string": "idx_string", "token": "idx_token", "date": "idx_date", "number": "idx_number",
	"quantity": "idx_quantity", "reference": "idx_ref", "uri": "idx_uri", "composite": "idx_composite",
}

// set returns a SELECT of the ids of resources of typ that match c
// (ignoring :not and :missing, which the caller applies).
func (q *query) set(typ string, c *concord.SearchClause) (string, error) {
	return q.setFor(typ, c, "")
}

// setFor is set; when row is not empty (an outer resource's id column)
// and c is a plain index clause, the SELECT is limited to that resource's
// rows, for EXISTS.
func (q *query) setFor(typ string, c *concord.SearchClause, row string) (string, error) {
	switch {
	case c.Has != nil:
		inner, err := q.set(c.Has.Type, &c.Has.Clause)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("SELECT tid FROM idx_ref WHERE rtype = %s AND param = %s AND ttype = %s AND rid IN (%s)",
			q.arg(c.Has.Type), q.arg(c.Has.Param), q.arg(typ), inner), nil
	case len(c.Chain) > 0:
		var alts []string
		for i := range c.Chain {
			t := &c.Chain[i]
			inner, err := q.set(t.Type, &t.Clause)
			if err != nil {
				return "", err
			}
			alts = append(alts, fmt.Sprintf("(ttype = %s AND tid IN (%s))", q.arg(t.Type), inner))
		}
		return fmt.Sprintf("SELECT rid FROM idx_ref WHERE rtype = %s AND param = %s AND (%s)",
			q.arg(typ), q.arg(c.Param), strings.Join(alts, " OR ")), nil
	}
	switch c.Kind {
	case concord.SearchKindID:
		var ids []string
		for _, v := range c.Values {
			ids = append(ids, q.arg(v.Code))
		}
		return fmt.Sprintf("SELECT id FROM resources WHERE type = %s AND deleted = 0 AND id IN (%s)",
			q.arg(typ), strings.Join(ids, ", ")), nil
	case concord.SearchKindLastUpdated:
		var ors []string
		for _, v := range c.Values {
			ors = append(ors, q.dateCond(v, "last_updated", "last_updated"))
		}
		return fmt.Sprintf("SELECT id FROM resources WHERE type = %s AND deleted = 0 AND (%s)",
			q.arg(typ), strings.Join(ors, " OR ")), nil
	case concord.SearchKindList:
		var ors []string
		for _, v := range c.Values {
			ors = append(ors, "rid = "+q.arg(v.Code))
		}
		return fmt.Sprintf("SELECT tid FROM idx_ref WHERE rtype = 'List' AND param = 'item' AND ttype = %s AND (%s)",
			q.arg(typ), strings.Join(ors, " OR ")), nil
	}
	table, ok := kindTable[c.Kind]
	if !ok {
		return "", concord.Errorf(concord.EUNSUPPORTED, "searching by a %s parameter is not supported", c.Kind)
	}
	var head string
	if row != "" {
		from := table
		if q.d.ByResource != nil {
			from += q.d.ByResource(table)
		}
		head = fmt.Sprintf("SELECT 1 FROM %s WHERE rtype = %s AND rid = %s AND %s", from, q.arg(typ), row, q.param(c.Param, c.Stored))
	} else {
		head = fmt.Sprintf("SELECT rid FROM %s WHERE rtype = %s AND %s", table, q.arg(typ), q.param(c.Param, c.Stored))
	}
	if c.Modifier == "missing" {
		return head, nil
	}
	var ors []string
	for _, v := range c.Values {
		cond, err := q.valueCond(c, v)
		if err != nil {
			return "", err
		}
		ors = append(ors, "("+cond+")")
	}
	if len(ors) == 0 {
		return "", concord.Errorf(concord.EINVALID, "parameter %s has no value", c.Param)
	}
	if row == "" && len(ors) > 1 && lookupEach(c) {
		// One index lookup per value: neither SQLite nor PostgreSQL
		// (without statistics, as in a young database) turns an OR of
		// (code AND system) pairs into lookups; they read every row of
		// the parameter (a conditional write keyed on two identifiers, as
		// each converted HL7 v2 result is, took 15 ms and grew with the
		// store).
		parts := make([]string, len(ors))
		for i, o := range ors {
			parts[i] = head + " AND " + o
		}
		return strings.Join(parts, " UNION ALL "), nil
	}
	return head + " AND (" + strings.Join(ors, " OR ") + ")", nil
}

// lookupEach tells whether each value of c is found by one lookup in
// its table's value index: a token or reference value that names a code
// or a target id, without a modifier that changes the comparison.
func lookupEach(c *concord.SearchClause) bool {
	if c.Modifier != "" && c.Modifier != "not" {
		return false
	}
	if c.Kind != "token" && c.Kind != "reference" {
		return false
	}
	for _, v := range c.Values {
		if v.Code == "" || (c.Kind == "reference" && v.URL != "" && v.RefType == "") {
			return false
		}
	}
	return true
}

// valueCond is the condition on an index row for one value.
func (q *query) valueCond(c *concord.SearchClause, v concord.SearchValue) (string, error) {
	switch c.Kind {
	case "string":
		switch c.Modifier {
		case "exact":
			return "exact = " + q.arg(v.Code), nil
		case "contains":
			return "norm LIKE " + q.arg("%"+likeEscape(v.Code)+"%") + ` ESCAPE '\'`, nil
		}
		return q.prefix("norm", v.Code), nil
	case "token":
		if c.Modifier == "text" {
			return "text LIKE " + q.arg("%"+likeEscape(v.Code)+"%") + ` ESCAPE '\'`, nil
		}
		return q.tokenCond("system", "code", v), nil
	case "uri":
		switch c.Modifier {
		case "above":
			p := q.arg(v.Code)
			return "uri = substr(" + p + ", 1, length(uri))", nil
		case "below":
			return q.prefix("uri", v.Code), nil
		}
		return "uri = " + q.arg(v.Code), nil
	case "reference":
		switch {
		case v.URL != "" && v.RefType == "":
			return "url = " + q.arg(v.URL), nil
		case v.RefType != "":
			return "tid = " + q.arg(v.Code) + " AND ttype = " + q.arg(v.RefType), nil
		}
		return "tid = " + q.arg(v.Code), nil
	case "date":
		return q.dateCond(v, "lo", "hi"), nil
	case "number":
		return q.numCond(v, "value", "value"), nil
	case "quantity":
		if v.CanonUnit != "" {
			return "canon_code = " + q.arg(v.CanonUnit) + " AND " + q.numCond(v, "canon_value", "canon_value"), nil
		}
		cond := q.numCond(v, "value", "value")
		if v.Unit != "" {
			cond += " AND code = " + q.arg(v.Unit)
		}
		if v.System != "" {
			cond += " AND system = " + q.arg(v.System)
		}
		return cond, nil
	case "composite":
		cond := q.tokenCond("a_system", "a_code", v)
		s := v.Second
		if s == nil {
			return cond, nil
		}
		switch c.CompositeKind {
		case "token":
			cond += " AND " + q.tokenCond("b_system", "b_code", *s)
		case "quantity":
			if s.CanonUnit != "" {
				cond += " AND b_system = 'canon' AND b_code = " + q.arg(s.CanonUnit) + " AND " + q.numCond(*s, "b_lo", "b_hi")
			} else {
				cond += " AND b_system <> 'canon' AND " + q.numCond(*s, "b_lo", "b_hi")
				if s.Unit != "" {
					cond += " AND b_code = " + q.arg(s.Unit)
				}
			}
		case "date":
			cond += " AND " + q.dateCondFloat(*s)
		case "string":
			cond += " AND " + q.prefix("b_code", s.Code)
		}
		return cond, nil
	}
	return "", concord.Errorf(concord.EUNSUPPORTED, "searching by a %s parameter is not supported", c.Kind)
}

func (q *query) tokenCond(sysCol, codeCol string, v concord.SearchValue) string {
	switch {
	case v.HasSystem && v.Code == "":
		return sysCol + " = " + q.arg(v.System)
	case v.HasSystem:
		return codeCol + " = " + q.arg(v.Code) + " AND " + sysCol + " = " + q.arg(v.System)
	}
	return codeCol + " = " + q.arg(v.Code)
}

// prefix matches the strings that start with p.
func (q *query) prefix(col, p string) string {
	if p == "" {
		return "1 = 1"
	}
	return col + " >= " + q.arg(p) + " AND " + col + " < " + q.arg(p+maxUnicode)
}

// dateCond compares a stored range [lo, hi] with the value's range, as
// the FHIR R4 search prefixes define (search.html#prefix).
func (q *query) dateCond(v concord.SearchValue, lo, hi string) string {
	return q.dateCondAs(v, lo, hi, func(n int64) any { return n })
}

// dateCondAs is dateCond with the bounds given to the database as conv
// makes them (numbers for columns stored as REAL).
func (q *query) dateCondAs(v concord.SearchValue, lo, hi string, conv func(int64) any) string {
	qlo, qhi := v.DateLo, v.DateHi
	arg := func(n int64) string { return q.arg(conv(n)) }
	within := func() string { return fmt.Sprintf("(%s >= %s AND %s <= %s)", lo, arg(qlo), hi, arg(qhi)) }
	switch v.Prefix {
	case "ne":
		return "NOT " + within()
	case "gt":
		return hi + " > " + arg(qhi)
	case "lt":
		return lo + " < " + arg(qlo)
	case "ge":
		return "(" + hi + " > " + arg(qhi) + " OR " + within() + ")"
	case "le":
		return "(" + lo + " < " + arg(qlo) + " OR " + within() + ")"
	case "sa":
		return lo + " > " + arg(qhi)
	case "eb":
		return hi + " < " + arg(qlo)
	case "ap":
		// Approximately: the ranges overlap once the value's range is
		// widened by a tenth of its distance from now (at least a day).
		return fmt.Sprintf("(%s <= %s AND %s >= %s)", lo, arg(qhi+v.DateSlack), hi, arg(qlo-v.DateSlack))
	}
	return within()
}

// dateCondFloat is dateCond for a composite's second part (stored as
// numbers).
func (q *query) dateCondFloat(v concord.SearchValue) string {
	return q.dateCondAs(v, "b_lo", "b_hi", func(n int64) any { return float64(n) })
}

// numCond compares a stored number (columns lo and hi: the same column
// for a point value) with the value, at the value's precision for eq, ne
// and ap.
func (q *query) numCond(v concord.SearchValue, lo, hi string) string {
	switch v.Prefix {
	case "ne":
		return fmt.Sprintf("NOT (%s >= %s AND %s < %s)", lo, q.arg(v.NumLo), hi, q.arg(v.NumHi))
	case "gt", "sa":
		return lo + " > " + q.arg(v.Num)
	case "lt", "eb":
		return hi + " < " + q.arg(v.Num)
	case "ge":
		return lo + " >= " + q.arg(v.Num)
	case "le":
		return hi + " <= " + q.arg(v.Num)
	case "ap":
		d := math.Abs(v.Num) / 10
		return fmt.Sprintf("(%s >= %s AND %s <= %s)", lo, q.arg(v.Num-d), hi, q.arg(v.Num+d))
	}
	return fmt.Sprintf("(%s >= %s AND %s < %s)", lo, q.arg(v.NumLo), hi, q.arg(v.NumHi))
}

// likeEscape escapes LIKE's wildcards.
func likeEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

// where returns the conditions of a search on the resources table
// (alias r).
func (q *query) where(sq *concord.SearchQuery) (string, error) {
	conds := []string{"r.type = " + q.arg(sq.Type), "r.deleted = 0"}
	// The most selective clause (by its kind: see selectivity) gives the
	// ids to look up (IN); each other plain clause is checked on those
	// resources' own index rows (EXISTS, through the by-resource index),
	// so that a common code or status does not make the search gather
	// every resource that has it.
	order := make([]int, len(sq.Where))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return selectivity(&sq.Where[a]) - selectivity(&sq.Where[b]) })
	// exists (a scan's pages) checks every clause on the rows of the
	// resources the page reads.
	driven := q.exists
	// A compartment is the resources that refer to one resource: as
	// selective as a reference clause, so it drives the search unless a
	// clause is more selective (ids), and the clauses are then checked on
	// its members' own rows. (On SQLite the first IN list drives.)
	compartment := ""
	if c := sq.Compartment; c != nil {
		compartment = q.searchCompartment(sq.Type, c)
		if !driven && (len(order) == 0 || selectivity(&sq.Where[order[0]]) >= selectivity(&concord.SearchClause{Kind: "reference"})) {
			conds = append(conds, compartment)
			compartment, driven = "", true
		}
	}
	for _, i := range order {
		c := &sq.Where[i]
		if c.Kind == concord.SearchKindLastUpdated && c.Modifier == "" {
			// A condition on the row itself: a list of every resource of
			// the type updated in the range would be built otherwise.
			var ors []string
			for _, v := range c.Values {
				ors = append(ors, q.dateCond(v, "r.last_updated", "r.last_updated"))
			}
			conds = append(conds, "("+strings.Join(ors, " OR ")+")")
			continue
		}
		negative := c.Modifier == "not" || (c.Modifier == "missing" && c.Missing)
		_, plain := kindTable[c.Kind]
		plain = plain && c.Has == nil && len(c.Chain) == 0
		if plain && (driven || negative) {
			set, err := q.setFor(sq.Type, c, "r.id")
			if err != nil {
				return "", err
			}
			if negative {
				conds = append(conds, "NOT EXISTS ("+set+")")
			} else {
				conds = append(conds, "EXISTS ("+set+")")
			}
			continue
		}
		set, err := q.set(sq.Type, c)
		if err != nil {
			return "", err
		}
		if negative {
			conds = append(conds, "r.id NOT IN ("+set+")")
			continue
		}
		conds = append(conds, "r.id IN ("+set+")")
		driven = true
	}
	if compartment != "" {
		conds = append(conds, compartment)
	}
	return strings.Join(conds, " AND "), nil
}

// searchCompartment is the condition that puts a resource of typ in the
// compartment c of a search.
func (q *query) searchCompartment(typ string, c *concord.SearchCompartment) string {
	var alts []string
	if len(c.Params) > 0 {
		ps := make([]string, len(c.Params))
		for i, p := range c.Params {
			ps[i] = q.arg(p)
		}
		alts = append(alts, fmt.Sprintf("r.id IN (SELECT rid FROM idx_ref WHERE rtype = %s AND param IN (%s) AND ttype = %s AND tid = %s)",
			q.arg(typ), strings.Join(ps, ", "), q.arg(c.Owner.Type), q.arg(c.Owner.ID)))
	}
	if c.Owner.Type == typ {
		alts = append(alts, "r.id = "+q.arg(c.Owner.ID))
	}
	if len(alts) == 0 {
		alts = []string{"1 = 0"}
	}
	return "(" + strings.Join(alts, " OR ") + ")"
}

// sortKey is the ORDER BY expression of one sort key.
func (q *query) sortKey(typ string, s concord.SearchSort) (string, error) {
	switch s.Kind {
	case concord.SearchKindID:
		return "r.id", nil
	case concord.SearchKindLastUpdated:
		return "r.last_updated", nil
	}
	agg := "MIN"
	if s.Desc {
		agg = "MAX"
	}
	col := map[string]string{"string": "norm", "token": "code", "number": "value", "quantity": "value", "reference": "tid", "uri": "uri"}[s.Kind]
	if s.Kind == "date" {
		col = "lo"
		if s.Desc {
			col = "hi"
		}
	}
	table := kindTable[s.Kind]
	if col == "" || table == "" {
		return "", concord.Errorf(concord.EINVALID, "cannot sort by %s (a %s parameter)", s.Param, s.Kind)
	}
	if q.d.ByResource != nil {
		table += q.d.ByResource(table)
	}
	return fmt.Sprintf("(SELECT %s(%s) FROM %s WHERE rtype = r.type AND rid = r.id AND %s)", agg, col, table, q.param(s.Param, s.Stored)), nil
}

// Search runs a search and returns a page of current resources, and how
// many match in all when sq.Total is set (else -1).
func (s *Store) Search(ctx context.Context, sq *concord.SearchQuery) ([]*concord.Resource, int64, error) {
	return search(ctx, s.a.Read, s.a.Dialect, sq)
}

// SearchIDs returns the ids of the current resources matching sq (at
// most limit), seen from inside a write transaction: for conditional
// interactions.
func (t *sqlTx) SearchIDs(ctx context.Context, sq *concord.SearchQuery, limit int) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	q := query{d: t.d}
	where, err := q.where(sq)
	if err != nil {
		return nil, err
	}
	rows, err := t.q.Query(t.ctx, "SELECT r.id FROM resources r WHERE "+where+" ORDER BY r.id LIMIT "+q.arg(limit), q.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

func search(ctx context.Context, db Querier, d Dialect, sq *concord.SearchQuery) ([]*concord.Resource, int64, error) {
	q := query{d: d}
	q.arg([]byte{}) // $1: the COALESCE default of resourceColumns
	where, err := q.where(sq)
	if err != nil {
		return nil, 0, err
	}
	total := int64(-1)
	count := func() error {
		cq := query{d: d}
		w, err := cq.where(sq)
		if err != nil {
			return err
		}
		return db.QueryRow(ctx, "SELECT COUNT(*) FROM resources r WHERE "+w, cq.args...).Scan(&total)
	}
	if sq.Count <= 0 {
		if sq.Total {
			if err := count(); err != nil {
				return nil, 0, err
			}
		}
		return nil, total, nil
	}
	var order []string
	for _, k := range sq.Sort {
		key, err := q.sortKey(sq.Type, k)
		if err != nil {
			return nil, 0, err
		}
		dir := ""
		if k.Desc {
			dir = " DESC"
		}
		// Resources without a value come last either way, on both engines.
		order = append(order, "CASE WHEN "+key+" IS NULL THEN 1 ELSE 0 END", key+dir)
	}
	order = append(order, "r.id")
	sqlText := "SELECT " + resourceColumns + " FROM resources r WHERE " + where +
		" ORDER BY " + strings.Join(order, ", ") + " LIMIT " + q.arg(sq.Count) + " OFFSET " + q.arg(sq.Offset)
	rows, err := db.Query(ctx, sqlText, q.args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []*concord.Resource
	for rows.Next() {
		r, err := scanResource(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	rows.Close()
	if sq.Total {
		// A page that is not full tells the total without counting (when
		// it is not empty, or is the first).
		if len(out) < sq.Count && (len(out) > 0 || sq.Offset == 0) {
			total = int64(sq.Offset + len(out))
		} else if err := count(); err != nil {
			return nil, 0, err
		}
	}
	return out, total, nil
}

// maxRefsPerQuery caps the ids one IN list carries.
const maxRefsPerQuery = 500

// Resources returns the current, not deleted, resources among refs.
func (s *Store) Resources(ctx context.Context, refs []concord.Ref) ([]*concord.Resource, error) {
	byType := map[string][]string{}
	var types []string
	for _, r := range refs {
		if byType[r.Type] == nil {
			types = append(types, r.Type)
		}
		byType[r.Type] = append(byType[r.Type], r.ID)
	}
	var out []*concord.Resource
	for _, t := range types {
		ids := byType[t]
		for len(ids) > 0 {
			n := min(len(ids), maxRefsPerQuery)
			var q query
			q.arg([]byte{})
			tp := q.arg(t)
			list := make([]string, n)
			for i, id := range ids[:n] {
				list[i] = q.arg(id)
			}
			rs, err := s.resources(ctx, "SELECT "+resourceColumns+" FROM resources WHERE type = "+tp+
				" AND deleted = 0 AND id IN ("+strings.Join(list, ", ")+") ORDER BY id", q.args...)
			if err != nil {
				return nil, err
			}
			out = append(out, rs...)
			ids = ids[n:]
		}
	}
	return out, nil
}

// References returns the local targets of a reference parameter of some
// resources.
func (s *Store) References(ctx context.Context, typ, param string, ids []string) ([]concord.Ref, error) {
	var out []concord.Ref
	for len(ids) > 0 {
		n := min(len(ids), maxRefsPerQuery)
		var q query
		cond := "rtype = " + q.arg(typ) + " AND ttype <> ''"
		if param != "" {
			cond += " AND param = " + q.arg(param)
		}
		list := make([]string, n)
		for i, id := range ids[:n] {
			list[i] = q.arg(id)
		}
		refs, err := s.refs(ctx, "SELECT DISTINCT ttype, tid FROM idx_ref WHERE "+cond+" AND rid IN ("+strings.Join(list, ", ")+")", q.args)
		if err != nil {
			return nil, err
		}
		out = append(out, refs...)
		ids = ids[n:]
	}
	return out, nil
}

// ReferencedBy returns the resources of a type (or of any type, when typ
// is empty) that refer to targets.
func (s *Store) ReferencedBy(ctx context.Context, typ, param string, targets []concord.Ref) ([]concord.Ref, error) {
	var out []concord.Ref
	for len(targets) > 0 {
		n := min(len(targets), maxRefsPerQuery)
		var q query
		cond := "1 = 1"
		if typ != "" {
			cond = "rtype = " + q.arg(typ)
		}
		if param != "" {
			cond += " AND param = " + q.arg(param)
		}
		var ors []string
		for _, t := range targets[:n] {
			ors = append(ors, "(ttype = "+q.arg(t.Type)+" AND tid = "+q.arg(t.ID)+")")
		}
		refs, err := s.refs(ctx, "SELECT DISTINCT rtype, rid FROM idx_ref WHERE "+cond+" AND ("+strings.Join(ors, " OR ")+")", q.args)
		if err != nil {
			return nil, err
		}
		out = append(out, refs...)
		targets = targets[n:]
	}
	return out, nil
}

func (s *Store) refs(ctx context.Context, sqlText string, args []any) ([]concord.Ref, error) {
	rows, err := s.a.Read.Query(ctx, sqlText, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []concord.Ref
	for rows.Next() {
		var r concord.Ref
		if err := rows.Scan(&r.Type, &r.ID); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// LockKey takes the dialect's key lock, if it has one.
func (t *sqlTx) LockKey(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if t.d.KeyLock == "" {
		return nil
	}
	_, err := t.q.Exec(t.ctx, t.d.KeyLock, key)
	return err
}

// selectivity ranks a clause by how few resources it is likely to match,
// lowest first, from its kind alone (the store keeps no statistics of its
// own): ids and references to one resource first, then identifiers and
// exact strings, codes, prefixes, ranges, and last what matches widely.
func selectivity(c *concord.SearchClause) int {
	switch {
	case c.Modifier == "not" || c.Modifier == "missing":
		return 9
	case c.Kind == concord.SearchKindID:
		return 0
	case c.Has != nil || len(c.Chain) > 0:
		return 3
	case c.Kind == "reference":
		return 1
	case c.Kind == concord.SearchKindList:
		return 1
	case c.Kind == "token" && (strings.Contains(c.Param, "identifier") || c.Param == "_id"):
		return 1
	case c.Kind == "string" && c.Modifier == "exact":
		return 2
	case c.Kind == "token" && c.Modifier == "":
		for _, v := range c.Values {
			if v.Code == "" {
				return 6 // system| only
			}
		}
		return 4
	case c.Kind == "string" && c.Modifier == "":
		return 4
	case c.Kind == "uri", c.Kind == "composite":
		return 4
	case c.Kind == "date", c.Kind == "number", c.Kind == "quantity", c.Kind == concord.SearchKindLastUpdated:
		return 5
	}
	return 7
}
