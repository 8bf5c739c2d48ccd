package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/hl7v2"
	"github.com/concord-health/concord/internal/convert"
)

// Change source timing and size.
const (
	changePoll  = 500 * time.Millisecond // how often an idle reader looks for new changes, by default
	changeBatch = 200                    // changes read, converted and committed together
	// changeGapGrace is how long a reader on PostgreSQL waits for a gap in
	// the change log to fill: a seq is taken when a version is written,
	// so on several nodes a later seq can commit first. A gap still open
	// after this is taken as a rolled-back write.
	changeGapGrace = 3 * time.Second
	// changeLease is the pseudo destination whose lease says which node
	// reads a channel's change log (destination names cannot start with
	// a colon).
	changeLease = ":changes"
)

// ChangeSource makes a channel follow the clinical store's change log:
// each new version of a resource of one of Types that Filter keeps is
// converted to HL7 v2 once per destination (with that destination's
// Outbound options), stored as a message of the channel and queued for
// that destination only. Everything downstream (filter, transformer,
// queue, retries, dead letters, operator actions, metrics) is the same as
// for a received message.
type ChangeSource struct {
	Types  []string
	Filter *ChangeFilter // nil keeps every version
	// FromBeginning makes a channel without a cursor start at the first
	// change the store holds; otherwise it starts at the newest one.
	FromBeginning bool
	// Poll is how often an idle reader looks at the change log for
	// writes made on other nodes (or by concord import); 0 means every
	// 500 ms. Writes through this node's FHIR API wake it at once
	// (ChangesWritten).
	Poll time.Duration
	// Key identifies the source's configuration: when Configure finds the
	// channel's source with the same Key, its reader goes on undisturbed.
	// Empty means it restarts on every Configure (which is harmless: the
	// cursor is in the store).
	Key string
}

// sameSource reports whether a reader started for a can go on for b.
func sameSource(a, b *ChangeSource) bool {
	return a == b || (a.Key != "" && a.Key == b.Key)
}

// changeEnvelope is what an errored change message holds instead of an
// HL7 message: which change failed, for which destination and why. An
// operator reprocesses it once the cause is fixed.
type changeEnvelope struct {
	Change      string `json:"change"` // Type/id/_history/version
	Seq         int64  `json:"seq"`
	Destination string `json:"destination,omitempty"` // empty: every destination
	Error       string `json:"error"`
}

// pendingChange is one message a change made, waiting for its commit.
type pendingChange struct {
	m        *concord.Message
	dest     string   // the destination it goes to; empty for errors
	payloads [][]byte // transformed payloads (nil: as stored)
}

// changeReader is the state of one channel's reader.
type changeReader struct {
	channel string
	gap     concord.ChangeGap
}

// readChanges is the loop of a channel's changes source: while this node
// holds the channel's change lease, it reads the change log from the
// channel's cursor, converts and commits a batch at a time, and polls
// every changePoll when idle or sooner when ChangesWritten wakes it. A paused or stopped channel reads nothing;
// its cursor waits.
func (e *Engine) readChanges(ctx context.Context, channel string) {
	log := e.opt.Logger.With("channel", channel, "source", "changes")
	rd := &changeReader{channel: channel}
	wake := e.wakeup(channel, changeLease)
	var leasedUntil time.Time
	defer func() {
		if !leasedUntil.IsZero() {
			e.releaseLease(ctx, channel, changeLease)
		}
	}()
	for ctx.Err() == nil {
		if e.State(ctx, channel) != concord.ChannelStarted {
			sleep(ctx, nil, stateTTL)
			continue
		}
		now := e.opt.Now()
		if leasedUntil.Sub(now) < leaseRenew {
			ok, err := e.lease(ctx, channel, changeLease, now)
			if err != nil || !ok {
				if err != nil {
					log.Warn("change source lease", "err", err)
				}
				leasedUntil = time.Time{}
				sleep(ctx, nil, leaseRetry)
				continue
			}
			leasedUntil = now.Add(leaseFor)
		}
		ch := e.channel(channel)
		if ch == nil || ch.Changes == nil {
			return
		}
		n, err := e.changeRound(ctx, ch, rd)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Warn("reading the change log", "err", err)
			sleep(ctx, nil, leaseRetry)
			continue
		}
		if n < changeBatch {
			poll := ch.Changes.Poll
			if poll <= 0 {
				poll = changePoll
			}
			sleep(ctx, wake, poll)
		}
	}
}

// ChangesWritten tells the changes sources of this node that the store's
// change log has grown (a FHIR write committed here), so they read it now
// instead of at their next poll. Writes on other nodes are seen by the
// poll.
func (e *Engine) ChangesWritten() {
	for _, ch := range e.channels() {
		if ch.Changes != nil {
			e.notify(ch.Name, []string{changeLease})
		}
	}
}

// changeRound handles one batch of the change log and returns how many
// entries it read.
func (e *Engine) changeRound(ctx context.Context, ch *Channel, rd *changeReader) (int, error) {
	st := e.opt.Store
	cursor, found, err := st.Cursor(ctx, ch.Name)
	if err != nil {
		return 0, err
	}
	if !found && !ch.Changes.FromBeginning {
		// A new channel starts at the newest change: what was stored
		// before it existed is not sent.
		last, err := st.LastChange(ctx)
		if err != nil {
			return 0, err
		}
		return 0, st.Update(ctx, func(tx concord.Tx) error { return tx.MoveCursor(ctx, ch.Name, 0, last, e.opt.Now()) })
	}
	changes, err := st.Changes(ctx, cursor, changeBatch)
	if err != nil || len(changes) == 0 {
		return 0, err
	}
	read := len(changes)
	if st.Kind() == "postgres" {
		changes = rd.gap.Until(cursor, changes, e.opt.Now(), changeGapGrace)
		if len(changes) == 0 {
			return 0, nil
		}
	}
	var pending []pendingChange
	for _, r := range changes {
		p, err := e.changeMessages(ctx, ch, r, nil)
		if err != nil {
			return 0, err // the store failed: try the batch again
		}
		pending = append(pending, p...)
	}
	to := changes[len(changes)-1].Seq
	if err := e.storeChanges(ctx, ch, pending, &cursorMove{from: cursor, to: to}, nil); err != nil {
		return 0, err
	}
	if len(changes) < read {
		return len(changes), nil
	}
	return read, nil
}

// changeMessages converts one change for the channel's destinations (or
// only those named in only) and returns the messages to store: for each
// destination an HL7 message, or an errored message saying why the
// change could not be converted. A change the channel does not follow,
// that its filter drops, or that calls for no message gives none. An
// error is returned only when the store could not be read.
func (e *Engine) changeMessages(ctx context.Context, ch *Channel, r *concord.Resource, only []string) ([]pendingChange, error) {
	if r.Deleted || !slices.Contains(ch.Changes.Types, r.Type) {
		return nil, nil
	}
	ref := r.Type + "/" + r.ID + "/_history/" + strconv.FormatInt(r.Version, 10)
	failed := func(dest string, err error) pendingChange {
		env, _ := json.Marshal(changeEnvelope{Change: ref, Seq: r.Seq, Destination: dest, Error: err.Error()})
		m := &concord.Message{Channel: ch.Name, Peer: ref, ReceivedAt: e.opt.Now(), Raw: env, Size: len(env),
			Status: concord.MessageErrored, Error: Truncate(err.Error(), 1000), ControlID: changeControlID(ch.Name, dest, r.Seq)}
		if dest != "" {
			m.Error = Truncate("destination "+dest+": "+err.Error(), 1000)
		}
		return pendingChange{m: m}
	}
	if f := ch.Changes.Filter; f != nil {
		pass, err := f.Pass(ctx, r.Type, r.ID, r.Version, r.Content)
		if err != nil {
			return []pendingChange{failed("", err)}, nil
		}
		if !pass {
			return nil, nil
		}
	}
	in, err := e.resolve(ctx, r)
	if err != nil {
		if concord.ErrorCode(err) == concord.EINVALID {
			return []pendingChange{failed("", err)}, nil
		}
		return nil, err
	}
	var out []pendingChange
	var authors []string // who the change came from, read when a destination asks
	authorsRead := false
	for _, d := range ch.Destinations {
		if only != nil && !slices.Contains(only, d.Name) {
			continue
		}
		if d.Partner != "" {
			if !authorsRead {
				if authors, err = e.authors(ctx, r); err != nil {
					return nil, err
				}
				authorsRead = true
			}
			if slices.ContainsFunc(authors, func(a string) bool { return a == d.Partner || strings.HasPrefix(a, d.Partner+"^") }) {
				continue // its own change: not sent back
			}
		}
		opt := d.Outbound
		opt.ControlID = changeControlID(ch.Name, d.Name, r.Seq)
		opt.Time = r.LastUpdated
		raw, err := convertChange(in, opt)
		if errors.Is(err, convert.ErrNoOutboundMessage) {
			continue
		}
		if err != nil {
			out = append(out, failed(d.Name, err))
			continue
		}
		p, err := e.changeMessage(ctx, ch, raw, ref)
		if err != nil {
			out = append(out, failed(d.Name, err))
			continue
		}
		p.dest = d.Name
		out = append(out, p)
	}
	return out, nil
}

// changeMessage reads a converted message into a message row and runs
// the channel's filter and transformer over it, as the receive path does.
func (e *Engine) changeMessage(ctx context.Context, ch *Channel, raw []byte, ref string) (pendingChange, error) {
	msg, err := hl7v2.Parse(raw)
	if err != nil {
		return pendingChange{}, fmt.Errorf("the converted message does not parse: %v", err)
	}
	m := &concord.Message{Channel: ch.Name, Peer: ref, ReceivedAt: e.opt.Now(), Raw: raw, Size: len(raw), Status: concord.MessageReceived}
	m.Type, m.Trigger, m.Structure = msg.MessageType()
	m.ControlID = msg.ControlID()
	m.Version = msg.Version()
	app, fac := msg.Sender()
	m.Sender = app + "^" + fac
	m.PatientID = msg.Get("PID-3.1")
	p := pendingChange{m: m}
	if ch.Filter != nil {
		pass, err := ch.Filter.Pass(ctx, msg)
		if err != nil {
			m.Status, m.Error = concord.MessageErrored, err.Error()
			return p, nil
		}
		if !pass {
			m.Status = concord.MessageFiltered
			return p, nil
		}
	}
	if ch.Transformer != nil {
		if p.payloads, err = ch.Transformer.Apply(ctx, msg); err != nil {
			m.Status, m.Error = concord.MessageErrored, err.Error()
		}
	}
	return p, nil
}

// cursorMove is a move of a channel's cursor, made with the messages of
// the changes it passes.
type cursorMove struct{ from, to int64 }

// storeChanges commits the messages of a batch of changes, each queued
// for its destination with its audit record, and moves the channel's
// cursor past the batch in the same transaction: a crash either keeps
// both or neither, so no change is skipped or handled twice. by, when
// set, names the operator who reprocessed a change.
func (e *Engine) storeChanges(ctx context.Context, ch *Channel, pending []pendingChange, move *cursorMove, by *concord.AuditRecord) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	err := e.opt.Store.Update(ctx, func(tx concord.Tx) error {
		for _, p := range pending {
			m := p.m
			m.ID = 0 // this function may run more than once
			if err := tx.InsertMessage(ctx, m); err != nil {
				return err
			}
			if m.Status == concord.MessageReceived && p.dest != "" {
				payloads := p.payloads
				if len(payloads) == 0 {
					payloads = [][]byte{nil}
				}
				for _, pl := range payloads {
					if err := tx.Enqueue(ctx, m, []string{p.dest}, pl, m.ReceivedAt); err != nil {
						return err
					}
				}
			}
			rec := concord.AuditRecord{Actor: "changes:" + m.Peer, Role: string(concord.RoleIntegration), Address: m.Peer, Node: e.opt.Node}
			if by != nil {
				rec = *by
			}
			rec.Time, rec.Action, rec.Object, rec.Patient = m.ReceivedAt, concord.AuditCreate, "message/"+strconv.FormatInt(m.ID, 10), m.PatientID
			rec.Outcome = outcomeOf(m.Status)
			rec.Detail = fmt.Sprintf("channel %s: %s^%s %s %s from %s", m.Channel, m.Type, m.Trigger, m.ControlID, m.Status, m.Peer)
			if p.dest != "" {
				rec.Detail += " for " + p.dest
			}
			if by != nil {
				rec.Detail = "reprocessed: " + rec.Detail
			}
			if err := tx.AppendAudit(ctx, &rec); err != nil {
				return err
			}
		}
		if move != nil {
			return tx.MoveCursor(ctx, ch.Name, move.from, move.to, e.opt.Now())
		}
		return nil
	})
	if err != nil {
		return err
	}
	var dests []string
	for _, p := range pending {
		e.metrics.received.WithLabelValues(ch.Name, p.m.Status).Inc()
		if p.m.Status == concord.MessageReceived && p.dest != "" && !slices.Contains(dests, p.dest) {
			dests = append(dests, p.dest)
		}
	}
	e.notify(ch.Name, dests)
	return nil
}

// reprocessChange converts again the change an errored change message
// names, for its destination (or every destination), and stores what it
// makes as new messages; the cursor does not move.
func (e *Engine) reprocessChange(ctx context.Context, ch *Channel, orig *concord.Message, by concord.AuditRecord) (*concord.Message, string, error) {
	var env changeEnvelope
	if err := json.Unmarshal(orig.Raw, &env); err != nil || env.Change == "" {
		return nil, "", concord.Errorf(concord.EINVALID, "message %d is not a change this channel could not convert", orig.ID)
	}
	parts := strings.Split(env.Change, "/")
	if len(parts) != 4 || parts[2] != "_history" {
		return nil, "", concord.Errorf(concord.EINVALID, "message %d names change %q, not Type/id/_history/version", orig.ID, env.Change)
	}
	v, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil {
		return nil, "", concord.Errorf(concord.EINVALID, "message %d names change %q, not Type/id/_history/version", orig.ID, env.Change)
	}
	r, err := e.opt.Store.ResourceVersion(ctx, parts[0], parts[1], v)
	if err != nil {
		return nil, "", err
	}
	r.Seq = env.Seq
	var only []string
	if env.Destination != "" {
		if !slices.ContainsFunc(ch.Destinations, func(d Destination) bool { return d.Name == env.Destination }) {
			return nil, "", concord.Errorf(concord.EINVALID, "channel %s has no destination %s any more", ch.Name, env.Destination)
		}
		only = []string{env.Destination}
	}
	pending, err := e.changeMessages(ctx, ch, r, only)
	if err != nil {
		return nil, "", err
	}
	if len(pending) == 0 {
		return nil, "", concord.Errorf(concord.EINVALID, "change %s calls for no message now (filtered, or nothing to send)", env.Change)
	}
	if err := e.storeChanges(ctx, ch, pending, nil, &by); err != nil {
		return nil, "", concord.Errorf(concord.EUNAVAILABLE, "the reprocessed change could not be stored: %v", err)
	}
	m := pending[0].m
	return m, m.AckCode, nil
}
