package fhirapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/httperr"
	"github.com/concord-health/concord/internal/search"
)

const fhirJSON = "application/fhir+json"

// readBody reads a resource body of at most maxResource bytes in FHIR
// JSON (application/fhir+json or application/json).
func readBody(r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != fhirJSON && mt != "application/json") {
			return nil, concord.Errorf(concord.EINVALID, "content type %q: this server reads FHIR JSON only (application/fhir+json)", ct)
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxResource+1))
	if err != nil {
		return nil, concord.Errorf(concord.EINVALID, "reading the body: %v", err)
	}
	if len(body) > maxResource {
		return nil, concord.Errorf(concord.ETOOLARGE, "a resource is at most %d bytes", maxResource)
	}
	return body, nil
}

// readResource reads and checks a request's resource body, validated
// against the R4 definitions.
func readResource(r *http.Request, typ string) (*parsed, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	p, err := parseResource(body, typ)
	if err == nil {
		err = validateResource(r.Context(), p.doc.Root())
	}
	if err == nil {
		// Indexed here, not in the store transaction, which holds the
		// single writer: what withMeta changes (id, versionId,
		// lastUpdated) is not indexed.
		p.index, err = search.Index(r.Context(), p.doc)
	}
	return p, err
}

// write stores a new version of typ/id with its audit record in one
// transaction. build gets the current version (nil when none) and
// returns the new one, or an error. A new version with the current
// content is not stored (putChanged): write returns the current one.
func (a *api) write(ctx context.Context, typ, id, action string, build func(cur *concord.Resource) (*concord.Resource, error)) (*concord.Resource, error) {
	tmpl := concord.AuditTemplateFrom(ctx)
	var out *concord.Resource
	err := a.store.Update(context.WithoutCancel(ctx), func(tx concord.Tx) error {
		cur, err := tx.CurrentResource(ctx, typ, id)
		if err != nil {
			return err
		}
		r, err := build(cur)
		if err != nil || r == nil {
			out = nil
			return err
		}
		out, _, err = a.putChanged(ctx, tx, cur, r, action, tmpl)
		return err
	})
	return out, err
}

// put stores one version inside a write transaction, with its audit
// record (from tmpl, the caller's audit template). Every write of a
// resource goes through put: it is where what is stored with a version
// (its audit record, and the search index) is kept together.
func (a *api) put(ctx context.Context, tx concord.Tx, r *concord.Resource, action string, tmpl concord.AuditRecord) error {
	if g := a.opt.Subscriptions; g != nil && r.Type == "Subscription" && !r.Deleted {
		content, err := g.Admit(ctx, tx, r)
		if err != nil {
			return err
		}
		if content != nil {
			// The gate's content is indexed anew. Should this transaction
			// run again, the gate sees its own content, which it keeps.
			r.Content, r.Index = content, nil
		}
	}
	if !r.Deleted && r.Index == nil {
		idx, err := indexOf(ctx, r.Content)
		if err != nil {
			return err
		}
		r.Index = idx
	}
	if err := tx.PutResource(ctx, r); err != nil {
		return err
	}
	rec := tmpl
	rec.Time, rec.Action, rec.Object = r.LastUpdated, action, fmt.Sprintf("%s/%s/_history/%d", r.Type, r.ID, r.Version)
	rec.Outcome = concord.OutcomeSuccess
	rec.Detail = fmt.Sprintf("%s %s/%s version %d", action, r.Type, r.ID, r.Version)
	if r.Type == "Patient" {
		rec.Patient = r.ID
	}
	return tx.AppendAudit(ctx, &rec)
}

func (a *api) create(w http.ResponseWriter, r *http.Request, typ string) {
	p, err := readResource(r, typ)
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	if ine := r.Header.Get("If-None-Exist"); ine != "" {
		criteria, err := url.ParseQuery(ine)
		if err != nil {
			httperr.Write(w, r, concord.Errorf(concord.EINVALID, "If-None-Exist %q is not a search query", ine))
			return
		}
		a.conditionalCreate(w, r, typ, p, criteria)
		return
	}
	now := a.opt.Now().UTC().Truncate(time.Millisecond)
	id, err := concord.NewID(now) // the server assigns the id; one in the body is ignored
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	res, err := a.write(r.Context(), typ, id, concord.AuditCreate, func(cur *concord.Resource) (*concord.Resource, error) {
		return &concord.Resource{Type: typ, ID: id, Version: 1, LastUpdated: now, Content: withMeta(p, id, 1, now), Index: p.index}, nil
	})
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	a.respond(w, r, res, http.StatusCreated)
}

func (a *api) update(w http.ResponseWriter, r *http.Request, typ string) {
	id := r.PathValue("id")
	if !concord.IsFHIRID(id) {
		httperr.Write(w, r, concord.Errorf(concord.EINVALID, "%q is not a FHIR id", id))
		return
	}
	p, err := readResource(r, typ)
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	if p.id != id {
		httperr.Write(w, r, concord.Errorf(concord.EINVALID, "the body's id %q is not the URL's %q", p.id, id))
		return
	}
	ifMatch, err := parseIfMatch(r.Header.Get("If-Match"))
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	now := a.opt.Now().UTC().Truncate(time.Millisecond)
	created := false
	res, err := a.write(r.Context(), typ, id, concord.AuditUpdate, func(cur *concord.Resource) (*concord.Resource, error) {
		next := int64(1)
		if cur != nil {
			next = cur.Version + 1
		}
		if ifMatch != 0 && (cur == nil || cur.Version != ifMatch) {
			return nil, concord.Errorf(concord.EPRECONDITION, "If-Match version %d is not the current version of %s/%s", ifMatch, typ, id)
		}
		created = cur == nil || cur.Deleted
		return &concord.Resource{Type: typ, ID: id, Version: next, LastUpdated: now, Content: withMeta(p, id, next, now), Index: p.index}, nil
	})
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	a.respondUpdate(w, r, res, created)
}

// respondUpdate answers an update: 201 Created when it created the
// resource (update as create), 200 otherwise.
func (a *api) respondUpdate(w http.ResponseWriter, r *http.Request, res *concord.Resource, created bool) {
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	a.respond(w, r, res, status)
}

func (a *api) delete(w http.ResponseWriter, r *http.Request, typ string) {
	id := r.PathValue("id")
	now := a.opt.Now().UTC().Truncate(time.Millisecond)
	res, err := a.write(r.Context(), typ, id, concord.AuditDelete, func(cur *concord.Resource) (*concord.Resource, error) {
		if cur == nil || cur.Deleted {
			return nil, nil // nothing to delete: done already
		}
		return &concord.Resource{Type: typ, ID: id, Version: cur.Version + 1, LastUpdated: now, Deleted: true}, nil
	})
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	if res != nil {
		w.Header().Set("ETag", etag(res.Version))
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) read(w http.ResponseWriter, r *http.Request, typ string) {
	id := r.PathValue("id")
	res, err := a.store.Resource(r.Context(), typ, id)
	if err == nil {
		err = a.hidden(r.Context(), res)
	}
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	noteRead(r, res)
	if res.Deleted {
		httperr.Write(w, r, concord.Errorf(concord.EGONE, "%s/%s was deleted (version %d)", typ, id, res.Version))
		return
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && inm == etag(res.Version) {
		w.Header().Set("ETag", etag(res.Version))
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if ims, err := parseHTTPTime(r.Header.Get("If-Modified-Since")); err == nil && !res.LastUpdated.Truncate(time.Second).After(ims) {
		w.Header().Set("ETag", etag(res.Version))
		w.WriteHeader(http.StatusNotModified)
		return
	}
	a.respond(w, r, res, http.StatusOK)
}

func (a *api) vread(w http.ResponseWriter, r *http.Request, typ string) {
	id := r.PathValue("id")
	v, err := strconv.ParseInt(r.PathValue("vid"), 10, 64)
	if err != nil || v < 1 {
		httperr.Write(w, r, concord.Errorf(concord.ENOTFOUND, "no version %q of %s/%s", r.PathValue("vid"), typ, id))
		return
	}
	res, err := a.store.ResourceVersion(r.Context(), typ, id, v)
	if err == nil {
		err = a.hidden(r.Context(), res)
	}
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	noteRead(r, res)
	if res.Deleted {
		httperr.Write(w, r, concord.Errorf(concord.EGONE, "version %d of %s/%s is its deletion", v, typ, id))
		return
	}
	a.respond(w, r, res, http.StatusOK)
}

// noteRead tells the front door's audit record what was read.
func noteRead(r *http.Request, res *concord.Resource) {
	patient := ""
	if res.Type == "Patient" {
		patient = res.ID
	}
	concord.NoteAudit(r.Context(), fmt.Sprintf("%s/%s/_history/%d", res.Type, res.ID, res.Version), patient)
}

// respond answers with a stored version: ETag, Last-Modified, Location
// for a write, and the body as Prefer: return= asks (representation by
// default, minimal, or an OperationOutcome).
func (a *api) respond(w http.ResponseWriter, r *http.Request, res *concord.Resource, status int) {
	body := res.Content
	if r.Method == http.MethodGet { // _summary and _elements shape what is read
		var err error
		if body, err = shape(body, res.Type, r.URL.Query()); err != nil {
			httperr.Write(w, r, err)
			return
		}
	}
	h := w.Header()
	h.Set("ETag", etag(res.Version))
	h.Set("Last-Modified", res.LastUpdated.UTC().Format(http.TimeFormat))
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		h.Set("Location", fmt.Sprintf("/fhir/%s/%s/_history/%d", res.Type, res.ID, res.Version))
	}
	switch prefer(r, "return") {
	case "minimal":
		w.WriteHeader(status)
		return
	case "OperationOutcome":
		h.Set("Content-Type", fhirJSON)
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"information","code":"informational","diagnostics":%q}]}`,
			fmt.Sprintf("%s/%s version %d stored", res.Type, res.ID, res.Version))
		return
	}
	writeBody(w, r, status, body)
}

// writeBody writes a FHIR JSON body, indented when _pretty=true.
func writeBody(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	w.Header().Set("Content-Type", fhirJSON)
	if r.URL.Query().Get("_pretty") == "true" {
		var b bytes.Buffer
		if json.Indent(&b, body, "", "  ") == nil {
			body = b.Bytes()
		}
	}
	w.WriteHeader(status)
	w.Write(body)
}

// checkFormat refuses a request for anything but FHIR JSON (_format or
// Accept): this build writes no XML.
func checkFormat(r *http.Request) error {
	f := r.URL.Query().Get("_format")
	switch f {
	case "", "json", "application/json", "application/fhir+json":
	default:
		return concord.Errorf(concord.EUNSUPPORTED, "_format %q: this server writes FHIR JSON only", f)
	}
	if acc := r.Header.Get("Accept"); acc != "" && !strings.Contains(acc, "json") && !strings.Contains(acc, "*/*") {
		return concord.Errorf(concord.EUNSUPPORTED, "Accept %q: this server writes FHIR JSON only", acc)
	}
	return nil
}

func etag(v int64) string { return `W/"` + strconv.FormatInt(v, 10) + `"` }

// parseIfMatch reads W/"n" (or "n"); 0 when absent.
func parseIfMatch(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	t := strings.TrimPrefix(strings.TrimSpace(s), "W/")
	t = strings.Trim(t, `"`)
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v < 1 {
		return 0, concord.Errorf(concord.EINVALID, "If-Match %q is not a version ETag such as W/\"3\"", s)
	}
	return v, nil
}

// prefer returns the value of one Prefer header preference.
func prefer(r *http.Request, name string) string {
	for _, h := range r.Header.Values("Prefer") {
		for _, part := range strings.Split(h, ";") {
			if k, v, ok := strings.Cut(strings.TrimSpace(part), "="); ok && strings.EqualFold(k, name) {
				return strings.Trim(v, `"`)
			}
		}
	}
	return ""
}

// errNoTime is parseHTTPTime's answer to an absent header.
var errNoTime = errors.New("no time given")

// parseHTTPTime is http.ParseTime, without building a parse error for
// the usual absent header.
func parseHTTPTime(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, errNoTime
	}
	return http.ParseTime(v)
}
