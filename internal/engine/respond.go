package engine

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/hl7v2"
)

// DefaultRespondTimeout bounds the wait of a channel that answers after its
// destinations when its configuration gives no timeout.
const DefaultRespondTimeout = 10 * time.Second

// respondPoll is how often a waiting answer looks at the store, for
// deliveries recorded by another node.
const respondPoll = 250 * time.Millisecond

// progress lets answers that wait on a message's deliveries hear at once
// when this node records an attempt for that message.
type progress struct {
	mu      sync.Mutex
	waiters map[int64]*waiter
}

// waiter is the channel the answers waiting on one message share, and how
// many they are.
type waiter struct {
	c chan struct{}
	n int
}

// watch returns a channel closed at the next attempt recorded for the
// message; the caller calls unwatch when it stops waiting.
func (p *progress) watch(id int64) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.waiters == nil {
		p.waiters = map[int64]*waiter{}
	}
	w, ok := p.waiters[id]
	if !ok {
		w = &waiter{c: make(chan struct{})}
		p.waiters[id] = w
	}
	w.n++
	return w.c
}

// unwatch ends one wait on the message, so that nothing stays behind for
// a message whose deliveries this node never records again.
func (p *progress) unwatch(id int64, c <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if w, ok := p.waiters[id]; ok && w.c == c {
		if w.n--; w.n <= 0 {
			delete(p.waiters, id)
		}
	}
}

// recorded wakes whoever watches the message.
func (p *progress) recorded(id int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if w, ok := p.waiters[id]; ok {
		close(w.c)
		delete(p.waiters, id)
	}
}

// pending reports how many messages have answers waiting on them.
func (p *progress) pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.waiters)
}

// awaitDestinations waits until every delivery of message id is sent or
// dead, at most timeout, and returns the answer for the sender: AA when
// every destination took the message, else AE with one ERR per
// destination that gave it up or had not finished in time. Either way the
// message stays stored and its deliveries go on as their policies say.
func (e *Engine) awaitDestinations(ctx context.Context, id int64, timeout time.Duration) (hl7v2.AckCode, []hl7v2.Issue) {
	if timeout <= 0 {
		timeout = DefaultRespondTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		changed := e.progress.watch(id)
		ds, err := e.opt.Store.Deliveries(ctx, id)
		if err != nil && ctx.Err() == nil {
			e.opt.Logger.Warn("reading deliveries for an answer", "message_id", id, "err", err)
		}
		if err == nil {
			done := true
			for _, d := range ds {
				done = done && d.Status != concord.DeliveryQueued
			}
			if done {
				e.progress.unwatch(id, changed)
				return destinationAnswer(id, ds, 0)
			}
		}
		t := time.NewTimer(respondPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			e.progress.unwatch(id, changed)
			// Read once more without the spent deadline, to name what is late.
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			ds, err := e.opt.Store.Deliveries(rctx, id)
			rcancel()
			if err != nil {
				return hl7v2.AE, []hl7v2.Issue{{Code: hl7v2.CodeApplicationError, Severity: hl7v2.SeverityError,
					Text: fmt.Sprintf("destinations not confirmed within %s; the message is stored (id %d) and its deliveries go on", timeout, id)}}
			}
			return destinationAnswer(id, ds, timeout)
		case <-changed:
		case <-t.C:
		}
		t.Stop()
		e.progress.unwatch(id, changed) // a no-op if an attempt closed it
	}
}

// destinationAnswer turns a message's deliveries into an answer. late is
// the timeout that ran out, or 0 when every delivery is finished.
func destinationAnswer(id int64, ds []*concord.Delivery, late time.Duration) (hl7v2.AckCode, []hl7v2.Issue) {
	var issues []hl7v2.Issue
	for _, d := range ds {
		var text string
		switch d.Status {
		case concord.DeliverySent:
			continue
		case concord.DeliveryDead:
			text = fmt.Sprintf("destination %s did not take the message (id %d): %s", d.Destination, id, d.LastError)
		default:
			text = fmt.Sprintf("destination %s has not taken the message (id %d) within %s; it stays queued", d.Destination, id, late)
			if d.LastError != "" {
				text += ": " + d.LastError
			}
		}
		issues = append(issues, hl7v2.Issue{Code: hl7v2.CodeApplicationError, Severity: hl7v2.SeverityError, Text: Truncate(text, 400)})
	}
	if len(issues) == 0 {
		return hl7v2.AA, nil
	}
	return hl7v2.AE, issues
}
