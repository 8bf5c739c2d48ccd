package fhirapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/httperr"
)

// bundle is POST /fhir: a transaction or batch Bundle, answered with a
// transaction-response or batch-response Bundle (one entry per request
// entry, in request order), or, when a transaction fails, with the
// failing entry's error as an OperationOutcome naming it.
func (a *api) bundle(w http.ResponseWriter, r *http.Request, _ string) {
	body, err := readBundleBody(r)
	if err != nil {
		writeOutcome(w, r, err)
		return
	}
	b, err := parseBundle(body)
	if err != nil {
		writeOutcome(w, r, err)
		return
	}
	b.base = baseURL(r)
	if err := a.process(r.Context(), b, concord.PrincipalFrom(r.Context())); err != nil {
		writeOutcome(w, r, err)
		return
	}
	writeBody(w, r, http.StatusOK, responseBundle(b, prefer(r, "return")))
}

// readBundleBody reads a Bundle of at most maxBundle bytes in FHIR JSON.
func readBundleBody(r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != fhirJSON && mt != "application/json") {
			return nil, concord.Errorf(concord.EINVALID, "content type %q: this server reads FHIR JSON only (application/fhir+json)", ct)
		}
	}
	if r.ContentLength > maxBundle {
		return nil, concord.Errorf(concord.ETOOLARGE, "a Bundle is at most %d bytes", maxBundle)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBundle+1))
	if err != nil {
		return nil, concord.Errorf(concord.EINVALID, "reading the body: %v", err)
	}
	if len(body) > maxBundle {
		return nil, concord.Errorf(concord.ETOOLARGE, "a Bundle is at most %d bytes", maxBundle)
	}
	return body, nil
}

// writeOutcome answers with err; an entry's error names the entry.
func writeOutcome(w http.ResponseWriter, r *http.Request, err error) {
	var ee *entryError
	if !errors.As(err, &ee) {
		httperr.Write(w, r, err)
		return
	}
	w.Header().Set("Content-Type", fhirJSON)
	w.WriteHeader(httperr.Status(ee.err))
	json.NewEncoder(w).Encode(httperr.Outcome(ee.err, ee.where()))
}

// statusOf is the HTTP status an error answers.
func statusOf(err error) int { return httperr.Status(err) }

// responseBundle writes the transaction-response or batch-response: per
// entry its status, location, etag, lastModified, an outcome when it
// failed, and the resource as Prefer: return= asks (representation by
// default; minimal leaves it out; OperationOutcome gives an outcome
// instead). GET entries always carry what they read; HEAD entries never.
func responseBundle(b *bundleRequest, ret string) []byte {
	var buf bytes.Buffer
	buf.WriteString(`{"resourceType":"Bundle","type":"` + b.kind + `-response","entry":[`)
	for i, e := range b.entries {
		if i > 0 {
			buf.WriteByte(',')
		}
		writeResponseEntry(&buf, e, ret, b.fullURL)
	}
	buf.WriteString(`]}`)
	return buf.Bytes()
}

func writeResponseEntry(buf *bytes.Buffer, e *entry, ret string, fullURL func(*concord.Resource) string) {
	buf.WriteByte('{')
	res := e.current
	if e.out == outFailed {
		buf.WriteString(`"response":{"status":`)
		writeJSON(buf, statusText(e.status))
		buf.WriteString(`,"outcome":`)
		writeJSON(buf, httperr.Outcome(e.failure, fmt.Sprintf("Bundle.entry[%d]", e.index)))
		buf.WriteString(`}}`)
		return
	}
	if res != nil && !res.Deleted {
		buf.WriteString(`"fullUrl":`)
		writeJSON(buf, fullURL(res))
		withBody := e.method == "GET" || (e.method != "HEAD" && ret != "minimal" && ret != "OperationOutcome")
		if withBody {
			buf.WriteString(`,"resource":`)
			buf.Write(res.Content)
		}
		buf.WriteByte(',')
	} else if e.body != nil {
		buf.WriteString(`"resource":`)
		buf.Write(e.body)
		buf.WriteByte(',')
	}
	buf.WriteString(`"response":{"status":`)
	writeJSON(buf, statusText(e.status))
	if res != nil {
		if e.method == "POST" || e.method == "PUT" || e.method == "PATCH" {
			buf.WriteString(`,"location":`)
			writeJSON(buf, fmt.Sprintf("%s/%s/_history/%d", res.Type, res.ID, res.Version))
		}
		buf.WriteString(`,"etag":`)
		writeJSON(buf, etag(res.Version))
		buf.WriteString(`,"lastModified":`)
		writeJSON(buf, res.LastUpdated.UTC().Format("2006-01-02T15:04:05.000Z"))
		if ret == "OperationOutcome" && e.method != "GET" && e.method != "HEAD" {
			buf.WriteString(`,"outcome":{"resourceType":"OperationOutcome","issue":[{"severity":"information","code":"informational","diagnostics":`)
			writeJSON(buf, fmt.Sprintf("%s/%s version %d %s", res.Type, res.ID, res.Version, e.out.verb()))
			buf.WriteString(`}]}`)
		}
	}
	buf.WriteString(`}}`)
}

// verb says what an entry did to the version it answers with.
func (o outcome) verb() string {
	switch o {
	case outCreated, outUpdated:
		return "stored"
	case outUnchanged:
		return "unchanged"
	case outDeleted:
		return "deleted"
	}
	return "read"
}

// statusText writes a status as Bundle responses give it: "201 Created".
func statusText(status int) string {
	return strconv.Itoa(status) + " " + http.StatusText(status)
}

// fullURL is the absolute URL of res under the Bundle's base (Bundle.entry.fullUrl
// is an absolute URL), or its path under /fhir when the base is not known.
func (b *bundleRequest) fullURL(res *concord.Resource) string {
	base := b.base
	if base == "" {
		base = "/fhir"
	}
	return base + "/" + res.Type + "/" + res.ID
}

// searchset writes the Bundle a search inside a Bundle answers.
func searchset(found []*concord.Resource, fullURL func(*concord.Resource) string) []byte {
	var b bytes.Buffer
	b.WriteString(`{"resourceType":"Bundle","type":"searchset","total":`)
	b.WriteString(strconv.Itoa(len(found)))
	b.WriteString(`,"entry":[`)
	for i, r := range found {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"fullUrl":`)
		writeJSON(&b, fullURL(r))
		b.WriteString(`,"resource":`)
		b.Write(r.Content)
		b.WriteString(`,"search":{"mode":"match"}}`)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}
