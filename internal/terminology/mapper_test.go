package terminology_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/auth"
	"github.com/concord-health/concord/internal/fhirapi"
	"github.com/concord-health/concord/internal/server"
	"github.com/concord-health/concord/internal/store/postgres"
	"github.com/concord-health/concord/internal/store/sqlite"
	"github.com/concord-health/concord/internal/store/storetest"
	"github.com/concord-health/concord/internal/terminology"
)

// All codes, senders and maps below are synthetic.

// backends runs fn on a fresh SQLite store and, when CONCORD_TEST_POSTGRES
// is set, on a fresh PostgreSQL schema.
func backends(t *testing.T, fn func(t *testing.T, st concord.Store)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, openStore(t)) })
	t.Run("postgres", func(t *testing.T) {
		st, err := postgres.Open(context.Background(), storetest.PostgresURL(t), postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		fn(t, st)
	})
}

func openStore(t testing.TB) concord.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "concord.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// importResources stores FHIR resources as concord import does, as an
// operator with an admin token.
func importResources(t testing.TB, st concord.Store, resources ...string) {
	t.Helper()
	sc, _ := concord.ParseScope("system/*.cruds")
	p := &concord.Principal{Actor: "test-operator", Role: concord.RoleAdmin, Scopes: []concord.Scope{sc}}
	ctx := concord.WithPrincipal(context.Background(), p)
	ctx = concord.WithAuditTemplate(ctx, concord.AuditRecord{Actor: p.Actor, Role: string(p.Role), Address: "test"})
	raw := make([][]byte, len(resources))
	for i, r := range resources {
		raw[i] = []byte(r)
	}
	res, err := fhirapi.NewImporter(st, fhirapi.Options{}).Resources(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed > 0 {
		t.Fatalf("import failed: %+v", res.Failures)
	}
}

const (
	loinc  = "http://loinc.org"
	northL = "urn:concord:local:LAB%5ENORTH:L"
)

// labNorthMap maps LAB^NORTH's local result codes to LOINC.
const labNorthMap = `{"resourceType":"ConceptMap","id":"lab-north","status":"active",
 "group":[{"source":"` + northL + `","target":"` + loinc + `","element":[
  {"code":"GLU","target":[{"code":"2345-7","display":"Glucose [Mass/volume] in Serum or Plasma","equivalence":"equivalent"}]},
  {"code":"NA","target":[{"code":"2950-5","equivalence":"wider"},{"code":"2951-2","display":"Sodium [Moles/volume] in Serum or Plasma","equivalence":"equal"}]},
  {"code":"OLD","target":[{"equivalence":"unmatched"}]},
  {"code":"XX","target":[{"code":"1-8","equivalence":"disjoint"}]}]},
 {"source":"` + northL + `","target":"http://snomed.info/sct","element":[
  {"code":"GLU","target":[{"code":"33747003","equivalence":"relatedto"}]},
  {"code":"CA","target":[{"code":"5540006","equivalence":"equivalent"}]}]}]}`

// TestMapperConceptMaps: maps found in the store answer for the senders
// they are scoped to, with the best accepted equivalence; standard codes
// pass as they are; local codes nobody mapped are not mapped.
func TestMapperConceptMaps(t *testing.T) { backends(t, testMapperConceptMaps) }

func testMapperConceptMaps(t *testing.T, st concord.Store) {
	importResources(t, st, labNorthMap,
		// ICD-9-CM diagnoses of ADT (every facility) go to ICD-10-CM.
		`{"resourceType":"ConceptMap","id":"adt-icd","status":"active",
		 "useContext":[{"code":{"system":"urn:concord:usage-context-type","code":"sender"},"valueCodeableConcept":{"coding":[{"code":"ADT"}]}}],
		 "group":[{"source":"http://hl7.org/fhir/sid/icd-9-cm","target":"http://hl7.org/fhir/sid/icd-10-cm",
		  "element":[{"code":"250.00","target":[{"code":"E11.9","equivalence":"narrower","comment":"synthetic: without complications"}]}]}]}`,
		// A retired map is not used.
		`{"resourceType":"ConceptMap","id":"retired","status":"retired",
		 "group":[{"source":"`+northL+`","target":"`+loinc+`","element":[{"code":"K","target":[{"code":"2823-3","equivalence":"equal"}]}]}]}`,
		// LAB^SOUTH's 99LAB codes are LOINC codes already (unmapped mode provided),
		// but for one it fixes.
		`{"resourceType":"ConceptMap","id":"lab-south","status":"draft",
		 "group":[{"source":"urn:concord:local:LAB%5ESOUTH:99LAB","target":"`+loinc+`",
		  "element":[{"code":"HGB","target":[{"code":"718-7","equivalence":"equivalent"}]}],
		  "unmapped":{"mode":"provided"}}]}`,
		// A map for an HL7 table, everyone's: a user-defined code of table 0004.
		`{"resourceType":"ConceptMap","id":"patient-class","status":"active",
		 "group":[{"source":"http://terminology.hl7.org/CodeSystem/v2-0004","target":"http://terminology.hl7.org/CodeSystem/v2-0004",
		  "element":[{"code":"Z","target":[{"code":"O","equivalence":"equivalent"}]}]}]}`,
	)
	m := terminology.NewMapper(st, terminology.Options{})
	ctx := context.Background()
	for _, tc := range []struct {
		sender, system, code string
		want                 terminology.Coding
		ok                   bool
	}{
		{"LAB^NORTH", "L", "GLU", terminology.Coding{loinc, "2345-7", "Glucose [Mass/volume] in Serum or Plasma"}, true},
		{"LAB^NORTH", "", " GLU ", terminology.Coding{loinc, "2345-7", "Glucose [Mass/volume] in Serum or Plasma"}, true},
		{"LAB^NORTH", northL, "GLU", terminology.Coding{loinc, "2345-7", "Glucose [Mass/volume] in Serum or Plasma"}, true},
		{"LAB^NORTH", "L", "NA", terminology.Coding{loinc, "2951-2", "Sodium [Moles/volume] in Serum or Plasma"}, true},
		{"LAB^NORTH", "L", "OLD", terminology.Coding{}, false},
		{"LAB^NORTH", "L", "CA", terminology.Coding{"http://snomed.info/sct", "5540006", ""}, true},
		{"LAB^NORTH", "L", "XX", terminology.Coding{}, false},
		{"LAB^NORTH", "L", "K", terminology.Coding{}, false},   // only in the retired map
		{"LAB^NORTH", "L", "glu", terminology.Coding{}, false}, // codes are case-sensitive
		{"LAB^NORTH", "99LAB", "GLU", terminology.Coding{}, false},
		{"LAB^SOUTH", "L", "GLU", terminology.Coding{}, false}, // another sender's local system
		{"LAB^SOUTH", "99LAB", "HGB", terminology.Coding{loinc, "718-7", ""}, true},
		{"LAB^SOUTH", "99LAB", "2160-0", terminology.Coding{loinc, "2160-0", ""}, true}, // unmapped: provided
		{"LAB^NORTH", "LN", "718-7", terminology.Coding{loinc, "718-7", ""}, true},
		{"ADT^NORTH", "I9C", "250.00", terminology.Coding{"http://hl7.org/fhir/sid/icd-10-cm", "E11.9", ""}, true},
		{"ADT^SOUTH", "I9C", "250.00", terminology.Coding{"http://hl7.org/fhir/sid/icd-10-cm", "E11.9", ""}, true},
		{"LAB^NORTH", "I9C", "250.00", terminology.Coding{"http://hl7.org/fhir/sid/icd-9-cm", "250.00", ""}, true},
		{"ADT^NORTH", "HL70078", "H", terminology.Coding{"http://terminology.hl7.org/CodeSystem/v2-0078", "H", "High"}, true},
		{"ADT^NORTH", "HL70078", "ZZ", terminology.Coding{"http://terminology.hl7.org/CodeSystem/v2-0078", "ZZ", ""}, false},
		{"ADT^NORTH", "HL70004", "Z", terminology.Coding{"http://terminology.hl7.org/CodeSystem/v2-0004", "O", "Outpatient"}, true},
		{"ADT^NORTH", "L", "", terminology.Coding{}, false},
	} {
		got, ok := m.Map(ctx, tc.sender, tc.system, tc.code)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Map(%q, %q, %q) = %+v, %v; want %+v, %v", tc.sender, tc.system, tc.code, got, ok, tc.want, tc.ok)
		}
	}
	if n := m.Maps(ctx); n != 4 {
		t.Errorf("%d maps held, want 4 (the retired one left out)", n)
	}
}

// TestMapperScopes: a sender-scoped map wins over an unscoped one for the
// same code; the unscoped one answers for the others.
func TestMapperScopes(t *testing.T) {
	st := openStore(t)
	importResources(t, st,
		`{"resourceType":"ConceptMap","id":"all","status":"active",
		 "group":[{"source":"http://hl7.org/fhir/sid/icd-9-cm","target":"http://hl7.org/fhir/sid/icd-10-cm",
		  "element":[{"code":"401.9","target":[{"code":"I10","equivalence":"equivalent"}]}]}]}`,
		`{"resourceType":"ConceptMap","id":"one","status":"active",
		 "useContext":[{"code":{"system":"urn:concord:usage-context-type","code":"sender"},"valueCodeableConcept":{"text":"CLINIC^EAST"}}],
		 "group":[{"source":"http://hl7.org/fhir/sid/icd-9-cm","target":"http://snomed.info/sct",
		  "element":[{"code":"401.9","target":[{"code":"38341003","equivalence":"equivalent"}]}]}]}`,
		// Scoped to nobody: ignored rather than applied to everyone.
		`{"resourceType":"ConceptMap","id":"nobody","status":"active",
		 "useContext":[{"code":{"system":"urn:concord:usage-context-type","code":"sender"},"valueCodeableConcept":{"coding":[{"system":"urn:x"}]}}],
		 "group":[{"source":"http://hl7.org/fhir/sid/icd-9-cm","target":"http://snomed.info/sct",
		  "element":[{"code":"401.9","target":[{"code":"1","equivalence":"equivalent"}]}]}]}`,
	)
	m := terminology.NewMapper(st, terminology.Options{})
	ctx := context.Background()
	if c, ok := m.Map(ctx, "CLINIC^EAST", "I9C", "401.9"); !ok || c.Code != "38341003" {
		t.Errorf("scoped sender: %+v %v", c, ok)
	}
	for _, sender := range []string{"CLINIC^WEST", "CLINIC", "OTHER^EAST"} {
		if c, ok := m.Map(ctx, sender, "I9C", "401.9"); !ok || c.Code != "I10" {
			t.Errorf("%s: %+v %v", sender, c, ok)
		}
	}
}

// httpEnv is the FHIR API behind the real front door, on a fresh store.
type httpEnv struct {
	t      *testing.T
	store  concord.Store
	url    string
	bearer string
}

func newHTTPEnv(t *testing.T) *httpEnv {
	st := openStore(t)
	srv := server.New(server.Options{Store: st, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), Node: "test"})
	fhirapi.Register(srv, st, fhirapi.Options{Version: "test"})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	_, bearer, err := auth.Issue(context.Background(), st, concord.TokenRequest{Role: concord.RoleAdmin, TTL: time.Hour, Label: "synthetic operator"},
		concord.AuditRecord{Actor: "test", Role: "operator", Address: "local"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return &httpEnv{t: t, store: st, url: hs.URL, bearer: bearer}
}

func (e *httpEnv) do(method, path, body string) int {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.bearer)
	req.Header.Set("Content-Type", "application/fhir+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		e.t.Logf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode
}

// TestMapperFollowsOperatorWrites: an operator adds a ConceptMap over
// HTTP; the next lookup after Refresh maps with it, and so does a lookup
// once MaxAge passes without one; changing and deleting the map apply
// the same way, with no restart.
func TestMapperFollowsOperatorWrites(t *testing.T) {
	e := newHTTPEnv(t)
	var clock atomic.Int64
	clock.Store(time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	m := terminology.NewMapper(e.store, terminology.Options{MaxAge: time.Minute, Now: now})
	ctx := context.Background()
	if _, ok := m.Map(ctx, "LAB^NORTH", "L", "GLU"); ok {
		t.Fatal("mapped before any map exists")
	}
	if code := e.do("PUT", "/fhir/ConceptMap/lab-north", labNorthMap); code != 201 {
		t.Fatalf("PUT ConceptMap: %d", code)
	}
	// Within MaxAge, without Refresh, the cached (empty) maps answer.
	if _, ok := m.Map(ctx, "LAB^NORTH", "L", "GLU"); ok {
		t.Error("the cache was not used within MaxAge")
	}
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if c, ok := m.Map(ctx, "LAB^NORTH", "L", "GLU"); !ok || c.Code != "2345-7" {
		t.Fatalf("after Refresh: %+v %v", c, ok)
	}

	// The operator corrects the map; past MaxAge the next lookup sees it.
	if code := e.do("PUT", "/fhir/ConceptMap/lab-north", strings.Replace(labNorthMap, "2345-7", "2339-0", 1)); code != 200 {
		t.Fatalf("PUT ConceptMap again: %d", code)
	}
	clock.Add(int64(2 * time.Minute))
	if c, ok := m.Map(ctx, "LAB^NORTH", "L", "GLU"); !ok || c.Code != "2339-0" {
		t.Fatalf("after the update and MaxAge: %+v %v", c, ok)
	}
	// Deleted: local codes are unmapped again.
	if code := e.do("DELETE", "/fhir/ConceptMap/lab-north", ""); code != 200 && code != 204 {
		t.Fatalf("DELETE ConceptMap: %d", code)
	}
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if c, ok := m.Map(ctx, "LAB^NORTH", "L", "GLU"); ok {
		t.Fatalf("after the delete: %+v", c)
	}
}

// TestMapperConcurrent: lookups from many goroutines while an operator
// writes maps (run with -race).
func TestMapperConcurrent(t *testing.T) {
	st := openStore(t)
	m := terminology.NewMapper(st, terminology.Options{MaxAge: time.Millisecond})
	ctx := context.Background()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if c, ok := m.Map(ctx, "LAB^NORTH", "L", "GLU"); ok && c.System != loinc {
					t.Errorf("mapped to %+v", c)
					return
				}
			}
		}()
	}
	for i := range 5 {
		importResources(t, st, strings.Replace(labNorthMap, `"id":"lab-north"`, `"id":"lab-north-`+string(rune('a'+i))+`"`, 1))
	}
	close(stop)
	wg.Wait()
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if n := m.Maps(ctx); n != 5 {
		t.Errorf("%d maps, want 5", n)
	}
}

// TestReconcile: codes in the "needs mapping" report drop out once a map
// covers them, and come back when the map goes.
func TestReconcile(t *testing.T) { backends(t, testReconcile) }

func testReconcile(t *testing.T, st concord.Store) {
	ctx := context.Background()
	at := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	if err := st.Update(ctx, func(tx concord.Tx) error {
		for _, c := range []concord.UnmappedCode{
			{Sender: "LAB^NORTH", System: "L", Code: "GLU", Display: "Glucose", Where: []string{"OBX-3"}, LastSeen: at},
			{Sender: "LAB^NORTH", System: "L", Code: "CHOL", Display: "Cholesterol", Where: []string{"OBX-3"}, LastSeen: at},
			{Sender: "LAB^SOUTH", System: "L", Code: "GLU", Where: []string{"OBX-3"}, LastSeen: at},
		} {
			if err := tx.RecordUnmapped(ctx, &c); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	m := terminology.NewMapper(st, terminology.Options{Now: func() time.Time { return at.Add(time.Hour) }})
	list := func(f concord.UnmappedFilter) []*concord.UnmappedCode {
		t.Helper()
		out, _, err := st.UnmappedCodes(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if err := m.Reconcile(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if n := len(list(concord.UnmappedFilter{})); n != 3 {
		t.Fatalf("%d entries before any map", n)
	}
	importResources(t, st, labNorthMap)
	if err := m.Reconcile(ctx, ""); err != nil {
		t.Fatal(err)
	}
	left := list(concord.UnmappedFilter{})
	if len(left) != 2 || left[0].Code == "GLU" && left[0].Sender == "LAB^NORTH" || left[1].Code == "GLU" && left[1].Sender == "LAB^NORTH" {
		t.Fatalf("after the map: %+v %+v", left[0], left[1])
	}
	all := list(concord.UnmappedFilter{Sender: "LAB^NORTH", Mapped: true})
	var glu *concord.UnmappedCode
	for _, c := range all {
		if c.Code == "GLU" {
			glu = c
		}
	}
	if glu == nil || !glu.MappedAt.Equal(at.Add(time.Hour)) || glu.MappedTo != loinc+"|2345-7" {
		t.Fatalf("mapped entry: %+v", glu)
	}
	// The map is deleted: the code needs a mapping again.
	if err := st.Update(ctx, func(tx concord.Tx) error {
		return tx.PutResource(ctx, &concord.Resource{Type: "ConceptMap", ID: "lab-north", Version: 2, LastUpdated: at.Add(2 * time.Hour), Deleted: true})
	}); err != nil {
		t.Fatal(err)
	}
	if err := m.Reconcile(ctx, "LAB^NORTH"); err != nil {
		t.Fatal(err)
	}
	if n := len(list(concord.UnmappedFilter{})); n != 3 {
		t.Fatalf("%d entries after the map went, want 3", n)
	}
}

// slowStamps counts the ConceptMap stamp checks and makes each take a
// while, so that concurrent Refresh calls overlap.
type slowStamps struct {
	terminology.Store
	checks atomic.Int64
}

func (s *slowStamps) ResourceStamp(ctx context.Context, typ string) (concord.ResourceStamp, error) {
	s.checks.Add(1)
	time.Sleep(50 * time.Millisecond)
	return s.Store.ResourceStamp(ctx, typ)
}

// TestRefreshSharesChecks: callers that wait while another checks the
// stamp take its answer when that check began after they called, so many
// messages converted at once do not queue one stamp query each; a call
// made after a check began still gets a check of its own.
func TestRefreshSharesChecks(t *testing.T) {
	st := &slowStamps{Store: openStore(t)}
	m := terminology.NewMapper(st, terminology.Options{})
	ctx := context.Background()
	if err := m.Refresh(ctx); err != nil { // first load
		t.Fatal(err)
	}
	st.checks.Store(0)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if err := m.Refresh(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	close(start)
	wg.Wait()
	// The first caller checks; those that called before its check began
	// need one more; everyone after shares that. (A third is possible
	// only if a goroutine is held back for a whole check, 50 ms.)
	if n := st.checks.Load(); n < 1 || n > 3 {
		t.Errorf("16 concurrent Refresh calls made %d stamp checks, want 1 to 3", n)
	}
	st.checks.Store(0)
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if n := st.checks.Load(); n != 1 {
		t.Errorf("a later Refresh made %d checks, want its own", n)
	}
}
