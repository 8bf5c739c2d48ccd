package sqldb

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/concord-health/concord"
)

const resourceColumns = `type, id, version, last_updated, deleted, COALESCE(content, $1), seq`

// scanResource reads a row of resourceColumns.
func scanResource(row interface{ Scan(...any) error }) (*concord.Resource, error) {
	var r concord.Resource
	var at, deleted int64
	var content []byte
	if err := row.Scan(&r.Type, &r.ID, &r.Version, &at, &deleted, &content, &r.Seq); err != nil {
		return nil, err
	}
	r.LastUpdated = time.UnixMicro(at).UTC()
	r.Deleted = deleted != 0
	if !r.Deleted {
		r.Content = content
	}
	return &r, nil
}

func (t *sqlTx) CurrentResource(ctx context.Context, typ, id string) (*concord.Resource, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r, err := scanResource(t.q.QueryRow(t.ctx, `SELECT `+resourceColumns+` FROM resources WHERE type = $2 AND id = $3`+t.d.LockRow,
		[]byte{}, typ, id))
	if err == ErrNoRows {
		return nil, nil
	}
	return r, err
}

func (t *sqlTx) PutResource(ctx context.Context, r *concord.Resource) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// A first version needs no look at the current one: the version
	// insert below does nothing if a version 1 exists (versions are never
	// removed), which is the conflict. Creates, most writes in a Bundle
	// import, so take one statement (one round trip) fewer.
	if r.Version != 1 {
		var cur int64
		err := t.q.QueryRow(t.ctx, `SELECT version FROM resources WHERE type = $1 AND id = $2`+t.d.LockRow, r.Type, r.ID).Scan(&cur)
		switch {
		case err == ErrNoRows:
			cur = 0
		case err != nil:
			return err
		}
		if r.Version != cur+1 {
			return concord.Errorf(concord.ECONFLICT, "%s/%s is at version %d; version %d cannot follow it", r.Type, r.ID, cur, r.Version)
		}
	}
	deleted := int64(0)
	var content []byte
	if r.Deleted {
		deleted = 1
	} else {
		content = r.Content
	}
	at := r.LastUpdated.UnixMicro()
	const insertVersion = `INSERT INTO resource_versions (type, id, version, last_updated, deleted, content)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (type, id, version) DO NOTHING RETURNING seq`
	taken := concord.Errorf(concord.ECONFLICT, "%s/%s already has a version %d", r.Type, r.ID, r.Version)
	if t.batch.b != nil {
		// A connection that batches: the version insert waits with the
		// other statements and its seq (and a conflict) is read when
		// they are sent, by the end of the Update function at the latest;
		// the current row takes the seq from the version row. Creates
		// then cost no round trip of their own.
		if err := t.later(Stmt{SQL: insertVersion, Args: []any{r.Type, r.ID, r.Version, at, deleted, content},
			Dest: []any{&r.Seq}, NoRows: taken}); err != nil {
			return err
		}
		current := Stmt{SQL: `INSERT INTO resources (type, id, version, last_updated, deleted, content, seq)
			VALUES ($1, $2, $3, $4, $5, $6, (SELECT seq FROM resource_versions WHERE type = $1 AND id = $2 AND version = $3))
			ON CONFLICT (type, id) DO UPDATE SET version = excluded.version, last_updated = excluded.last_updated,
				deleted = excluded.deleted, content = excluded.content, seq = excluded.seq`,
			Args: []any{r.Type, r.ID, r.Version, at, deleted, content}}
		return t.replaceIndex(ctx, r, current)
	}
	err := t.q.QueryRow(t.ctx, insertVersion, r.Type, r.ID, r.Version, at, deleted, content).Scan(&r.Seq)
	if err == ErrNoRows {
		return taken
	} else if err != nil {
		return err
	}
	current := Stmt{SQL: `INSERT INTO resources (type, id, version, last_updated, deleted, content, seq)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (type, id) DO UPDATE SET version = excluded.version, last_updated = excluded.last_updated,
			deleted = excluded.deleted, content = excluded.content, seq = excluded.seq`,
		Args: []any{r.Type, r.ID, r.Version, at, deleted, content, r.Seq}}
	return t.replaceIndex(ctx, r, current)
}

// Resource returns a resource's current version.
func (s *Store) Resource(ctx context.Context, typ, id string) (*concord.Resource, error) {
	r, err := scanResource(s.a.Read.QueryRow(ctx, `SELECT `+resourceColumns+` FROM resources WHERE type = $2 AND id = $3`,
		[]byte{}, typ, id))
	if err == ErrNoRows {
		return nil, concord.Errorf(concord.ENOTFOUND, "no %s/%s", typ, id)
	}
	return r, err
}

// ResourceVersion returns one version of a resource.
func (s *Store) ResourceVersion(ctx context.Context, typ, id string, version int64) (*concord.Resource, error) {
	r, err := scanResource(s.a.Read.QueryRow(ctx, `SELECT `+resourceColumns+` FROM resource_versions
		WHERE type = $2 AND id = $3 AND version = $4`, []byte{}, typ, id, version))
	if err == ErrNoRows {
		return nil, concord.Errorf(concord.ENOTFOUND, "no version %d of %s/%s", version, typ, id)
	}
	return r, err
}

// ResourceHistory returns the versions matching f, newest first.
func (s *Store) ResourceHistory(ctx context.Context, f concord.HistoryFilter) ([]*concord.Resource, error) {
	args := []any{[]byte{}}
	var where []string
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if f.Type != "" {
		add("type = ?", f.Type)
	}
	if f.ID != "" {
		add("id = ?", f.ID)
	}
	if !f.Since.IsZero() {
		add("last_updated >= ?", f.Since.UnixMicro())
	}
	if f.Before > 0 {
		add("seq < ?", f.Before)
	}
	if !f.CurrentTo.IsZero() {
		add("last_updated < ?", f.CurrentTo.UnixMicro())
		add(`NOT EXISTS (SELECT 1 FROM resource_versions n WHERE n.type = resource_versions.type
			AND n.id = resource_versions.id AND n.version = resource_versions.version + 1 AND n.last_updated <= ?)`,
			f.CurrentFrom.UnixMicro())
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, limit)
	return s.resources(ctx, `SELECT `+resourceColumns+` FROM resource_versions`+cond+
		` ORDER BY seq DESC LIMIT $`+strconv.Itoa(len(args)), args...)
}

// Changes returns the change log after seq, oldest first.
func (s *Store) Changes(ctx context.Context, after int64, limit int) ([]*concord.Resource, error) {
	if limit <= 0 {
		limit = 100
	}
	return s.resources(ctx, `SELECT `+resourceColumns+` FROM resource_versions WHERE seq > $2 ORDER BY seq LIMIT $3`,
		[]byte{}, after, limit)
}

func (s *Store) resources(ctx context.Context, query string, args ...any) ([]*concord.Resource, error) {
	rows, err := s.a.Read.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*concord.Resource
	for rows.Next() {
		r, err := scanResource(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
