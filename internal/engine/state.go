package engine

import (
	"context"
	"errors"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/mllp"
)

// stateTTL is how long this node trusts its copy of the channel states:
// a change made on another node takes effect here within it.
const stateTTL = time.Second

// ErrNotStarted is the refusal a paused or stopped channel gives senders.
var ErrNotStarted = errors.New("channel is not started")

// State returns a channel's state: started, paused or stopped.
func (e *Engine) State(ctx context.Context, channel string) string {
	e.stateMu.Lock()
	defer e.stateMu.Unlock()
	if time.Since(e.statesAt) > stateTTL {
		if states, err := e.opt.Store.ChannelStates(ctx); err == nil {
			e.states, e.statesAt = states, time.Now()
		} else {
			e.opt.Logger.Warn("reading channel states", "err", err)
		}
	}
	if st, ok := e.states[channel]; ok {
		return st
	}
	return concord.ChannelStarted
}

// SetState records an operator's choice of a channel's state, with its
// audit record in the same transaction. by names the operator.
func (e *Engine) SetState(ctx context.Context, channel, state string, by concord.AuditRecord) error {
	known := false
	for _, name := range e.ChannelNames() {
		known = known || name == channel
	}
	if !known {
		return concord.Errorf(concord.ENOTFOUND, "no channel %q", channel)
	}
	now := e.opt.Now()
	err := e.opt.Store.Update(ctx, func(tx concord.Tx) error {
		if err := tx.SetChannelState(ctx, channel, state, now, by.Actor); err != nil {
			return err
		}
		rec := by
		rec.Time, rec.Action, rec.Object, rec.Detail = now, concord.AuditUpdate, "channel/"+channel, "channel "+state
		return tx.AppendAudit(ctx, &rec)
	})
	if err == nil {
		e.stateMu.Lock()
		e.statesAt = time.Time{} // read again at once
		e.stateMu.Unlock()
	}
	return err
}

// ChannelNames lists the channels this engine runs, the default one first.
func (e *Engine) ChannelNames() []string {
	names := []string{DefaultChannel}
	for _, ch := range e.channels() {
		if ch.Name != DefaultChannel {
			names = append(names, ch.Name)
		}
	}
	return names
}

// Admit is the MLLP server's check of a new connection on channel: a
// paused or stopped channel takes no connections.
func (e *Engine) Admit(channel string) func(*mllp.Conn) error {
	return func(*mllp.Conn) error {
		if e.State(context.Background(), channel) != concord.ChannelStarted {
			return ErrNotStarted
		}
		return nil
	}
}
