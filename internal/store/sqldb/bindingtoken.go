package sqldb

import (
	"context"
	"strings"
	"time"

	"github.com/concord-health/concord"
)

func (t *sqlTx) CreateBindingToken(ctx context.Context, b *concord.BindingToken) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err := t.q.Exec(t.ctx, `INSERT INTO ws_binding_tokens (hash, actor, subscriptions, expires_at) VALUES ($1, $2, $3, $4)`,
		b.Hash, b.Actor, strings.Join(b.Subscriptions, ","), b.Expires.UnixMicro())
	return err
}

func (t *sqlTx) TakeBindingToken(ctx context.Context, hash string, now time.Time) (*concord.BindingToken, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// DELETE … RETURNING: of two nodes taking the same token at once, the
	// second finds the row gone (PostgreSQL waits for the first's row
	// lock; SQLite has one writer).
	var b concord.BindingToken
	var subs string
	var expires int64
	err := t.q.QueryRow(t.ctx, `DELETE FROM ws_binding_tokens WHERE hash = $1 RETURNING hash, actor, subscriptions, expires_at`,
		hash).Scan(&b.Hash, &b.Actor, &subs, &expires)
	if err != nil && err != ErrNoRows {
		return nil, err
	}
	if _, err := t.q.Exec(t.ctx, `DELETE FROM ws_binding_tokens WHERE expires_at <= $1`, now.UnixMicro()); err != nil {
		return nil, err
	}
	if err == ErrNoRows || expires <= now.UnixMicro() {
		return nil, concord.Errorf(concord.ENOTFOUND, "no such binding token, or it was used or expired")
	}
	b.Expires = fromMicros(expires)
	if subs != "" {
		b.Subscriptions = strings.Split(subs, ",")
	}
	return &b, nil
}
