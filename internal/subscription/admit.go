package subscription

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/search"
)

// Subscription statuses (R4 subscription-status).
const (
	statusRequested = "requested"
	statusActive    = "active"
	statusError     = "error"
	statusOff       = "off"
)

// internalKey marks the manager's own writes (status changes): they keep
// the subscription's owner.
type internalKey struct{}

// Admit checks a Subscription being stored (fhirapi.SubscriptionGate).
// A subscription asked for (status requested, or active) must have
// criteria the search parser accepts, a channel this server serves, and
// a writer who may search the criteria's type: it becomes active (a
// topic-based rest-hook one stays requested until its handshake is
// taken) and the writer becomes its owner, on whose behalf it notifies; anything else
// refuses the write (400, or 403 for the writer's rights). Status off and
// error are stored as written (the writer still becomes the owner).
func (m *Manager) Admit(ctx context.Context, tx concord.Tx, r *concord.Resource) ([]byte, error) {
	if ctx.Value(internalKey{}) != nil {
		return nil, nil
	}
	s, err := parseSub(r.Content)
	if err != nil {
		return nil, err
	}
	p := concord.PrincipalFrom(ctx)
	if p == nil {
		return nil, concord.Errorf(concord.EFORBIDDEN, "a Subscription needs an authenticated writer to notify for")
	}
	switch s.Status {
	case statusRequested, statusActive, statusOff, statusError:
	default:
		return nil, concord.Errorf(concord.EINVALID, "Subscription.status %q is not requested, active, error or off", s.Status)
	}
	activate := s.Status == statusRequested || s.Status == statusActive
	pl, err := s.plan(ctx, txFinder(tx))
	if code := concord.ErrorCode(err); !activate && s.clientTopic() && (code == concord.EINVALID || code == concord.EUNSUPPORTED) {
		// Off or error, it is not served: its topic need not be (one
		// whose topic was retired may still be turned off). Written
		// requested again, it is checked in full.
		pl, err = plan{}, nil
	}
	if err == nil {
		err = s.checkChannel()
	}
	if err != nil {
		return nil, err
	}
	for _, typ := range pl.types() {
		for _, a := range pl[typ] {
			if _, err := search.Parse(typ, a.params, search.Options{Strict: true, Now: m.opt.Now()}); err != nil {
				return nil, concord.Errorf(concord.EINVALID, "Subscription.criteria %q: %v", truncate(s.Criteria, 200), err)
			}
		}
		if _, err := concord.Authorize(p, concord.Action{ResourceType: typ, Ops: concord.OpRead | concord.OpSearch}); err != nil {
			return nil, concord.Errorf(concord.EFORBIDDEN, "the writer of a Subscription must be allowed to read and search what it subscribes to: %v", err)
		}
	}
	st := &concord.SubscriptionState{ID: r.ID, Owner: p.Actor, Role: p.Role, Patient: p.Patient,
		Handshake: activate && s.handshakes(), Heartbeat: s.heartbeat()}
	for _, sc := range p.Scopes {
		st.Scopes = append(st.Scopes, sc.Raw)
	}
	if err := tx.PutSubscription(ctx, st, activate, r.LastUpdated); err != nil {
		return nil, err
	}
	if r.Version > 1 {
		// Created anew under the id of a deleted Subscription: the events
		// queued for that one (matched for its owner) are not sent.
		cur, err := tx.CurrentResource(ctx, "Subscription", r.ID)
		if err != nil {
			return nil, err
		}
		if cur == nil || cur.Deleted {
			if err := tx.SkipSubscriptionEvents(ctx, r.ID); err != nil {
				return nil, err
			}
		}
	}
	switch {
	case !activate:
		return nil, nil
	case st.Handshake:
		// Activated by the handshake the deliverer sends (R5 Backport):
		// requested until the endpoint takes it.
		if s.Status == statusRequested && s.Error == "" {
			return nil, nil
		}
		return withStatus(r.Content, statusRequested, "")
	case s.Status == statusActive && s.Error == "":
		return nil, nil
	}
	return withStatus(r.Content, statusActive, "")
}

// ownerPrincipal returns the principal a subscription notifies for, or
// a reason it may no longer: its token was revoked or expired.
func (m *Manager) ownerPrincipal(ctx context.Context, st *concord.SubscriptionState, now time.Time) (*concord.Principal, string, error) {
	tok, err := m.opt.Store.Token(ctx, st.Owner)
	switch {
	case err == nil:
		if s := tok.Status(now); s != "active" {
			return nil, fmt.Sprintf("the token %s that wrote this Subscription is %s: write it again with a live token", st.Owner, s), nil
		}
		p, err := tok.Principal()
		if err != nil {
			return nil, "the token that wrote this Subscription is no longer valid: " + err.Error(), nil
		}
		return p, "", nil
	case concord.ErrorCode(err) == concord.ENOTFOUND:
		// Not a token: an operator at the command line (concord import) or
		// a channel of this server; its rights are those it wrote with.
		p := &concord.Principal{Actor: st.Owner, Role: st.Role, Patient: st.Patient}
		for _, raw := range st.Scopes {
			sc, err := concord.ParseScope(raw)
			if err != nil {
				return nil, "the scopes this Subscription was written with no longer parse: " + err.Error(), nil
			}
			p.Scopes = append(p.Scopes, sc)
		}
		return p, "", nil
	default:
		return nil, "", err
	}
}

// setStatus writes a new version of Subscription id with the given status
// and error text (none when empty), through the FHIR API's importer, as
// the manager; it keeps the owner. A version written meanwhile by a
// client wins: nothing is written then.
func (m *Manager) setStatus(ctx context.Context, id string, version int64, content []byte, status, errText string) error {
	next, err := withStatus(content, status, errText)
	if err != nil {
		return err
	}
	entry := map[string]any{
		"resource": json.RawMessage(next),
		"request":  map[string]any{"method": "PUT", "url": "Subscription/" + id, "ifMatch": fmt.Sprintf(`W/"%d"`, version)},
	}
	body, err := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "batch", "entry": []any{entry}})
	if err != nil {
		return err
	}
	scope, _ := concord.ParseScope("system/Subscription.cru")
	p := &concord.Principal{Actor: Actor, Role: concord.RoleAdmin, Scopes: []concord.Scope{scope}}
	rec := concord.AuditRecord{Actor: Actor, Role: string(concord.RoleAdmin), Node: m.opt.Node,
		Detail: fmt.Sprintf("Subscription/%s set to %s", id, status)}
	ictx := concord.WithAuditTemplate(concord.WithPrincipal(context.WithValue(ctx, internalKey{}, true), p), rec)
	res, err := m.importer.Bundle(ictx, body)
	if err != nil {
		return err
	}
	if res.Failed > 0 {
		msg := ""
		if len(res.Failures) > 0 {
			msg = res.Failures[0].Message
		}
		if strings.Contains(msg, "ifMatch") {
			return nil // a client wrote it meanwhile: its version stands
		}
		return concord.Errorf(concord.EUNAVAILABLE, "Subscription/%s not set to %s: %s", id, status, msg)
	}
	m.log.Info("subscription status", "subscription", id, "status", status, "error", errText)
	return nil
}
