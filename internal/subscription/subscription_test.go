package subscription

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
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
)

// The resources of these tests are synthetic.

// node is Concord's FHIR API with a subscription manager over one store.
type node struct {
	t     testing.TB
	store concord.Store
	m     *Manager
	url   string
	admin string // an admin bearer token
}

// openStore opens a fresh store of the backend (the PostgreSQL case
// skips unless CONCORD_TEST_POSTGRES is set).
func openStore(t testing.TB, backend string) concord.Store {
	var st concord.Store
	var err error
	if backend == "sqlite" {
		st, err = sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "c.db"), sqlite.Options{})
	} else {
		st, err = postgres.Open(context.Background(), storetest.PostgresURL(t), postgres.Options{})
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// startNode serves /fhir over st with a manager whose retries are fast.
func startNode(t testing.TB, st concord.Store, opt Options) *node {
	t.Helper()
	opt.Store = st
	opt.Node = "test"
	// With Poll < 0, as concord serve does: writes through the FHIR API
	// wake the matcher, which otherwise polls every 500 ms.
	wake := opt.Poll < 0
	opt.AllowPrivate = true // the receivers listen on 127.0.0.1
	if opt.Poll == 0 {
		opt.Poll = 20 * time.Millisecond
	}
	if opt.RetryMin == 0 {
		opt.RetryMin, opt.RetryMax = 20*time.Millisecond, 80*time.Millisecond
	}
	opt.Timeout = 2 * time.Second
	opt.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if wake {
		opt.Poll = 0
	}
	m := New(opt)
	var fhirStore concord.Store = st
	if wake {
		fhirStore = &waker{Store: st, m: m}
	}
	srv := server.New(server.Options{Store: st, Logger: opt.Logger, Node: "test"})
	fhirapi.Register(srv, fhirStore, fhirapi.Options{Subscriptions: m, ResourceExtensions: m.CapabilityExtensions})
	m.Register(srv)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	n := &node{t: t, store: st, m: m, url: hs.URL}
	n.admin = n.token(concord.TokenRequest{Role: concord.RoleAdmin})
	return n
}

// waker is the store the FHIR API writes to in concord serve
// (changeNotifier): each committed write wakes the matcher.
type waker struct {
	concord.Store
	m *Manager
}

func (w *waker) Update(ctx context.Context, fn func(concord.Tx) error) error {
	err := w.Store.Update(ctx, fn)
	if err == nil {
		w.m.ChangesWritten()
	}
	return err
}

// token issues a token and returns its bearer string.
func (n *node) token(req concord.TokenRequest) string {
	n.t.Helper()
	req.CreatedBy = "test"
	if req.TTL == 0 {
		req.TTL = time.Hour
	}
	_, bearer, err := auth.Issue(context.Background(), n.store, req, concord.AuditRecord{Actor: "test", Role: "operator"}, time.Now())
	if err != nil {
		n.t.Fatal(err)
	}
	return bearer
}

// do sends a FHIR request and returns the status and the body.
func (n *node) do(method, path, bearer, body string) (int, []byte) {
	n.t.Helper()
	req, _ := http.NewRequest(method, n.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+bearer)
	if body != "" {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// create posts a resource and returns its id.
func (n *node) create(bearer, typ, body string) string {
	n.t.Helper()
	code, b := n.do("POST", "/fhir/"+typ, bearer, body)
	if code != http.StatusCreated {
		n.t.Fatalf("POST %s: %d %s", typ, code, b)
	}
	var r struct{ ID string }
	json.Unmarshal(b, &r)
	return r.ID
}

// read returns a resource's JSON as a map.
func (n *node) read(path string) map[string]any {
	n.t.Helper()
	code, b := n.do("GET", "/fhir/"+path, n.admin, "")
	if code != http.StatusOK {
		n.t.Fatalf("GET %s: %d %s", path, code, b)
	}
	var out map[string]any
	json.Unmarshal(b, &out)
	return out
}

// observation is a synthetic Observation with a LOINC code.
func observation(code string) string {
	return `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"` + code + `"}]}}`
}

// subscription is a rest-hook Subscription.
func subscription(criteria, endpoint, payload string, headers ...string) string {
	s := map[string]any{"resourceType": "Subscription", "status": "requested", "reason": "synthetic test",
		"criteria": criteria, "channel": map[string]any{"type": "rest-hook", "endpoint": endpoint}}
	ch := s["channel"].(map[string]any)
	if payload != "" {
		ch["payload"] = payload
	}
	if len(headers) > 0 {
		ch["header"] = headers
	}
	b, _ := json.Marshal(s)
	return string(b)
}

// hit is one request a receiver took.
type hit struct {
	method, path, auth, contentType string
	body                            []byte
}

// receiver is a rest-hook endpoint that can be made to fail.
type receiver struct {
	*httptest.Server
	down  atomic.Bool
	hits  chan hit
	tries atomic.Int64
}

func newReceiver(t testing.TB) *receiver {
	r := &receiver{hits: make(chan hit, 100)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.tries.Add(1)
		if r.down.Load() {
			http.Error(w, "down for the test", http.StatusServiceUnavailable)
			return
		}
		b, _ := io.ReadAll(req.Body)
		r.hits <- hit{req.Method, req.URL.Path, req.Header.Get("Authorization"), req.Header.Get("Content-Type"), b}
	}))
	t.Cleanup(r.Close)
	return r
}

// next waits for the receiver's next notification.
func (r *receiver) next(t *testing.T) hit {
	t.Helper()
	select {
	case h := <-r.hits:
		return h
	case <-time.After(10 * time.Second):
		t.Fatal("no notification within 10 s")
		return hit{}
	}
}

// none checks that no notification arrives for a while.
func (r *receiver) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case h := <-r.hits:
		t.Fatalf("unexpected notification %s %s", h.method, h.path)
	case <-time.After(d):
	}
}

// eventually waits until cond holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10 s: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func backends(t *testing.T, f func(t *testing.T, backend string)) {
	for _, b := range []string{"sqlite", "postgres"} {
		t.Run(b, func(t *testing.T) { f(t, b) })
	}
}

// TestRestHook: a full-resource rest-hook subscription gets exactly the
// matching Observations, in order, with its header, as PUTs of the
// resource; an id-only one gets POSTs with no body; while the endpoint
// answers 503 the events wait, the subscription says so, and they arrive
// in order once it is back.
func TestRestHook(t *testing.T) {
	backends(t, func(t *testing.T, backend string) {
		n := startNode(t, openStore(t, backend), Options{})
		rcv := newReceiver(t)
		idOnly := newReceiver(t)
		criteria := "Observation?code=http://loinc.org|1234-5"
		code, b := n.do("POST", "/fhir/Subscription", n.admin,
			subscription(criteria, rcv.URL+"/hook", "application/fhir+json", "Authorization: Bearer receiver-secret"))
		if code != http.StatusCreated || !bytes.Contains(b, []byte(`"status":"active"`)) {
			t.Fatalf("POST Subscription: %d %s; want 201 and status active", code, b)
		}
		var s struct{ ID string }
		json.Unmarshal(b, &s)
		n.create(n.admin, "Subscription", subscription(criteria, idOnly.URL+"/ping", ""))

		o1 := n.create(n.admin, "Observation", observation("1234-5"))
		n.create(n.admin, "Observation", observation("9999-9"))
		o2 := n.create(n.admin, "Observation", observation("1234-5"))
		for _, want := range []string{o1, o2} {
			h := rcv.next(t)
			if h.method != "PUT" || h.path != "/hook/Observation/"+want || h.auth != "Bearer receiver-secret" ||
				h.contentType != "application/fhir+json" || !bytes.Contains(h.body, []byte(`"id":"`+want+`"`)) {
				t.Fatalf("notification = %s %s auth %q type %q body %s; want PUT /hook/Observation/%s", h.method, h.path, h.auth, h.contentType, h.body, want)
			}
			p := idOnly.next(t)
			if p.method != "POST" || p.path != "/ping" || len(p.body) != 0 {
				t.Fatalf("id-only notification = %s %s body %q; want POST /ping, no body", p.method, p.path, p.body)
			}
		}
		// An update that stops matching notifies nothing; one that
		// matches again does.
		code, b = n.do("PUT", "/fhir/Observation/"+o1, n.admin, withID(observation("9999-9"), o1))
		if code != http.StatusOK {
			t.Fatalf("PUT: %d %s", code, b)
		}
		idOnly.none(t, 200*time.Millisecond)

		// The endpoint goes down.
		rcv.down.Store(true)
		o3 := n.create(n.admin, "Observation", observation("1234-5"))
		o4 := n.create(n.admin, "Observation", observation("1234-5"))
		idOnly.next(t)
		idOnly.next(t)
		eventually(t, "three failed attempts", func() bool {
			st, err := n.store.Subscription(context.Background(), s.ID)
			return err == nil && st.Attempts >= 3 && st.Errors >= 3 && st.Delivered == 2 && st.Events == 4
		})
		sub := n.read("Subscription/" + s.ID)
		if sub["status"] != "active" || !strings.Contains(fmt.Sprint(sub["error"]), "503") {
			t.Fatalf("a failing subscription = status %v error %v; want active with the 503 in error", sub["status"], sub["error"])
		}
		rcv.none(t, 100*time.Millisecond)
		rcv.down.Store(false)
		for _, want := range []string{o3, o4} {
			if h := rcv.next(t); h.path != "/hook/Observation/"+want {
				t.Fatalf("after the outage: %s, want /hook/Observation/%s", h.path, want)
			}
		}
		eventually(t, "the error cleared", func() bool {
			sub := n.read("Subscription/" + s.ID)
			return sub["status"] == "active" && sub["error"] == nil
		})
		rcv.none(t, 100*time.Millisecond)
	})
}

// withID returns a resource's JSON with its id set.
func withID(body, id string) string {
	var m map[string]any
	json.Unmarshal([]byte(body), &m)
	m["id"] = id
	b, _ := json.Marshal(m)
	return string(b)
}

// twoNodes starts two nodes on one PostgreSQL database, each with its
// own connection pool (skipped without CONCORD_TEST_POSTGRES).
func twoNodes(t *testing.T) (*node, *node) {
	url := storetest.PostgresURL(t)
	open := func() concord.Store {
		st, err := postgres.Open(context.Background(), url, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	return startNode(t, open(), Options{}), startNode(t, open(), Options{})
}

// TestTwoNodes: two nodes sharing PostgreSQL (two connection pools) match
// and deliver each event once, in order.
func TestTwoNodes(t *testing.T) {
	a, b := twoNodes(t)
	rcv := newReceiver(t)
	a.create(a.admin, "Subscription", subscription("Observation?code=http://loinc.org|1234-5", rcv.URL, "application/fhir+json"))
	var want []string
	for i := 0; i < 20; i++ {
		n := a
		if i%2 == 1 {
			n = b
		}
		want = append(want, n.create(n.admin, "Observation", observation("1234-5")))
	}
	for i, id := range want {
		if h := rcv.next(t); h.path != "/Observation/"+id {
			t.Fatalf("notification %d = %s, want /Observation/%s", i+1, h.path, id)
		}
	}
	rcv.none(t, 300*time.Millisecond)
}
