package sqldb

import (
	"context"
	"strings"
	"time"

	"github.com/concord-health/concord"
)

// sqlTx implements concord.Tx inside the writer's current transaction. Its
// statements run under the batch's context, not the caller's: cancelling
// one caller must not abort a transaction that others share.
type sqlTx struct {
	ctx   context.Context
	q     Querier
	d     Dialect
	chain chainState
	// batch takes the statements whose results are not read, to send
	// them together (see batching).
	batch *batching
	// revoked says a token was revoked in this transaction.
	revoked bool
}

// later runs statements whose results are not read (see batching).
func (t *sqlTx) later(stmts ...Stmt) error { return t.batch.later(stmts...) }

// Flush sends the statements and index rows waiting in the batch.
func (t *sqlTx) Flush(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return t.batch.flush()
}

func (t *sqlTx) CreateToken(ctx context.Context, tok *concord.Token) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err := t.q.Exec(t.ctx, `INSERT INTO tokens
		(id, hash, role, patient, scopes, label, created_by, created_at, expires_at, revoked_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0)`,
		tok.ID, tok.Hash, string(tok.Role), tok.Patient, strings.Join(tok.Scopes, " "), tok.Label,
		tok.CreatedBy, tok.CreatedAt.UnixMicro(), tok.ExpiresAt.UnixMicro())
	return err
}

func (t *sqlTx) RevokeToken(ctx context.Context, id string, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var revoked int64
	err := t.q.QueryRow(t.ctx, `SELECT revoked_at FROM tokens WHERE id = $1`+t.d.LockRow, id).Scan(&revoked)
	if err == ErrNoRows {
		return concord.Errorf(concord.ENOTFOUND, "no token %q", id)
	} else if err != nil {
		return err
	}
	if revoked != 0 {
		return concord.Errorf(concord.ECONFLICT, "token %q is already revoked", id)
	}
	t.revoked = true
	_, err = t.q.Exec(t.ctx, `UPDATE tokens SET revoked_at = $1 WHERE id = $2`, at.UTC().UnixMicro(), id)
	return err
}

func (t *sqlTx) AppendAudit(ctx context.Context, r *concord.AuditRecord) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// The chain head row is read with a lock once per transaction, so
	// appends from every node sharing the database form one chain; the
	// writer stores the new head just before it commits (flushHead).
	if !t.chain.loaded {
		if err := t.q.QueryRow(t.ctx, `SELECT seq, hash FROM audit_chain WHERE id = 1`+t.d.LockRow).
			Scan(&t.chain.head.Seq, &t.chain.head.Hash); err != nil {
			return err
		}
		t.chain.loaded = true
	}
	next := r.Seal(t.chain.head)
	if err := t.later(Stmt{SQL: `INSERT INTO audit_log
		(seq, at, actor, role, address, action, object, patient, outcome, detail, request_id, node, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`, Args: []any{r.Seq, r.Time.UnixMicro(), r.Actor, r.Role, r.Address, r.Action, r.Object, r.Patient,
		int64(r.Outcome), r.Detail, r.RequestID, r.Node, r.PrevHash, r.Hash}}); err != nil {
		return err
	}
	t.chain.head = next
	t.chain.dirty = true
	return nil
}

// chainState is the audit chain head as a transaction sees it. The writer
// saves it before each caller's savepoint and restores it on rollback (in
// PostgreSQL the row lock goes with the savepoint too, hence loaded).
type chainState struct {
	head          concord.AuditHead
	loaded, dirty bool
}

// flushHead stores the chain head if this transaction moved it.
func (t *sqlTx) flushHead() error {
	if !t.chain.dirty {
		return nil
	}
	_, err := t.q.Exec(t.ctx, `UPDATE audit_chain SET seq = $1, hash = $2 WHERE id = 1`, t.chain.head.Seq, t.chain.head.Hash)
	return err
}
