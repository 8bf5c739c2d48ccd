package fhirapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/fhir"
	"github.com/concord-health/concord/internal/httperr"
	"github.com/concord-health/concord/internal/search"
)

// everythingPage is the page size of $everything without _count, and
// the largest _count it takes.
const everythingPage = search.MaxCount

// everythingRounds is how many times references are followed from what
// the previous round added (a PractitionerRole's Organization, an
// Organization's partOf).
const everythingRounds = 3

// everythingExtra are member types that the R4 Patient compartment does
// not list but that hold a patient's data, with the parameters that make
// a resource the patient's: a Device with Device.patient.
var everythingExtra = map[string]map[string][]string{
	fhir.CompartmentPatient: {"Device": {"patient"}},
}

// everythingOperation is how the CapabilityStatement announces
// $everything, by resource type.
var everythingOperation = map[string][]map[string]string{
	fhir.CompartmentPatient:   {{"name": "everything", "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything"}},
	fhir.CompartmentEncounter: {{"name": "everything", "definition": "http://hl7.org/fhir/OperationDefinition/Encounter-everything"}},
}

// everything is $everything on a Patient or an Encounter
// (GET or POST /fhir/{Patient|Encounter}/{id}/$everything; FHIR R4
// patient-operation-everything and encounter-operation-everything): a
// searchset Bundle with the resource itself and every resource of its
// compartment (search.mode match), and the resources those refer to that
// are not another patient's data (search.mode include): Practitioners,
// Organizations, Locations, Medications, Devices and the like. Parameters
// _since, _type, _count, start and end; pages are linked with next.
// The types the caller's scopes do not allow are left out and named in
// an outcome entry.
func (a *api) everything(w http.ResponseWriter, r *http.Request, typ string) {
	id := r.PathValue("id")
	if !concord.IsFHIRID(id) {
		httperr.Write(w, r, concord.Errorf(concord.EINVALID, "%q is not a FHIR id", id))
		return
	}
	vals, err := everythingParams(r)
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	req, err := parseEverything(typ, vals)
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), searchTimeout)
	defer cancel()
	run := &everythingRun{a: a, req: req, owner: concord.Ref{Type: typ, ID: id}, p: concord.PrincipalFrom(ctx)}
	if limit := patientLimit(ctx, typ); limit != nil && typ == fhir.CompartmentPatient && limit.Owner.ID != id {
		httperr.Write(w, r, concord.Errorf(concord.EFORBIDDEN, "this token may see only %s/%s's compartment", limit.Owner.Type, limit.Owner.ID))
		return
	}
	res, err := a.store.Resource(ctx, typ, id)
	if err == nil {
		err = a.hidden(ctx, res)
	}
	if err == nil && res.Deleted {
		err = concord.Errorf(concord.EGONE, "%s/%s was deleted (version %d)", typ, id, res.Version)
	}
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	if err := run.findPatient(ctx); err != nil {
		httperr.Write(w, r, err)
		return
	}
	members, next, err := run.page(ctx)
	if err != nil {
		httperr.Write(w, r, tooCostly(ctx, err))
		return
	}
	sources, err := run.unreturned(ctx)
	if err != nil {
		httperr.Write(w, r, tooCostly(ctx, err))
		return
	}
	included, err := run.includes(ctx, members, sources)
	if err != nil {
		httperr.Write(w, r, tooCostly(ctx, err))
		return
	}
	concord.NoteAudit(ctx, "fhir/"+typ+"/"+id+"/$everything?"+req.params.Encode(), run.patient)
	writeBody(w, r, http.StatusOK, run.bundle(r, members, included, next))
}

// everythingRequest is a parsed $everything request.
type everythingRequest struct {
	types      map[string]bool // _type: the types asked for; nil for all
	since      string          // _since, as given
	sinceTime  time.Time       // and the instant it stands for
	start, end string          // the clinical date window, as given
	count      int             // the page size
	at         everythingCursor
	// params are the parameters to repeat in the links (all but _cursor).
	params url.Values
}

// everythingCursor is where a page starts: at offset among the members
// of type (in the order of everythingRun.memberTypes). The next link
// carries it as _cursor=Type:offset.
type everythingCursor struct {
	typ    string
	offset int
}

// maxCursorOffset caps the offset a cursor may carry within one type.
const maxCursorOffset = 10_000_000

// everythingParams returns the operation's parameters: the query's, and
// for POST those of a form or a Parameters body.
func everythingParams(r *http.Request) (url.Values, error) {
	if r.Method != http.MethodPost {
		return r.URL.Query(), nil
	}
	mt := ""
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, _ = strings.Cut(ct, ";")
		mt = strings.TrimSpace(strings.ToLower(mt))
	}
	if mt == "application/x-www-form-urlencoded" {
		return searchParams(r)
	}
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	vals := r.URL.Query()
	if len(bytes.TrimSpace(body)) == 0 {
		return vals, nil
	}
	return parametersValues(body, vals)
}

// OperationParams returns an operation's parameters: for GET those of
// the query, for POST those of a form or a Parameters body (at most
// maxResource bytes) added to the query's.
func OperationParams(r *http.Request) (url.Values, error) { return everythingParams(r) }

// parametersValues adds the primitive parameters of a Parameters resource
// to vals.
func parametersValues(body []byte, vals url.Values) (url.Values, error) {
	var p struct {
		ResourceType string                       `json:"resourceType"`
		Parameter    []map[string]json.RawMessage `json:"parameter"`
	}
	if err := json.Unmarshal(body, &p); err != nil || p.ResourceType != "Parameters" {
		return nil, concord.Errorf(concord.EINVALID, "the body must be a Parameters resource (or a form)")
	}
	for i, prm := range p.Parameter {
		var name string
		if err := json.Unmarshal(prm["name"], &name); err != nil || name == "" {
			return nil, concord.Errorf(concord.EINVALID, "Parameters.parameter[%d] has no name", i)
		}
		found := false
		for k, raw := range prm {
			if !strings.HasPrefix(k, "value") {
				continue
			}
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				var n json.Number
				if err := json.Unmarshal(raw, &n); err != nil {
					return nil, concord.Errorf(concord.EINVALID, "Parameters.parameter[%d] (%s): %s is not a primitive value", i, name, k)
				}
				s = n.String()
			}
			vals.Add(name, s)
			found = true
		}
		if !found {
			return nil, concord.Errorf(concord.EINVALID, "Parameters.parameter[%d] (%s) has no value", i, name)
		}
	}
	return vals, nil
}

// parseEverything reads the parameters of $everything on typ.
func parseEverything(typ string, vals url.Values) (*everythingRequest, error) {
	req := &everythingRequest{count: everythingPage, params: url.Values{}}
	bad := func(format string, a ...any) error { return concord.Errorf(concord.EINVALID, format, a...) }
	for k, vs := range vals {
		last := vs[len(vs)-1]
		switch k {
		case "_format", "_pretty":
		case "_count":
			n, err := strconv.Atoi(last)
			if err != nil || n < 1 {
				return nil, bad("_count must be a whole number from 1, not %q", last)
			}
			req.count = min(n, everythingPage)
			req.params.Set(k, strconv.Itoa(req.count))
		case "_type":
			req.types = map[string]bool{}
			for _, v := range vs {
				for t := range strings.SplitSeq(v, ",") {
					t = strings.TrimSpace(t)
					if !fhir.IsResource(t) {
						return nil, bad("_type: %q is not a resource type", t)
					}
					req.types[t] = true
				}
			}
			req.params[k] = vs
		case "_since", "start", "end":
			if len(vs) > 1 {
				return nil, bad("%s is given once", k)
			}
			lo, _, err := datePeriod(last)
			if err != nil {
				return nil, bad("%s: %s", k, concord.ErrorMessage(err))
			}
			switch k {
			case "_since":
				req.since, req.sinceTime = last, lo
			case "start":
				req.start = last
			default:
				req.end = last
			}
			req.params.Set(k, last)
		case "_cursor":
			t, off, ok := strings.Cut(last, ":")
			n, err := strconv.Atoi(off)
			if !ok || !fhir.IsResource(t) || err != nil || n < 0 || n > maxCursorOffset {
				return nil, bad("_cursor %q is not one this server wrote", last)
			}
			req.at = everythingCursor{typ: t, offset: n}
		default:
			return nil, concord.Errorf(concord.EUNSUPPORTED, "$everything on %s does not take the parameter %q (it takes _since, _type, _count, start, end)", typ, k)
		}
	}
	return req, nil
}

// everythingRun is one $everything request being answered.
type everythingRun struct {
	a     *api
	req   *everythingRequest
	owner concord.Ref
	p     *concord.Principal
	// patient is the patient whose data this is: the owner, or the
	// Encounter's subject when it is a Patient ("" when it has none).
	patient string
	// left are the types left out because the caller's scopes do not
	// allow them.
	left []string
	// types caches memberTypes; present are the compartment's types that
	// refer to the owner, whether asked for and allowed or not.
	types, present []string
}

// findPatient finds whose data the request is about.
func (e *everythingRun) findPatient(ctx context.Context) error {
	if e.owner.Type == fhir.CompartmentPatient {
		e.patient = e.owner.ID
		return nil
	}
	refs, err := e.a.store.References(ctx, e.owner.Type, "patient", []string{e.owner.ID})
	if err != nil {
		return err
	}
	for _, ref := range refs {
		if ref.Type == fhir.CompartmentPatient {
			e.patient = ref.ID
		}
	}
	return nil
}

// allowed reports whether the caller may have resources of typ: asked
// for (_type) and within its scopes for ops (types refused are noted).
func (e *everythingRun) allowed(typ string, ops concord.Ops) bool {
	if e.req.types != nil && !e.req.types[typ] {
		return false
	}
	if _, err := concord.Authorize(e.p, concord.Action{ResourceType: typ, Ops: ops, Patient: e.patient}); err != nil {
		if !slices.Contains(e.left, typ) {
			e.left = append(e.left, typ)
		}
		return false
	}
	return true
}

// memberTypes are the types of the owner's compartment the request
// returns, the owner's own type first, then by name: those of the
// compartment's types that hold a reference to the owner (one query
// finds them; each member type then takes one), asked for and allowed.
func (e *everythingRun) memberTypes(ctx context.Context) ([]string, error) {
	if e.types != nil {
		return e.types, nil
	}
	referring, err := e.a.store.ReferencedBy(ctx, "", "", []concord.Ref{e.owner})
	if err != nil {
		return nil, err
	}
	present := map[string]bool{e.owner.Type: true}
	for _, r := range referring {
		present[r.Type] = true
	}
	all := slices.Clone(fhir.CompartmentTypes(e.owner.Type))
	for t := range everythingExtra[e.owner.Type] {
		if !slices.Contains(all, t) {
			all = append(all, t)
		}
	}
	all = slices.DeleteFunc(all, func(t string) bool { return t == e.owner.Type || !present[t] })
	slices.Sort(all)
	all = append([]string{e.owner.Type}, all...)
	e.present = all
	e.types = []string{}
	for _, t := range all {
		if e.allowed(t, concord.OpSearch) {
			e.types = append(e.types, t)
		}
	}
	return e.types, nil
}

// start is the index in types of the type a page starts with, and the
// offset within it: the cursor's type, or when it holds no members any
// more, the next type in order.
func (e *everythingRun) start(types []string) (int, int) {
	at := e.req.at
	if at.typ == "" {
		return 0, 0
	}
	for i, t := range types {
		switch {
		case t == at.typ:
			return i, at.offset
		case at.typ == e.owner.Type || (t != e.owner.Type && t > at.typ):
			return i, 0
		}
	}
	return len(types), 0
}

// query is the search for members of typ: in the owner's compartment,
// with _since and the date window.
func (e *everythingRun) query(typ string) (*concord.SearchQuery, error) {
	vals := url.Values{}
	if e.req.since != "" {
		vals.Set("_lastUpdated", "ge"+e.req.since)
	}
	if p, ok := fhir.SearchParam(typ, "date"); ok && p.Type == fhir.SearchDate {
		if e.req.start != "" {
			vals.Add("date", "ge"+e.req.start)
		}
		if e.req.end != "" {
			vals.Add("date", "le"+e.req.end)
		}
	}
	parsed, err := search.Parse(typ, vals, search.Options{Strict: true})
	if err != nil {
		return nil, err
	}
	q := parsed.Query
	q.Total = false
	q.Compartment = compartmentOf(e.owner, typ)
	if q.Compartment == nil {
		// A type the compartment definition does not list (see
		// everythingExtra).
		q.Compartment = &concord.SearchCompartment{Owner: e.owner, Params: everythingExtra[e.owner.Type][typ]}
	}
	return &q, nil
}

// page returns the members on the requested page, and where the next
// page starts (nil when this is the last). Each type takes one query (a
// type whose page fills takes one more for the next cursor, and the
// types after it a one-row probe each until one has members).
func (e *everythingRun) page(ctx context.Context) ([]*concord.Resource, *everythingCursor, error) {
	types, err := e.memberTypes(ctx)
	if err != nil {
		return nil, nil, err
	}
	first, offset := e.start(types)
	var out []*concord.Resource
	remaining := e.req.count
	for i := first; i < len(types); i++ {
		q, err := e.query(types[i])
		if err != nil {
			return nil, nil, err
		}
		if i == first {
			q.Offset = offset
		}
		if remaining == 0 {
			// The page is full: is there anything further on?
			q.Count = 1
			got, _, err := e.a.store.Search(ctx, q)
			if err != nil {
				return nil, nil, err
			}
			if len(got) > 0 {
				return out, &everythingCursor{typ: types[i], offset: q.Offset}, nil
			}
			continue
		}
		q.Count = remaining + 1
		got, _, err := e.a.store.Search(ctx, q)
		if err != nil {
			return nil, nil, err
		}
		more := len(got) > remaining
		if more {
			got = got[:remaining]
		}
		// The cursor counts the members as stored; what a caller may not
		// see is dropped after (the page is then shorter).
		taken := len(got)
		if got, err = e.keepVisible(ctx, types[i], got); err != nil {
			return nil, nil, err
		}
		out = append(out, got...)
		if more {
			return out, &everythingCursor{typ: types[i], offset: q.Offset + taken}, nil
		}
		remaining -= taken
	}
	return out, nil, nil
}

// keepVisible drops from rs (all of type typ) what a patient-context
// caller may not see: on an Encounter, compartment members that are not
// in its patient's compartment.
func (e *everythingRun) keepVisible(ctx context.Context, typ string, rs []*concord.Resource) ([]*concord.Resource, error) {
	limit := patientLimit(ctx, typ)
	if limit == nil || len(rs) == 0 || e.owner.Type == fhir.CompartmentPatient {
		// A Patient's members are found in the caller's own compartment.
		return rs, nil
	}
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	keep, err := e.a.matchingIDs(ctx, typ, ids, nil, limit)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(rs, func(r *concord.Resource) bool { return !keep[r.ID] }), nil
}

// matchingIDs returns which of ids (of type typ) match where and lie in
// compartment c (when set): one query per 500 ids.
func (a *api) matchingIDs(ctx context.Context, typ string, ids []string, where []concord.SearchClause, c *concord.SearchCompartment) (map[string]bool, error) {
	keep := map[string]bool{}
	for len(ids) > 0 {
		n := min(len(ids), 500)
		idc := concord.SearchClause{Param: "_id", Kind: concord.SearchKindID}
		for _, id := range ids[:n] {
			idc.Values = append(idc.Values, concord.SearchValue{Code: id})
		}
		q := &concord.SearchQuery{Type: typ, Count: n, Compartment: c, Where: append([]concord.SearchClause{idc}, where...)}
		got, _, err := a.store.Search(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, r := range got {
			keep[r.ID] = true
		}
		ids = ids[n:]
	}
	return keep, nil
}

// includes returns the resources the members refer to that the request
// adds (search.mode include), following references everythingRounds
// times: every resource of a type that is not patient data (not in the
// Patient compartment: Practitioner, Organization, Location, Medication,
// Device, …), and of the other types those in the patient's compartment
// (on an Encounter: the Patient, its Conditions, …) or in no patient's
// compartment. Another patient's data is never added; a Patient's own
// members are matches on their own page. Patient-context callers get
// only what their compartment holds.
//
// sources are more members to follow references from, not returned
// themselves (see unreturned).
func (e *everythingRun) includes(ctx context.Context, members, sources []*concord.Resource) ([]*concord.Resource, error) {
	seen := map[concord.Ref]bool{e.owner: true}
	frontier := append(slices.Clone(members), sources...)
	for _, r := range frontier {
		seen[concord.Ref{Type: r.Type, ID: r.ID}] = true
	}
	limit := len(seen) + maxIncluded
	var out []*concord.Resource
	for round := 0; round < everythingRounds && len(frontier) > 0; round++ {
		byType := map[string][]string{}
		for _, r := range frontier {
			byType[r.Type] = append(byType[r.Type], r.ID)
		}
		types := make([]string, 0, len(byType))
		for t := range byType {
			types = append(types, t)
		}
		slices.Sort(types)
		// The candidates by type, in order of discovery.
		cands := map[string][]string{}
		var candTypes []string
		for _, t := range types {
			refs, err := e.a.store.References(ctx, t, "", byType[t])
			if err != nil {
				return nil, err
			}
			for _, ref := range refs {
				if seen[ref] || len(seen) >= limit || !fhir.IsResource(ref.Type) {
					continue
				}
				seen[ref] = true
				if cands[ref.Type] == nil {
					candTypes = append(candTypes, ref.Type)
				}
				cands[ref.Type] = append(cands[ref.Type], ref.ID)
			}
		}
		var fresh []concord.Ref
		for _, t := range candTypes {
			ids, err := e.includable(ctx, t, cands[t])
			if err != nil {
				return nil, err
			}
			for _, id := range ids {
				fresh = append(fresh, concord.Ref{Type: t, ID: id})
			}
		}
		got, err := e.a.store.Resources(ctx, fresh)
		if err != nil {
			return nil, err
		}
		if e.req.since != "" {
			// The referenced resources answer to _since too.
			got = slices.DeleteFunc(got, func(r *concord.Resource) bool { return r.LastUpdated.Before(e.req.sinceTime) })
		}
		out = append(out, got...)
		frontier = got
	}
	return out, nil
}

// maxUnreturned caps the members unreturned reads.
const maxUnreturned = 10_000

// unreturned returns, on the first page of a request whose _type names
// types that are not members (Practitioner, Medication, …), the members
// of the types _type leaves out: what those refer to is asked for too
// (_type=Medication gives the Medications the patient's
// MedicationRequests name). Nil otherwise. At most maxUnreturned.
func (e *everythingRun) unreturned(ctx context.Context) ([]*concord.Resource, error) {
	if e.req.types == nil || e.req.at.typ != "" {
		return nil, nil
	}
	if _, err := e.memberTypes(ctx); err != nil {
		return nil, err
	}
	referenced := false
	for t := range e.req.types {
		if !slices.Contains(fhir.CompartmentTypes(e.owner.Type), t) && everythingExtra[e.owner.Type][t] == nil {
			referenced = true
		}
	}
	if !referenced {
		return nil, nil
	}
	var out []*concord.Resource
	for _, t := range e.present {
		if e.req.types[t] {
			continue
		}
		if _, err := concord.Authorize(e.p, concord.Action{ResourceType: t, Ops: concord.OpSearch, Patient: e.patient}); err != nil {
			continue // not the caller's to see, so not to follow either
		}
		q, err := e.query(t)
		if err != nil {
			return nil, err
		}
		for len(out) < maxUnreturned {
			q.Count = min(everythingPage, maxUnreturned-len(out))
			got, _, err := e.a.store.Search(ctx, q)
			if err != nil {
				return nil, err
			}
			raw := len(got)
			if got, err = e.keepVisible(ctx, t, got); err != nil {
				return nil, err
			}
			out = append(out, got...)
			if raw < q.Count {
				break
			}
			q.Offset += q.Count
		}
	}
	return out, nil
}

// includable returns which of ids, referenced resources of type typ, the
// request adds (see includes).
func (e *everythingRun) includable(ctx context.Context, typ string, ids []string) ([]string, error) {
	if !e.allowed(typ, concord.OpRead) {
		return nil, nil
	}
	params := slices.DeleteFunc(slices.Clone(fhir.CompartmentParams(fhir.CompartmentPatient, typ)), func(p string) bool {
		return p == fhir.CompartmentDefiner
	})
	patientData := typ == fhir.CompartmentPatient || len(params) > 0
	limit := patientLimit(ctx, typ)
	var keep map[string]bool
	switch {
	case typ == "Device":
		// Not patient data by the compartment definition, but a Device
		// may be one patient's: leave out another patient's.
		if limit == nil && e.patient == "" {
			return ids, nil
		}
		mine, err := e.a.matchingIDs(ctx, typ, ids, nil, &concord.SearchCompartment{
			Owner: concord.Ref{Type: fhir.CompartmentPatient, ID: e.patient}, Params: []string{"patient"}})
		if err != nil {
			return nil, err
		}
		unowned, err := e.a.matchingIDs(ctx, typ, ids, []concord.SearchClause{missing("patient")}, nil)
		if err != nil {
			return nil, err
		}
		keep = mine
		if limit == nil {
			for id := range unowned {
				keep[id] = true
			}
		}
	case !patientData:
		if limit == nil {
			return ids, nil
		}
	case e.owner.Type == fhir.CompartmentPatient:
		// The patient's own are members (matches); another patient's are
		// not for this request. What belongs to nobody may be added.
		if typ == fhir.CompartmentPatient || limit != nil {
			return nil, nil
		}
		var where []concord.SearchClause
		for _, p := range params {
			where = append(where, missing(p))
		}
		var err error
		if keep, err = e.a.matchingIDs(ctx, typ, ids, where, nil); err != nil {
			return nil, err
		}
	default:
		// On an Encounter: what is in its patient's compartment.
		if e.patient == "" {
			return nil, nil
		}
		var err error
		keep, err = e.a.matchingIDs(ctx, typ, ids, nil, compartmentOf(concord.Ref{Type: fhir.CompartmentPatient, ID: e.patient}, typ))
		if err != nil {
			return nil, err
		}
	}
	if limit != nil && keep == nil {
		var err error
		if keep, err = e.a.matchingIDs(ctx, typ, ids, nil, limit); err != nil {
			return nil, err
		}
	}
	return slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return !keep[id] }), nil
}

// missing is the clause param:missing=true.
func missing(param string) concord.SearchClause {
	return concord.SearchClause{Param: param, Kind: string(fhir.SearchReference), Modifier: "missing", Missing: true}
}

// bundle writes the page as a searchset Bundle.
func (e *everythingRun) bundle(r *http.Request, members, included []*concord.Resource, next *everythingCursor) []byte {
	base := baseURL(r)
	link := func(at everythingCursor) string {
		v := url.Values{}
		for k, vs := range e.req.params {
			v[k] = vs
		}
		if at.typ != "" {
			v.Set("_cursor", at.typ+":"+strconv.Itoa(at.offset))
		}
		u := base + "/" + e.owner.Type + "/" + e.owner.ID + "/$everything"
		if len(v) > 0 {
			u += "?" + v.Encode()
		}
		return u
	}
	var b bytes.Buffer
	b.WriteString(`{"resourceType":"Bundle","type":"searchset"`)
	if e.req.at.typ == "" && next == nil {
		fmt.Fprintf(&b, `,"total":%d`, len(members))
	}
	links := [][2]string{{"self", link(e.req.at)}, {"first", link(everythingCursor{})}}
	if next != nil {
		links = append(links, [2]string{"next", link(*next)})
	}
	b.WriteString(`,"link":[`)
	for i, l := range links {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSON(&b, map[string]string{"relation": l[0], "url": l[1]})
	}
	b.WriteString(`],"entry":[`)
	n := 0
	entry := func(res *concord.Resource, mode string) {
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		b.WriteString(`{"fullUrl":`)
		writeJSON(&b, base+"/"+res.Type+"/"+res.ID)
		b.WriteString(`,"resource":`)
		b.Write(res.Content)
		b.WriteString(`,"search":{"mode":"` + mode + `"}}`)
	}
	for _, res := range members {
		entry(res, "match")
	}
	for _, res := range included {
		entry(res, "include")
	}
	if len(e.left) > 0 {
		if n > 0 {
			b.WriteByte(',')
		}
		slices.Sort(e.left)
		b.WriteString(`{"resource":{"resourceType":"OperationOutcome","issue":[{"severity":"information","code":"suppressed","diagnostics":`)
		writeJSON(&b, "left out, not within this token's scopes: "+strings.Join(e.left, ", "))
		b.WriteString(`}]},"search":{"mode":"outcome"}}`)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}
