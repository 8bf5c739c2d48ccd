package fhirapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/httperr"
)

// maxCount caps _count on history.
const maxCount = 1000

func (a *api) historyInstance(w http.ResponseWriter, r *http.Request, typ string) {
	id := r.PathValue("id")
	a.history(w, r, concord.HistoryFilter{Type: typ, ID: id}, "/"+typ+"/"+id+"/_history")
}

func (a *api) historyType(w http.ResponseWriter, r *http.Request, typ string) {
	a.history(w, r, concord.HistoryFilter{Type: typ}, "/"+typ+"/_history")
}

func (a *api) historySystem(w http.ResponseWriter, r *http.Request, _ string) {
	a.history(w, r, concord.HistoryFilter{}, "/_history")
}

// history answers a history Bundle, newest first, with _count, _since and
// a next link that pages by the change log position (stable while new
// versions arrive). path is the history's path under the FHIR base; links
// and fullUrls are absolute, as in search Bundles.
func (a *api) history(w http.ResponseWriter, r *http.Request, f concord.HistoryFilter, path string) {
	base := baseURL(r)
	q := r.URL.Query()
	f.Limit = 100
	if s := q.Get("_count"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			httperr.Write(w, r, concord.Errorf(concord.EINVALID, "_count must be a whole number"))
			return
		}
		f.Limit = min(n, maxCount)
	}
	if s := q.Get("_since"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			httperr.Write(w, r, concord.Errorf(concord.EINVALID, "_since must be an instant such as 2026-01-02T03:04:05Z"))
			return
		}
		f.Since = t
	}
	if vs := q["_at"]; len(vs) > 0 {
		nonEmpty, err := currentDuring(vs, &f)
		if err != nil {
			httperr.Write(w, r, err)
			return
		}
		if !nonEmpty {
			f.Limit = 0 // nothing is current in an empty period
		}
	}
	if s := q.Get("_page"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			httperr.Write(w, r, concord.Errorf(concord.EINVALID, "_page is not a page of this history"))
			return
		}
		f.Before = n
	}
	var versions []*concord.Resource
	if f.Limit > 0 {
		var err error
		want := f
		want.Limit = f.Limit + 1 // one more tells whether a next page exists
		if versions, err = a.store.ResourceHistory(r.Context(), want); err != nil {
			httperr.Write(w, r, err)
			return
		}
	}
	var next string
	if len(versions) > f.Limit {
		versions = versions[:f.Limit]
		v := url.Values{"_count": {strconv.Itoa(f.Limit)}, "_page": {strconv.FormatInt(versions[len(versions)-1].Seq, 10)}}
		if !f.Since.IsZero() {
			v.Set("_since", f.Since.UTC().Format(time.RFC3339Nano))
		}
		v["_at"] = q["_at"]
		next = base + path + "?" + v.Encode()
	}
	// A patient-context caller sees the versions of the resources in its
	// compartment only (judged by where each resource is now); the page
	// may come out shorter, the next link is the same.
	kept := versions[:0]
	for _, v := range versions {
		ok, err := a.visible(r.Context(), v)
		if err != nil {
			httperr.Write(w, r, err)
			return
		}
		if ok {
			kept = append(kept, v)
		}
	}
	if f.ID != "" && len(versions) > 0 && len(kept) == 0 {
		httperr.Write(w, r, concord.Errorf(concord.ENOTFOUND, "no %s/%s", f.Type, f.ID))
		return
	}
	versions = kept
	if f.ID != "" && len(versions) == 0 && f.Before == 0 {
		if _, err := a.store.Resource(r.Context(), f.Type, f.ID); err != nil {
			httperr.Write(w, r, err)
			return
		}
	}
	var b bytes.Buffer
	b.WriteString(`{"resourceType":"Bundle","type":"history","link":[{"relation":"self","url":`)
	self := base + path
	if r.URL.RawQuery != "" {
		self += "?" + r.URL.RawQuery
	}
	writeJSON(&b, self)
	b.WriteByte('}')
	if next != "" {
		b.WriteString(`,{"relation":"next","url":`)
		writeJSON(&b, next)
		b.WriteByte('}')
	}
	b.WriteString(`],"entry":[`)
	for i, v := range versions {
		if i > 0 {
			b.WriteByte(',')
		}
		full := base + "/" + v.Type + "/" + v.ID
		b.WriteString(`{"fullUrl":`)
		writeJSON(&b, full)
		method, status := "PUT", "200 OK"
		switch {
		case v.Deleted:
			method, status = "DELETE", "204 No Content"
		case v.Version == 1:
			method, status = "POST", "201 Created"
		}
		if !v.Deleted {
			b.WriteString(`,"resource":`)
			b.Write(v.Content)
		}
		reqURL := v.Type
		if method != "POST" {
			reqURL += "/" + v.ID
		}
		b.WriteString(`,"request":{"method":"` + method + `","url":`)
		writeJSON(&b, reqURL)
		b.WriteString(`},"response":{"status":"` + status + `","etag":`)
		writeJSON(&b, etag(v.Version))
		b.WriteString(`,"lastModified":`)
		writeJSON(&b, v.LastUpdated.UTC().Format("2006-01-02T15:04:05.000Z"))
		b.WriteString(`}}`)
	}
	b.WriteString(`]}`)
	if f.ID != "" {
		patient := ""
		if f.Type == "Patient" {
			patient = f.ID
		}
		concord.NoteAudit(r.Context(), f.Type+"/"+f.ID+"/_history", patient)
	}
	writeBody(w, r, http.StatusOK, b.Bytes())
}

func writeJSON(b *bytes.Buffer, v any) {
	j, _ := json.Marshal(v)
	b.Write(j)
}
