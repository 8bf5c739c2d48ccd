package fhirapi

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/httperr"
)

// conditionKey is what conditional writes on the same criteria lock, so
// that they run one after the other (see Tx.LockKey): two racing
// conditional creates cannot both find nothing and both create.
func conditionKey(typ string, criteria url.Values) string {
	return "fhir-conditional:" + typ + "?" + criteria.Encode()
}

// matchOne runs a conditional search inside tx, holding the criteria's
// lock: it returns the one match's id, "" for none, or EPRECONDITION
// when several match.
func (a *api) matchOne(ctx context.Context, tx concord.Tx, typ string, criteria url.Values) (string, error) {
	if err := tx.LockKey(ctx, conditionKey(typ, criteria)); err != nil {
		return "", err
	}
	ids, err := a.searchTx(ctx, tx, typ, criteria, 2)
	if err != nil {
		return "", err
	}
	switch len(ids) {
	case 0:
		return "", nil
	case 1:
		return ids[0], nil
	}
	return "", concord.Errorf(concord.EPRECONDITION, "the conditional criteria %s?%s match more than one resource", typ, criteria.Encode())
}

// conditionalCreate is POST with If-None-Exist: the resource is created
// only when nothing matches the criteria; one match is answered 200 with
// that resource, several 412.
func (a *api) conditionalCreate(w http.ResponseWriter, r *http.Request, typ string, p *parsed, criteria url.Values) {
	ctx := r.Context()
	tmpl := concord.AuditTemplateFrom(ctx)
	now := a.opt.Now().UTC().Truncate(time.Millisecond)
	var out *concord.Resource
	created := false
	err := a.store.Update(context.WithoutCancel(ctx), func(tx concord.Tx) error {
		out, created = nil, false
		id, err := a.matchOne(ctx, tx, typ, criteria)
		if err != nil {
			return err
		}
		if id != "" {
			out, err = tx.CurrentResource(ctx, typ, id)
			return err
		}
		newID, err := concord.NewID(now)
		if err != nil {
			return err
		}
		out, created = &concord.Resource{Type: typ, ID: newID, Version: 1, LastUpdated: now, Content: withMeta(p, newID, 1, now), Index: p.index}, true
		return a.put(ctx, tx, out, concord.AuditCreate, tmpl)
	})
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	if created {
		a.respond(w, r, out, http.StatusCreated)
		return
	}
	noteRead(r, out)
	a.respond(w, r, out, http.StatusOK)
}

// conditionalUpdate is PUT [type]?criteria: no match creates (with the
// body's id, or a new one), one match is updated (the body's id, when
// given, must be that one), several are 412.
func (a *api) conditionalUpdate(w http.ResponseWriter, r *http.Request, typ string) {
	criteria := r.URL.Query()
	delete(criteria, "_format")
	delete(criteria, "_pretty")
	p, err := readResource(r, typ)
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	ctx := r.Context()
	tmpl := concord.AuditTemplateFrom(ctx)
	now := a.opt.Now().UTC().Truncate(time.Millisecond)
	var out *concord.Resource
	created := false
	err = a.store.Update(context.WithoutCancel(ctx), func(tx concord.Tx) error {
		out, created = nil, false
		id, err := a.matchOne(ctx, tx, typ, criteria)
		if err != nil {
			return err
		}
		if id != "" && p.id != "" && p.id != id {
			return concord.Errorf(concord.EINVALID, "the body's id %q is not that of the resource the criteria match (%s)", p.id, id)
		}
		next := int64(1)
		if id == "" {
			id = p.id
			if id == "" {
				if id, err = concord.NewID(now); err != nil {
					return err
				}
			}
		}
		cur, err := tx.CurrentResource(ctx, typ, id)
		if err != nil {
			return err
		}
		if cur != nil {
			next = cur.Version + 1
		}
		created = cur == nil || cur.Deleted
		out = &concord.Resource{Type: typ, ID: id, Version: next, LastUpdated: now, Content: withMeta(p, id, next, now), Index: p.index}
		out, _, err = a.putChanged(ctx, tx, cur, out, concord.AuditUpdate, tmpl)
		return err
	})
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	a.respondUpdate(w, r, out, created)
}

// conditionalDelete is DELETE [type]?criteria: the one match is deleted
// (none: 204 all the same), several are 412.
func (a *api) conditionalDelete(w http.ResponseWriter, r *http.Request, typ string) {
	criteria := r.URL.Query()
	ctx := r.Context()
	tmpl := concord.AuditTemplateFrom(ctx)
	now := a.opt.Now().UTC().Truncate(time.Millisecond)
	err := a.store.Update(context.WithoutCancel(ctx), func(tx concord.Tx) error {
		id, err := a.matchOne(ctx, tx, typ, criteria)
		if err != nil || id == "" {
			return err
		}
		cur, err := tx.CurrentResource(ctx, typ, id)
		if err != nil || cur == nil || cur.Deleted {
			return err
		}
		return a.put(ctx, tx, &concord.Resource{Type: typ, ID: id, Version: cur.Version + 1, LastUpdated: now, Deleted: true}, concord.AuditDelete, tmpl)
	})
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
