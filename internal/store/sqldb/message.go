package sqldb

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/concord-health/concord"
)

func (t *sqlTx) InsertMessage(ctx context.Context, m *concord.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return t.q.QueryRow(t.ctx, `INSERT INTO messages
		(channel, peer, sender, received_at, type, trigger_ev, structure, control_id, version, patient_id,
		 status, error, ack_code, size, raw)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id`,
		m.Channel, m.Peer, m.Sender, m.ReceivedAt.UnixMicro(), m.Type, m.Trigger, m.Structure, m.ControlID,
		m.Version, m.PatientID, m.Status, m.Error, m.AckCode, int64(len(m.Raw)), m.Raw).Scan(&m.ID)
}

func (t *sqlTx) RecentMessage(ctx context.Context, channel, sender, controlID string, since time.Time) (*concord.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m, err := scanMessage(t.q.QueryRow(t.ctx, `SELECT `+messageColumns+` FROM messages
		WHERE channel = $1 AND sender = $2 AND control_id = $3 AND received_at >= $4 AND status <> $5
		ORDER BY received_at DESC LIMIT 1`, channel, sender, controlID, since.UnixMicro(), concord.MessageRejected), false)
	if err == ErrNoRows {
		return nil, nil
	}
	return m, err
}

const messageColumns = `id, channel, peer, sender, received_at, type, trigger_ev, structure, control_id, version,
	patient_id, status, error, ack_code, size`

func scanMessage(row interface{ Scan(...any) error }, withRaw bool) (*concord.Message, error) {
	var m concord.Message
	var at, size int64
	dest := []any{&m.ID, &m.Channel, &m.Peer, &m.Sender, &at, &m.Type, &m.Trigger, &m.Structure, &m.ControlID,
		&m.Version, &m.PatientID, &m.Status, &m.Error, &m.AckCode, &size}
	if withRaw {
		dest = append(dest, &m.Raw)
	}
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	m.ReceivedAt = fromMicros(at)
	m.Size = int(size)
	return &m, nil
}

// Message returns one message with its raw bytes.
func (s *Store) Message(ctx context.Context, id int64) (*concord.Message, error) {
	m, err := scanMessage(s.a.Read.QueryRow(ctx, `SELECT `+messageColumns+`, COALESCE(raw, $2) FROM messages WHERE id = $1`,
		id, []byte{}), true)
	if err == ErrNoRows {
		return nil, concord.Errorf(concord.ENOTFOUND, "no message %d", id)
	}
	return m, err
}

// Messages returns the messages matching f, newest first, and the total.
func (s *Store) Messages(ctx context.Context, f concord.MessageFilter) ([]*concord.Message, int64, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if f.Channel != "" {
		add("channel = ?", f.Channel)
	}
	if f.ControlID != "" {
		add("control_id = ?", f.ControlID)
	}
	if f.Type != "" {
		add("type = ?", f.Type)
	}
	if f.Trigger != "" {
		add("trigger_ev = ?", f.Trigger)
	}
	if f.Status != "" {
		add("status = ?", f.Status)
	}
	if f.PatientID != "" {
		add("patient_id = ?", f.PatientID)
	}
	if f.Sender != "" {
		args = append(args, f.Sender, len(f.Sender)+1, f.Sender+"^")
		n := len(args)
		where = append(where, "(sender = $"+strconv.Itoa(n-2)+" OR substr(sender, 1, $"+strconv.Itoa(n-1)+") = $"+strconv.Itoa(n)+")")
	}
	if f.Destination != "" || f.DeliveryStatus != "" {
		sub := "id IN (SELECT message_id FROM deliveries WHERE "
		var conds []string
		if f.Destination != "" {
			args = append(args, f.Destination)
			conds = append(conds, "destination = $"+strconv.Itoa(len(args)))
		}
		if f.DeliveryStatus != "" {
			args = append(args, f.DeliveryStatus)
			conds = append(conds, "status = $"+strconv.Itoa(len(args)))
		}
		where = append(where, sub+strings.Join(conds, " AND ")+")")
	}
	if !f.Since.IsZero() {
		add("received_at >= ?", f.Since.UnixMicro())
	}
	if !f.Until.IsZero() {
		add("received_at < ?", f.Until.UnixMicro())
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	var total int64
	if err := s.a.Read.QueryRow(ctx, `SELECT COUNT(*) FROM messages`+cond, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	args = append(args, limit, max(f.Offset, 0))
	rows, err := s.a.Read.Query(ctx, `SELECT `+messageColumns+` FROM messages`+cond+
		` ORDER BY id DESC LIMIT $`+strconv.Itoa(len(args)-1)+` OFFSET $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []*concord.Message
	for rows.Next() {
		m, err := scanMessage(rows, false)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, m)
	}
	return out, total, rows.Err()
}

// MessageCounts returns every channel's counts by status.
func (s *Store) MessageCounts(ctx context.Context) (map[string]concord.ChannelCounts, error) {
	rows, err := s.a.Read.Query(ctx, `SELECT channel, status, COUNT(*) FROM messages GROUP BY channel, status`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]concord.ChannelCounts{}
	for rows.Next() {
		var ch, st string
		var n int64
		if err := rows.Scan(&ch, &st, &n); err != nil {
			return nil, err
		}
		c := out[ch]
		switch st {
		case concord.MessageReceived:
			c.Received += n
		case concord.MessageErrored:
			c.Errored += n
		case concord.MessageRejected:
			c.Rejected += n
		case concord.MessageFiltered:
			c.Filtered += n
		case concord.MessageDuplicate:
			c.Duplicate += n
		}
		out[ch] = c
	}
	return out, rows.Err()
}

func (t *sqlTx) PruneContent(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n, err := t.q.Exec(t.ctx, `UPDATE messages SET raw = NULL WHERE id IN (
		SELECT m.id FROM messages m WHERE m.received_at < $1 AND m.raw IS NOT NULL
		AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = m.id AND d.status = $2)
		ORDER BY m.id LIMIT $3)`, cutoff.UnixMicro(), concord.DeliveryQueued, limit)
	return int(n), err
}

func (t *sqlTx) SetChannelState(ctx context.Context, channel, state string, at time.Time, by string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	switch state {
	case concord.ChannelStarted, concord.ChannelPaused, concord.ChannelStopped:
	default:
		return concord.Errorf(concord.EINVALID, "channel state %q: want started, paused or stopped", state)
	}
	_, err := t.q.Exec(t.ctx, `INSERT INTO channel_states (channel, state, changed_at, changed_by) VALUES ($1, $2, $3, $4)
		ON CONFLICT (channel) DO UPDATE SET state = excluded.state, changed_at = excluded.changed_at, changed_by = excluded.changed_by`,
		channel, state, at.UnixMicro(), by)
	return err
}

// ChannelStates returns the operator-set states by channel.
func (s *Store) ChannelStates(ctx context.Context) (map[string]string, error) {
	rows, err := s.a.Read.Query(ctx, `SELECT channel, state FROM channel_states`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var ch, st string
		if err := rows.Scan(&ch, &st); err != nil {
			return nil, err
		}
		out[ch] = st
	}
	return out, rows.Err()
}
