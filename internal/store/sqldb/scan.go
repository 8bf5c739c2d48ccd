package sqldb

import (
	"context"
	"strings"

	"github.com/concord-health/concord"
)

// smallCompartment is the number of compartment owners up to which a scan
// looks up their resources through the reference index's value index;
// above it, each resource's own reference rows are checked instead.
const smallCompartment = 100

// maxScanPageBytes caps the content one page holds: a page of large
// resources ends early (the next query starts after its last id), so a
// scan's memory is bounded by bytes, not only by the page size.
const maxScanPageBytes = 8 << 20

// ScanResources reads the resources f selects in id order, a page per
// query, and calls fn for each after the page's query is closed.
func (s *Store) ScanResources(ctx context.Context, f concord.ResourceScan, fn func(*concord.Resource) error) error {
	size := f.PageSize
	if size <= 0 {
		size = 1000
	}
	after := f.After
	for {
		page, more, err := s.scanPage(ctx, f, after, size)
		if err != nil {
			return err
		}
		if len(page) > 0 {
			after = page[len(page)-1].ID
		}
		if !f.AsOf.IsZero() {
			if page, err = s.asOf(ctx, f, page); err != nil {
				return err
			}
		}
		for _, r := range page {
			if err := fn(r); err != nil {
				return err
			}
		}
		if !more {
			return nil
		}
	}
}

// asOf replaces the resources of a page changed after f.AsOf by their
// versions current at f.AsOf, and leaves out those that do not belong in
// the scan then.
func (s *Store) asOf(ctx context.Context, f concord.ResourceScan, page []*concord.Resource) ([]*concord.Resource, error) {
	out := page[:0]
	for _, r := range page {
		if !r.LastUpdated.After(f.AsOf) {
			out = append(out, r)
			continue
		}
		v, err := scanResource(s.a.Read.QueryRow(ctx, `SELECT `+resourceColumns+` FROM resource_versions
			WHERE type = $2 AND id = $3 AND last_updated <= $4 ORDER BY version DESC LIMIT 1`,
			[]byte{}, r.Type, r.ID, f.AsOf.UnixMicro()))
		if err == ErrNoRows {
			continue // created later
		} else if err != nil {
			return nil, err
		}
		if v.Deleted == f.Deleted && !v.LastUpdated.Before(f.Since) {
			out = append(out, v)
		}
	}
	return out, nil
}

// scanPage reads up to size resources after the id after (fewer when
// they hold more than maxScanPageBytes), and reports whether more may
// follow.
func (s *Store) scanPage(ctx context.Context, f concord.ResourceScan, after string, size int) ([]*concord.Resource, bool, error) {
	q := query{d: s.a.Dialect, exists: true}
	q.arg([]byte{}) // $1: the COALESCE default of resourceColumns
	conds := []string{"r.type = " + q.arg(f.Type), "r.deleted = 0"}
	if f.Deleted {
		conds[1] = "r.deleted = 1"
	}
	if !f.AsOf.IsZero() {
		// Changed since AsOf: whatever it is now, its version then decides.
		conds[1] = "(" + conds[1] + " OR r.last_updated > " + q.arg(f.AsOf.UnixMicro()) + ")"
	}
	if after != "" {
		conds = append(conds, "r.id > "+q.arg(after))
	}
	if !f.Since.IsZero() {
		conds = append(conds, "r.last_updated >= "+q.arg(f.Since.UnixMicro()))
	}
	if c := f.Compartment; c != nil {
		conds = append(conds, q.compartment(f.Type, c))
	}
	if len(f.Filters) > 0 {
		alts := make([]string, len(f.Filters))
		for i, fq := range f.Filters {
			w, err := q.where(&concord.SearchQuery{Type: f.Type, Where: fq.Where})
			if err != nil {
				return nil, false, err
			}
			alts[i] = "(" + w + ")"
		}
		conds = append(conds, "("+strings.Join(alts, " OR ")+")")
	}
	rows, err := s.a.Read.Query(ctx, "SELECT "+resourceColumns+" FROM resources r WHERE "+strings.Join(conds, " AND ")+
		" ORDER BY r.id LIMIT "+q.arg(size), q.args...)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	out := make([]*concord.Resource, 0, min(size, 1000))
	bytes := 0
	for rows.Next() {
		r, err := scanResource(rows)
		if err != nil {
			return nil, false, err
		}
		out = append(out, r)
		if bytes += len(r.Content); bytes > maxScanPageBytes {
			return out, true, rows.Err()
		}
	}
	return out, len(out) == size, rows.Err()
}

// compartment is the condition of a scan's compartment on resources of
// typ (alias r).
func (q *query) compartment(typ string, c *concord.ScanCompartment) string {
	var alts []string
	if c.OwnerType == typ {
		if len(c.IDs) == 0 {
			return "1 = 1" // every owner is in its own compartment
		}
		alts = append(alts, "r.id IN ("+q.list(c.IDs)+")")
	}
	if len(c.Params) > 0 {
		cond := "param IN (" + q.list(c.Params) + ") AND ttype = " + q.arg(c.OwnerType)
		switch {
		case len(c.IDs) == 0:
			alts = append(alts, "EXISTS (SELECT 1 FROM idx_ref"+q.byResource("idx_ref")+" WHERE rtype = r.type AND rid = r.id AND "+cond+")")
		case len(c.IDs) <= smallCompartment:
			alts = append(alts, "r.id IN (SELECT rid FROM idx_ref WHERE rtype = "+q.arg(typ)+" AND "+cond+
				" AND tid IN ("+q.list(c.IDs)+"))")
		default:
			alts = append(alts, "EXISTS (SELECT 1 FROM idx_ref"+q.byResource("idx_ref")+" WHERE rtype = r.type AND rid = r.id AND "+cond+
				" AND tid IN ("+q.list(c.IDs)+"))")
		}
	}
	if len(alts) == 0 {
		return "1 = 0"
	}
	return "(" + strings.Join(alts, " OR ") + ")"
}

// list adds each value as an argument and returns their placeholders.
func (q *query) list(vs []string) string {
	ps := make([]string, len(vs))
	for i, v := range vs {
		ps[i] = q.arg(v)
	}
	return strings.Join(ps, ", ")
}

// byResource names a table's by-resource index where the dialect needs it.
func (q *query) byResource(table string) string {
	if q.d.ByResource == nil {
		return ""
	}
	return q.d.ByResource(table)
}
