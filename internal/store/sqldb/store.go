package sqldb

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/concord-health/concord"
)

// Adapter is what an engine-specific package supplies to build a Store.
type Adapter struct {
	Kind    string
	Dialect Dialect
	// Read runs queries outside write transactions (a pool of readers).
	Read Querier
	// Begin starts a write transaction on the writer connection.
	Begin func(context.Context) (TxConn, error)
	// Ping checks that the database answers.
	Ping func(context.Context) error
	// PoolStats reports the connection pools.
	PoolStats func() concord.StoreStats
	// Close closes every connection.
	Close func() error
	// SchemaVersion is the migration version this build expects.
	SchemaVersion int
}

// Store implements concord.Store over an Adapter.
type Store struct {
	a      Adapter
	w      *writer
	tokens tokenCache
}

var _ concord.Store = (*Store)(nil)

// New returns a Store over a, with its writer running. The schema must
// already be migrated.
func New(a Adapter) *Store {
	s := &Store{a: a, w: newWriter(a.Begin, a.Dialect)}
	s.tokens.m = map[string]tokenEntry{}
	s.w.revoked = s.tokens.forgetAll
	return s
}

// Kind returns the engine's name.
func (s *Store) Kind() string { return s.a.Kind }

// Update runs fn in a group-committed write transaction.
func (s *Store) Update(ctx context.Context, fn func(concord.Tx) error) error {
	return s.w.update(ctx, fn)
}

// Close finishes queued writes and closes the connections.
func (s *Store) Close() error {
	s.w.close()
	return s.a.Close()
}

// Stats reports the pools and the writer's commit counters.
func (s *Store) Stats() concord.StoreStats {
	st := s.a.PoolStats()
	st.Commits = s.w.commits.Load()
	st.Writes = s.w.writes.Load()
	return st
}

// Ready checks the database answers and carries this build's schema.
func (s *Store) Ready(ctx context.Context) error {
	if err := s.a.Ping(ctx); err != nil {
		return concord.WrapError(concord.EUNAVAILABLE, err, "store unreachable")
	}
	v, err := SchemaVersion(ctx, s.a.Read)
	if err != nil {
		return concord.WrapError(concord.EUNAVAILABLE, err, "store schema unreadable")
	}
	if v != s.a.SchemaVersion {
		return concord.Errorf(concord.EUNAVAILABLE, "store schema at version %d, this build expects %d", v, s.a.SchemaVersion)
	}
	return nil
}

const tokenColumns = `id, hash, role, patient, scopes, label, created_by, created_at, expires_at, revoked_at`

func scanToken(row interface{ Scan(...any) error }) (*concord.Token, error) {
	var t concord.Token
	var role, scopes string
	var created, expires, revoked int64
	if err := row.Scan(&t.ID, &t.Hash, &role, &t.Patient, &scopes, &t.Label, &t.CreatedBy,
		&created, &expires, &revoked); err != nil {
		return nil, err
	}
	t.Role = concord.Role(role)
	t.Scopes = strings.Fields(scopes)
	t.CreatedAt = fromMicros(created)
	t.ExpiresAt = fromMicros(expires)
	if revoked != 0 {
		t.RevokedAt = fromMicros(revoked)
	}
	return &t, nil
}

// Token returns one token by ID. Tokens are cached for tokenTTL: a
// revocation committed through this store takes effect at once, one
// committed by another process or node within tokenTTL.
func (s *Store) Token(ctx context.Context, id string) (*concord.Token, error) {
	if t, ok := s.tokens.get(id); ok {
		return t, nil
	}
	gen := s.tokens.gen.Load()
	t, err := s.token(ctx, id)
	if err == nil {
		s.tokens.put(id, t, gen)
	}
	return t, err
}

// token reads a token from the database.
func (s *Store) token(ctx context.Context, id string) (*concord.Token, error) {
	t, err := scanToken(s.a.Read.QueryRow(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE id = $1`, id))
	if err == ErrNoRows {
		return nil, concord.Errorf(concord.ENOTFOUND, "no token %q", id)
	}
	return t, err
}

// Tokens returns every token, newest first.
func (s *Store) Tokens(ctx context.Context) ([]*concord.Token, error) {
	rows, err := s.a.Read.Query(ctx, `SELECT `+tokenColumns+` FROM tokens ORDER BY created_at DESC, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*concord.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// AuditHead returns the head of the audit chain.
func (s *Store) AuditHead(ctx context.Context) (concord.AuditHead, error) {
	var h concord.AuditHead
	err := s.a.Read.QueryRow(ctx, `SELECT seq, hash FROM audit_chain WHERE id = 1`).Scan(&h.Seq, &h.Hash)
	return h, err
}

// AuditRecords streams the records matching f in sequence order.
func (s *Store) AuditRecords(ctx context.Context, f concord.AuditFilter, fn func(*concord.AuditRecord) error) error {
	q := `SELECT seq, at, actor, role, address, action, object, patient, outcome, detail, request_id, node, prev_hash, hash
		FROM audit_log WHERE seq > $1`
	args := []any{f.After}
	if !f.Since.IsZero() {
		args = append(args, f.Since.UnixMicro())
		q += ` AND at >= $` + strconv.Itoa(len(args))
	}
	if !f.Until.IsZero() {
		args = append(args, f.Until.UnixMicro())
		q += ` AND at < $` + strconv.Itoa(len(args))
	}
	q += ` ORDER BY seq`
	if f.Limit > 0 {
		args = append(args, f.Limit)
		q += ` LIMIT $` + strconv.Itoa(len(args))
	}
	rows, err := s.a.Read.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var r concord.AuditRecord
		var at, outcome int64
		if err := rows.Scan(&r.Seq, &at, &r.Actor, &r.Role, &r.Address, &r.Action, &r.Object, &r.Patient,
			&outcome, &r.Detail, &r.RequestID, &r.Node, &r.PrevHash, &r.Hash); err != nil {
			return err
		}
		r.Time = fromMicros(at)
		r.Outcome = concord.Outcome(outcome)
		if err := fn(&r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Counts returns counts for status pages.
func (s *Store) Counts(ctx context.Context) (concord.StoreCounts, error) {
	var c concord.StoreCounts
	now := time.Now().UnixMicro()
	err := s.a.Read.QueryRow(ctx, `SELECT COUNT(*),
		COALESCE(SUM(CASE WHEN revoked_at = 0 AND expires_at > $1 THEN 1 ELSE 0 END), 0) FROM tokens`, now).
		Scan(&c.Tokens, &c.ActiveTokens)
	if err != nil {
		return c, err
	}
	if err := s.a.Read.QueryRow(ctx, `SELECT seq FROM audit_chain WHERE id = 1`).Scan(&c.AuditRecords); err != nil {
		return c, err
	}
	err = s.a.Read.QueryRow(ctx, `SELECT COUNT(*) FROM messages`).Scan(&c.Messages)
	return c, err
}

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }
