package sqldb

import (
	"context"
	"strings"
	"time"

	"github.com/concord-health/concord"
)

// Subscription returns the state kept beside a Subscription.
func (s *Store) Subscription(ctx context.Context, id string) (*concord.SubscriptionState, error) {
	var st concord.SubscriptionState
	var role, scopes string
	var failing, next, updated, handshake, heartbeat, sent int64
	err := s.a.Read.QueryRow(ctx, `SELECT id, owner, role, scopes, patient, events, delivered, attempts, errors,
		failing_since, next_attempt, last_error, handshake, heartbeat, last_sent, updated_at FROM subscriptions WHERE id = $1`, id).
		Scan(&st.ID, &st.Owner, &role, &scopes, &st.Patient, &st.Events, &st.Delivered, &st.Attempts, &st.Errors,
			&failing, &next, &st.LastError, &handshake, &heartbeat, &sent, &updated)
	if err == ErrNoRows {
		return nil, concord.Errorf(concord.ENOTFOUND, "no subscription %q", id)
	} else if err != nil {
		return nil, err
	}
	st.Role = concord.Role(role)
	if scopes != "" {
		st.Scopes = strings.Split(scopes, " ")
	}
	if failing != 0 {
		st.FailingSince = fromMicros(failing)
	}
	if next != parked {
		st.NextAttempt = fromMicros(next)
	}
	st.Handshake, st.Heartbeat = handshake != 0, time.Duration(heartbeat)*time.Microsecond
	if sent != 0 {
		st.LastSent = fromMicros(sent)
	}
	st.UpdatedAt = fromMicros(updated)
	return &st, nil
}

// PendingSubscriptions returns the subscriptions with undelivered events
// due by now, the longest due first.
func (s *Store) PendingSubscriptions(ctx context.Context, now time.Time, limit int) ([]string, error) {
	rows, err := s.a.Read.Query(ctx, `SELECT id FROM subscriptions WHERE next_attempt <= $1
		AND (events > delivered OR handshake <> 0 OR (heartbeat > 0 AND last_sent + heartbeat <= $1))
		ORDER BY next_attempt, id LIMIT $2`, now.UnixMicro(), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// SubscriptionEvents returns a range of a subscription's events.
func (s *Store) SubscriptionEvents(ctx context.Context, id string, first, last int64, limit int) ([]*concord.SubscriptionEvent, error) {
	if last <= 0 {
		last = 1<<63 - 1
	}
	rows, err := s.a.Read.Query(ctx, `SELECT number, rtype, rid, version, seq, at FROM subscription_events
		WHERE subscription = $1 AND number >= $2 AND number <= $3 ORDER BY number LIMIT $4`, id, first, last, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*concord.SubscriptionEvent
	for rows.Next() {
		e := &concord.SubscriptionEvent{Subscription: id}
		var at int64
		if err := rows.Scan(&e.Number, &e.Type, &e.ID, &e.Version, &e.Seq, &at); err != nil {
			return nil, err
		}
		e.At = fromMicros(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

func (t *sqlTx) PutSubscription(ctx context.Context, s *concord.SubscriptionState, reset bool, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	scopes := strings.Join(s.Scopes, " ")
	handshake := int64(0)
	if s.Handshake {
		handshake = 1
	}
	if _, err := t.q.Exec(t.ctx, `INSERT INTO subscriptions (id, owner, role, scopes, patient, handshake, heartbeat, last_sent, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
		ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, role = excluded.role, scopes = excluded.scopes,
		patient = excluded.patient, handshake = excluded.handshake, heartbeat = excluded.heartbeat,
		updated_at = excluded.updated_at`,
		s.ID, s.Owner, string(s.Role), scopes, s.Patient, handshake, s.Heartbeat.Microseconds(), at.UnixMicro()); err != nil {
		return err
	}
	if reset {
		_, err := t.q.Exec(t.ctx, `UPDATE subscriptions SET attempts = 0, failing_since = 0, next_attempt = 0,
			last_error = '', last_sent = $1 WHERE id = $2`, at.UnixMicro(), s.ID)
		return err
	}
	return nil
}

func (t *sqlTx) AppendSubscriptionEvent(ctx context.Context, e *concord.SubscriptionEvent) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// The row update takes the subscription's row lock: numbers come one
	// at a time, without gaps, on every node.
	err := t.q.QueryRow(t.ctx, `UPDATE subscriptions SET events = events + 1 WHERE id = $1 RETURNING events`,
		e.Subscription).Scan(&e.Number)
	if err == ErrNoRows {
		return concord.Errorf(concord.ENOTFOUND, "no subscription %q", e.Subscription)
	} else if err != nil {
		return err
	}
	_, err = t.q.Exec(t.ctx, `INSERT INTO subscription_events (subscription, number, rtype, rid, version, seq, at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, e.Subscription, e.Number, e.Type, e.ID, e.Version, e.Seq, e.At.UnixMicro())
	return err
}

func (t *sqlTx) RecordNotification(ctx context.Context, id string, a concord.SubscriptionAttempt) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var n int64
	var err error
	if a.Number == 0 {
		return t.recordSignal(id, a)
	}
	if a.OK {
		n, err = t.q.Exec(t.ctx, `UPDATE subscriptions SET delivered = $1, attempts = 0, failing_since = 0,
			next_attempt = 0, last_error = '', last_sent = $2, updated_at = $2 WHERE id = $3 AND delivered = $4 AND events >= $1`,
			a.Number, a.At.UnixMicro(), id, a.Number-1)
	} else {
		n, err = t.q.Exec(t.ctx, `UPDATE subscriptions SET attempts = attempts + 1, errors = errors + 1,
			failing_since = CASE WHEN failing_since = 0 THEN $1 ELSE failing_since END,
			next_attempt = $2, last_error = $3, updated_at = $1 WHERE id = $4 AND delivered = $5 AND events >= $6`,
			a.At.UnixMicro(), a.Next.UnixMicro(), a.Error, id, a.Number-1, a.Number)
	}
	if err != nil {
		return err
	}
	if n == 0 {
		return concord.Errorf(concord.ECONFLICT, "subscription %s: event %d is not the next to deliver", id, a.Number)
	}
	return nil
}

// parked is the next_attempt of a parked subscription: never due.
const parked = int64(1<<63 - 1)

func (t *sqlTx) ParkSubscription(ctx context.Context, id string, seen, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err := t.q.Exec(t.ctx, `UPDATE subscriptions SET next_attempt = $1, updated_at = $2 WHERE id = $3 AND updated_at = $4`,
		parked, at.UnixMicro(), id, seen.UnixMicro())
	return err
}

// recordSignal records a handshake or heartbeat attempt.
func (t *sqlTx) recordSignal(id string, a concord.SubscriptionAttempt) error {
	handshake := `handshake`
	if a.Handshake {
		handshake = `0`
	}
	var n int64
	var err error
	if a.OK {
		n, err = t.q.Exec(t.ctx, `UPDATE subscriptions SET handshake = `+handshake+`, attempts = 0, failing_since = 0,
			next_attempt = 0, last_error = '', last_sent = $1, updated_at = $1 WHERE id = $2`, a.At.UnixMicro(), id)
	} else {
		n, err = t.q.Exec(t.ctx, `UPDATE subscriptions SET handshake = `+handshake+`, attempts = attempts + 1, errors = errors + 1,
			failing_since = CASE WHEN failing_since = 0 THEN $1 ELSE failing_since END,
			next_attempt = $2, last_error = $3, updated_at = $1 WHERE id = $4`,
			a.At.UnixMicro(), a.Next.UnixMicro(), a.Error, id)
	}
	if err != nil {
		return err
	}
	if n == 0 {
		return concord.Errorf(concord.ENOTFOUND, "no subscription %q", id)
	}
	return nil
}

func (t *sqlTx) PruneSubscriptionEvents(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n, err := t.q.Exec(t.ctx, `DELETE FROM subscription_events WHERE (subscription, number) IN (
		SELECT e.subscription, e.number FROM subscription_events e JOIN subscriptions s ON s.id = e.subscription
		WHERE e.at < $1 AND e.number <= s.delivered LIMIT $2)`, cutoff.UnixMicro(), limit)
	return int(n), err
}

func (t *sqlTx) SkipSubscriptionEvents(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err := t.q.Exec(t.ctx, `UPDATE subscriptions SET delivered = events WHERE id = $1`, id)
	return err
}
