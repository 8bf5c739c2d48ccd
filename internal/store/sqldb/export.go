package sqldb

import (
	"context"

	"time"

	"github.com/concord-health/concord"
)

const exportJobColumns = `id, requester, request, params, status, progress, error, cursor,
	transaction_time, created_at, finished_at, expires_at`

func scanExportJob(row interface{ Scan(...any) error }) (*concord.ExportJob, error) {
	var j concord.ExportJob
	var tt, created, finished, expires int64
	if err := row.Scan(&j.ID, &j.Requester, &j.Request, &j.Params, &j.Status, &j.Progress, &j.Error, &j.Cursor,
		&tt, &created, &finished, &expires); err != nil {
		return nil, err
	}
	j.TransactionTime, j.Created = fromMicros(tt), fromMicros(created)
	if finished != 0 {
		j.Finished = fromMicros(finished)
	}
	if expires != 0 {
		j.Expires = fromMicros(expires)
	}
	return &j, nil
}

// micros is t in microseconds, 0 for the zero time.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// ExportJob returns one export job.
func (s *Store) ExportJob(ctx context.Context, id string) (*concord.ExportJob, error) {
	j, err := scanExportJob(s.a.Read.QueryRow(ctx, `SELECT `+exportJobColumns+` FROM export_jobs WHERE id = $1`, id))
	if err == ErrNoRows {
		return nil, concord.Errorf(concord.ENOTFOUND, "no export job %q", id)
	}
	return j, err
}

// ExportJobWaiting reports whether a job is there for owner to claim.
func (s *Store) ExportJobWaiting(ctx context.Context, owner string, now time.Time) (bool, error) {
	var n int64
	err := s.a.Read.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM export_jobs
		WHERE status = $1 OR (status = $2 AND (lease_until < $3 OR owner = $4)) LIMIT 1) w`,
		concord.ExportQueued, concord.ExportRunning, now.UnixMicro(), owner).Scan(&n)
	return n > 0, err
}

// ActiveExportJobs counts a requester's queued and running jobs.
func (s *Store) ActiveExportJobs(ctx context.Context, requester string) (int, error) {
	var n int
	err := s.a.Read.QueryRow(ctx, `SELECT COUNT(*) FROM export_jobs WHERE requester = $1 AND status IN ($2, $3)`,
		requester, concord.ExportQueued, concord.ExportRunning).Scan(&n)
	return n, err
}

// ExportFiles returns a job's files in order.
func (s *Store) ExportFiles(ctx context.Context, job string) ([]*concord.ExportFile, error) {
	rows, err := s.a.Read.Query(ctx, `SELECT file_no, type, kind, count, bytes, chunks FROM export_files
		WHERE job_id = $1 ORDER BY file_no`, job)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*concord.ExportFile
	for rows.Next() {
		f := concord.ExportFile{Job: job}
		if err := rows.Scan(&f.No, &f.Type, &f.Kind, &f.Count, &f.Bytes, &f.Chunks); err != nil {
			return nil, err
		}
		out = append(out, &f)
	}
	return out, rows.Err()
}

// ExportChunk returns one chunk of a file.
func (s *Store) ExportChunk(ctx context.Context, job string, file, chunk int) ([]byte, error) {
	var data []byte
	err := s.a.Read.QueryRow(ctx, `SELECT data FROM export_chunks WHERE job_id = $1 AND file_no = $2 AND chunk_no = $3`,
		job, file, chunk).Scan(&data)
	if err == ErrNoRows {
		return nil, concord.Errorf(concord.ENOTFOUND, "no chunk %d of file %d of export job %q", chunk, file, job)
	}
	return data, err
}

func (t *sqlTx) CreateExportJob(ctx context.Context, j *concord.ExportJob) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err := t.q.Exec(t.ctx, `INSERT INTO export_jobs (id, requester, request, params, status, progress, error, cursor,
		transaction_time, created_at, finished_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		j.ID, j.Requester, j.Request, j.Params, j.Status, j.Progress, j.Error, j.Cursor,
		j.TransactionTime.UnixMicro(), j.Created.UnixMicro(), micros(j.Finished), micros(j.Expires))
	return err
}

func (t *sqlTx) ClaimExportJob(ctx context.Context, owner string, now, until time.Time) (*concord.ExportJob, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// The oldest job waiting, or running on a node whose lease ran out or
	// on this owner (which restarted: it runs one job at a time).
	// SKIP LOCKED (PostgreSQL) lets two nodes claim two different jobs at
	// once; the owner check in the UPDATE keeps a claim race-free anyway.
	j, err := scanExportJob(t.q.QueryRow(t.ctx, `SELECT `+exportJobColumns+` FROM export_jobs
		WHERE status = $1 OR (status = $2 AND (lease_until < $3 OR owner = $4))
		ORDER BY created_at, id LIMIT 1`+t.d.SkipLocked,
		concord.ExportQueued, concord.ExportRunning, now.UnixMicro(), owner))
	if err == ErrNoRows {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	n, err := t.q.Exec(t.ctx, `UPDATE export_jobs SET status = $1, owner = $2, lease_until = $3
		WHERE id = $4 AND (status = $5 OR (status = $1 AND (lease_until < $6 OR owner = $2)))`,
		concord.ExportRunning, owner, until.UnixMicro(), j.ID, concord.ExportQueued, now.UnixMicro())
	if err != nil || n == 0 {
		return nil, err
	}
	j.Status = concord.ExportRunning
	return j, nil
}

func (t *sqlTx) SaveExportJob(ctx context.Context, j *concord.ExportJob, owner string, until time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	n, err := t.q.Exec(t.ctx, `UPDATE export_jobs SET status = $1, progress = $2, error = $3, cursor = $4,
		finished_at = $5, expires_at = $6, lease_until = $7
		WHERE id = $8 AND owner = $9 AND status = $10`,
		j.Status, j.Progress, j.Error, j.Cursor, micros(j.Finished), micros(j.Expires), until.UnixMicro(),
		j.ID, owner, concord.ExportRunning)
	if err != nil {
		return err
	}
	if n == 0 {
		return concord.Errorf(concord.ECONFLICT, "export job %s is no longer run by %s (deleted, or taken over)", j.ID, owner)
	}
	return nil
}

func (t *sqlTx) AppendExportChunk(ctx context.Context, f concord.ExportFile, data []byte, count int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var chunks int
	err := t.q.QueryRow(t.ctx, `SELECT chunks FROM export_files WHERE job_id = $1 AND file_no = $2`+t.d.LockRow,
		f.Job, f.No).Scan(&chunks)
	switch {
	case err == ErrNoRows:
		kind := f.Kind
		if kind == "" {
			kind = concord.ExportOutput
		}
		if _, err := t.q.Exec(t.ctx, `INSERT INTO export_files (job_id, file_no, type, kind) VALUES ($1, $2, $3, $4)`,
			f.Job, f.No, f.Type, kind); err != nil {
			return err
		}
	case err != nil:
		return err
	}
	if _, err := t.q.Exec(t.ctx, `INSERT INTO export_chunks (job_id, file_no, chunk_no, data) VALUES ($1, $2, $3, $4)`,
		f.Job, f.No, chunks, data); err != nil {
		return err
	}
	_, err = t.q.Exec(t.ctx, `UPDATE export_files SET count = count + $1, bytes = bytes + $2, chunks = chunks + 1
		WHERE job_id = $3 AND file_no = $4`, count, int64(len(data)), f.Job, f.No)
	return err
}

func (t *sqlTx) DeleteExportJob(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	n, err := t.q.Exec(t.ctx, `UPDATE export_jobs SET status = $1 WHERE id = $2 AND status <> $1`, concord.ExportDeleted, id)
	if err != nil {
		return err
	}
	if n == 0 {
		return concord.Errorf(concord.ENOTFOUND, "no export job %q", id)
	}
	return nil
}

func (t *sqlTx) SweepExportJobs(ctx context.Context, now time.Time, limit int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if limit <= 0 {
		limit = 16
	}
	expired, err := t.q.Exec(t.ctx, `UPDATE export_jobs SET status = $1
		WHERE status IN ($2, $3) AND expires_at > 0 AND expires_at < $4`,
		concord.ExportDeleted, concord.ExportCompleted, concord.ExportFailed, now.UnixMicro())
	if err != nil {
		return 0, err
	}
	// The chunks of deleted jobs, a few at a time: they may be many and
	// large, and the writer is shared.
	rows, err := t.q.Query(t.ctx, `SELECT c.job_id, c.file_no, c.chunk_no FROM export_chunks c
		JOIN export_jobs j ON j.id = c.job_id WHERE j.status = $1 LIMIT $2`, concord.ExportDeleted, limit)
	if err != nil {
		return 0, err
	}
	type key struct {
		job         string
		file, chunk int
	}
	var keys []key
	for rows.Next() {
		var k key
		if err := rows.Scan(&k.job, &k.file, &k.chunk); err != nil {
			rows.Close()
			return 0, err
		}
		keys = append(keys, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	removed := int(expired)
	for _, k := range keys {
		n, err := t.q.Exec(t.ctx, `DELETE FROM export_chunks WHERE job_id = $1 AND file_no = $2 AND chunk_no = $3`,
			k.job, k.file, k.chunk)
		if err != nil {
			return 0, err
		}
		removed += int(n)
	}
	if len(keys) > 0 {
		return removed, nil
	}
	// No chunk left: the files and jobs themselves.
	n, err := t.q.Exec(t.ctx, `DELETE FROM export_files WHERE job_id IN (SELECT id FROM export_jobs WHERE status = $1)`,
		concord.ExportDeleted)
	if err != nil {
		return 0, err
	}
	removed += int(n)
	n, err = t.q.Exec(t.ctx, `DELETE FROM export_jobs WHERE status = $1`, concord.ExportDeleted)
	if err != nil {
		return 0, err
	}
	return removed + int(n), nil
}
