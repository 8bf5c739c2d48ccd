package engine

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/concord-health/concord"
)

// Dispatcher timing.
const (
	leaseFor      = 30 * time.Second // how long a destination lease lasts
	leaseRenew    = 10 * time.Second // renew when less than this is left
	idlePoll      = time.Second      // look for work enqueued by other nodes
	leaseRetry    = 5 * time.Second  // wait when another node holds the lease
	recordTimeout = 30 * time.Second
)

// Run delivers queued messages to every destination of every channel
// until ctx ends (one loop per destination, strictly in order), reads the
// change log for channels with a changes source (one loop per channel)
// and runs the retention job. When Configure changes the channels, Run starts and
// stops destination loops to match.
func (e *Engine) Run(ctx context.Context) {
	var wg sync.WaitGroup
	if e.opt.Retention > 0 {
		wg.Add(1)
		go func() { defer wg.Done(); e.retain(ctx) }()
	}
	type loop struct {
		d      *Destination
		cancel context.CancelFunc
		done   chan struct{}
	}
	loops := map[string]*loop{}
	stop := func(k string, l *loop) {
		l.cancel()
		<-l.done
		delete(loops, k)
	}
	type reader struct {
		src    *ChangeSource
		cancel context.CancelFunc
		done   chan struct{}
	}
	readers := map[string]*reader{} // by channel
	stopReader := func(name string, r *reader) {
		r.cancel()
		<-r.done
		delete(readers, name)
	}
	reconcile := func() {
		wantReaders := map[string]*ChangeSource{}
		for _, ch := range e.channels() {
			if ch.Changes != nil {
				wantReaders[ch.Name] = ch.Changes
			}
		}
		for name, r := range readers {
			if src, ok := wantReaders[name]; !ok || !sameSource(src, r.src) {
				stopReader(name, r)
			}
		}
		for name, src := range wantReaders {
			if _, ok := readers[name]; ok {
				continue
			}
			rctx, cancel := context.WithCancel(ctx)
			r := &reader{src: src, cancel: cancel, done: make(chan struct{})}
			readers[name] = r
			go func() {
				defer close(r.done)
				e.readChanges(rctx, name)
			}()
		}
		want := map[string]*Destination{}
		for _, ch := range e.channels() {
			for _, d := range ch.queues() {
				want[ch.Name+"\x00"+d.Name] = d
			}
		}
		for k, l := range loops {
			if d, ok := want[k]; !ok || d.id != l.d.id {
				stop(k, l)
			}
		}
		for k, d := range want {
			if _, ok := loops[k]; ok {
				continue
			}
			channel, _, _ := strings.Cut(k, "\x00")
			lctx, cancel := context.WithCancel(ctx)
			l := &loop{d: d, cancel: cancel, done: make(chan struct{})}
			loops[k] = l
			go func() {
				defer close(l.done)
				defer d.Sender.Close()
				e.dispatch(lctx, channel, d, e.wakeup(channel, d.Name))
			}()
		}
	}
	reconcile()
	for {
		select {
		case <-ctx.Done():
			for name, r := range readers {
				stopReader(name, r)
			}
			for k, l := range loops {
				stop(k, l)
			}
			wg.Wait()
			return
		case <-e.reconfigured:
			reconcile()
		}
	}
}

// wakeup returns the channel that tells a destination's loop new work is
// queued on this node.
func (e *Engine) wakeup(channel, dest string) chan struct{} {
	e.wakeMu.Lock()
	defer e.wakeMu.Unlock()
	key := channel + "\x00" + dest
	if e.wakes == nil {
		e.wakes = map[string]chan struct{}{}
	}
	if c, ok := e.wakes[key]; ok {
		return c
	}
	c := make(chan struct{}, 1)
	e.wakes[key] = c
	return c
}

// notify wakes the loops of a channel's destinations.
func (e *Engine) notify(channel string, dests []string) {
	for _, d := range dests {
		select {
		case e.wakeup(channel, d) <- struct{}{}:
		default:
		}
	}
}

// dispatch is one destination's loop: one message at a time, strictly
// in order, or several at once for a destination with Parallel > 1
// (parallel.go).
func (e *Engine) dispatch(ctx context.Context, channel string, d *Destination, wake <-chan struct{}) {
	log := e.opt.Logger.With("channel", channel, "destination", d.Name)
	var leasedUntil time.Time
	defer func() {
		if !leasedUntil.IsZero() {
			e.releaseLease(ctx, channel, d.Name)
		}
	}()
	if d.Parallel > 1 {
		e.dispatchParallel(ctx, channel, d, wake, &leasedUntil, log)
		return
	}
	for ctx.Err() == nil {
		if e.State(ctx, channel) == concord.ChannelStopped {
			sleep(ctx, nil, stateTTL) // a stopped channel delivers nothing
			continue
		}
		if !e.holdLease(ctx, channel, d.Name, &leasedUntil, log) {
			sleep(ctx, wake, leaseRetry)
			continue
		}
		now := e.opt.Now()
		head, msg, err := e.opt.Store.NextDelivery(ctx, channel, d.Name)
		if err != nil {
			log.Warn("reading the queue", "err", err)
			sleep(ctx, nil, leaseRetry)
			continue
		}
		if head == nil {
			sleep(ctx, wake, idlePoll)
			continue
		}
		if wait := head.NextAttempt.Sub(now); wait > 0 {
			sleep(ctx, nil, min(wait, leaseRenew))
			continue
		}
		if e.State(ctx, channel) == concord.ChannelStopped {
			continue // stopped while the queue was read
		}
		if !e.attempt(ctx, channel, d, head, msg, log) && ctx.Err() == nil {
			sleep(ctx, nil, time.Second)
		}
	}
}

// attempt delivers msg once for the delivery head and records the
// outcome. It reports false when nothing was recorded: the engine is
// shutting down (the attempt does not count) or the store failed to
// record it (logged; the delivery stays as it was and is tried again).
func (e *Engine) attempt(ctx context.Context, channel string, d *Destination, head *concord.Delivery, msg *concord.Message, log *slog.Logger) bool {
	if head.Payload != nil { // the channel's transformer wrote what to send
		sent := *msg
		sent.Raw = head.Payload
		msg = &sent
	}
	actx, cancel := context.WithTimeout(ctx, d.Timeout)
	res := d.Sender.Deliver(actx, msg)
	cancel()
	if ctx.Err() != nil && res.Err != nil {
		return false // shutting down: the attempt does not count
	}
	o := outcome(d, head.Attempts+1, res, e.opt.Now())
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	err := e.opt.Store.Update(rctx, func(tx concord.Tx) error { return tx.RecordAttempt(rctx, head.ID, o) })
	rcancel()
	if err != nil {
		log.Error("recording a delivery attempt", "delivery", head.ID, "err", err)
		return false
	}
	head.Status, head.Attempts, head.NextAttempt = o.Status, head.Attempts+1, o.NextAttempt
	e.progress.recorded(head.MessageID)
	if o.Status != concord.DeliveryQueued {
		if ch := e.channel(channel); ch != nil && ch.AppAck != nil && d.Name != ch.AppAck.Name {
			e.afterDestinations(ctx, ch, head.MessageID)
		}
	}
	outcomeLabel := map[string]string{concord.DeliverySent: "sent", concord.DeliveryDead: "dead"}[o.Status]
	if outcomeLabel == "" {
		outcomeLabel = "retry"
	}
	e.metrics.delivered.WithLabelValues(channel, d.Name, outcomeLabel).Inc()
	switch o.Status {
	case concord.DeliverySent:
		log.Debug("delivered", "message_id", msg.ID, "attempts", head.Attempts)
	case concord.DeliveryDead:
		log.Warn("delivery given up", "message_id", msg.ID, "attempts", head.Attempts, "err", o.Error)
	default:
		log.Info("delivery failed, will retry", "message_id", msg.ID, "attempts", head.Attempts,
			"next_attempt", o.NextAttempt, "err", o.Error)
	}
	return true
}

// holdLease renews this node's lease on a destination when it runs
// short, and reports whether this node holds it (else another node
// delivers; the caller waits and asks again).
func (e *Engine) holdLease(ctx context.Context, channel, dest string, until *time.Time, log *slog.Logger) bool {
	now := e.opt.Now()
	if until.Sub(now) >= leaseRenew {
		return true
	}
	ok, err := e.lease(ctx, channel, dest, now)
	if err != nil || !ok {
		if err != nil {
			log.Warn("destination lease", "err", err)
		}
		*until = time.Time{}
		return false
	}
	*until = now.Add(leaseFor)
	return true
}

func (e *Engine) lease(ctx context.Context, channel, dest string, now time.Time) (bool, error) {
	var ok bool
	err := e.opt.Store.Update(ctx, func(tx concord.Tx) error {
		var err error
		ok, err = tx.Lease(ctx, channel, dest, e.owner, now, now.Add(leaseFor))
		return err
	})
	return ok, err
}

// releaseLease gives up a lease this engine holds as its loop ends, so
// that the next holder (this node restarted, or another) need not wait
// for it to expire. A failure only means that wait.
func (e *Engine) releaseLease(ctx context.Context, channel, dest string) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	now := e.opt.Now()
	e.opt.Store.Update(rctx, func(tx concord.Tx) error {
		_, err := tx.Lease(rctx, channel, dest, e.owner, now, now)
		return err
	})
}

// outcome turns an attempt's result into the delivery's next state,
// following the destination's policy: transport failures and (by
// default) AE are retried with exponential backoff; AR (by default)
// stops the delivery for an operator; a limit on attempts ends retries.
func outcome(d *Destination, attempt int, r Result, now time.Time) concord.DeliveryOutcome {
	o := concord.DeliveryOutcome{At: now, PartnerAck: Truncate(r.Ack, 2000)}
	retry := false
	switch {
	case r.Err != nil:
		o.Error, retry = r.Err.Error(), true
	case r.Code == "AA":
		o.Status = concord.DeliverySent
		return o
	case r.Code == "AE":
		o.Error, retry = "partner answered AE", d.OnAE == "retry"
	default:
		o.Error, retry = "partner answered AR", d.OnAR == "retry"
	}
	if r.Reason != "" {
		o.Error += ": " + Truncate(r.Reason, 1000)
	}
	if !retry || (d.MaxAttempts > 0 && attempt >= d.MaxAttempts) {
		o.Status = concord.DeliveryDead
		return o
	}
	delay := d.RetryInitial
	for i := 1; i < attempt && delay < d.RetryMax; i++ {
		delay *= 2
	}
	o.Status, o.NextAttempt = concord.DeliveryQueued, now.Add(min(delay, d.RetryMax))
	return o
}

// sleep waits for d, a wake-up or the end of ctx.
func sleep(ctx context.Context, wake <-chan struct{}, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-wake:
	}
}
