package fhirapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/concord-health/concord"
)

// guardRouter registers routes on a ServeMux behind a stand-in for the
// front door's guard: the caller is p (changeable between requests),
// authorised with concord.Authorize on the route's declared access, its
// grant and an audit note put in the context as internal/server does.
type guardRouter struct {
	mux *http.ServeMux
	p   **concord.Principal
}

func (g guardRouter) Handle(pattern string, access concord.Access, h http.Handler) {
	g.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := *g.p
		ctx := concord.WithPrincipal(r.Context(), p)
		if !access.Public && !access.AnyCaller {
			gr, err := concord.Authorize(p, access.Action)
			if err != nil {
				w.WriteHeader(http.StatusForbidden)
				return
			}
			ctx = concord.WithGrant(ctx, gr)
		}
		ctx = concord.WithAuditTemplate(ctx, concord.AuditRecord{Actor: p.Actor, Role: string(p.Role), Address: "test"})
		ctx, _ = concord.WithAuditNote(ctx)
		h.ServeHTTP(w, r.WithContext(ctx))
	}))
}

// principal returns a caller with the given scopes (and patient, when
// set).
func principal(t testing.TB, patient string, scopes ...string) *concord.Principal {
	p := &concord.Principal{Actor: "test-token", Role: concord.RoleClinician, Patient: patient}
	if patient != "" {
		p.Role = concord.RolePatient
	}
	for _, s := range scopes {
		if strings.HasPrefix(s, "system/") {
			p.Role = concord.RoleAdmin
		}
		sc, err := concord.ParseScope(s)
		if err != nil {
			t.Fatal(err)
		}
		p.Scopes = append(p.Scopes, sc)
	}
	return p
}

// apiServer is the FHIR API over st behind guardRouter, as *caller.
type apiServer struct {
	t      testing.TB
	store  concord.Store
	mux    *http.ServeMux
	caller *concord.Principal
}

func newAPIServer(t testing.TB, st concord.Store) *apiServer {
	s := &apiServer{t: t, store: st, mux: http.NewServeMux(), caller: principal(t, "", "user/*.cruds")}
	Register(guardRouter{s.mux, &s.caller}, st, Options{Version: "test"})
	return s
}

// do sends a request through the routes and returns the status and body.
func (s *apiServer) do(method, target, contentType, body string) (int, string) {
	s.t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	s.mux.ServeHTTP(w, req)
	return w.Code, w.Body.String()
}

// everythingBundle is what the tests read of a searchset Bundle.
type everythingBundle struct {
	ResourceType, Type string
	Total              *int
	Link               []struct{ Relation, URL string }
	Entry              []struct {
		FullURL  string `json:"fullUrl"`
		Resource struct {
			ResourceType, ID string
			Issue            []struct{ Diagnostics string }
		}
		Search struct{ Mode string }
	}
}

func (b everythingBundle) next() string {
	for _, l := range b.Link {
		if l.Relation == "next" {
			return l.URL
		}
	}
	return ""
}

// everything pages through target and returns every entry's Type/id by
// search mode, the number of pages, and the outcome diagnostics.
func (s *apiServer) everything(target string) (ids map[string][]string, pages int, outcome []string) {
	s.t.Helper()
	ids = map[string][]string{}
	for target != "" {
		status, body := s.do("GET", target, "", "")
		if status != 200 {
			s.t.Fatalf("GET %s: %d %.500s", target, status, body)
		}
		var b everythingBundle
		if err := json.Unmarshal([]byte(body), &b); err != nil {
			s.t.Fatalf("GET %s: %v", target, err)
		}
		if b.ResourceType != "Bundle" || b.Type != "searchset" {
			s.t.Fatalf("GET %s: a %s %s", target, b.Type, b.ResourceType)
		}
		pages++
		for _, e := range b.Entry {
			ref := e.Resource.ResourceType + "/" + e.Resource.ID
			if e.Search.Mode == "outcome" {
				for _, i := range e.Resource.Issue {
					outcome = append(outcome, i.Diagnostics)
				}
				continue
			}
			if !strings.HasSuffix(e.FullURL, "/fhir/"+ref) {
				s.t.Fatalf("fullUrl %q for %s", e.FullURL, ref)
			}
			ids[e.Search.Mode] = append(ids[e.Search.Mode], ref)
		}
		target = b.next()
		if target != "" {
			u, err := url.Parse(target)
			if err != nil {
				s.t.Fatal(err)
			}
			target = u.RequestURI()
		}
		if pages > 10_000 {
			s.t.Fatal("endless paging")
		}
	}
	return ids, pages, outcome
}

// loadedPatient is what a test knows of one loaded Synthea bundle.
type loadedPatient struct {
	file    string
	patient string          // the Patient's id
	refs    map[string]bool // Type/id of every resource of the bundle
	types   map[string]int  // resources by type
}

// loadSynthea imports the shared Synthea Bundles through the Importer
// (as concord import does: ids are the entries' urn:uuids), the n
// smallest of them or all when n is 0, and returns what each holds.
func loadSynthea(t testing.TB, st concord.Store, n int) []loadedPatient {
	t.Helper()
	im := NewImporter(st, Options{})
	p := principal(t, "", "system/*.cruds")
	ctx := concord.WithPrincipal(context.Background(), p)
	ctx = concord.WithAuditTemplate(ctx, concord.AuditRecord{Actor: "test", Role: "admin", Address: "test"})
	var out []loadedPatient
	bundles := syntheaBundles(t)
	names := make([]string, 0, len(bundles))
	for name := range bundles {
		names = append(names, name)
	}
	sort.Strings(names)
	if n > 0 {
		sort.SliceStable(names, func(i, j int) bool { return len(bundles[names[i]]) < len(bundles[names[j]]) })
		names = names[:min(n, len(names))]
	}
	for _, name := range names {
		body := bundles[name]
		if _, err := im.Bundle(ctx, body); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var b struct {
			Entry []struct {
				FullURL  string `json:"fullUrl"`
				Resource struct{ ResourceType string }
			}
		}
		if err := json.Unmarshal(body, &b); err != nil {
			t.Fatal(err)
		}
		sp := loadedPatient{file: name, refs: map[string]bool{}, types: map[string]int{}}
		for _, e := range b.Entry {
			id := strings.TrimPrefix(e.FullURL, "urn:uuid:")
			sp.refs[e.Resource.ResourceType+"/"+id] = true
			sp.types[e.Resource.ResourceType]++
			if e.Resource.ResourceType == "Patient" {
				sp.patient = id
			}
		}
		out = append(out, sp)
	}
	return out
}

func TestPatientEverythingSyntheaSQLite(t *testing.T) { testPatientEverythingSynthea(t, openSQLite(t)) }

func TestPatientEverythingSyntheaPostgres(t *testing.T) {
	testPatientEverythingSynthea(t, openPostgres(t))
}

// testPatientEverythingSynthea loads every shared Synthea patient into
// one store and asks each one's $everything, paging through: every
// resource of the patient's bundle comes back (the Organizations and
// Practitioners shared with other bundles included, as includes), the
// compartment members as matches, and nothing of another patient.
func testPatientEverythingSynthea(t *testing.T, st concord.Store) {
	patients := loadSynthea(t, st, 0)
	s := newAPIServer(t, st)
	owner := map[string]string{} // Type/id of patient data → whose
	for _, sp := range patients {
		for ref := range sp.refs {
			if typ, _, _ := strings.Cut(ref, "/"); typ != "Organization" && typ != "Practitioner" {
				owner[ref] = sp.patient
			}
		}
	}
	total, pagesTotal := 0, 0
	for i, sp := range patients {
		target := "/fhir/Patient/" + sp.patient + "/$everything"
		if i%2 == 1 {
			target += "?_count=50" // every other patient is paged
		}
		ids, pages, outcome := s.everything(target)
		if len(outcome) > 0 {
			t.Errorf("%s: outcome %v", sp.file, outcome)
		}
		got := map[string]bool{}
		for mode, refs := range ids {
			for _, ref := range refs {
				typ, _, _ := strings.Cut(ref, "/")
				shared := typ == "Organization" || typ == "Practitioner"
				if shared != (mode == "include") {
					t.Errorf("%s: %s came as %s", sp.file, ref, mode)
				}
				if mode == "match" && got[ref] {
					t.Errorf("%s: %s twice", sp.file, ref)
				}
				got[ref] = true
				if o, ok := owner[ref]; ok && o != sp.patient {
					t.Errorf("%s: %s is another patient's", sp.file, ref)
				}
			}
		}
		for ref := range sp.refs {
			if !got[ref] {
				t.Errorf("%s: %s missing", sp.file, ref)
			}
		}
		for ref := range got {
			if !sp.refs[ref] {
				t.Errorf("%s: %s is not in the patient's bundle", sp.file, ref)
			}
		}
		if i%2 == 1 && pages != (len(ids["match"])+49)/50 {
			t.Errorf("%s: %d pages of 50 for %d matches", sp.file, pages, len(ids["match"]))
		}
		total += len(got)
		pagesTotal += pages
	}
	t.Logf("%d patients: %d resources returned (distinct per patient), %d pages", len(patients), total, pagesTotal)
	if total != 8417 {
		t.Errorf("%d resources returned, want the 8,417 of the bundles", total)
	}
}

// firstPatient loads the three smallest shared Synthea patients and
// returns the smallest (and the server).
func firstPatient(t *testing.T) (*apiServer, loadedPatient, []loadedPatient) {
	st := openSQLite(t)
	patients := loadSynthea(t, st, 3)
	sp := slices.MinFunc(patients, func(a, b loadedPatient) int { return len(a.refs) - len(b.refs) })
	return newAPIServer(t, st), sp, patients
}

// TestPatientEverythingType: _type limits the result to the types named,
// references included.
func TestPatientEverythingType(t *testing.T) {
	s, sp, _ := firstPatient(t)
	ids, _, _ := s.everything("/fhir/Patient/" + sp.patient + "/$everything?_type=Patient,Encounter,Organization")
	counts := map[string]int{}
	for _, refs := range ids {
		for _, ref := range refs {
			typ, _, _ := strings.Cut(ref, "/")
			counts[typ]++
		}
	}
	if counts["Patient"] != 1 || counts["Encounter"] != sp.types["Encounter"] || counts["Organization"] == 0 || len(counts) != 3 {
		t.Errorf("_type=Patient,Encounter,Organization: %v (bundle %v)", counts, sp.types)
	}
	// Referenced types alone: found through the members not returned.
	ids, _, _ = s.everything("/fhir/Patient/" + sp.patient + "/$everything?_type=Practitioner,Organization")
	var want, got []string
	for ref := range sp.refs {
		if strings.HasPrefix(ref, "Practitioner/") || strings.HasPrefix(ref, "Organization/") {
			want = append(want, ref)
		}
	}
	got = append(got, ids["include"]...)
	slices.Sort(want)
	slices.Sort(got)
	if len(ids["match"]) != 0 || len(want) == 0 || !slices.Equal(got, want) {
		t.Errorf("_type=Practitioner,Organization: %v, want %v as includes", ids, want)
	}
	if status, body := s.do("GET", "/fhir/Patient/"+sp.patient+"/$everything?_type=Nonsense", "", ""); status != 400 {
		t.Errorf("_type=Nonsense: %d %s", status, body)
	}
}

// TestPatientEverythingSince: _since returns only what was updated since.
func TestPatientEverythingSince(t *testing.T) {
	s, sp, _ := firstPatient(t)
	time.Sleep(5 * time.Millisecond)
	since := time.Now().UTC()
	time.Sleep(5 * time.Millisecond)
	// One resource changes after since.
	var obs string
	for ref := range sp.refs {
		if strings.HasPrefix(ref, "Observation/") {
			obs = ref
			break
		}
	}
	cur, err := s.store.Resource(context.Background(), "Observation", strings.TrimPrefix(obs, "Observation/"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	json.Unmarshal(cur.Content, &doc)
	doc["status"] = "amended"
	body, _ := json.Marshal(doc)
	if status, resp := s.do("PUT", "/fhir/"+obs, "application/fhir+json", string(body)); status != 200 {
		t.Fatalf("PUT: %d %s", status, resp)
	}
	ids, _, _ := s.everything("/fhir/Patient/" + sp.patient + "/$everything?_since=" + url.QueryEscape(since.Format(time.RFC3339Nano)))
	if len(ids["match"]) != 1 || ids["match"][0] != obs || len(ids["include"]) != 0 {
		t.Errorf("_since: %v, want only %s", ids, obs)
	}
	if status, _ := s.do("GET", "/fhir/Patient/"+sp.patient+"/$everything?_since=yesterday", "", ""); status != 400 {
		t.Errorf("_since=yesterday: %d", status)
	}
}

// TestPatientEverythingPaging: pages of _count follow each other with
// next links, without gaps or repeats, and the last has no next.
func TestPatientEverythingPaging(t *testing.T) {
	s, sp, _ := firstPatient(t)
	all, pages, _ := s.everything("/fhir/Patient/" + sp.patient + "/$everything")
	if pages != 1 {
		t.Errorf("%d pages without _count", pages)
	}
	for _, n := range []int{1, 7, len(all["match"]), len(all["match"]) - 1} {
		paged, pages, _ := s.everything("/fhir/Patient/" + sp.patient + "/$everything?_count=" + strconv.Itoa(n))
		if !slices.Equal(paged["match"], all["match"]) {
			t.Errorf("_count=%d: the matches differ from one page's", n)
		}
		if want := (len(all["match"]) + n - 1) / n; pages != want {
			t.Errorf("_count=%d: %d pages, want %d", n, pages, want)
		}
	}
	// Without the owner's type, paged the same.
	one, _, _ := s.everything("/fhir/Patient/" + sp.patient + "/$everything?_type=Observation,Condition,Encounter")
	paged, _, _ := s.everything("/fhir/Patient/" + sp.patient + "/$everything?_type=Observation,Condition,Encounter&_count=7")
	if len(one["match"]) == 0 || !slices.Equal(one["match"], paged["match"]) {
		t.Errorf("_type without Patient, _count=7: %d matches paged, %d on one page", len(paged["match"]), len(one["match"]))
	}
	status, body := s.do("GET", "/fhir/Patient/"+sp.patient+"/$everything?_count=2", "", "")
	var b everythingBundle
	json.Unmarshal([]byte(body), &b)
	if status != 200 || b.Total != nil || !strings.Contains(b.next(), "_cursor=") || !strings.Contains(b.next(), "_count=2") {
		t.Errorf("first page of 2: %d next %q", status, b.next())
	}
	for _, bad := range []string{"_count=0", "_count=x", "_cursor=Nope:1", "_cursor=Observation", "_cursor=Observation:-1", "_sort=date"} {
		if status, _ := s.do("GET", "/fhir/Patient/"+sp.patient+"/$everything?"+bad, "", ""); status != 400 && status != 501 {
			t.Errorf("%s: %d", bad, status)
		}
	}
}

// TestPatientEverythingAccess: a patient token runs it on its own patient
// only (403 for another, as compartment searches answer); a token without
// some types' scopes gets the others and an outcome naming what was left
// out; an unknown patient is 404.
func TestPatientEverythingAccess(t *testing.T) {
	s, sp, patients := firstPatient(t)
	other := patients[0].patient
	if other == sp.patient {
		other = patients[1].patient
	}
	s.caller = principal(t, sp.patient, "patient/*.rs")
	own, _, _ := s.everything("/fhir/Patient/" + sp.patient + "/$everything")
	if n := len(own["match"]) + len(own["include"]); n != len(sp.refs) {
		t.Errorf("patient token on its own patient: %d resources, want %d", n, len(sp.refs))
	}
	if status, body := s.do("GET", "/fhir/Patient/"+other+"/$everything", "", ""); status != 403 {
		t.Errorf("patient token on another patient: %d %.300s", status, body)
	}
	s.caller = principal(t, "", "user/Patient.rs", "user/Observation.rs")
	ids, _, outcome := s.everything("/fhir/Patient/" + sp.patient + "/$everything")
	for _, refs := range ids {
		for _, ref := range refs {
			if !strings.HasPrefix(ref, "Patient/") && !strings.HasPrefix(ref, "Observation/") {
				t.Errorf("scopes Patient and Observation: got %s", ref)
			}
		}
	}
	if len(ids["match"]) != 1+sp.types["Observation"] || len(outcome) != 1 || !strings.Contains(outcome[0], "Encounter") {
		t.Errorf("scopes Patient and Observation: %d matches, outcome %v", len(ids["match"]), outcome)
	}
	s.caller = principal(t, "", "user/Observation.rs")
	if status, _ := s.do("GET", "/fhir/Patient/"+sp.patient+"/$everything", "", ""); status != 403 {
		t.Errorf("without Patient scope: %d", status)
	}
	s.caller = principal(t, "", "user/*.rs")
	if status, _ := s.do("GET", "/fhir/Patient/nobody/$everything", "", ""); status != 404 {
		t.Errorf("unknown patient: %d", status)
	}
}

// TestEncounterEverything: an Encounter's $everything holds the encounter,
// its compartment (what refers to it) and what those refer to, its
// Patient among them; POST with a Parameters body works as GET.
func TestEncounterEverything(t *testing.T) {
	s, sp, _ := firstPatient(t)
	ctx := context.Background()
	var enc string
	for ref := range sp.refs {
		if strings.HasPrefix(ref, "Encounter/") {
			enc = strings.TrimPrefix(ref, "Encounter/")
			break
		}
	}
	ids, _, _ := s.everything("/fhir/Encounter/" + enc + "/$everything")
	if len(ids["match"]) == 0 || ids["match"][0] != "Encounter/"+enc {
		t.Fatalf("matches %v: the Encounter first", ids["match"])
	}
	// Every match is the encounter or refers to it.
	refd, err := s.store.ReferencedBy(ctx, "Observation", "encounter", []concord.Ref{{Type: "Encounter", ID: enc}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range refd {
		if !slices.Contains(ids["match"], "Observation/"+r.ID) {
			t.Errorf("Observation/%s refers to the encounter and is missing", r.ID)
		}
	}
	for _, ref := range ids["match"][1:] {
		if !sp.refs[ref] || strings.HasPrefix(ref, "Patient/") {
			t.Errorf("match %s", ref)
		}
	}
	if !slices.Contains(ids["include"], "Patient/"+sp.patient) {
		t.Errorf("includes %v: the Patient missing", ids["include"])
	}
	status, body := s.do("POST", "/fhir/Encounter/"+enc+"/$everything", "application/fhir+json",
		`{"resourceType":"Parameters","parameter":[{"name":"_type","valueString":"Encounter,Patient"}]}`)
	var b everythingBundle
	json.Unmarshal([]byte(body), &b)
	if status != 200 || len(b.Entry) != 2 {
		t.Errorf("POST with _type: %d %.500s", status, body)
	}
	// A patient token of another patient sees no such encounter.
	s.caller = principal(t, "someone-else", "patient/*.rs")
	if status, _ := s.do("GET", "/fhir/Encounter/"+enc+"/$everything", "", ""); status != 404 {
		t.Errorf("another patient's token: %d", status)
	}
}

// TestEverythingDateWindow: start and end keep the resources whose
// clinical date (the date parameter) meets the window; types without one
// are not filtered.
func TestEverythingDateWindow(t *testing.T) {
	s, sp, _ := firstPatient(t)
	all, _, _ := s.everything("/fhir/Patient/" + sp.patient + "/$everything?_type=Patient,Encounter")
	none, _, _ := s.everything("/fhir/Patient/" + sp.patient + "/$everything?_type=Patient,Encounter&end=1800-01-01")
	if len(all["match"]) < 2 || len(none["match"]) != 1 || none["match"][0] != "Patient/"+sp.patient {
		t.Errorf("end=1800: %v (all: %d)", none["match"], len(all["match"]))
	}
	// Encounters whose period reaches into 2015 or later.
	want := 0
	for _, ref := range all["match"][1:] {
		r, err := s.store.Resource(context.Background(), "Encounter", strings.TrimPrefix(ref, "Encounter/"))
		if err != nil {
			t.Fatal(err)
		}
		var enc struct{ Period struct{ Start, End string } }
		json.Unmarshal(r.Content, &enc)
		end := enc.Period.End
		if end == "" {
			end = enc.Period.Start
		}
		if end >= "2015" {
			want++
		}
	}
	some, _, _ := s.everything("/fhir/Patient/" + sp.patient + "/$everything?_type=Encounter&start=2015-01-01")
	if len(some["match"]) != want || want == 0 || want == len(all["match"])-1 {
		t.Errorf("start=2015-01-01: %d encounters, want %d of %d", len(some["match"]), want, len(all["match"])-1)
	}
	if status, _ := s.do("GET", "/fhir/Patient/"+sp.patient+"/$everything?start=soon", "", ""); status != 400 {
		t.Errorf("start=soon: %d", status)
	}
}

// TestCapabilityEverything: the CapabilityStatement announces $everything
// on Patient and Encounter.
func TestCapabilityEverything(t *testing.T) {
	srv := testAPI(t)
	status, body := do(t, srv, "GET", "/fhir/metadata", "", "")
	for _, op := range []string{"Patient-everything", "Encounter-everything"} {
		if status != 200 || !strings.Contains(body, `"definition":"http://hl7.org/fhir/OperationDefinition/`+op+`"`) {
			t.Errorf("%s: %d", op, status)
		}
	}
}

// TestEverythingCursorStart: a page starts at the cursor's type, or when
// that type has no members any more at the next one in order (the owner's
// type first, then by name), whether or not the owner's type is returned.
func TestEverythingCursorStart(t *testing.T) {
	for _, c := range []struct {
		types  []string
		cursor everythingCursor
		i, off int
	}{
		{[]string{"Patient", "Condition", "Observation"}, everythingCursor{}, 0, 0},
		{[]string{"Patient", "Condition", "Observation"}, everythingCursor{"Patient", 0}, 0, 0},
		{[]string{"Patient", "Condition", "Observation"}, everythingCursor{"Observation", 7}, 2, 7},
		{[]string{"Patient", "Condition", "Observation"}, everythingCursor{"Encounter", 7}, 2, 0},
		{[]string{"Patient", "Condition", "Observation"}, everythingCursor{"Procedure", 7}, 3, 0},
		{[]string{"Condition", "Observation"}, everythingCursor{"Patient", 3}, 0, 0},
		{[]string{"Condition", "Observation"}, everythingCursor{"Claim", 3}, 0, 0},
		{[]string{"Condition", "Observation"}, everythingCursor{"Condition", 3}, 0, 3},
	} {
		e := &everythingRun{owner: concord.Ref{Type: "Patient", ID: "x"}, req: &everythingRequest{at: c.cursor}}
		if i, off := e.start(c.types); i != c.i || off != c.off {
			t.Errorf("%v from %v: %d, %d; want %d, %d", c.types, c.cursor, i, off, c.i, c.off)
		}
	}
}
