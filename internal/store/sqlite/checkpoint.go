package sqlite

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// checkpointEvery is how often the checkpointer copies the WAL into the
// database.
const checkpointEvery = 250 * time.Millisecond

// maxWALFrames is the WAL length (in pages of 4 KiB: 256 MiB) past which
// the checkpointer stops being polite: it waits for the writer and readers
// (RESTART) so that the WAL starts over instead of growing.
const maxWALFrames = 65536

// startCheckpointer checkpoints the WAL from db (its own connection) in
// the background: PASSIVE checkpoints, which never block the writer or
// the readers, four times a second, and a RESTART one when the WAL has
// grown long because readers kept old snapshots. The writer's own
// automatic checkpoints are off (see Open). It returns the function that
// stops it, after a last checkpoint.
func startCheckpointer(db *sql.DB) func() {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(checkpointEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				checkpoint(context.Background(), db, "PASSIVE")
				return
			case <-t.C:
				if frames := checkpoint(ctx, db, "PASSIVE"); frames > maxWALFrames {
					checkpoint(ctx, db, "RESTART")
				}
			}
		}
	}()
	return func() { cancel(); wg.Wait() }
}

// checkpoint runs one checkpoint of the given mode and returns the WAL's
// length in frames (0 when it failed: the next round tries again).
func checkpoint(ctx context.Context, db *sql.DB, mode string) int64 {
	var busy, frames, done int64
	if err := db.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &frames, &done); err != nil {
		return 0
	}
	return frames
}
