package fhirapi

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/fhir"
	"github.com/concord-health/concord/fhirpath"
)

// Limits on a posted Bundle, checked before the work they bound.
const (
	// maxBundle caps a Bundle's bytes (the JSON index's own limit).
	maxBundle = fhirpath.MaxDocumentSize
	// maxEntries caps a Bundle's entries.
	maxEntries = 10000
)

// Bundle types this server processes.
const (
	kindTransaction = "transaction"
	kindBatch       = "batch"
)

// bundleRequest is a transaction or batch Bundle read into its entries.
type bundleRequest struct {
	kind    string
	base    string        // the FHIR base the response's fullUrls start with ("" in imports: /fhir)
	doc     *fhirpath.Doc // keeps the entries' resources
	entries []*entry
	types   map[string]string // fullUrl → type, built by refType
}

// entry is one request of a Bundle: what it asks for, read once, and
// (in result) what came of it.
type entry struct {
	index       int
	method      string // GET, HEAD, POST, PUT, PATCH, DELETE
	url         string // request.url as given
	typ, id     string
	version     int64      // GET Type/id/_history/version
	cond        url.Values // PUT, PATCH or DELETE Type?search, or GET Type?search; nil when none
	ifNoneExist url.Values // POST only; nil when none
	ifMatch     int64      // 0 when none
	fullURL     string
	res         fhirpath.JSONRef // POST and PUT
	patch       []byte           // PATCH: a JSON Patch document
	newID       string           // the id a create would take, chosen before the store transaction
	// searchIndex is the search index of res, computed before the store
	// transaction (its references mapped in it, see search.Rewrite).
	searchIndex *concord.SearchIndex
	// preTail and preIndex, when preTail is set, are the stored JSON
	// after meta.lastUpdated and the search index with references mapped,
	// written before the store transaction (prerender).
	preTail  []byte
	preIndex *concord.SearchIndex
	// err is what is wrong with the entry itself, found when reading it.
	err error

	result
}

// outcome classifies what an entry did, for response bundles and for the
// import summary.
type outcome uint8

const (
	outNone      outcome = iota
	outCreated           // a new resource
	outUpdated           // a new version of an existing (or deleted) resource
	outUnchanged         // nothing stored: same content, or ifNoneExist matched
	outDeleted           // a deletion, or nothing to delete
	outRead              // GET or HEAD answered
	outFailed            // err is set
)

// result is what an entry came to. It is reset at every run of the store
// transaction, which may run more than once.
type result struct {
	out     outcome
	status  int               // HTTP status of the entry
	current *concord.Resource // the version answered: written, matched or read
	body    []byte            // a searchset answered to a GET with a search
	failure error             // why the entry failed (out == outFailed)
}

// entryError is a failure of one entry, which fails a whole transaction.
type entryError struct {
	index int
	err   error
}

func (e *entryError) Error() string { return fmt.Sprintf("Bundle.entry[%d]: %v", e.index, e.err) }
func (e *entryError) Unwrap() error { return e.err }

// where names the entry in an OperationOutcome's expression.
func (e *entryError) where() string { return fmt.Sprintf("Bundle.entry[%d]", e.index) }

// parseBundle reads a transaction or batch Bundle. A body that is not
// such a Bundle, or an entry without a request the server can read, fails
// it (EINVALID, an *entryError naming the entry where one is at fault);
// what is wrong with an entry's content is kept in the entry (a batch
// answers it for that entry, a transaction fails with it).
func parseBundle(body []byte) (*bundleRequest, error) {
	b, root, err := readBundleDoc(body)
	if err != nil {
		return nil, err
	}
	switch b.kind {
	case kindTransaction, kindBatch:
	default:
		return nil, concord.Errorf(concord.EINVALID, "Bundle.type %q: POST /fhir takes a transaction or batch Bundle", b.kind)
	}
	if err := b.readEntries(root); err != nil {
		return nil, err
	}
	return b, nil
}

// readEntries reads the entries of a transaction or batch.
func (b *bundleRequest) readEntries(root fhirpath.JSONRef) error {
	entries, _ := root.Get("entry")
	var perr error
	entries.Each(func(_ string, v fhirpath.JSONRef) bool {
		i := len(b.entries)
		e, err := parseEntry(v, i)
		if err != nil {
			perr = &entryError{index: i, err: err}
			return false
		}
		b.entries = append(b.entries, e)
		return true
	})
	return perr
}

// readBundleDoc indexes a Bundle and checks its shape: an object of
// resourceType Bundle with a type and at most maxEntries entries.
func readBundleDoc(body []byte) (*bundleRequest, fhirpath.JSONRef, error) {
	if len(body) > maxBundle {
		return nil, fhirpath.JSONRef{}, concord.Errorf(concord.ETOOLARGE, "a Bundle is at most %d bytes", maxBundle)
	}
	doc, err := fhirpath.ParseJSON(body)
	if err != nil {
		return nil, fhirpath.JSONRef{}, concord.Errorf(concord.EINVALID, "the body is not valid JSON: %v", err)
	}
	root := doc.Root()
	if root.Kind() != fhirpath.JSONObject {
		return nil, root, concord.Errorf(concord.EINVALID, "the body is not a JSON object")
	}
	if rt, ok := root.Get("resourceType"); !ok || rt.Kind() != fhirpath.JSONString || rt.String() != "Bundle" {
		return nil, root, concord.Errorf(concord.EINVALID, "the body is not a Bundle")
	}
	kind, ok := root.Get("type")
	if !ok || kind.Kind() != fhirpath.JSONString {
		return nil, root, concord.Errorf(concord.EINVALID, "the Bundle has no type")
	}
	if entries, ok := root.Get("entry"); ok {
		if entries.Kind() != fhirpath.JSONArray {
			return nil, root, concord.Errorf(concord.EINVALID, "Bundle.entry is not an array")
		}
		if entries.Len() > maxEntries {
			return nil, root, concord.Errorf(concord.ETOOLARGE, "a Bundle has at most %d entries; this one has %d", maxEntries, entries.Len())
		}
	}
	return &bundleRequest{kind: kind.String(), doc: doc}, root, nil
}

// parseEntry reads one entry of a transaction or batch. It fails when the
// entry has no request this server can read.
func parseEntry(v fhirpath.JSONRef, i int) (*entry, error) {
	if v.Kind() != fhirpath.JSONObject {
		return nil, concord.Errorf(concord.EINVALID, "the entry is not an object")
	}
	req, ok := v.Get("request")
	if !ok || req.Kind() != fhirpath.JSONObject {
		return nil, concord.Errorf(concord.EINVALID, "the entry has no request")
	}
	str := func(obj fhirpath.JSONRef, name string) (string, error) {
		m, ok := obj.Get(name)
		if !ok {
			return "", nil
		}
		if m.Kind() != fhirpath.JSONString {
			return "", concord.Errorf(concord.EINVALID, "%s is not a string", name)
		}
		return m.String(), nil
	}
	e := &entry{index: i}
	var err error
	if e.method, err = str(req, "method"); err != nil {
		return nil, err
	}
	switch e.method {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE":
	case "":
		return nil, concord.Errorf(concord.EINVALID, "the entry's request has no method")
	default:
		return nil, concord.Errorf(concord.EINVALID, "request.method %q is not one of GET, HEAD, POST, PUT, PATCH, DELETE", e.method)
	}
	if e.url, err = str(req, "url"); err != nil {
		return nil, err
	}
	if e.url == "" {
		return nil, concord.Errorf(concord.EINVALID, "the entry's request has no url")
	}
	if e.fullURL, err = str(v, "fullUrl"); err != nil {
		return nil, err
	}
	e.err = e.read(v, req, str)
	return e, nil
}

// read reads what the entry asks for; its error belongs to the entry.
func (e *entry) read(v, req fhirpath.JSONRef, str func(fhirpath.JSONRef, string) (string, error)) error {
	if err := e.parseURL(); err != nil {
		return err
	}
	if s, err := str(req, "ifMatch"); err != nil {
		return err
	} else if e.ifMatch, err = parseIfMatch(s); err != nil {
		return err
	}
	if s, err := str(req, "ifNoneExist"); err != nil {
		return err
	} else if s != "" {
		if e.method != "POST" {
			return concord.Errorf(concord.EINVALID, "ifNoneExist is for POST entries")
		}
		s = strings.TrimPrefix(s, e.typ)
		q, err := url.ParseQuery(strings.TrimPrefix(s, "?"))
		if err != nil || len(q) == 0 {
			return concord.Errorf(concord.EINVALID, "ifNoneExist %q is not a search such as identifier=http://example.org|123", s)
		}
		e.ifNoneExist = q
	}
	res, hasRes := v.Get("resource")
	switch e.method {
	case "POST", "PUT":
		if !hasRes {
			return concord.Errorf(concord.EINVALID, "a %s entry needs a resource", e.method)
		}
		id, err := checkResource(res, e.typ)
		if err != nil {
			return err
		}
		if e.method == "PUT" && e.cond == nil && id != e.id {
			return concord.Errorf(concord.EINVALID, "the resource's id %q is not the url's %q", id, e.id)
		}
		e.res = res
	case "PATCH":
		if !hasRes {
			return concord.Errorf(concord.EINVALID, "a PATCH entry needs a Binary resource holding a JSON Patch document")
		}
		doc, err := patchDocument(res)
		if err != nil {
			return err
		}
		e.patch = doc
	}
	return nil
}

// parseURL reads request.url: Type, Type/id, Type/id/_history/version or
// Type?search, relative to the FHIR base (a leading /fhir/ or an absolute
// URL up to /fhir/ is accepted), as the method allows.
func (e *entry) parseURL() error {
	u, err := url.Parse(e.url)
	if err != nil {
		return concord.Errorf(concord.EINVALID, "request.url %q is not a URL", e.url)
	}
	path := u.Path
	if u.IsAbs() || strings.HasPrefix(path, "/") {
		i := strings.Index(path, "/fhir/")
		if i < 0 {
			return concord.Errorf(concord.EINVALID, "request.url %q is not under this server's /fhir base", e.url)
		}
		path = path[i+len("/fhir/"):]
	}
	parts := strings.Split(path, "/")
	e.typ = parts[0]
	if !fhir.IsResource(e.typ) {
		return concord.Errorf(concord.ENOTFOUND, "request.url %q: %q is not a resource type", e.url, e.typ)
	}
	search := u.RawQuery != "" || strings.HasSuffix(e.url, "?")
	if search {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			return concord.Errorf(concord.EINVALID, "request.url %q: the search does not parse", e.url)
		}
		e.cond = q
	}
	switch {
	case len(parts) == 1 && e.method == "POST":
		e.cond = nil // parameters of a create (_format …) are not a search
		return nil
	case len(parts) == 1 && search && e.method != "HEAD":
		return nil // conditional PUT, PATCH, DELETE; or a search
	case len(parts) == 1 && e.method == "GET":
		e.cond = url.Values{}
		return nil
	case len(parts) >= 2 && e.method != "POST" && !search:
		e.id = parts[1]
		if !concord.IsFHIRID(e.id) {
			return concord.Errorf(concord.EINVALID, "request.url %q: %q is not a FHIR id", e.url, e.id)
		}
		if len(parts) == 2 {
			return nil
		}
		if len(parts) == 4 && parts[2] == "_history" && (e.method == "GET" || e.method == "HEAD") {
			v, err := strconv.ParseInt(parts[3], 10, 64)
			if err != nil || v < 1 {
				return concord.Errorf(concord.ENOTFOUND, "request.url %q: no such version", e.url)
			}
			e.version = v
			return nil
		}
	}
	return concord.Errorf(concord.EUNSUPPORTED, "%s %s is not an interaction this server takes in a Bundle", e.method, e.url)
}

// checkResource checks an entry's resource: an object of the type the url
// names, with an id that is a FHIR id when given. It returns the id.
func checkResource(res fhirpath.JSONRef, typ string) (string, error) {
	if res.Kind() != fhirpath.JSONObject {
		return "", concord.Errorf(concord.EINVALID, "the resource is not a JSON object")
	}
	rt, ok := res.Get("resourceType")
	if !ok || rt.Kind() != fhirpath.JSONString {
		return "", concord.Errorf(concord.EINVALID, "the resource has no resourceType")
	}
	if rt.String() != typ {
		return "", concord.Errorf(concord.EINVALID, "resourceType is %q, the url says %s", rt.String(), typ)
	}
	id, ok := res.Get("id")
	if !ok {
		return "", nil
	}
	if id.Kind() != fhirpath.JSONString || !concord.IsFHIRID(id.String()) {
		return "", concord.Errorf(concord.EINVALID, "id is not a FHIR id (1-64 of A-Z a-z 0-9 - .)")
	}
	return id.String(), nil
}

// patchDocument returns the JSON Patch document a PATCH entry carries in
// a Binary resource (contentType application/json-patch+json, data in
// base64), the way FHIR Bundles carry patches.
func patchDocument(res fhirpath.JSONRef) ([]byte, error) {
	if res.Kind() != fhirpath.JSONObject {
		return nil, concord.Errorf(concord.EINVALID, "the resource is not a JSON object")
	}
	rt, _ := res.Get("resourceType")
	if rt.String() == "Parameters" {
		return nil, concord.Errorf(concord.EUNSUPPORTED, "FHIRPath Patch is not supported yet; send a JSON Patch in a Binary resource")
	}
	ct, _ := res.Get("contentType")
	if rt.String() != "Binary" || ct.String() != "application/json-patch+json" {
		return nil, concord.Errorf(concord.EINVALID, "a PATCH entry's resource is a Binary with contentType application/json-patch+json")
	}
	data, ok := res.Get("data")
	if !ok || data.Kind() != fhirpath.JSONString {
		return nil, concord.Errorf(concord.EINVALID, "the patch Binary has no data")
	}
	doc, err := base64.StdEncoding.DecodeString(data.String())
	if err != nil {
		return nil, concord.Errorf(concord.EINVALID, "the patch Binary's data is not base64")
	}
	return doc, nil
}

// ops is what an entry needs the caller to be allowed on its type.
func (e *entry) ops() concord.Ops {
	var o concord.Ops
	switch e.method {
	case "POST":
		o = concord.OpCreate
	case "PUT", "PATCH":
		o = concord.OpUpdate
	case "DELETE":
		o = concord.OpDelete
	default:
		o = concord.OpRead
	}
	if e.cond != nil || e.ifNoneExist != nil {
		o |= concord.OpSearch // the answer tells what matches
	}
	return o
}

// refType tells the type an entry's reference will point to once the
// transaction resolves it: the type of the entry a fullUrl names, or the
// type a conditional reference (Type?search) searches.
func (b *bundleRequest) refType(ref string) string {
	if b.types == nil {
		b.types = map[string]string{}
		for _, e := range b.entries {
			if e.fullURL != "" {
				b.types[e.fullURL] = e.typ
			}
		}
	}
	if t, ok := b.types[ref]; ok {
		return t
	}
	if t, _, ok := strings.Cut(ref, "?"); ok && !strings.Contains(t, "/") {
		return t
	}
	return ""
}
