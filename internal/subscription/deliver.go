package subscription

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/concord-health/concord"
)

// maxAnswer is how much of an endpoint's answer is read (and dropped).
const maxAnswer = 64 << 10

// deliverLoop starts a delivery worker for each subscription with events
// due, at most Workers at once; the matcher wakes it when it queues
// events, and it looks for due retries (and other nodes' events) every
// Poll.
func (m *Manager) deliverLoop(ctx context.Context) {
	client := m.httpClient()
	sem := make(chan struct{}, m.opt.Workers)
	defer func() {
		// Wait for the workers to finish their attempts, then give up the
		// leases still held so that another node need not wait for them.
		for i := 0; i < cap(sem); i++ {
			sem <- struct{}{}
		}
		client.CloseIdleConnections()
		m.mu.Lock()
		held := m.held
		m.held = map[string]time.Time{}
		m.mu.Unlock()
		for id, until := range held {
			if until.After(m.opt.Now()) {
				m.release(ctx, id)
			}
		}
	}()
	for ctx.Err() == nil {
		ids, err := m.opt.Store.PendingSubscriptions(ctx, m.opt.Now(), 100)
		if err != nil && ctx.Err() == nil {
			m.log.Warn("subscriptions pending delivery", "err", err)
		}
		for _, id := range ids {
			m.mu.Lock()
			busy := m.running[id]
			if !busy {
				m.running[id] = true
			}
			m.mu.Unlock()
			if busy {
				continue
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				m.mu.Lock()
				delete(m.running, id)
				m.mu.Unlock()
				return
			}
			go func() {
				again := false
				defer func() {
					m.mu.Lock()
					delete(m.running, id)
					m.mu.Unlock()
					<-sem
					if again {
						// An event queued while this worker was finishing
						// was passed over above (busy): look again.
						poke(m.deliverC)
					}
				}()
				again = m.deliver(ctx, client, id)
			}()
		}
		sleep(ctx, m.deliverC, m.opt.Poll)
	}
}

// deliver sends a subscription's due events in order while this node
// holds its lease; it returns when none is due (nothing left, or waiting
// for a retry), when the subscription is not active, or when ctx ends.
// It reports whether it ended with nothing due (then an event queued
// while it was finishing may have been passed over: look again).
//
// The lease stays held (and is renewed) between runs while this node
// delivers the subscription, so a burst of events costs no lease writes;
// the leases still held are given up when the deliverer stops.
func (m *Manager) deliver(ctx context.Context, client *http.Client, id string) bool {
	for ctx.Err() == nil {
		now := m.opt.Now()
		m.mu.Lock()
		leasedUntil := m.held[id]
		m.mu.Unlock()
		if leasedUntil.Sub(now) < leaseRenew {
			ok, err := m.lease(ctx, id, now, now.Add(leaseFor))
			m.mu.Lock()
			if err != nil || !ok {
				delete(m.held, id)
			} else {
				m.held[id] = now.Add(leaseFor)
			}
			m.mu.Unlock()
			if err != nil || !ok {
				return false // another node delivers it
			}
		}
		more, err := m.deliverNext(ctx, client, id, now)
		if err != nil {
			if ctx.Err() == nil {
				m.log.Warn("subscription delivery", "subscription", id, "err", err)
			}
			return false // the store failed: tried again at the next poll
		}
		if !more {
			return true
		}
	}
	return false
}

// deliverNext makes one attempt at the subscription's next event and
// reports whether another attempt is due at once. An error means the
// store failed.
func (m *Manager) deliverNext(ctx context.Context, client *http.Client, id string, now time.Time) (bool, error) {
	st, err := m.opt.Store.Subscription(ctx, id)
	if err != nil {
		return false, err
	}
	queued := st.Events > st.Delivered
	beat := st.Heartbeat > 0 && !st.LastSent.Add(st.Heartbeat).After(now)
	if st.NextAttempt.After(now) || (!queued && !st.Handshake && !beat) {
		return false, nil
	}
	res, err := m.opt.Store.Resource(ctx, "Subscription", id)
	if concord.ErrorCode(err) == concord.ENOTFOUND {
		return false, m.park(ctx, st)
	} else if err != nil {
		return false, err
	}
	if res.Deleted {
		return false, m.park(ctx, st) // its events wait, should it be written again
	}
	s, err := parseSub(res.Content)
	if err == nil && st.Handshake && s.Status == statusRequested {
		return false, m.handshake(ctx, client, res, s, st)
	}
	if err != nil || s.Status != statusActive {
		return false, m.park(ctx, st) // off or error: its events wait
	}
	pl, err := s.check(ctx, m.storeFinder)
	switch concord.ErrorCode(err) {
	case "":
	case concord.EINVALID, concord.EUNSUPPORTED:
		m.stopWith(ctx, res, "this Subscription can no longer be served: "+concord.ErrorMessage(err))
		return false, m.park(ctx, st)
	default:
		return false, err // the store failed reading topics
	}
	p, reason, err := m.ownerPrincipal(ctx, st, now)
	if err != nil {
		return false, err
	}
	for _, typ := range pl.types() {
		if reason != "" {
			break
		}
		if _, err := concord.Authorize(p, concord.Action{ResourceType: typ, Ops: concord.OpRead | concord.OpSearch}); err != nil {
			reason = "the writer of this Subscription may no longer read " + typ + ": " + err.Error()
		}
	}
	if reason != "" {
		m.stopWith(ctx, res, reason)
		return false, m.park(ctx, st)
	}
	if !queued {
		return false, m.heartbeat(ctx, client, s, st)
	}
	evs, err := m.opt.Store.SubscriptionEvents(ctx, id, st.Delivered+1, st.Delivered+1, 1)
	if err != nil {
		return false, err
	}
	if len(evs) == 0 {
		return false, concord.Errorf(concord.EINTERNAL, "subscription %s: event %d is missing", id, st.Delivered+1)
	}
	ev := evs[0]
	var sendErr error
	if s.Channel.Type == channelRestHook {
		sendErr = m.send(ctx, client, s, st, ev)
		m.metrics.attempt("event", sendErr)
		if sendErr == nil {
			m.metrics.latency.Observe(m.opt.Now().Sub(ev.At).Seconds())
		}
	}
	// A websocket subscription's events are read by number by the
	// connections bound to it (websocket.go): there is nothing to send
	// here, the event is only passed.
	at := m.opt.Now()
	a := concord.SubscriptionAttempt{Number: ev.Number, At: at, OK: sendErr == nil}
	if sendErr != nil {
		a.Error = truncate(sendErr.Error(), 1000)
		a.Next = at.Add(m.backoff(st.Attempts + 1))
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := m.opt.Store.Update(rctx, func(tx concord.Tx) error { return tx.RecordNotification(rctx, id, a) }); err != nil {
		return false, err
	}
	switch {
	case sendErr == nil && s.Error != "":
		// Delivering again: the error the subscription showed is over.
		m.setStatus(rctx, id, res.Version, res.Content, statusActive, "")
	case sendErr != nil && !st.FailingSince.IsZero() && at.Sub(st.FailingSince) >= m.opt.GiveUp:
		m.setStatus(rctx, id, res.Version, res.Content, statusError, fmt.Sprintf(
			"notifications failed for %s (%d attempts), given up: %s; events wait from number %d — set status to requested to resume",
			at.Sub(st.FailingSince).Round(time.Second), st.Attempts+1, a.Error, ev.Number))
		return false, m.park(rctx, st)
	case sendErr != nil && st.Attempts == 0:
		// The first failure of a run: the subscription says so (once).
		m.setStatus(rctx, id, res.Version, res.Content, statusActive, "notification failed, retrying: "+a.Error)
	}
	return sendErr == nil, nil
}

// stopWith sets res (an active Subscription) to error with the reason.
func (m *Manager) stopWith(ctx context.Context, res *concord.Resource, reason string) {
	if err := m.setStatus(ctx, res.ID, res.Version, res.Content, statusError, reason); err != nil {
		m.log.Warn("subscription status", "subscription", res.ID, "err", err)
	}
}

// backoff is the wait before attempt n+1 after n failures: RetryMin
// doubled each time, at most RetryMax.
func (m *Manager) backoff(n int) time.Duration {
	d := m.opt.RetryMin
	for i := 1; i < n && d < m.opt.RetryMax; i++ {
		d *= 2
	}
	return min(d, m.opt.RetryMax)
}

// send makes one rest-hook notification of ev. Following R4
// (subscription.html, rest-hook): with no payload, a POST with no body
// to the endpoint; with a payload type, the resource version itself as a
// PUT to [endpoint]/[type]/[id], in that type. A topic-based
// subscription (R5 Backport) gets a POST of a notification Bundle
// instead. Any 2xx answer is success.
func (m *Manager) send(ctx context.Context, client *http.Client, s *sub, st *concord.SubscriptionState, ev *concord.SubscriptionEvent) error {
	method, target := http.MethodPost, s.Channel.Endpoint
	var body []byte
	switch {
	case s.topic() != "":
		return m.notify(ctx, client, s, st, typeEventNotification, []*concord.SubscriptionEvent{ev})
	case s.Channel.Payload != "":
		r, err := m.readVersion(ctx, ev)
		if err != nil {
			return err
		}
		method, target, body = http.MethodPut, strings.TrimSuffix(target, "/")+"/"+ev.Type+"/"+ev.ID, r
	}
	return m.post(ctx, client, s, method, target, body)
}

// notify sends a topic-based subscription a notification Bundle of the
// given type (handshake, heartbeat, event-notification) as a POST to its
// endpoint.
func (m *Manager) notify(ctx context.Context, client *http.Client, s *sub, st *concord.SubscriptionState, kind string, evs []*concord.SubscriptionEvent) error {
	b := &statusBundle{bundleType: "history", kind: kind, sub: s, state: st, events: evs, content: s.content(), now: m.opt.Now()}
	body, err := b.build(ctx, m.readVersion)
	if err != nil {
		return err
	}
	if s.Channel.Payload == "" {
		s.Channel.Payload = "application/fhir+json"
	}
	return m.post(ctx, client, s, http.MethodPost, s.Channel.Endpoint, body)
}

// post makes one request to a rest-hook endpoint: body (none when nil)
// in the subscription's payload type, with its headers.
func (m *Manager) post(ctx context.Context, client *http.Client, s *sub, method, target string, body []byte) error {
	// An attempt in flight finishes (within Timeout) when ctx ends, so a
	// notification the endpoint took is recorded before Concord stops,
	// and not sent again after the restart.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.opt.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, method, target, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body == nil {
		req.Body, req.ContentLength = http.NoBody, 0
	} else {
		req.Header.Set("Content-Type", s.Channel.Payload)
	}
	hs, _ := s.headers()
	for _, h := range hs {
		req.Header.Add(h[0], h[1])
	}
	req.Header.Set("User-Agent", "Concord/"+concord.Version+" (FHIR subscription)")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("the endpoint answered %s", resp.Status)
	}
	return nil
}

// readVersion returns the content of the version an event names.
func (m *Manager) readVersion(ctx context.Context, ev *concord.SubscriptionEvent) ([]byte, error) {
	r, err := m.opt.Store.ResourceVersion(ctx, ev.Type, ev.ID, ev.Version)
	if err != nil {
		return nil, fmt.Errorf("reading %s/%s version %d: %w", ev.Type, ev.ID, ev.Version, err)
	}
	return r.Content, nil
}

// park stops looking at a subscription that may not be delivered now
// (not active, deleted, its owner gone) until a client activates it
// again; its events stay queued.
func (m *Manager) park(ctx context.Context, st *concord.SubscriptionState) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	return m.opt.Store.Update(rctx, func(tx concord.Tx) error {
		return tx.ParkSubscription(rctx, st.ID, st.UpdatedAt, m.opt.Now())
	})
}

// handshake sends a topic-based subscription's handshake (R5 Backport):
// taken, the subscription becomes active; refused or failed, it becomes
// error, and a client asks again by writing it requested.
func (m *Manager) handshake(ctx context.Context, client *http.Client, res *concord.Resource, s *sub, st *concord.SubscriptionState) error {
	sendErr := m.notify(ctx, client, s, st, typeHandshake, nil)
	m.metrics.attempt(typeHandshake, sendErr)
	at := m.opt.Now()
	a := concord.SubscriptionAttempt{Handshake: true, At: at, OK: sendErr == nil}
	if sendErr != nil {
		a.Error, a.Next = truncate("handshake: "+sendErr.Error(), 1000), at
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := m.opt.Store.Update(rctx, func(tx concord.Tx) error { return tx.RecordNotification(rctx, st.ID, a) }); err != nil {
		return err
	}
	if sendErr != nil {
		return m.setStatus(rctx, st.ID, res.Version, res.Content, statusError, "the handshake failed: "+a.Error)
	}
	return m.setStatus(rctx, st.ID, res.Version, res.Content, statusActive, "")
}

// heartbeat sends a heartbeat notification to a topic-based subscription
// that sent nothing for its heartbeat period; a failure is retried as an
// event's would be.
func (m *Manager) heartbeat(ctx context.Context, client *http.Client, s *sub, st *concord.SubscriptionState) error {
	sendErr := m.notify(ctx, client, s, st, typeHeartbeat, nil)
	m.metrics.attempt(typeHeartbeat, sendErr)
	at := m.opt.Now()
	a := concord.SubscriptionAttempt{At: at, OK: sendErr == nil}
	if sendErr != nil {
		a.Error, a.Next = truncate("heartbeat: "+sendErr.Error(), 1000), at.Add(m.backoff(st.Attempts+1))
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	return m.opt.Store.Update(rctx, func(tx concord.Tx) error { return tx.RecordNotification(rctx, st.ID, a) })
}
