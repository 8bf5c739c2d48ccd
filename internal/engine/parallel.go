package engine

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/concord-health/concord"
)

// windowPerWorker is how many queued deliveries a parallel destination
// looks at per worker when it chooses what to start.
const windowPerWorker = 4

// orderKey is what a parallel destination keeps in order: messages with
// the same key are delivered one after the other, in queue order. The
// key is the patient identifier (PID-3.1, as stored with the message). It
// reports false for a message that must be delivered alone (a barrier),
// which ordering by one patient does not cover: one without a patient
// identifier, one with several PID segments (links, batches of results
// for several patients) and one with an MRG segment (merges and moves).
// raw is what is delivered (the transformer's output when there is one).
func orderKey(m *concord.Message, raw []byte) (string, bool) {
	if m.PatientID == "" {
		return "", false
	}
	pid, mrg := []byte("PID|"), []byte("MRG|")
	if i := bytes.Index(raw[:min(len(raw), 8)], []byte("MSH")); i >= 0 && len(raw) > i+3 {
		pid[3], mrg[3] = raw[i+3], raw[i+3] // the field separator, MSH-1
	}
	pids := 0
	for len(raw) > 0 {
		i := bytes.IndexAny(raw, "\r\n")
		seg := raw
		if i >= 0 {
			seg, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		switch {
		case bytes.HasPrefix(seg, pid):
			if pids++; pids > 1 {
				return "", false
			}
		case bytes.HasPrefix(seg, mrg):
			return "", false
		}
	}
	return m.PatientID, true
}

// dispatchParallel is the loop of a destination that delivers up to
// d.Parallel messages at once. Order is kept per patient (orderKey): a
// message starts only when no earlier queued message of its patient is
// still waiting or being delivered, and a message that must be delivered
// alone starts only when nothing else runs and nothing after it starts
// until it is done. A delivery waiting for its retry holds back only
// its patient's later messages. Each attempt is recorded as it ends, so
// the store's writer commits the attempts of concurrent deliveries (and
// what the deliveries themselves write) together.
func (e *Engine) dispatchParallel(ctx context.Context, channel string, d *Destination, wake <-chan struct{}, leasedUntil *time.Time, log *slog.Logger) {
	running := map[int64]bool{} // delivery IDs being delivered
	done := make(chan int64, d.Parallel)
	var wg sync.WaitGroup
	defer wg.Wait()
	msgs := map[int64]*concord.Message{} // messages of the window, by delivery ID
	finished := func(id int64) { delete(running, id); delete(msgs, id) }
	// waitOne waits for a running delivery to end (or for ctx).
	waitOne := func() {
		select {
		case id := <-done:
			finished(id)
		case <-ctx.Done():
		}
	}
	for ctx.Err() == nil {
		for drained := false; !drained; {
			select {
			case id := <-done:
				finished(id)
			default:
				drained = true
			}
		}
		if e.State(ctx, channel) == concord.ChannelStopped || !e.holdLease(ctx, channel, d.Name, leasedUntil, log) {
			// Let what runs finish, then wait for the channel to start or
			// the lease to come back.
			for len(running) > 0 && ctx.Err() == nil {
				waitOne()
			}
			sleep(ctx, wake, min(stateTTL, leaseRetry))
			continue
		}
		if len(running) >= d.Parallel {
			waitOne()
			continue
		}
		window, err := e.opt.Store.QueuedDeliveries(ctx, channel, d.Name, d.Parallel*windowPerWorker)
		if err != nil {
			log.Warn("reading the queue", "err", err)
			sleep(ctx, nil, leaseRetry)
			continue
		}
		next, failed := e.startDue(ctx, channel, d, window, running, msgs, done, &wg, log)
		if failed {
			sleep(ctx, nil, leaseRetry)
			continue
		}
		wait := idlePoll
		if !next.IsZero() {
			wait = max(min(next.Sub(e.opt.Now()), leaseRenew), time.Millisecond)
		}
		if len(running) == 0 {
			sleep(ctx, wake, wait)
			continue
		}
		// Something runs: wake when it ends, when new work is queued or
		// when a retry falls due.
		t := time.NewTimer(wait)
		select {
		case id := <-done:
			finished(id)
		case <-wake:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
}

// startDue starts the deliveries of window that may run now (see
// dispatchParallel), at most up to d.Parallel running. It returns when
// the earliest held-back retry falls due (zero if none) and whether a
// message could not be read.
func (e *Engine) startDue(ctx context.Context, channel string, d *Destination, window []*concord.Delivery,
	running map[int64]bool, msgs map[int64]*concord.Message, done chan<- int64, wg *sync.WaitGroup, log *slog.Logger) (time.Time, bool) {
	inWindow := make(map[int64]bool, len(window))
	for _, h := range window {
		inWindow[h.ID] = true
	}
	for id := range msgs {
		if !inWindow[id] && !running[id] {
			delete(msgs, id)
		}
	}
	now := e.opt.Now()
	var next time.Time
	held := map[string]bool{} // keys with an earlier message not yet delivered
	for i, h := range window {
		m := msgs[h.ID]
		if m == nil {
			var err error
			if m, err = e.opt.Store.Message(ctx, h.MessageID); err != nil {
				log.Warn("reading a queued message", "delivery", h.ID, "message_id", h.MessageID, "err", err)
				return next, true
			}
			msgs[h.ID] = m
		}
		raw := m.Raw
		if h.Payload != nil {
			raw = h.Payload
		}
		key, ordered := orderKey(m, raw)
		if !ordered {
			// Alone: only as the first of the window with nothing running,
			// and nothing after it meanwhile.
			if i == 0 && len(running) == 0 && !h.NextAttempt.After(now) && e.State(ctx, channel) != concord.ChannelStopped {
				e.start(ctx, channel, d, h, m, running, done, wg, log)
			} else if i == 0 && len(running) == 0 {
				next = h.NextAttempt
			}
			return next, false
		}
		if running[h.ID] || held[key] {
			held[key] = true
			continue
		}
		held[key] = true
		if h.NextAttempt.After(now) {
			if next.IsZero() || h.NextAttempt.Before(next) {
				next = h.NextAttempt
			}
			continue
		}
		if len(running) >= d.Parallel || e.State(ctx, channel) == concord.ChannelStopped {
			break
		}
		e.start(ctx, channel, d, h, m, running, done, wg, log)
	}
	return next, false
}

// start delivers h in a goroutine of its own, which reports its end on
// done (after a pause when the attempt could not be recorded, so that a
// failing store is not asked again at once).
func (e *Engine) start(ctx context.Context, channel string, d *Destination, h *concord.Delivery, m *concord.Message,
	running map[int64]bool, done chan<- int64, wg *sync.WaitGroup, log *slog.Logger) {
	running[h.ID] = true
	wg.Add(1)
	go func() {
		defer wg.Done()
		if !e.attempt(ctx, channel, d, h, m, log) && ctx.Err() == nil {
			sleep(ctx, nil, time.Second)
		}
		done <- h.ID
	}()
}
