package fhirapi

import (
	"context"
	"errors"
	"strings"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/fhir"
	"github.com/concord-health/concord/fhirpath"
)

// Importer loads Bundles and resources into the store without HTTP (for
// concord import), through the same code as POST /fhir: the caller is
// the principal in the context (authorised per entry), audit records
// start from the context's audit template.
type Importer struct {
	a *api
}

// NewImporter returns an Importer over store.
func NewImporter(store concord.Store, opt Options) *Importer {
	return &Importer{a: newAPI(store, opt)}
}

// ImportResult counts what an import did, by entry.
type ImportResult struct {
	Created   int // new resources
	Updated   int // new versions
	Unchanged int // nothing stored: same content as the current version, or ifNoneExist matched
	Deleted   int
	Read      int
	Failed    int
	// Failures says why each failed entry failed.
	Failures []ImportFailure
}

// ImportFailure is an entry (or resource) that failed: its position in
// the Bundle's entries (or in the resources given), from 0, and why.
type ImportFailure struct {
	Index   int
	Message string
}

// Add adds the counts of o to r.
func (r *ImportResult) Add(o ImportResult) {
	r.Created += o.Created
	r.Updated += o.Updated
	r.Unchanged += o.Unchanged
	r.Deleted += o.Deleted
	r.Read += o.Read
	r.Failed += o.Failed
	r.Failures = append(r.Failures, o.Failures...)
}

// Entries is how many entries the result counts.
func (r ImportResult) Entries() int {
	return r.Created + r.Updated + r.Unchanged + r.Deleted + r.Read + r.Failed
}

// Bundle imports a transaction, batch or collection Bundle. Transactions
// and batches are processed as POST /fhir would, except that a POST entry
// whose fullUrl is urn:uuid:X (and that has no ifNoneExist) becomes a PUT
// of Type/X: importing the same Bundle again then updates those resources
// in place, and as their content is unchanged, stores nothing new. A
// collection's resources are stored as a batch of PUTs under their own
// ids (or the urn:uuid of their fullUrl; a resource with neither is
// created with a new id). A transaction that fails keeps nothing and
// returns the error.
func (im *Importer) Bundle(ctx context.Context, body []byte) (ImportResult, error) {
	b, root, err := readBundleDoc(body)
	if err != nil {
		return ImportResult{}, err
	}
	switch b.kind {
	case kindTransaction, kindBatch:
		if err := b.readEntries(root); err != nil {
			return ImportResult{}, err
		}
		for _, e := range b.entries {
			e.putByUUID()
		}
	case "collection":
		b.kind = kindBatch
		if err := b.collectionEntries(root); err != nil {
			return ImportResult{}, err
		}
	default:
		return ImportResult{}, concord.Errorf(concord.EINVALID, "Bundle.type %q: import takes transaction, batch and collection Bundles", b.kind)
	}
	if err := im.a.process(ctx, b, concord.PrincipalFrom(ctx)); err != nil {
		var ee *entryError
		if errors.As(err, &ee) {
			return ImportResult{}, concord.WrapError(concord.ErrorCode(ee.err), err, "%s: %s", ee.where(), concord.ErrorMessage(ee.err))
		}
		return ImportResult{}, err
	}
	return b.result(), nil
}

// Resources stores resources (such as the lines of an NDJSON file), each
// under its own id (PUT semantics: created, updated, or left alone when
// unchanged), grouped into one batch: one failing resource fails only
// itself. A resource that is not JSON, has no resourceType or no id
// counts as failed.
func (im *Importer) Resources(ctx context.Context, resources [][]byte) (ImportResult, error) {
	b, err := im.a.putResources(ctx, resources)
	if err != nil {
		return ImportResult{}, err
	}
	return b.result(), nil
}

// putResources runs resources as a batch of PUTs by id (see
// Importer.Resources) and returns the batch, each entry with its result.
func (a *api) putResources(ctx context.Context, resources [][]byte) (*bundleRequest, error) {
	b := &bundleRequest{kind: kindBatch}
	for i, raw := range resources {
		e := &entry{index: i, method: "PUT"}
		b.entries = append(b.entries, e)
		doc, err := fhirpath.ParseJSON(raw)
		if err != nil {
			e.err = concord.Errorf(concord.EINVALID, "not valid JSON: %v", err)
			continue
		}
		e.res = doc.Root()
		e.typ, e.id, e.err = resourceIdentity(e.res)
		if e.err == nil && e.id == "" {
			e.err = concord.Errorf(concord.EINVALID, "the %s has no id", e.typ)
		}
		e.url = e.typ + "/" + e.id
	}
	if err := a.process(ctx, b, concord.PrincipalFrom(ctx)); err != nil {
		return nil, err
	}
	return b, nil
}

// putByUUID turns a POST whose fullUrl is a urn:uuid into a PUT of that
// uuid (a valid FHIR id), for idempotent imports.
func (e *entry) putByUUID() {
	id, ok := strings.CutPrefix(e.fullURL, "urn:uuid:")
	if e.err != nil || e.method != "POST" || e.ifNoneExist != nil || !ok || !concord.IsFHIRID(id) {
		return
	}
	e.method, e.id, e.url = "PUT", id, e.typ+"/"+id
}

// collectionEntries reads a collection's resources as PUT entries (POST
// for a resource with no id and no urn:uuid fullUrl).
func (b *bundleRequest) collectionEntries(root fhirpath.JSONRef) error {
	entries, _ := root.Get("entry")
	var perr error
	entries.Each(func(_ string, v fhirpath.JSONRef) bool {
		e := &entry{index: len(b.entries), method: "PUT"}
		b.entries = append(b.entries, e)
		if v.Kind() != fhirpath.JSONObject {
			perr = &entryError{index: e.index, err: concord.Errorf(concord.EINVALID, "the entry is not an object")}
			return false
		}
		if f, ok := v.Get("fullUrl"); ok && f.Kind() == fhirpath.JSONString {
			e.fullURL = f.String()
		}
		res, ok := v.Get("resource")
		if !ok {
			e.err = concord.Errorf(concord.EINVALID, "the entry has no resource")
			return true
		}
		e.res = res
		if e.typ, e.id, e.err = resourceIdentity(res); e.err != nil {
			return true
		}
		if e.id == "" {
			if u, ok := strings.CutPrefix(e.fullURL, "urn:uuid:"); ok && concord.IsFHIRID(u) {
				e.id = u
			} else {
				e.method = "POST"
			}
		}
		e.url = e.typ + "/" + e.id
		return true
	})
	return perr
}

// resourceIdentity returns a resource's type and id ("" when it has none).
func resourceIdentity(res fhirpath.JSONRef) (typ, id string, err error) {
	if res.Kind() == fhirpath.JSONObject {
		if rt, ok := res.Get("resourceType"); ok && rt.Kind() == fhirpath.JSONString {
			typ = rt.String()
		}
	}
	if !fhir.IsResource(typ) {
		return "", "", concord.Errorf(concord.EINVALID, "not a resource: resourceType %q", typ)
	}
	id, err = checkResource(res, typ)
	return typ, id, err
}

// result counts the entries' outcomes.
func (b *bundleRequest) result() ImportResult {
	var r ImportResult
	for _, e := range b.entries {
		switch e.out {
		case outCreated:
			r.Created++
		case outUpdated:
			r.Updated++
		case outUnchanged:
			r.Unchanged++
		case outDeleted:
			r.Deleted++
		case outRead:
			r.Read++
		case outFailed:
			r.Failed++
			r.Failures = append(r.Failures, ImportFailure{Index: e.index, Message: concord.ErrorMessage(e.failure)})
		}
	}
	return r
}
