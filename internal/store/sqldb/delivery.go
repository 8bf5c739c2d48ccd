package sqldb

import (
	"context"
	"time"

	"github.com/concord-health/concord"
)

func (t *sqlTx) Enqueue(ctx context.Context, m *concord.Message, destinations []string, payload []byte, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, d := range destinations {
		if _, err := t.q.Exec(t.ctx, `INSERT INTO deliveries (message_id, channel, destination, status, next_attempt, created_at, payload)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, m.ID, m.Channel, d, concord.DeliveryQueued, now.UnixMicro(), now.UnixMicro(), payload); err != nil {
			return err
		}
	}
	return nil
}

func (t *sqlTx) RecordAttempt(ctx context.Context, id int64, o concord.DeliveryOutcome) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var sent int64
	if o.Status == concord.DeliverySent {
		sent = o.At.UnixMicro()
	}
	n, err := t.q.Exec(t.ctx, `UPDATE deliveries SET status = $1, attempts = attempts + 1, next_attempt = $2,
		last_error = $3, partner_ack = $4, sent_at = $5 WHERE id = $6 AND status = $7`,
		o.Status, o.NextAttempt.UnixMicro(), o.Error, o.PartnerAck, sent, id, concord.DeliveryQueued)
	if err != nil {
		return err
	}
	if n == 0 {
		return concord.Errorf(concord.ECONFLICT, "delivery %d is not queued", id)
	}
	return nil
}

func (t *sqlTx) Lease(ctx context.Context, channel, destination, owner string, now, until time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	// Take the lease if it is free, expired or already ours; the primary
	// key makes two first claims race-free.
	n, err := t.q.Exec(t.ctx, `INSERT INTO destination_leases (channel, destination, owner, until) VALUES ($1, $2, $3, $4)
		ON CONFLICT (channel, destination) DO UPDATE SET owner = excluded.owner, until = excluded.until
		WHERE destination_leases.owner = excluded.owner OR destination_leases.until < $5`,
		channel, destination, owner, until.UnixMicro(), now.UnixMicro())
	return n > 0, err
}

func (t *sqlTx) RequeueDelivery(ctx context.Context, id int64, at time.Time, note string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var status string
	err := t.q.QueryRow(t.ctx, `SELECT status FROM deliveries WHERE id = $1`+t.d.LockRow, id).Scan(&status)
	if err == ErrNoRows {
		return concord.Errorf(concord.ENOTFOUND, "no delivery %d", id)
	} else if err != nil {
		return err
	}
	if status == concord.DeliverySent {
		return concord.Errorf(concord.ECONFLICT, "delivery %d was sent already", id)
	}
	_, err = t.q.Exec(t.ctx, `UPDATE deliveries SET status = $1, next_attempt = $2, last_error = $3 WHERE id = $4`,
		concord.DeliveryQueued, at.UnixMicro(), note, id)
	return err
}

func (t *sqlTx) DiscardDeliveries(ctx context.Context, messageID int64, note string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n, err := t.q.Exec(t.ctx, `UPDATE deliveries SET status = $1, last_error = $2 WHERE message_id = $3 AND status = $4`,
		concord.DeliveryDead, note, messageID, concord.DeliveryQueued)
	return int(n), err
}

const deliveryColumns = `d.id, d.message_id, d.channel, d.destination, d.status, d.attempts, d.next_attempt, d.last_error,
	d.partner_ack, d.created_at, d.sent_at, COALESCE(d.payload, $1)`

func scanDelivery(row interface{ Scan(...any) error }) (*concord.Delivery, error) {
	var d concord.Delivery
	var next, created, sent int64
	if err := row.Scan(&d.ID, &d.MessageID, &d.Channel, &d.Destination, &d.Status, &d.Attempts, &next, &d.LastError,
		&d.PartnerAck, &created, &sent, &d.Payload); err != nil {
		return nil, err
	}
	if len(d.Payload) == 0 {
		d.Payload = nil
	}
	d.NextAttempt, d.CreatedAt = fromMicros(next), fromMicros(created)
	if sent != 0 {
		d.SentAt = fromMicros(sent)
	}
	return &d, nil
}

// Deliveries returns a message's deliveries.
func (s *Store) Deliveries(ctx context.Context, messageID int64) ([]*concord.Delivery, error) {
	return scanDeliveries(s.a.Read.Query(ctx, `SELECT `+deliveryColumns+` FROM deliveries d WHERE d.message_id = $2 ORDER BY d.destination`, []byte{}, messageID))
}

// scanDeliveries reads every row of a query on deliveries (alias d,
// deliveryColumns).
func scanDeliveries(rows Rows, err error) ([]*concord.Delivery, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*concord.Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// NextDelivery returns the head of a destination's queue and its message.
func (s *Store) NextDelivery(ctx context.Context, channel, destination string) (*concord.Delivery, *concord.Message, error) {
	d, err := scanDelivery(s.a.Read.QueryRow(ctx, `SELECT `+deliveryColumns+` FROM deliveries d
		WHERE d.channel = $2 AND d.destination = $3 AND d.status = $4 ORDER BY d.id LIMIT 1`,
		[]byte{}, channel, destination, concord.DeliveryQueued))
	if err == ErrNoRows {
		return nil, nil, nil
	} else if err != nil {
		return nil, nil, err
	}
	m, err := s.Message(ctx, d.MessageID)
	if err != nil {
		return nil, nil, err
	}
	return d, m, nil
}

// QueuedDeliveries returns the first limit queued deliveries of a
// destination, in queue order.
func (s *Store) QueuedDeliveries(ctx context.Context, channel, destination string, limit int) ([]*concord.Delivery, error) {
	if limit <= 0 {
		return nil, nil
	}
	return scanDeliveries(s.a.Read.Query(ctx, `SELECT `+deliveryColumns+` FROM deliveries d
		WHERE d.channel = $2 AND d.destination = $3 AND d.status = $4 ORDER BY d.id LIMIT $5`,
		[]byte{}, channel, destination, concord.DeliveryQueued, limit))
}

// DeliveryCounts returns counts by channel, destination and status.
func (s *Store) DeliveryCounts(ctx context.Context) (map[string]map[string]map[string]int64, error) {
	rows, err := s.a.Read.Query(ctx, `SELECT channel, destination, status, COUNT(*) FROM deliveries GROUP BY channel, destination, status`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]map[string]map[string]int64{}
	for rows.Next() {
		var ch, dest, st string
		var n int64
		if err := rows.Scan(&ch, &dest, &st, &n); err != nil {
			return nil, err
		}
		if out[ch] == nil {
			out[ch] = map[string]map[string]int64{}
		}
		if out[ch][dest] == nil {
			out[ch][dest] = map[string]int64{}
		}
		out[ch][dest][st] = n
	}
	return out, rows.Err()
}
