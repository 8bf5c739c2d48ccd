package fhirapi

import (
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/httperr"
	"github.com/concord-health/concord/internal/jsonpatch"
)

// patch is PATCH with a JSON Patch document (application/json-patch+json):
// applied to the current version, all or nothing, with If-Match honoured;
// the result must still be a resource of the type with the same id.
// FHIRPath Patch (a Parameters body) is not supported yet.
func (a *api) patch(w http.ResponseWriter, r *http.Request, typ string) {
	id := r.PathValue("id")
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json-patch+json" {
		httperr.Write(w, r, concord.Errorf(concord.EINVALID, "PATCH takes a JSON Patch document (application/json-patch+json)"))
		return
	}
	doc, err := io.ReadAll(io.LimitReader(r.Body, maxResource+1))
	if err != nil || len(doc) > maxResource {
		httperr.Write(w, r, concord.Errorf(concord.ETOOLARGE, "a patch is at most %d bytes", maxResource))
		return
	}
	ifMatch, err := parseIfMatch(r.Header.Get("If-Match"))
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	now := a.opt.Now().UTC().Truncate(time.Millisecond)
	res, err := a.write(r.Context(), typ, id, concord.AuditUpdate, func(cur *concord.Resource) (*concord.Resource, error) {
		switch {
		case cur == nil:
			return nil, concord.Errorf(concord.ENOTFOUND, "no %s/%s", typ, id)
		case cur.Deleted:
			return nil, concord.Errorf(concord.EGONE, "%s/%s was deleted", typ, id)
		case ifMatch != 0 && cur.Version != ifMatch:
			return nil, concord.Errorf(concord.EPRECONDITION, "If-Match version %d is not the current version of %s/%s", ifMatch, typ, id)
		}
		out, err := jsonpatch.Apply(cur.Content, doc)
		if err != nil {
			return nil, concord.Errorf(concord.EINVALID, "%v", err)
		}
		p, err := parseResource(out, typ)
		if err == nil {
			err = validateResource(r.Context(), p.doc.Root())
		}
		if err != nil {
			return nil, err
		}
		if p.id != id {
			return nil, concord.Errorf(concord.EINVALID, "a patch may not change the id")
		}
		next := cur.Version + 1
		return &concord.Resource{Type: typ, ID: id, Version: next, LastUpdated: now, Content: withMeta(p, id, next, now)}, nil
	})
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	a.respond(w, r, res, http.StatusOK)
}
