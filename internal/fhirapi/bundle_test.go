package fhirapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/store/postgres"
	"github.com/concord-health/concord/internal/store/sqlite"
	"github.com/concord-health/concord/internal/store/storetest"
)

// harness is the FHIR API over a fresh store, with POST /fhir served to
// a caller already authenticated, as the front door would hand it over.
type harness struct {
	t     testing.TB
	store concord.Store
	a     *api
	p     *concord.Principal
}

func openSQLite(t testing.TB) concord.Store {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "c.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func openPostgres(t testing.TB) concord.Store {
	st, err := postgres.Open(context.Background(), storetest.PostgresURL(t), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newHarness(t testing.TB, st concord.Store, scopes ...string) *harness {
	if len(scopes) == 0 {
		scopes = []string{"user/*.cruds"}
	}
	p := &concord.Principal{Actor: "test-token", Role: concord.RoleClinician}
	for _, s := range scopes {
		sc, err := concord.ParseScope(s)
		if err != nil {
			t.Fatal(err)
		}
		p.Scopes = append(p.Scopes, sc)
	}
	return &harness{t: t, store: st, a: newAPI(st, Options{}), p: p}
}

// post sends a Bundle to POST /fhir and returns the status and body.
func (h *harness) post(body io.Reader, headers ...string) (int, string) {
	h.t.Helper()
	req := httptest.NewRequest("POST", "/fhir", body)
	req.Header.Set("Content-Type", "application/fhir+json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	ctx := concord.WithPrincipal(req.Context(), h.p)
	ctx = concord.WithAuditTemplate(ctx, concord.AuditRecord{Actor: h.p.Actor, Role: string(h.p.Role), Address: "test"})
	w := httptest.NewRecorder()
	h.a.typed("", h.a.bundle).ServeHTTP(w, req.WithContext(ctx))
	return w.Code, w.Body.String()
}

func (h *harness) postString(body string, headers ...string) (int, string) {
	h.t.Helper()
	return h.post(strings.NewReader(body), headers...)
}

// bundleAnswer is what tests read of a response Bundle.
type bundleAnswer struct {
	ResourceType, Type string
	Entry              []struct {
		FullURL  string          `json:"fullUrl"`
		Resource json.RawMessage `json:"resource"`
		Response struct {
			Status, Location, Etag, LastModified string
			Outcome                              json.RawMessage
		}
	}
}

func decodeResponse(t testing.TB, body string) bundleAnswer {
	t.Helper()
	var rb bundleAnswer
	if err := json.Unmarshal([]byte(body), &rb); err != nil {
		t.Fatalf("response is not JSON: %v\n%s", err, body)
	}
	return rb
}

// current reads a resource's current version from the store.
func (h *harness) current(typ, id string) *concord.Resource {
	h.t.Helper()
	r, err := h.store.Resource(context.Background(), typ, id)
	if err != nil {
		h.t.Fatalf("%s/%s: %v", typ, id, err)
	}
	return r
}

// idOf returns the id in a location (Type/id/_history/v).
func idOf(location string) string {
	parts := strings.Split(location, "/")
	if len(parts) < 2 {
		return ""
	}
	return parts[1]
}

// bundleJSON builds a Bundle of the given type from entries.
func bundleJSON(kind string, entries ...string) string {
	return `{"resourceType":"Bundle","type":"` + kind + `","entry":[` + strings.Join(entries, ",") + `]}`
}

// TestTransactionRewritesReferences: POST entries get server ids, and
// every reference to their urn:uuid fullUrls is rewritten, wherever it is
// (nested, in arrays, in extensions, in contained resources); other
// references are kept as written. The response has one entry per request
// with status, location, etag, lastModified and the stored resource.
func TestTransactionRewritesReferences(t *testing.T) {
	h := newHarness(t, openSQLite(t))
	const p, enc = "urn:uuid:6f1e3a52-1111-4c2d-9a57-1d2b3c4d5e6f", "urn:uuid:6f1e3a52-2222-4c2d-9a57-1d2b3c4d5e6f"
	// Synthetic data, no real person.
	status, body := h.postString(bundleJSON("transaction",
		`{"fullUrl":"`+enc+`","resource":{"resourceType":"Encounter","status":"finished","class":{"code":"AMB"},
			"subject":{"reference":"`+p+`"}},"request":{"method":"POST","url":"Encounter"}}`,
		`{"resource":{"resourceType":"Observation","status":"final","code":{"text":"synthetic"},
			"subject":{"reference":"`+p+`","display":"Synthetic"},
			"encounter":{"reference":"`+enc+`"},
			"performer":[{"reference":"http://example.org/fhir/Practitioner/1"},{"reference":"`+p+`"}],
			"extension":[{"url":"http://example.org/x","valueReference":{"reference":"`+enc+`"}}],
			"focus":[{"reference":"#prov"}],
			"contained":[{"resourceType":"Provenance","id":"prov","target":[{"reference":"`+p+`"}],"recorded":"2020-01-01T00:00:00Z","agent":[{"who":{"reference":"#x"}}]},
				{"resourceType":"Practitioner","id":"x"}],
			"note":[{"text":"`+p+` stays: it is not a reference"}]},
			"request":{"method":"POST","url":"Observation"}}`,
		`{"fullUrl":"`+p+`","resource":{"resourceType":"Patient","id":"client-id","name":[{"family":"Synthetic"}]},"request":{"method":"POST","url":"Patient"}}`,
	))
	if status != 200 {
		t.Fatalf("transaction: %d %s", status, body)
	}
	rb := decodeResponse(t, body)
	if rb.ResourceType != "Bundle" || rb.Type != "transaction-response" || len(rb.Entry) != 3 {
		t.Fatalf("response: %s", body)
	}
	for i, e := range rb.Entry {
		r := e.Response
		if r.Status != "201 Created" || !strings.HasSuffix(r.Location, "/_history/1") || r.Etag != `W/"1"` || r.LastModified == "" || len(e.Resource) == 0 {
			t.Errorf("entry %d: %+v", i, e)
		}
	}
	encID, obsID, patID := idOf(rb.Entry[0].Response.Location), idOf(rb.Entry[1].Response.Location), idOf(rb.Entry[2].Response.Location)
	if !strings.HasPrefix(rb.Entry[2].Response.Location, "Patient/") || patID == "client-id" {
		t.Errorf("POST must get a server id: %s", rb.Entry[2].Response.Location)
	}
	var obs struct {
		Subject, Encounter struct{ Reference string }
		Performer          []struct{ Reference string }
		Extension          []struct{ ValueReference struct{ Reference string } }
		Contained          []struct {
			Target []struct{ Reference string }
			Agent  []struct{ Who struct{ Reference string } }
		}
		Note []struct{ Text string }
	}
	if err := json.Unmarshal(h.current("Observation", obsID).Content, &obs); err != nil {
		t.Fatal(err)
	}
	want := "Patient/" + patID
	if obs.Subject.Reference != want || obs.Encounter.Reference != "Encounter/"+encID ||
		obs.Performer[0].Reference != "http://example.org/fhir/Practitioner/1" || obs.Performer[1].Reference != want ||
		obs.Extension[0].ValueReference.Reference != "Encounter/"+encID ||
		obs.Contained[0].Target[0].Reference != want || obs.Contained[0].Agent[0].Who.Reference != "#x" ||
		!strings.HasPrefix(obs.Note[0].Text, p) {
		t.Errorf("stored observation: %s", h.current("Observation", obsID).Content)
	}
	if got := string(h.current("Encounter", encID).Content); !strings.Contains(got, `"subject":{"reference":"`+want+`"}`) {
		t.Errorf("stored encounter: %s", got)
	}
	// The response carries what was stored.
	if !strings.Contains(string(rb.Entry[1].Resource), `"reference":"`+want+`"`) {
		t.Errorf("response resource: %s", rb.Entry[1].Resource)
	}
}

// TestTransactionAtomic: one failing entry fails the transaction with
// its error as an OperationOutcome naming it, and nothing is kept.
func TestTransactionAtomic(t *testing.T) {
	h := newHarness(t, openSQLite(t))
	for _, c := range []struct {
		name, failing string
		status        int
	}{
		{"stale ifMatch", `{"resource":{"resourceType":"Patient","id":"a"},"request":{"method":"PUT","url":"Patient/a","ifMatch":"W/\"3\""}}`, 412},
		{"missing read", `{"request":{"method":"GET","url":"Patient/nobody"}}`, 404},
		{"bad patch", `{"resource":{"resourceType":"Binary","contentType":"application/json-patch+json","data":"` +
			base64.StdEncoding.EncodeToString([]byte(`[{"op":"remove","path":"/nothing"}]`)) + `"},"request":{"method":"PATCH","url":"Patient/pre"}}`, 400},
		{"type mismatch", `{"resource":{"resourceType":"Observation"},"request":{"method":"POST","url":"Patient"}}`, 400},
		{"same resource twice", `{"resource":{"resourceType":"Patient","id":"pre"},"request":{"method":"PUT","url":"Patient/pre"}}`, 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			before, _ := h.store.Changes(context.Background(), 0, 1000)
			status, body := h.postString(bundleJSON("transaction",
				`{"fullUrl":"urn:uuid:0d4b2a55-0000-4000-8000-000000000001","resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}}`,
				`{"resource":{"resourceType":"Patient","id":"pre","active":true},"request":{"method":"PUT","url":"Patient/pre"}}`,
				c.failing))
			if status != c.status || !strings.Contains(body, `"OperationOutcome"`) || !strings.Contains(body, `"expression":["Bundle.entry[2]"]`) {
				t.Fatalf("got %d %s, want %d naming Bundle.entry[2]", status, body, c.status)
			}
			after, _ := h.store.Changes(context.Background(), 0, 1000)
			if len(after) != len(before) {
				t.Fatalf("a failed transaction kept %d versions", len(after)-len(before))
			}
		})
	}
}

// TestTransactionOrder: DELETE, then POST, then PUT and PATCH, then GET,
// whatever the order of the entries; the response keeps request order.
func TestTransactionOrder(t *testing.T) {
	h := newHarness(t, openSQLite(t))
	status, body := h.postString(bundleJSON("transaction",
		`{"resource":{"resourceType":"Patient","id":"gone","active":true},"request":{"method":"PUT","url":"Patient/gone"}}`,
		`{"resource":{"resourceType":"Patient","id":"p","active":true},"request":{"method":"PUT","url":"Patient/p"}}`))
	if status != 200 {
		t.Fatalf("setup: %d %s", status, body)
	}
	patch := base64.StdEncoding.EncodeToString([]byte(`[{"op":"replace","path":"/active","value":false}]`))
	status, body = h.postString(bundleJSON("transaction",
		`{"request":{"method":"GET","url":"Patient/p"}}`,
		`{"resource":{"resourceType":"Binary","contentType":"application/json-patch+json","data":"`+patch+`"},"request":{"method":"PATCH","url":"Patient/p"}}`,
		`{"resource":{"resourceType":"Patient","id":"q"},"request":{"method":"PUT","url":"Patient/q"}}`,
		`{"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}}`,
		`{"request":{"method":"DELETE","url":"Patient/gone"}}`,
		`{"request":{"method":"HEAD","url":"Patient/p/_history/1"}}`,
	))
	if status != 200 {
		t.Fatalf("transaction: %d %s", status, body)
	}
	rb := decodeResponse(t, body)
	want := []string{"200 OK", "200 OK", "201 Created", "201 Created", "204 No Content", "200 OK"}
	for i, e := range rb.Entry {
		if e.Response.Status != want[i] {
			t.Errorf("entry %d: %s, want %s", i, e.Response.Status, want[i])
		}
	}
	// The GET, first in the Bundle, ran last: it sees the patch.
	if rb.Entry[0].Response.Etag != `W/"2"` || !strings.Contains(string(rb.Entry[0].Resource), `"active":false`) {
		t.Errorf("GET before the patch: %+v", rb.Entry[0])
	}
	if len(rb.Entry[5].Resource) != 0 || rb.Entry[5].Response.Etag != `W/"1"` {
		t.Errorf("HEAD of a version: %+v", rb.Entry[5])
	}
	changes, _ := h.store.Changes(context.Background(), 2, 100)
	var order []string
	for _, c := range changes {
		order = append(order, fmt.Sprintf("%s/%d", c.ID, c.Version))
	}
	postID := idOf(rb.Entry[3].Response.Location)
	if got, want := strings.Join(order, " "), "gone/2 "+postID+"/1 p/2 q/1"; got != want {
		t.Errorf("change log order %q, want %q (DELETE, POST, PATCH and PUT in request order)", got, want)
	}
}

// TestBatchIndependent: a batch's entries fail on their own; the others
// are kept, and the response says what happened to each, in order.
func TestBatchIndependent(t *testing.T) {
	h := newHarness(t, openSQLite(t))
	status, body := h.postString(bundleJSON("batch",
		`{"resource":{"resourceType":"Patient","id":"x"},"request":{"method":"PUT","url":"Patient/x"}}`,
		`{"resource":{"resourceType":"Patient","id":"y"},"request":{"method":"PUT","url":"Patient/y","ifMatch":"W/\"2\""}}`,
		`{"request":{"method":"GET","url":"Patient/missing"}}`,
		`{"resource":{"resourceType":"Observation","status":"final","code":{"text":"synthetic"}},"request":{"method":"POST","url":"Observation"}}`,
		`{"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"NoSuchType"}}`,
	))
	if status != 200 {
		t.Fatalf("batch: %d %s", status, body)
	}
	rb := decodeResponse(t, body)
	want := []string{"201 Created", "412 Precondition Failed", "404 Not Found", "201 Created", "404 Not Found"}
	if rb.Type != "batch-response" || len(rb.Entry) != len(want) {
		t.Fatalf("response: %s", body)
	}
	for i, e := range rb.Entry {
		if e.Response.Status != want[i] {
			t.Errorf("entry %d: %s, want %s", i, e.Response.Status, want[i])
		}
		failed := want[i][0] == '4'
		if failed != (len(e.Response.Outcome) > 0) || failed && !strings.Contains(string(e.Response.Outcome), fmt.Sprintf("Bundle.entry[%d]", i)) {
			t.Errorf("entry %d outcome: %s", i, e.Response.Outcome)
		}
	}
	h.current("Patient", "x")
	h.current("Observation", idOf(rb.Entry[3].Response.Location))
	if _, err := h.store.Resource(context.Background(), "Patient", "y"); concord.ErrorCode(err) != concord.ENOTFOUND {
		t.Errorf("Patient/y: %v", err)
	}
}

// TestBatchStoreFailure: when the store fails while a batch is grouped
// (here a search that fails without an error code), the entries run one
// by one, and only the one that met the failure fails.
func TestBatchStoreFailure(t *testing.T) {
	h := newHarness(t, openSQLite(t))
	h.a.match = func(ctx context.Context, tx concord.Tx, typ string, q url.Values) ([]string, error) {
		return nil, errors.New("connection lost")
	}
	status, body := h.postString(bundleJSON("batch",
		`{"resource":{"resourceType":"Patient","id":"x"},"request":{"method":"PUT","url":"Patient/x"}}`,
		`{"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=http://example.org|1"}}`,
		`{"resource":{"resourceType":"Patient","id":"z"},"request":{"method":"PUT","url":"Patient/z"}}`,
		`{"request":{"method":"GET","url":"NoSuchType/1"}}`,
	))
	rb := decodeResponse(t, body)
	if status != 200 || len(rb.Entry) != 4 || rb.Entry[0].Response.Status != "201 Created" ||
		rb.Entry[1].Response.Status != "500 Internal Server Error" || rb.Entry[2].Response.Status != "201 Created" ||
		rb.Entry[3].Response.Status != "404 Not Found" {
		t.Fatalf("batch: %d %s", status, body)
	}
}

// TestBundleMalformed: what is not a transaction or batch Bundle, or has
// an entry without a request, is refused with an OperationOutcome, as are
// Bundles over the caps.
func TestBundleMalformed(t *testing.T) {
	h := newHarness(t, openSQLite(t))
	many := make([]string, maxEntries+1)
	for i := range many {
		many[i] = `{}`
	}
	for _, c := range []struct {
		name, body string
		status     int
	}{
		{"not JSON", `{"resourceType":"Bundle",`, 400},
		{"not an object", `[]`, 400},
		{"not a Bundle", `{"resourceType":"Patient"}`, 400},
		{"no type", `{"resourceType":"Bundle"}`, 400},
		{"collection", bundleJSON("collection", `{"resource":{"resourceType":"Patient"}}`), 400},
		{"history", bundleJSON("history"), 400},
		{"entry without request", bundleJSON("batch", `{"resource":{"resourceType":"Patient"}}`), 400},
		{"request without method", bundleJSON("transaction", `{"request":{"url":"Patient"}}`), 400},
		{"unknown method", bundleJSON("transaction", `{"request":{"method":"OPTIONS","url":"Patient"}}`), 400},
		{"request without url", bundleJSON("batch", `{"request":{"method":"GET"}}`), 400},
		{"entry not an object", bundleJSON("batch", `3`), 400},
		{"too many entries", bundleJSON("batch", many...), 413},
	} {
		status, body := h.postString(c.body)
		if status != c.status || !strings.Contains(body, `"resourceType":"OperationOutcome"`) {
			t.Errorf("%s: %d %s, want %d", c.name, status, body, c.status)
		}
	}
	// Over the size cap, declared or not: refused before it is all held.
	req := strings.NewReader(bundleJSON("batch") + strings.Repeat(" ", maxBundle))
	if status, body := h.post(io.MultiReader(req)); status != 413 || !strings.Contains(body, "OperationOutcome") {
		t.Errorf("too large: %d %s", status, body)
	}
	if status, _ := h.postString(bundleJSON("batch"), "Content-Type", "application/xml"); status != 400 {
		t.Errorf("XML: %d", status)
	}
	if status, body := h.postString(bundleJSON("batch")); status != 200 || !strings.Contains(body, `"type":"batch-response","entry":[]`) {
		t.Errorf("empty batch: %d %s", status, body)
	}
}

// TestBundlePrefer: return=minimal leaves the resources out, return=
// OperationOutcome gives an outcome per entry instead.
func TestBundlePrefer(t *testing.T) {
	h := newHarness(t, openSQLite(t))
	b := bundleJSON("transaction", `{"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}}`)
	_, body := h.postString(b, "Prefer", "return=minimal")
	rb := decodeResponse(t, body)
	if len(rb.Entry) != 1 || len(rb.Entry[0].Resource) != 0 || rb.Entry[0].Response.Location == "" {
		t.Errorf("minimal: %s", body)
	}
	_, body = h.postString(b, "Prefer", "return=OperationOutcome")
	rb = decodeResponse(t, body)
	if len(rb.Entry) != 1 || len(rb.Entry[0].Resource) != 0 || !strings.Contains(string(rb.Entry[0].Response.Outcome), "informational") {
		t.Errorf("OperationOutcome: %s", body)
	}
}

// TestBundleUnchangedPut: a PUT with the current content (whitespace and
// meta.versionId/lastUpdated aside) stores no version; a changed one does.
func TestBundleUnchangedPut(t *testing.T) {
	h := newHarness(t, openSQLite(t))
	put := func(res string) (string, string) {
		_, body := h.postString(bundleJSON("batch", `{"resource":`+res+`,"request":{"method":"PUT","url":"Patient/u"}}`))
		rb := decodeResponse(t, body)
		return rb.Entry[0].Response.Status, rb.Entry[0].Response.Etag
	}
	if s, e := put(`{"resourceType":"Patient","id":"u","active":true,"name":[{"family":"Synthetic"}]}`); s != "201 Created" || e != `W/"1"` {
		t.Fatalf("create: %s %s", s, e)
	}
	if s, e := put(`{"resourceType":"Patient","id":"u","meta":{"versionId":"7","lastUpdated":"2001-01-01T00:00:00Z"},
		"active": true, "name": [ {"family": "Synthetic"} ]}`); s != "200 OK" || e != `W/"1"` {
		t.Errorf("same content: %s %s, want version 1 kept", s, e)
	}
	if s, e := put(`{"resourceType":"Patient","id":"u","active":false,"name":[{"family":"Synthetic"}]}`); s != "200 OK" || e != `W/"2"` {
		t.Errorf("changed content: %s %s", s, e)
	}
	if s, e := put(`{"resourceType":"Patient","id":"u","meta":{"source":"elsewhere"},"active":false,"name":[{"family":"Synthetic"}]}`); e != `W/"3"` {
		t.Errorf("changed meta.source: %s %s", s, e)
	}
}

func TestSameContent(t *testing.T) {
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{`{"resourceType":"P","id":"1","meta":{"versionId":"1","lastUpdated":"X"},"a":[1, 2]}`, `{"resourceType":"P","id":"1","meta":{"versionId":"2","lastUpdated":"Y"},"a":[1,2]}`, true},
		{`{"resourceType":"P","id":"1","meta":{"versionId":"1","lastUpdated":"X"},"a":"x y"}`, `{"resourceType":"P","id":"1","meta":{"versionId":"2","lastUpdated":"Y"},"a":"xy"}`, false},
		{`{"resourceType":"P","id":"1","meta":{"versionId":"1","lastUpdated":"X"},"a":"\" "}`, `{"resourceType":"P","id":"1","meta":{"versionId":"2","lastUpdated":"Y"},"a":"\""}`, false},
		{`{"resourceType":"P","id":"1","meta":{"versionId":"1","lastUpdated":"X"},"a":1}`, `{"resourceType":"P","id":"2","meta":{"versionId":"2","lastUpdated":"Y"},"a":1}`, false},
		{`{"resourceType":"P","id":"1","meta":{"versionId":"1","lastUpdated":"X"},"a":1}`, `{"resourceType":"P","id":"1","meta":{"versionId":"2","lastUpdated":"Y"},"a":1,"b":2}`, false},
		{`{"a":1}`, `{"a":1}`, false}, // not the stored layout
	} {
		if got := sameContent([]byte(c.a), []byte(c.b)); got != c.same {
			t.Errorf("sameContent(%s, %s) = %v", c.a, c.b, got)
		}
	}
}

// TestBundleConditional: ifNoneExist, conditional PUT, PATCH and DELETE,
// and conditional references: first with the real search, then with a
// stand-in that answers any number of matches.
func TestBundleConditional(t *testing.T) {
	h := newHarness(t, openSQLite(t))
	seed := bundleJSON("transaction",
		`{"resource":{"resourceType":"Patient","id":"one","active":true},"request":{"method":"PUT","url":"Patient/one"}}`,
		`{"resource":{"resourceType":"Patient","id":"two"},"request":{"method":"PUT","url":"Patient/two"}}`,
		`{"resource":{"resourceType":"Patient","id":"three"},"request":{"method":"PUT","url":"Patient/three"}}`)
	if status, body := h.postString(seed); status != 200 {
		t.Fatalf("seed: %d %s", status, body)
	}
	// The real search: the first conditional create creates, the second
	// (same criteria) finds it, and a conditional reference resolves to it.
	cond := `{"resource":{"resourceType":"Patient","identifier":[{"system":"http://example.org","value":"9"}]},"request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=http://example.org|9"}}`
	if status, body := h.postString(bundleJSON("transaction", cond)); status != 200 || !strings.Contains(body, "201 Created") {
		t.Errorf("conditional create with search: %d %s", status, body)
	}
	obs := `{"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient?identifier=http://example.org|9"}},"request":{"method":"POST","url":"Observation"}}`
	status, body := h.postString(bundleJSON("transaction", cond, obs))
	if status != 200 || !strings.Contains(body, "200 OK") || strings.Contains(body, "Patient?identifier") {
		t.Errorf("conditional create again, and a conditional reference: %d %s", status, body)
	}
	// identifier=N matches the first N of one, two, three.
	h.a.match = func(ctx context.Context, tx concord.Tx, typ string, q url.Values) ([]string, error) {
		n := strings.TrimPrefix(q.Get("identifier"), "http://example.org|")
		return []string{"one", "two", "three"}[:int(n[0]-'0')], nil
	}
	entry := func(method, url, extra, resource string) string {
		s := `{"request":{"method":"` + method + `","url":"` + url + `"` + extra + `}`
		if resource != "" {
			s += `,"resource":` + resource
		}
		return s + `}`
	}
	for _, c := range []struct {
		name, entry, status, location string
	}{
		{"ifNoneExist, no match", entry("POST", "Patient", `,"ifNoneExist":"identifier=http://example.org|0"`, `{"resourceType":"Patient"}`), "201 Created", "new"},
		{"ifNoneExist, one match", entry("POST", "Patient", `,"ifNoneExist":"identifier=http://example.org|1"`, `{"resourceType":"Patient"}`), "200 OK", "Patient/one/_history/1"},
		{"ifNoneExist, two matches", entry("POST", "Patient", `,"ifNoneExist":"identifier=http://example.org|2"`, `{"resourceType":"Patient"}`), "412 Precondition Failed", ""},
		{"conditional PUT, no match", entry("PUT", "Patient?identifier=http://example.org|0", "", `{"resourceType":"Patient"}`), "201 Created", "new"},
		{"conditional PUT, no match, id given", entry("PUT", "Patient?identifier=http://example.org|0", "", `{"resourceType":"Patient","id":"four"}`), "201 Created", "Patient/four/_history/1"},
		{"conditional PUT, one match", entry("PUT", "Patient?identifier=http://example.org|1", "", `{"resourceType":"Patient","active":false}`), "200 OK", "Patient/one/_history/2"},
		{"conditional PUT, other id", entry("PUT", "Patient?identifier=http://example.org|1", "", `{"resourceType":"Patient","id":"two"}`), "400 Bad Request", ""},
		{"conditional PUT, two matches", entry("PUT", "Patient?identifier=http://example.org|2", "", `{"resourceType":"Patient"}`), "412 Precondition Failed", ""},
		{"conditional PATCH, no match", entry("PATCH", "Patient?identifier=http://example.org|0", "", `{"resourceType":"Binary","contentType":"application/json-patch+json","data":"W10="}`), "404 Not Found", ""},
		{"conditional DELETE, two matches", entry("DELETE", "Patient?identifier=http://example.org|2", "", ""), "412 Precondition Failed", ""},
		{"conditional DELETE, no match", entry("DELETE", "Patient?identifier=http://example.org|0", "", ""), "204 No Content", ""},
		{"conditional reference, one match", entry("POST", "Observation", "", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient?identifier=http://example.org|1"}}`), "201 Created", "new"},
		{"conditional reference, no match", entry("POST", "Observation", "", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient?identifier=http://example.org|0"}}`), "412 Precondition Failed", ""},
		{"search", entry("GET", "Patient?identifier=http://example.org|2", "", ""), "200 OK", ""},
	} {
		_, body := h.postString(bundleJSON("batch", c.entry))
		rb := decodeResponse(t, body)
		if len(rb.Entry) != 1 {
			t.Errorf("%s: %s", c.name, body)
			continue
		}
		r := rb.Entry[0].Response
		if r.Status != c.status || (c.location == "new" && r.Location == "") || (c.location != "new" && r.Location != c.location) {
			t.Errorf("%s: %s %q, want %s %q\n%s", c.name, r.Status, r.Location, c.status, c.location, body)
		}
		switch c.name {
		case "conditional reference, one match":
			if got := string(h.current("Observation", idOf(r.Location)).Content); !strings.Contains(got, `"reference":"Patient/one"`) {
				t.Errorf("conditional reference stored as %s", got)
			}
		case "search":
			if !strings.Contains(string(rb.Entry[0].Resource), `"type":"searchset","total":2`) {
				t.Errorf("search: %s", rb.Entry[0].Resource)
			}
		}
	}
	// A transaction: POST with ifNoneExist that matches, and a reference to
	// its fullUrl, which goes to the match.
	status, body = h.postString(bundleJSON("transaction",
		`{"fullUrl":"urn:uuid:0d4b2a55-0000-4000-8000-0000000000aa","resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=http://example.org|1"}}`,
		`{"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"urn:uuid:0d4b2a55-0000-4000-8000-0000000000aa"}},"request":{"method":"POST","url":"Observation"}}`))
	rb := decodeResponse(t, body)
	if status != 200 || rb.Entry[0].Response.Status != "200 OK" || !strings.Contains(string(rb.Entry[1].Resource), `"reference":"Patient/one"`) {
		t.Errorf("transaction with a matching ifNoneExist: %d %s", status, body)
	}
}

// TestBundleAuthorisation: each entry is authorised on its own type; a
// refused entry fails a transaction (403 naming it) or only itself in a
// batch, and the refusal is audited.
func TestBundleAuthorisation(t *testing.T) {
	h := newHarness(t, openSQLite(t), "user/Patient.cruds")
	entries := []string{
		`{"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}}`,
		`{"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"}},"request":{"method":"POST","url":"Observation"}}`,
	}
	status, body := h.postString(bundleJSON("transaction", entries...))
	if status != 403 || !strings.Contains(body, "Bundle.entry[1]") {
		t.Errorf("transaction: %d %s", status, body)
	}
	status, body = h.postString(bundleJSON("batch", entries...))
	rb := decodeResponse(t, body)
	if status != 200 || rb.Entry[0].Response.Status != "201 Created" || rb.Entry[1].Response.Status != "403 Forbidden" {
		t.Errorf("batch: %d %s", status, body)
	}
	var denials, creates int
	h.store.AuditRecords(context.Background(), concord.AuditFilter{}, func(r *concord.AuditRecord) error {
		switch {
		case r.Outcome == concord.OutcomeMinor && strings.Contains(r.Detail, "denied"):
			denials++
		case r.Action == concord.AuditCreate && r.Actor == "test-token":
			creates++
		}
		return nil
	})
	if denials != 2 || creates != 1 {
		t.Errorf("audit: %d denials, %d creates; want 2 and 1", denials, creates)
	}
	// Patient-context callers are refused on /fhir until compartments.
	h.p.Patient = "someone"
	if status, _ := h.postString(bundleJSON("batch")); status != 403 {
		t.Errorf("patient context: %d", status)
	}
}

// TestCreateOrPatch: in a transaction, a conditional create and a
// conditional PATCH with the same criteria mean "create it with this
// content, or else patch it": with no match the create stores it and the
// patch is skipped; with a match the create finds it and the patch
// applies. A PATCH matching nothing without such a create is still 404.
func TestCreateOrPatch(t *testing.T) {
	h := newHarness(t, openSQLite(t))
	patch := base64.StdEncoding.EncodeToString([]byte(`[{"op":"replace","path":"/status","value":"completed"}]`))
	tx := bundleJSON("transaction",
		`{"fullUrl":"urn:uuid:0d4b2a55-0000-4000-8000-0000000000b1","resource":{"resourceType":"ServiceRequest","status":"active","intent":"order","subject":{"display":"x"},"identifier":[{"system":"http://example.org/placer","value":"P1"}],"note":[{"text":"from the order"}]},"request":{"method":"POST","url":"ServiceRequest","ifNoneExist":"identifier=http://example.org/placer|P1"}}`,
		`{"fullUrl":"urn:uuid:0d4b2a55-0000-4000-8000-0000000000b2","resource":{"resourceType":"Binary","contentType":"application/json-patch+json","data":"`+patch+`"},"request":{"method":"PATCH","url":"ServiceRequest?identifier=http://example.org/placer|P1"}}`)
	status, body := h.postString(tx)
	rb := decodeResponse(t, body)
	if status != 200 || len(rb.Entry) != 2 || rb.Entry[0].Response.Status != "201 Created" {
		t.Fatalf("no match: %d %s", status, body)
	}
	id := idOf(rb.Entry[0].Response.Location)
	if got := string(h.current("ServiceRequest", id).Content); !strings.Contains(got, `"status":"active"`) {
		t.Errorf("created as %s", got)
	}
	status, body = h.postString(tx)
	rb = decodeResponse(t, body)
	if status != 200 || rb.Entry[0].Response.Status != "200 OK" || idOf(rb.Entry[1].Response.Location) != id {
		t.Fatalf("match: %d %s", status, body)
	}
	got := string(h.current("ServiceRequest", id).Content)
	if !strings.Contains(got, `"status":"completed"`) || !strings.Contains(got, "from the order") {
		t.Errorf("patched as %s", got)
	}
	status, body = h.postString(bundleJSON("transaction",
		`{"resource":{"resourceType":"Binary","contentType":"application/json-patch+json","data":"`+patch+`"},"request":{"method":"PATCH","url":"ServiceRequest?identifier=http://example.org/placer|P2"}}`))
	if status != 404 {
		t.Errorf("PATCH alone matching nothing: %d %s", status, body)
	}
}
