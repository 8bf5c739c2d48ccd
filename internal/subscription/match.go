package subscription

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/fhirpath"
	"github.com/concord-health/concord/internal/fhirapi"
	"github.com/concord-health/concord/internal/search"
)

// maxActive caps the active subscriptions the matcher reads.
const maxActive = 1000

// active is an active subscription as the matcher uses it, for one
// resource type: a version of that type matches when one of alts does.
type active struct {
	id   string
	typ  string
	alts []alt
	s    *sub
}

// activeCache holds the active subscriptions, read again when any
// Subscription was written (the store's resource stamp changed), when a
// Basic (a topic) was if some are on topics defined by clients, and
// every activeFor (so that an end time passes).
type activeCache struct {
	stamp, topics concord.ResourceStamp
	clientTopics  bool // some are on topics defined by clients (then topics is checked)
	at            time.Time
	byType        map[string][]active
}

// activeFor is how long the active subscriptions are kept when none is
// written.
const activeFor = time.Minute

// matchLoop follows the change log while this node holds the matcher's
// lease.
func (m *Manager) matchLoop(ctx context.Context) {
	var leasedUntil time.Time
	defer func() {
		if !leasedUntil.IsZero() {
			m.release(ctx, matchLease)
		}
	}()
	for ctx.Err() == nil {
		now := m.opt.Now()
		if leasedUntil.Sub(now) < leaseRenew {
			ok, err := m.lease(ctx, matchLease, now, now.Add(leaseFor))
			if err != nil || !ok {
				if err != nil && ctx.Err() == nil {
					m.log.Warn("subscription matcher lease", "err", err)
				}
				leasedUntil = time.Time{}
				sleep(ctx, nil, leaseRetry)
				continue
			}
			leasedUntil = now.Add(leaseFor)
		}
		n, err := m.matchRound(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			m.log.Warn("matching subscriptions", "err", err)
			sleep(ctx, nil, leaseRetry)
			continue
		}
		if n < matchBatch {
			sleep(ctx, m.matchC, m.opt.Poll)
		}
	}
}

// matchRound matches one batch of the change log against the active
// subscriptions and commits their events with the cursor's move; it
// returns how many changes it read.
func (m *Manager) matchRound(ctx context.Context) (int, error) {
	st := m.opt.Store
	// Migration 0009 set the cursor at the head of the change log as it
	// was then, before any Subscription could be admitted; without it the
	// matcher starts at the beginning (nothing is missed).
	cursor, _, err := st.Cursor(ctx, cursorName)
	if err != nil {
		return 0, err
	}
	changes, err := st.Changes(ctx, cursor, matchBatch)
	if err != nil || len(changes) == 0 {
		return 0, err
	}
	read := len(changes)
	if st.Kind() == "postgres" {
		changes = m.gap.Until(cursor, changes, m.opt.Now(), gapGrace)
		if len(changes) == 0 {
			return 0, nil
		}
	}
	subs, err := m.active(ctx)
	if err != nil {
		return 0, err
	}
	now := m.opt.Now()
	owners := map[string]*owner{}
	var events []concord.SubscriptionEvent
	ended := map[string]bool{}
	for _, c := range changes {
		in := &inputs{}
		if c.Deleted {
			continue // a deletion matches no search
		}
		for _, a := range subs[c.Type] {
			if a.s.ended(now) {
				ended[a.id] = true
				continue
			}
			o, ok := owners[a.id+" "+a.typ]
			if !ok {
				if o, err = m.ownerOf(ctx, a, now); err != nil {
					return 0, err
				}
				owners[a.id+" "+a.typ] = o
			}
			if o.reason != "" {
				continue
			}
			hit, err := m.matches(ctx, a, o, c, in, now)
			switch concord.ErrorCode(err) {
			case "":
			case concord.EINVALID, concord.EUNSUPPORTED, concord.ETOOLARGE:
				// This subscription's search cannot run: it stops, the
				// others go on.
				o.reason = "the criteria cannot be searched: " + concord.ErrorMessage(err)
				continue
			default:
				return 0, err // the store failed: the batch is read again
			}
			if hit {
				events = append(events, concord.SubscriptionEvent{Subscription: a.id, Type: c.Type, ID: c.ID,
					Version: c.Version, Seq: c.Seq, At: c.LastUpdated})
			}
		}
	}
	to := changes[len(changes)-1].Seq
	if err := st.Update(ctx, func(tx concord.Tx) error {
		for i := range events {
			e := events[i] // this function may run again: copy
			if err := tx.AppendSubscriptionEvent(ctx, &e); err != nil {
				return err
			}
		}
		return tx.MoveCursor(ctx, cursorName, cursor, to, now)
	}); err != nil {
		return 0, err
	}
	if len(events) > 0 {
		m.metrics.events.Add(float64(len(events)))
		poke(m.deliverC)
		m.eventsQueued()
	}
	for id := range ended {
		m.end(ctx, id)
	}
	// Subscriptions whose owner may no longer see anything stop.
	for key, o := range owners {
		if o.reason != "" {
			id, _, _ := strings.Cut(key, " ")
			m.stop(ctx, id, o.reason)
		}
	}
	if len(changes) < read {
		return len(changes), nil
	}
	return read, nil
}

// owner is who a subscription notifies for, as a round sees it.
type owner struct {
	p       *concord.Principal
	reason  string                     // why it may no longer be notified (token revoked, rights gone)
	compart *concord.SearchCompartment // the patient compartment it is limited to, if any
}

// ownerOf reads a subscription's owner and its rights on the criteria's
// type.
func (m *Manager) ownerOf(ctx context.Context, a active, now time.Time) (*owner, error) {
	st, err := m.opt.Store.Subscription(ctx, a.id)
	if concord.ErrorCode(err) == concord.ENOTFOUND {
		return &owner{reason: "this Subscription was stored without an owner (not through the FHIR API): write it again"}, nil
	} else if err != nil {
		return nil, err
	}
	p, reason, err := m.ownerPrincipal(ctx, st, now)
	if err != nil || reason != "" {
		return &owner{reason: reason}, err
	}
	g, err := concord.Authorize(p, concord.Action{ResourceType: a.typ, Ops: concord.OpRead | concord.OpSearch})
	if err != nil {
		return &owner{reason: "the writer of this Subscription may no longer read " + a.typ + ": " + err.Error()}, nil
	}
	o := &owner{p: p}
	if g.Patient != "" {
		o.compart = fhirapi.PatientCompartment(g.Patient, a.typ)
	}
	return o, nil
}

// matches reports whether version c matches subscription a: one of its
// alternatives takes c's interaction (version 1 is a create, any other
// an update), its FHIRPath criterion holds (with %current c and
// %previous the version before, empty for a create), and its search,
// limited to c's id (and to the owner's patient compartment), finds it
// at c's version. Matching runs the store's own search, so a
// subscription matches exactly what a client's search would return. The
// search sees the resource's current version: a version already
// replaced when the matcher reaches it is judged by its successor's
// change instead (a quick run of updates notifies once).
func (m *Manager) matches(ctx context.Context, a active, o *owner, c *concord.Resource, in *inputs, now time.Time) (bool, error) {
	for _, x := range a.alts {
		if (c.Version == 1 && !x.create) || (c.Version > 1 && !x.update) {
			continue
		}
		if x.fhirPath != nil {
			if in.cur == nil {
				var err error
				if in.cur, in.prev, err = m.versions(ctx, c); err != nil {
					return false, err
				}
			}
			opt := &fhirpath.Options{Context: ctx, Now: now, MaxSteps: maxTopicSteps,
				Variables: map[string]fhirpath.Collection{"current": in.cur, "previous": in.prev}}
			out, err := x.fhirPath.EvaluateOn(in.cur, in.cur, opt)
			if err != nil {
				if ctx.Err() != nil {
					return false, ctx.Err()
				}
				return false, concord.Errorf(concord.EINVALID, "the topic's fhirPathCriteria failed on %s/%s: %v", c.Type, c.ID, err)
			}
			if !isTrue(out) {
				continue
			}
		}
		hit, err := m.found(ctx, a, x.params, o, c, now)
		if err != nil || hit {
			return hit, err
		}
	}
	return false, nil
}

// inputs are a change's version and the one before it as FHIRPath
// inputs, read once for every subscription whose topic needs them.
type inputs struct {
	cur, prev fhirpath.Collection
}

// found reports whether the search typ?params, limited to c's id (and to
// the owner's patient compartment), finds c at its version.
func (m *Manager) found(ctx context.Context, a active, params url.Values, o *owner, c *concord.Resource, now time.Time) (bool, error) {
	req, err := search.Parse(a.typ, params, search.Options{Strict: true, Now: now})
	if err != nil {
		m.log.Warn("subscription criteria", "subscription", a.id, "err", err)
		return false, nil
	}
	q := req.Query
	q.Where = append(slices.Clone(q.Where), concord.SearchClause{Param: "_id", Kind: concord.SearchKindID,
		Values: []concord.SearchValue{{Code: c.ID}}})
	q.Count, q.Offset, q.Total, q.Sort, q.Compartment = 1, 0, false, nil, o.compart
	page, _, err := m.opt.Store.Search(ctx, &q)
	if err != nil {
		return false, err
	}
	return len(page) == 1 && page[0].Version == c.Version, nil
}

// versions returns version c and the one before it (empty when c is the
// first, or follows a deletion) as FHIRPath inputs.
func (m *Manager) versions(ctx context.Context, c *concord.Resource) (cur, prev fhirpath.Collection, err error) {
	in := func(content []byte) (fhirpath.Collection, error) {
		doc, err := fhirpath.ParseJSON(content)
		if err != nil {
			return nil, concord.Errorf(concord.EINVALID, "%s/%s does not read: %v", c.Type, c.ID, err)
		}
		return fhirpath.Resource(doc.Root())
	}
	if cur, err = in(c.Content); err != nil {
		return nil, nil, err
	}
	prev = fhirpath.Collection{}
	if c.Version > 1 {
		p, err := m.opt.Store.ResourceVersion(ctx, c.Type, c.ID, c.Version-1)
		switch {
		case concord.ErrorCode(err) == concord.ENOTFOUND:
		case err != nil:
			return nil, nil, err
		case !p.Deleted:
			if prev, err = in(p.Content); err != nil {
				return nil, nil, err
			}
		}
	}
	return cur, prev, nil
}

// isTrue reports whether a FHIRPath result is a single true.
func isTrue(out fhirpath.Collection) bool {
	if len(out) != 1 {
		return false
	}
	k := out[0].Kind()
	if k != fhirpath.KindBoolean && (k != fhirpath.KindNode || out[0].TypeName() != "FHIR.boolean") {
		return false
	}
	return out[0].String() == "true"
}

// active returns the active subscriptions by criteria type.
func (m *Manager) active(ctx context.Context) (map[string][]active, error) {
	stamp, err := m.opt.Store.ResourceStamp(ctx, "Subscription")
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	c := m.cache
	m.mu.Unlock()
	if c != nil && c.stamp == stamp && m.opt.Now().Sub(c.at) < activeFor {
		if !c.clientTopics {
			return c.byType, nil // topics written do not concern it
		}
		topics, err := m.opt.Store.ResourceStamp(ctx, "Basic")
		if err != nil {
			return nil, err
		}
		if topics == c.topics {
			return c.byType, nil
		}
	}
	// Read before the topics, so that one written meanwhile changes it.
	topics, err := m.opt.Store.ResourceStamp(ctx, "Basic")
	if err != nil {
		return nil, err
	}
	q := &concord.SearchQuery{Type: "Subscription", Count: maxActive,
		Where: []concord.SearchClause{{Param: "status", Kind: "token", Values: []concord.SearchValue{{Code: statusActive}}}}}
	page, _, err := m.opt.Store.Search(ctx, q)
	if err != nil {
		return nil, err
	}
	if len(page) == maxActive {
		m.log.Warn("subscriptions: more active subscriptions than the matcher reads", "max", maxActive)
	}
	byType := map[string][]active{}
	clientTopics := false
	now := m.opt.Now()
	for _, r := range page {
		s, err := parseSub(r.Content)
		if err != nil {
			continue
		}
		if s.ended(now) {
			m.end(ctx, r.ID)
			continue
		}
		pl, err := s.check(ctx, m.storeFinder)
		switch code := concord.ErrorCode(err); {
		case err == nil:
		case code != concord.EINVALID && code != concord.EUNSUPPORTED:
			return nil, err // the store failed reading topics
		case s.clientTopic():
			// Its topic was retired, deleted or changed into one this
			// server cannot serve: it stops, saying why.
			m.stop(ctx, r.ID, "the topic can no longer be served: "+concord.ErrorMessage(err))
			continue
		default:
			m.log.Warn("subscription not served", "subscription", r.ID, "err", err)
			continue
		}
		clientTopics = clientTopics || s.clientTopic()
		for _, typ := range pl.types() {
			byType[typ] = append(byType[typ], active{id: r.ID, typ: typ, alts: pl[typ], s: s})
		}
	}
	m.mu.Lock()
	m.cache = &activeCache{stamp: stamp, topics: topics, clientTopics: clientTopics, at: now, byType: byType}
	m.mu.Unlock()
	return byType, nil
}

// stop sets a subscription that may no longer notify to error, saying
// why.
func (m *Manager) stop(ctx context.Context, id, reason string) {
	r, err := m.opt.Store.Resource(ctx, "Subscription", id)
	if err != nil || r.Deleted {
		return
	}
	s, err := parseSub(r.Content)
	if err != nil || s.Status != statusActive {
		return
	}
	if err := m.setStatus(ctx, id, r.Version, r.Content, statusError, reason); err != nil {
		m.log.Warn("subscription status", "subscription", id, "err", err)
	}
}

// end turns off a subscription whose end time has passed
// (Subscription.end).
func (m *Manager) end(ctx context.Context, id string) {
	r, err := m.opt.Store.Resource(ctx, "Subscription", id)
	if err != nil || r.Deleted {
		return
	}
	if s, err := parseSub(r.Content); err != nil || s.Status != statusActive {
		return
	}
	if err := m.setStatus(ctx, id, r.Version, r.Content, statusOff, ""); err != nil {
		m.log.Warn("subscription status", "subscription", id, "err", err)
	}
}
