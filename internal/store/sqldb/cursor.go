package sqldb

import (
	"context"
	"time"

	"github.com/concord-health/concord"
)

// LastChange returns the newest seq of the change log, 0 when it is empty.
func (s *Store) LastChange(ctx context.Context) (int64, error) {
	var seq int64
	err := s.a.Read.QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM resource_versions`).Scan(&seq)
	return seq, err
}

// Cursor returns where the change log reader name stands.
func (s *Store) Cursor(ctx context.Context, name string) (int64, bool, error) {
	var seq int64
	err := s.a.Read.QueryRow(ctx, `SELECT seq FROM change_cursors WHERE name = $1`, name).Scan(&seq)
	if err == ErrNoRows {
		return 0, false, nil
	}
	return seq, err == nil, err
}

// MoveCursor moves a reader's cursor from one seq to another, or fails
// with ECONFLICT when it is not where the caller thinks.
func (t *sqlTx) MoveCursor(ctx context.Context, name string, from, to int64, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if to < from {
		return concord.Errorf(concord.EINVALID, "cursor %s: cannot move back from %d to %d", name, from, to)
	}
	var n int64
	var err error
	if from == 0 {
		// No cursor counts as one at 0.
		n, err = t.q.Exec(t.ctx, `INSERT INTO change_cursors (name, seq, updated_at) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at
			WHERE change_cursors.seq = 0`, name, to, at.UnixMicro())
	} else {
		n, err = t.q.Exec(t.ctx, `UPDATE change_cursors SET seq = $1, updated_at = $2 WHERE name = $3 AND seq = $4`,
			to, at.UnixMicro(), name, from)
	}
	if err != nil {
		return err
	}
	if n == 0 {
		return concord.Errorf(concord.ECONFLICT, "cursor %s is not at %d: another reader moved it", name, from)
	}
	return nil
}
