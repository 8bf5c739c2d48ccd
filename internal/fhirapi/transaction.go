package fhirapi

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/fhir"
	"github.com/concord-health/concord/internal/jsonpatch"
	"github.com/concord-health/concord/internal/search"
)

// process runs the entries of b for the caller p. A transaction runs in
// one store transaction: all or nothing, and its failure is returned as
// an *entryError naming the entry at fault. A batch is grouped into one
// store transaction as well, but each entry's failure stays its own (if
// the store itself fails, the entries are run again one store transaction
// each). Either way the entries run in the order of the FHIR rules for
// transactions: DELETE, then POST, then PUT and PATCH, then GET and HEAD.
func (a *api) process(ctx context.Context, b *bundleRequest, p *concord.Principal) error {
	now := a.opt.Now().UTC().Truncate(time.Millisecond)
	tmpl := concord.AuditTemplateFrom(ctx)
	// Authorise every entry before any work, and choose the ids creates
	// will take (outside the store transaction, which may run again).
	var denied []*entry
	patientBound := p != nil && p.Patient != ""
	for _, e := range b.entries {
		if e.err == nil && patientBound && e.method != "GET" && e.method != "HEAD" {
			// Writes do not check compartments yet: a caller limited to one
			// patient's compartment only reads through a Bundle.
			e.err = concord.Errorf(concord.EFORBIDDEN, "a token limited to one patient's compartment may only read (GET) through a Bundle")
			denied = append(denied, e)
		}
		if e.err == nil {
			if _, err := concord.Authorize(p, concord.Action{ResourceType: e.typ, Ops: e.ops()}); err != nil {
				e.err = err
				denied = append(denied, e)
			}
		}
		// Validation, before the store transaction: an entry's resource
		// must conform as a single write's must (references to other
		// entries are still urn:uuid here, which is a valid reference).
		if e.err == nil && (e.method == "POST" || e.method == "PUT") {
			e.err = validateResource(ctx, e.res)
		}
		// The search index too: work kept out of the store transaction,
		// which holds the single writer.
		if e.err == nil && (e.method == "POST" || e.method == "PUT") {
			e.searchIndex, e.err = search.IndexAt(ctx, e.res, b.refType)
		}
		if e.err == nil && (e.method == "POST" || (e.method == "PUT" && e.cond != nil)) {
			id, err := concord.NewID(now)
			if err != nil {
				return err
			}
			e.newID = id
		}
	}
	defer func() { a.auditDenied(ctx, tmpl, now, denied) }()
	if b.kind == kindTransaction {
		for _, e := range b.entries {
			if e.err != nil {
				return &entryError{index: e.index, err: e.err}
			}
		}
	}
	order := processingOrder(b.entries)
	static := staticRefs(b.entries)
	prerender(b.entries, static)
	s := &txRun{a: a, p: p, tmpl: tmpl, now: now, static: static, fullURL: b.fullURL}
	err := a.store.Update(context.WithoutCancel(ctx), func(tx concord.Tx) error {
		s.begin(ctx, tx)
		if b.kind == kindTransaction {
			return s.transaction(order)
		}
		return s.batch(order)
	})
	if err == nil || b.kind == kindTransaction {
		return err
	}
	// The store failed the grouped batch: run each entry on its own so
	// that the failure stays with the entry that met it.
	for _, e := range order {
		if e.err != nil {
			e.fail(e.err)
			continue
		}
		err := a.store.Update(context.WithoutCancel(ctx), func(tx concord.Tx) error {
			s.begin(ctx, tx)
			e.result = result{}
			return s.run(e)
		})
		if err != nil {
			e.fail(err)
		}
	}
	return nil
}

// processingOrder returns the entries in the order the FHIR rules for
// transactions give, keeping the request order within each method.
func processingOrder(entries []*entry) []*entry {
	rank := map[string]int{"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}
	out := make([]*entry, 0, len(entries))
	for r := range 4 {
		for _, e := range entries {
			if rank[e.method] == r {
				out = append(out, e)
			}
		}
	}
	return out
}

// staticRefs maps the fullUrls whose resources' ids are known before the
// store transaction to Type/id: urn:uuid: and urn:oid: fullUrls of PUT
// entries, and every fullUrl of a POST entry without ifNoneExist (it gets
// a new id). Conditional entries are mapped once they are resolved.
func staticRefs(entries []*entry) map[string]string {
	refs := map[string]string{}
	for _, e := range entries {
		if e.err != nil || e.fullURL == "" {
			continue
		}
		switch {
		case e.method == "POST" && e.ifNoneExist == nil:
			refs[e.fullURL] = e.typ + "/" + e.newID
		case e.method == "PUT" && e.cond == nil && isURN(e.fullURL):
			refs[e.fullURL] = e.typ + "/" + e.id
		}
	}
	return refs
}

// errDynamicRef stops prerender for an entry: a reference in it is
// mapped only inside the store transaction.
var errDynamicRef = errors.New("reference resolved in the store transaction")

// prerender writes, before the store transaction, what of each POST or
// PUT entry does not depend on the transaction: its stored JSON after
// meta.lastUpdated (storedTail) and its search index with references
// mapped. That is work the single writer would otherwise do. It does so
// only for an entry whose every reference maps the same way in every run:
// to an entry whose id is known already (static), or to itself. An entry
// with a reference to a conditional entry's fullUrl, or with a
// conditional reference (Type?search), is written inside the
// transaction, as before.
func prerender(entries []*entry, static map[string]string) {
	dynamic := map[string]bool{}
	for _, e := range entries {
		if _, ok := static[e.fullURL]; e.fullURL != "" && !ok {
			dynamic[e.fullURL] = true
		}
	}
	rewrite := func(ref string) (string, error) {
		if to, ok := static[ref]; ok {
			return to, nil
		}
		if q := strings.IndexByte(ref, '?'); dynamic[ref] || (q > 0 && fhir.IsResource(ref[:q])) {
			return "", errDynamicRef
		}
		return ref, nil
	}
	for _, e := range entries {
		if e.err != nil || (e.method != "POST" && e.method != "PUT") {
			continue
		}
		tail, err := storedTail(e.res, rewrite)
		if err != nil {
			continue
		}
		index, err := search.Rewrite(e.searchIndex, rewrite)
		if err != nil {
			continue
		}
		e.preTail, e.preIndex = tail, index
	}
}

func isURN(s string) bool {
	return strings.HasPrefix(s, "urn:uuid:") || strings.HasPrefix(s, "urn:oid:")
}

// txRun is one run of a Bundle's store transaction.
type txRun struct {
	a      *api
	p      *concord.Principal
	tmpl   concord.AuditRecord
	now    time.Time
	static map[string]string
	// fullURL gives a searchset entry's fullUrl.
	fullURL func(*concord.Resource) string

	ctx  context.Context
	tx   concord.Tx
	refs map[string]string // fullUrl → Type/id, for this run
	cond map[string]string // conditional reference → Type/id, for this run
	// creates holds Type?criteria of the transaction's conditional
	// creates: a conditional PATCH with the same criteria that matches
	// nothing has nothing to do (the create writes the resource).
	creates map[string]bool
}

// begin starts a run: the store transaction may run more than once, so
// everything a run finds is reset.
func (s *txRun) begin(ctx context.Context, tx concord.Tx) {
	s.ctx, s.tx = ctx, tx
	s.refs = maps.Clone(s.static)
	s.cond = map[string]string{}
	s.creates = nil
}

// transaction runs every entry; the first failure fails them all.
func (s *txRun) transaction(order []*entry) error {
	s.creates = map[string]bool{}
	for _, e := range order {
		e.result = result{}
		if e.method == "POST" && e.ifNoneExist != nil {
			s.creates[e.typ+"?"+e.ifNoneExist.Encode()] = true
		}
	}
	step := func(e *entry, f func(*entry) error) error {
		if err := f(e); err != nil {
			return &entryError{index: e.index, err: err}
		}
		return nil
	}
	i := 0
	for ; i < len(order) && order[i].method == "DELETE"; i++ {
		if err := step(order[i], s.run); err != nil {
			return err
		}
	}
	// Resolve every conditional create and update before writing any, so
	// that references to them can be rewritten wherever they are.
	j := i
	for ; j < len(order) && order[j].method != "GET" && order[j].method != "HEAD"; j++ {
		if err := step(order[j], s.resolve); err != nil {
			return err
		}
	}
	if err := overlapping(order); err != nil {
		return err
	}
	for _, e := range order[i:] {
		if err := step(e, s.execute); err != nil {
			return err
		}
	}
	return nil
}

// batch runs every entry, keeping each failure with its entry. It fails
// (for the entries to be run again one by one) only when the store does.
func (s *txRun) batch(order []*entry) error {
	for _, e := range order {
		if e.err != nil {
			e.result = result{}
			e.fail(e.err)
			continue
		}
		e.result = result{}
		if err := s.run(e); err != nil {
			if storeFailure(err) {
				return err
			}
			e.fail(err)
			continue
		}
		// What the entry left waiting (PostgreSQL sends statements in
		// batches) is sent now. A failure there cannot be given to the
		// entry alone (the statements sent with it have run): the group
		// fails and each entry runs again in its own transaction.
		if err := s.tx.Flush(s.ctx); err != nil {
			return err
		}
	}
	return nil
}

// storeFailure tells an error of the store (or any other error without a
// code) from an answer to the entry.
func storeFailure(err error) bool { return concord.ErrorCode(err) == concord.EINTERNAL }

// fail records an entry's failure.
func (e *entry) fail(err error) {
	e.result = result{out: outFailed, status: statusOf(err), failure: err}
}

// run resolves and executes one entry.
func (s *txRun) run(e *entry) error {
	if err := s.resolve(e); err != nil {
		return err
	}
	return s.execute(e)
}

// resolve finds the resource a conditional entry is about (through
// match) and records where references to its fullUrl go.
func (s *txRun) resolve(e *entry) error {
	switch {
	case e.method == "POST" && e.ifNoneExist != nil:
		ids, err := s.a.match(s.ctx, s.tx, e.typ, e.ifNoneExist)
		if err != nil {
			return err
		}
		switch len(ids) {
		case 0:
			e.id = e.newID
		case 1:
			e.id = ids[0]
			e.out = outUnchanged // nothing to create: the match is the answer
		default:
			return concord.Errorf(concord.EPRECONDITION, "ifNoneExist matches %d %s resources", len(ids), e.typ)
		}
	case e.method == "POST":
		e.id = e.newID
	case e.cond != nil && (e.method == "PUT" || e.method == "PATCH" || e.method == "DELETE"):
		ids, err := s.a.match(s.ctx, s.tx, e.typ, e.cond)
		if err != nil {
			return err
		}
		switch {
		case len(ids) > 1:
			return concord.Errorf(concord.EPRECONDITION, "%s %s matches %d resources", e.method, e.url, len(ids))
		case len(ids) == 1:
			e.id = ids[0]
			if e.method == "PUT" {
				if id, _ := checkResource(e.res, e.typ); id != "" && id != e.id {
					return concord.Errorf(concord.EINVALID, "the resource's id %q is not the id of the match, %q", id, e.id)
				}
			}
		case e.method == "PUT":
			e.id = e.newID
			if id, _ := checkResource(e.res, e.typ); id != "" {
				e.id = id // no match, id given: update as create
			}
		case e.method == "PATCH" && s.creates[e.typ+"?"+e.cond.Encode()]:
			// "Create it, or else patch it": the conditional create
			// with the same criteria creates it.
			e.id = ""
		case e.method == "PATCH":
			return concord.Errorf(concord.ENOTFOUND, "PATCH %s matches no resource", e.url)
		default:
			e.id = "" // DELETE matching nothing: nothing to do
		}
	}
	if e.fullURL != "" && e.id != "" && (e.method == "POST" || ((e.method == "PUT" || e.method == "PATCH") && isURN(e.fullURL))) {
		s.refs[e.fullURL] = e.typ + "/" + e.id
	}
	return nil
}

// overlapping fails a transaction in which two entries write the same
// resource.
func overlapping(order []*entry) error {
	seen := map[string]bool{}
	for _, e := range order {
		if e.method == "GET" || e.method == "HEAD" || e.id == "" || e.out == outUnchanged {
			continue
		}
		k := e.typ + "/" + e.id
		if seen[k] {
			return &entryError{index: e.index, err: concord.Errorf(concord.EINVALID, "%s is written by more than one entry of the transaction", k)}
		}
		seen[k] = true
	}
	return nil
}

// execute performs a resolved entry.
func (s *txRun) execute(e *entry) error {
	switch e.method {
	case "DELETE":
		return s.delete(e)
	case "POST":
		if e.out == outUnchanged {
			cur, err := s.tx.CurrentResource(s.ctx, e.typ, e.id)
			if err != nil {
				return err
			}
			if cur == nil || cur.Deleted {
				return concord.Errorf(concord.ENOTFOUND, "the match for ifNoneExist, %s/%s, is not there", e.typ, e.id)
			}
			e.current, e.status = cur, http.StatusOK
			return nil
		}
		return s.write(e, nil, 1)
	case "PUT", "PATCH":
		if e.method == "PATCH" && e.id == "" {
			e.out, e.status = outUnchanged, http.StatusOK // see resolve: created instead
			return nil
		}
		cur, err := s.tx.CurrentResource(s.ctx, e.typ, e.id)
		if err != nil {
			return err
		}
		if e.method == "PATCH" && cur == nil {
			return concord.Errorf(concord.ENOTFOUND, "no %s/%s", e.typ, e.id)
		}
		if e.method == "PATCH" && cur.Deleted {
			return concord.Errorf(concord.EGONE, "%s/%s was deleted", e.typ, e.id)
		}
		if e.ifMatch != 0 && (cur == nil || cur.Version != e.ifMatch) {
			return concord.Errorf(concord.EPRECONDITION, "ifMatch version %d is not the current version of %s/%s", e.ifMatch, e.typ, e.id)
		}
		next := int64(1)
		if cur != nil {
			next = cur.Version + 1
		}
		return s.write(e, cur, next)
	default:
		return s.read(e)
	}
}

// write stores the entry's resource (or its patch's result) as version
// next of e.typ/e.id, with references rewritten, unless it repeats the
// current content.
func (s *txRun) write(e *entry, cur *concord.Resource, next int64) error {
	var content []byte
	var err error
	switch {
	case e.method == "PATCH":
		content, err = patched(cur, e.patch, e.typ, e.id, next, s.now)
	case e.preTail != nil:
		content = withStoredHead(e.res, e.id, next, s.now, e.preTail)
	default:
		content, err = storedJSON(e.res, e.id, next, s.now, s.rewrite)
	}
	if err != nil {
		return err
	}
	r := &concord.Resource{Type: e.typ, ID: e.id, Version: next, LastUpdated: s.now, Content: content}
	if e.preTail != nil {
		r.Index = e.preIndex
	} else if e.method != "PATCH" && e.searchIndex != nil {
		if r.Index, err = search.Rewrite(e.searchIndex, s.rewrite); err != nil {
			return err
		}
	}
	action := concord.AuditUpdate
	if e.method == "POST" {
		action = concord.AuditCreate
	}
	stored, changed, err := s.a.putChanged(s.ctx, s.tx, cur, r, action, s.tmpl)
	if err != nil {
		return err
	}
	e.current = stored
	switch {
	case !changed:
		e.out, e.status = outUnchanged, http.StatusOK
	case cur == nil || cur.Deleted:
		e.out, e.status = outCreated, http.StatusCreated
	default:
		e.out, e.status = outUpdated, http.StatusOK
	}
	return nil
}

// delete stores a deletion of e.typ/e.id, if there is anything to delete.
func (s *txRun) delete(e *entry) error {
	e.out, e.status = outDeleted, http.StatusNoContent
	if e.id == "" {
		return nil
	}
	cur, err := s.tx.CurrentResource(s.ctx, e.typ, e.id)
	if err != nil || cur == nil || cur.Deleted {
		return err
	}
	if e.ifMatch != 0 && cur.Version != e.ifMatch {
		return concord.Errorf(concord.EPRECONDITION, "ifMatch version %d is not the current version of %s/%s", e.ifMatch, e.typ, e.id)
	}
	r := &concord.Resource{Type: e.typ, ID: e.id, Version: cur.Version + 1, LastUpdated: s.now, Deleted: true}
	if err := s.a.put(s.ctx, s.tx, r, concord.AuditDelete, s.tmpl); err != nil {
		return err
	}
	e.current = r
	return nil
}

// rewrite maps a reference: a fullUrl of an entry to the entry's
// Type/id, a conditional reference (Type?search) to the one resource
// that matches; anything else is left as it is.
func (s *txRun) rewrite(ref string) (string, error) {
	if to, ok := s.refs[ref]; ok {
		return to, nil
	}
	q := strings.IndexByte(ref, '?')
	if q <= 0 || !fhir.IsResource(ref[:q]) {
		return ref, nil
	}
	if to, ok := s.cond[ref]; ok {
		return to, nil
	}
	typ := ref[:q]
	if _, err := concord.Authorize(s.p, concord.Action{ResourceType: typ, Ops: concord.OpSearch}); err != nil {
		return "", err
	}
	values, err := url.ParseQuery(ref[q+1:])
	if err != nil {
		return "", concord.Errorf(concord.EINVALID, "conditional reference %q does not parse", ref)
	}
	ids, err := s.a.match(s.ctx, s.tx, typ, values)
	if err != nil {
		return "", err
	}
	if len(ids) != 1 {
		return "", concord.Errorf(concord.EPRECONDITION, "conditional reference %q matches %d resources; it must match one", ref, len(ids))
	}
	s.cond[ref] = typ + "/" + ids[0]
	return s.cond[ref], nil
}

// patched applies a JSON Patch to the current version and returns the
// content to store.
func patched(cur *concord.Resource, doc []byte, typ, id string, next int64, now time.Time) ([]byte, error) {
	out, err := jsonpatch.Apply(cur.Content, doc)
	if err != nil {
		return nil, concord.Errorf(concord.EINVALID, "%v", err)
	}
	p, err := parseResource(out, typ)
	if err != nil {
		return nil, err
	}
	if p.id != id {
		return nil, concord.Errorf(concord.EINVALID, "a patch may not change the id")
	}
	return withMeta(p, id, next, now), nil
}

// read answers a GET or HEAD entry from inside the transaction, and
// audits it there.
func (s *txRun) read(e *entry) error {
	if e.cond != nil {
		return s.search(e)
	}
	cur, err := s.tx.CurrentResource(s.ctx, e.typ, e.id)
	if err != nil {
		return err
	}
	if cur == nil {
		return concord.Errorf(concord.ENOTFOUND, "no %s/%s", e.typ, e.id)
	}
	res := cur
	switch {
	case e.version == 0 || e.version == cur.Version:
	case e.version > cur.Version:
		return concord.Errorf(concord.ENOTFOUND, "no version %d of %s/%s", e.version, e.typ, e.id)
	default:
		// Earlier versions never change: read it as stored.
		if res, err = s.a.store.ResourceVersion(s.ctx, e.typ, e.id, e.version); err != nil {
			return err
		}
	}
	if err := s.a.hidden(s.ctx, res); err != nil {
		return err
	}
	if res.Deleted {
		return concord.Errorf(concord.EGONE, "%s/%s version %d is a deletion", e.typ, e.id, res.Version)
	}
	e.out, e.status, e.current = outRead, http.StatusOK, res
	return s.auditRead(concord.AuditRead, fmt.Sprintf("%s/%s/_history/%d", res.Type, res.ID, res.Version), res)
}

// search answers a GET Type?search entry with a searchset Bundle of the
// current versions that match.
func (s *txRun) search(e *entry) error {
	ids, err := s.a.match(s.ctx, s.tx, e.typ, e.cond)
	if err != nil {
		return err
	}
	var found []*concord.Resource
	for _, id := range ids {
		r, err := s.tx.CurrentResource(s.ctx, e.typ, id)
		if err != nil {
			return err
		}
		if r == nil || r.Deleted {
			continue
		}
		if ok, err := s.a.visible(s.ctx, r); err != nil {
			return err
		} else if ok {
			found = append(found, r)
		}
	}
	e.out, e.status, e.body = outRead, http.StatusOK, searchset(found, s.fullURL)
	return s.auditRead(concord.AuditSearch, e.typ+"?"+e.cond.Encode(), nil)
}

// auditRead appends the audit record of a read inside the transaction.
func (s *txRun) auditRead(action, object string, res *concord.Resource) error {
	rec := s.tmpl
	rec.Time, rec.Action, rec.Object, rec.Outcome = s.now, action, object, concord.OutcomeSuccess
	rec.Detail = "bundle " + action + " " + object
	if res != nil && res.Type == "Patient" {
		rec.Patient = res.ID
	}
	return s.tx.AppendAudit(s.ctx, &rec)
}

// auditDenied records the entries the caller was not allowed, each as a
// refused request, as the front door does for refused routes.
func (a *api) auditDenied(ctx context.Context, tmpl concord.AuditRecord, now time.Time, denied []*entry) {
	if len(denied) == 0 {
		return
	}
	a.store.Update(context.WithoutCancel(ctx), func(tx concord.Tx) error {
		for _, e := range denied {
			rec := tmpl
			rec.Time, rec.Action, rec.Object, rec.Outcome = now, auditAction(e.method), e.typ, concord.OutcomeMinor
			rec.Detail = fmt.Sprintf("bundle entry %d %s %s denied: %s", e.index, e.method, e.typ, concord.ErrorMessage(e.err))
			if err := tx.AppendAudit(ctx, &rec); err != nil {
				return err
			}
		}
		return nil
	})
}

// auditAction is the audit action of a request method.
func auditAction(method string) string {
	switch method {
	case "POST":
		return concord.AuditCreate
	case "PUT", "PATCH":
		return concord.AuditUpdate
	case "DELETE":
		return concord.AuditDelete
	}
	return concord.AuditRead
}
