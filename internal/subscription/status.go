package subscription

import (
	"net/http"
	"strconv"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/fhirapi"
	"github.com/concord-health/concord/internal/httperr"
)

// maxEventsPage is how many events one $events answer holds at most.
const maxEventsPage = 100

// registerStatus adds $status and $events (R5 Backport operations, for
// topic-based and R4 criteria subscriptions alike).
func (m *Manager) registerStatus(r Router) {
	access := concord.Access{Action: concord.Action{ResourceType: "Subscription", Ops: concord.OpRead}, Audit: concord.AuditRead}
	r.Handle("GET /fhir/Subscription/{id}/$status", access, http.HandlerFunc(m.serveStatus))
	r.Handle("GET /fhir/Subscription/{id}/$events", access, http.HandlerFunc(m.serveEvents))
}

// subscriptionOf reads the Subscription a request names, and its state.
func (m *Manager) subscriptionOf(r *http.Request) (*sub, *concord.SubscriptionState, error) {
	id := r.PathValue("id")
	if !concord.IsFHIRID(id) {
		return nil, nil, concord.Errorf(concord.EINVALID, "%q is not a FHIR id", id)
	}
	res, err := m.opt.Store.Resource(r.Context(), "Subscription", id)
	if err != nil {
		return nil, nil, err
	}
	concord.NoteAudit(r.Context(), "Subscription/"+id, "")
	if res.Deleted {
		return nil, nil, concord.Errorf(concord.EGONE, "Subscription/%s was deleted", id)
	}
	s, err := parseSub(res.Content)
	if err != nil {
		return nil, nil, err
	}
	s.ID = id
	st, err := m.opt.Store.Subscription(r.Context(), id)
	if concord.ErrorCode(err) == concord.ENOTFOUND {
		st, err = &concord.SubscriptionState{ID: id}, nil
	}
	return s, st, err
}

// serveStatus is GET /fhir/Subscription/{id}/$status: a searchset Bundle
// holding the subscription-status Parameters (query-status): status,
// topic, events since the start, the last error, and Concord's counts of
// events delivered and failed attempts.
func (m *Manager) serveStatus(w http.ResponseWriter, r *http.Request) {
	s, st, err := m.subscriptionOf(r)
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	b := &statusBundle{base: fhirapi.BaseURL(r), bundleType: "searchset", kind: typeQueryStatus, sub: s, state: st, now: m.opt.Now()}
	body, err := b.build(r.Context(), nil)
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	writeJSON(w, body)
}

// serveEvents is GET /fhir/Subscription/{id}/$events: the events
// numbered eventsSinceNumber to eventsUntilNumber (at most 100; the
// newest 100 by default) as a history Bundle, so a client catches up on
// what it missed. content (empty, id-only, full-resource) defaults to
// the subscription's own. Only the subscription's owner, or a caller
// who may read and search its criteria's type for every patient, may
// list them.
func (m *Manager) serveEvents(w http.ResponseWriter, r *http.Request) {
	s, st, err := m.subscriptionOf(r)
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	typ, _, err := s.criteria()
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	p := concord.PrincipalFrom(r.Context())
	if p == nil || p.Actor != st.Owner {
		if g, err := concord.Authorize(p, concord.Action{ResourceType: typ, Ops: concord.OpRead | concord.OpSearch}); err != nil || g.Patient != "" {
			httperr.Write(w, r, concord.Errorf(concord.EFORBIDDEN,
				"only the subscription's owner, or a caller who may search %s for every patient, may list its events", typ))
			return
		}
	}
	q := r.URL.Query()
	num := func(name string, def int64) (int64, error) {
		v := q.Get(name)
		if v == "" {
			return def, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return 0, concord.Errorf(concord.EINVALID, "%s %q is not a positive event number", name, v)
		}
		return n, nil
	}
	until, err := num("eventsUntilNumber", st.Events)
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	since, err := num("eventsSinceNumber", max(1, min(until, st.Events)-maxEventsPage+1))
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	content := q.Get("content")
	switch content {
	case "":
		content = s.content()
		if s.topic() == "" {
			content = contentIDOnly
			if s.Channel.Payload != "" {
				content = contentFull
			}
		}
	case contentEmpty, contentIDOnly, contentFull:
	default:
		httperr.Write(w, r, concord.Errorf(concord.EINVALID, "content %q is not empty, id-only or full-resource", content))
		return
	}
	var evs []*concord.SubscriptionEvent
	if since <= until {
		if evs, err = m.opt.Store.SubscriptionEvents(r.Context(), s.ID, since, until, maxEventsPage); err != nil {
			httperr.Write(w, r, err)
			return
		}
	}
	b := &statusBundle{base: fhirapi.BaseURL(r), bundleType: "history", kind: typeQueryEvent, sub: s, state: st,
		events: evs, content: content, now: m.opt.Now()}
	body, err := b.build(r.Context(), m.readVersion)
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	writeJSON(w, body)
}

// writeJSON answers 200 with a FHIR JSON body.
func writeJSON(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}
