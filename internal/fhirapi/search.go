package fhirapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/fhirpath"
	"github.com/concord-health/concord/internal/httperr"
	"github.com/concord-health/concord/internal/search"
)

// maxSearchForm caps the body of POST [type]/_search.
const maxSearchForm = 1 << 20

// maxIncluded caps the resources _include and _revinclude add to a page.
const maxIncluded = 1000

// searchTimeout bounds the work of one search (its queries, includes and
// total), so that a costly one cannot hold a reader for long.
const searchTimeout = 15 * time.Second

// searchType is GET /fhir/{type} and POST /fhir/{type}/_search.
func (a *api) searchType(w http.ResponseWriter, r *http.Request, typ string) {
	a.search(w, r, typ, nil)
}

// search answers a search on typ, within compartment when it is set. A
// patient-context caller is limited to its own patient's compartment.
func (a *api) search(w http.ResponseWriter, r *http.Request, typ string, compartment *concord.SearchCompartment) {
	vals, err := searchParams(r)
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	req, err := search.Parse(typ, vals, search.Options{Strict: prefer(r, "handling") == "strict", Now: a.opt.Now()})
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	sub, err := parseSubset(vals)
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), searchTimeout)
	defer cancel()
	req.Query.Compartment = compartment
	if limit := patientLimit(ctx, typ); limit != nil {
		if compartment != nil && compartment.Owner != limit.Owner {
			httperr.Write(w, r, concord.Errorf(concord.EFORBIDDEN, "this token may see only %s/%s's compartment", limit.Owner.Type, limit.Owner.ID))
			return
		}
		if compartment == nil {
			req.Query.Compartment = limit
		}
	}
	page, total, err := a.store.Search(ctx, &req.Query)
	if err != nil {
		httperr.Write(w, r, tooCostly(ctx, err))
		return
	}
	included, err := a.includes(ctx, typ, page, req)
	if err != nil {
		httperr.Write(w, r, tooCostly(ctx, err))
		return
	}
	concord.NoteAudit(ctx, "fhir/"+typ+"?"+req.Params.Encode(), "")
	body, err := a.searchBundle(r, typ, req, sub, page, included, total)
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	writeBody(w, r, http.StatusOK, body)
}

// searchParams returns the query's parameters, and for POST those of the
// form body too.
func searchParams(r *http.Request) (url.Values, error) {
	vals := r.URL.Query()
	if r.Method != http.MethodPost {
		return vals, nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/x-www-form-urlencoded" {
			return nil, concord.Errorf(concord.EINVALID, "POST _search takes application/x-www-form-urlencoded, not %q", ct)
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxSearchForm+1))
	if err != nil {
		return nil, concord.Errorf(concord.EINVALID, "reading the body: %v", err)
	}
	if len(body) > maxSearchForm {
		return nil, concord.Errorf(concord.ETOOLARGE, "a search form is at most %d bytes", maxSearchForm)
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, concord.Errorf(concord.EINVALID, "the search form: %v", err)
	}
	for k, vs := range form {
		vals[k] = append(vals[k], vs...)
	}
	return vals, nil
}

// includes returns the resources _include and _revinclude add to a page
// (with :iterate, repeated over what they add, up to maxIncluded): of
// the types the caller may read, and for a patient-context caller only
// from its compartment.
func (a *api) includes(ctx context.Context, typ string, page []*concord.Resource, req *search.Request) ([]*concord.Resource, error) {
	if len(req.Includes) == 0 && len(req.RevIncludes) == 0 {
		return nil, nil
	}
	p := concord.PrincipalFrom(ctx)
	readable := map[string]bool{}
	mayRead := func(t string) bool {
		ok, known := readable[t]
		if !known {
			_, err := concord.Authorize(p, concord.Action{ResourceType: t, Ops: concord.OpRead})
			ok = err == nil
			readable[t] = ok
		}
		return ok
	}
	seen := map[concord.Ref]bool{}
	for _, r := range page {
		seen[concord.Ref{Type: r.Type, ID: r.ID}] = true
	}
	var out []*concord.Resource
	frontier := page
	for round := 0; len(frontier) > 0 && round < 4; round++ {
		byType := map[string][]string{}
		var targets []concord.Ref
		for _, r := range frontier {
			byType[r.Type] = append(byType[r.Type], r.ID)
			targets = append(targets, concord.Ref{Type: r.Type, ID: r.ID})
		}
		var refs []concord.Ref
		for _, inc := range req.Includes {
			if round > 0 && !inc.Iterate {
				continue
			}
			for t, ids := range byType {
				if inc.Param != "*" && inc.Type != t {
					continue
				}
				param := inc.Param
				if param == "*" {
					param = ""
				}
				got, err := a.store.References(ctx, t, param, ids)
				if err != nil {
					return nil, err
				}
				for _, g := range got {
					if inc.Target == "" || g.Type == inc.Target {
						refs = append(refs, g)
					}
				}
			}
		}
		for _, inc := range req.RevIncludes {
			if round > 0 && !inc.Iterate {
				continue
			}
			param := inc.Param
			if param == "*" {
				param = ""
			}
			got, err := a.store.ReferencedBy(ctx, inc.Type, param, targets)
			if err != nil {
				return nil, err
			}
			refs = append(refs, got...)
		}
		var fresh []concord.Ref
		for _, ref := range refs {
			if !seen[ref] && len(seen) < len(page)+maxIncluded && mayRead(ref.Type) {
				seen[ref] = true
				fresh = append(fresh, ref)
			}
		}
		got, err := a.store.Resources(ctx, fresh)
		if err != nil {
			return nil, err
		}
		next := got[:0]
		for _, res := range got {
			ok, err := a.visible(ctx, res)
			if err != nil {
				return nil, err
			}
			if ok {
				next = append(next, res)
			}
		}
		out = append(out, next...)
		frontier = next
	}
	return out, nil
}

// baseURL is the server's FHIR base as the client reached it.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/fhir"
}

// searchBundle writes a searchset Bundle.
func (a *api) searchBundle(r *http.Request, typ string, req *search.Request, sub subset, page, included []*concord.Resource, total int64) ([]byte, error) {
	base := baseURL(r)
	link := func(offset int) string {
		v := url.Values{}
		for k, vs := range req.Params {
			v[k] = vs
		}
		v.Set("_count", strconv.Itoa(req.Query.Count))
		if offset > 0 {
			v.Set("_offset", strconv.Itoa(offset))
		}
		return base + "/" + typ + "?" + v.Encode()
	}
	var b bytes.Buffer
	b.WriteString(`{"resourceType":"Bundle","type":"searchset"`)
	if total >= 0 {
		fmt.Fprintf(&b, `,"total":%d`, total)
	}
	q := req.Query
	links := [][2]string{{"self", link(q.Offset)}}
	if q.Count > 0 {
		links = append(links, [2]string{"first", link(0)})
		if q.Offset > 0 {
			links = append(links, [2]string{"previous", link(max(0, q.Offset-q.Count))})
		}
		more := len(page) == q.Count
		if total >= 0 {
			more = int64(q.Offset+len(page)) < total
		}
		if more && q.Offset+q.Count <= search.MaxOffset {
			links = append(links, [2]string{"next", link(q.Offset + q.Count)})
		}
	}
	b.WriteString(`,"link":[`)
	for i, l := range links {
		if i > 0 {
			b.WriteByte(',')
		}
		rel, _ := json.Marshal(l[0])
		u, _ := json.Marshal(l[1])
		fmt.Fprintf(&b, `{"relation":%s,"url":%s}`, rel, u)
	}
	b.WriteString(`],"entry":[`)
	n := 0
	entry := func(res *concord.Resource, mode string) error {
		body, err := sub.apply(res.Content, res.Type)
		if err != nil {
			return err
		}
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		full, _ := json.Marshal(base + "/" + res.Type + "/" + res.ID)
		fmt.Fprintf(&b, `{"fullUrl":%s,"resource":`, full)
		b.Write(body)
		fmt.Fprintf(&b, `,"search":{"mode":%q}}`, mode)
		return nil
	}
	for _, res := range page {
		if err := entry(res, "match"); err != nil {
			return nil, err
		}
	}
	for _, res := range included {
		if err := entry(res, "include"); err != nil {
			return nil, err
		}
	}
	if len(req.Ignored) > 0 {
		if n > 0 {
			b.WriteByte(',')
		}
		msg, _ := json.Marshal("parameters ignored (unknown or not supported): " + strings.Join(req.Ignored, ", "))
		fmt.Fprintf(&b, `{"resource":{"resourceType":"OperationOutcome","issue":[{"severity":"warning","code":"not-supported","diagnostics":%s}]},"search":{"mode":"outcome"}}`, msg)
	}
	b.WriteString(`]}`)
	return b.Bytes(), nil
}

// searchTx returns the ids of the current resources of typ matching the
// search q, as the transaction tx sees them: for conditional
// interactions. Result parameters are not allowed; at most limit ids
// are returned.
func (a *api) searchTx(ctx context.Context, tx concord.Tx, typ string, q url.Values, limit int) ([]string, error) {
	req, err := search.Parse(typ, q, search.Options{Strict: true, Now: a.opt.Now()})
	if err != nil {
		return nil, err
	}
	if len(req.Query.Where) == 0 {
		return nil, concord.Errorf(concord.EINVALID, "a conditional %s needs search criteria", typ)
	}
	return tx.SearchIDs(ctx, &req.Query, limit)
}

// indexOf computes the search index of a resource's stored JSON.
func indexOf(ctx context.Context, content []byte) (*concord.SearchIndex, error) {
	doc, err := fhirpath.ParseJSON(content)
	if err != nil {
		return nil, concord.Errorf(concord.EINVALID, "the resource is not valid JSON: %v", err)
	}
	return search.Index(ctx, doc)
}

// tooCostly names a search that ran out of time as such.
func tooCostly(ctx context.Context, err error) error {
	if ctx.Err() == context.DeadlineExceeded {
		return concord.Errorf(concord.ETOOLARGE, "the search took longer than %s: narrow it", searchTimeout)
	}
	return err
}

// BaseURL returns the absolute FHIR base of a request (scheme, Host,
// /fhir), for links other packages write.
func BaseURL(r *http.Request) string { return baseURL(r) }
