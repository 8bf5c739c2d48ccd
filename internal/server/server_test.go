package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/adminapi"
	"github.com/concord-health/concord/internal/auth"
	"github.com/concord-health/concord/internal/server"
	"github.com/concord-health/concord/internal/store/sqlite"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type env struct {
	t     *testing.T
	store concord.Store
	srv   *server.Server
	http  *httptest.Server
	logs  *syncBuffer
}

func newEnv(t *testing.T, opt server.Options) *env {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "concord.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if opt.Store == nil {
		opt.Store = st
	}
	logs := &syncBuffer{}
	opt.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	opt.Node = "test-node"
	srv := server.New(opt)
	adminapi.Register(srv, opt.Store, adminapi.Info{Version: "test", Node: "test-node", Started: time.Now()}, nil)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &env{t: t, store: st, srv: srv, http: hs, logs: logs}
}

func (e *env) token(role concord.Role, patient string) (*concord.Token, string) {
	e.t.Helper()
	tok, bearer, err := auth.Issue(context.Background(), e.store, concord.TokenRequest{Role: role, Patient: patient, TTL: time.Hour},
		concord.AuditRecord{Actor: "test", Role: "operator", Address: "local"}, time.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return tok, bearer
}

func (e *env) get(path, bearer string, hdr ...string) (*http.Response, string) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.http.URL+path, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func (e *env) audit() []*concord.AuditRecord {
	e.t.Helper()
	var out []*concord.AuditRecord
	if err := e.store.AuditRecords(context.Background(), concord.AuditFilter{}, func(r *concord.AuditRecord) error {
		out = append(out, r)
		return nil
	}); err != nil {
		e.t.Fatal(err)
	}
	return out
}

func TestHealthProbesArePublic(t *testing.T) {
	e := newEnv(t, server.Options{})
	if r, body := e.get("/healthz", ""); r.StatusCode != 200 || !strings.Contains(body, "ok") {
		t.Fatalf("/healthz %d %s", r.StatusCode, body)
	}
	if r, body := e.get("/readyz", ""); r.StatusCode != 200 || !strings.Contains(body, `"store":"sqlite"`) {
		t.Fatalf("/readyz %d %s", r.StatusCode, body)
	}
}

func TestReadyzFailsWhenStoreIsGone(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "c.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, server.Options{Store: st})
	st.Close()
	if r, body := e.get("/readyz", ""); r.StatusCode != 503 || !strings.Contains(body, "unavailable") {
		t.Fatalf("/readyz with closed store: %d %s", r.StatusCode, body)
	}
	if r, _ := e.get("/healthz", ""); r.StatusCode != 200 {
		t.Fatalf("/healthz must not depend on the store: %d", r.StatusCode)
	}
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t, server.Options{})
	tok, bearer := e.token(concord.RoleAdmin, "")
	r, body := e.get("/api/status", "")
	if r.StatusCode != 401 || r.Header.Get("WWW-Authenticate") == "" || !strings.Contains(body, `"unauthorized"`) {
		t.Fatalf("no token: %d %q %s", r.StatusCode, r.Header.Get("WWW-Authenticate"), body)
	}
	for _, bad := range []string{"garbage", "cnc_nosuch.secret", bearer + "x", strings.Repeat("a", 5000)} {
		if r, _ := e.get("/api/status", bad); r.StatusCode != 401 {
			t.Fatalf("bad token %.20q: %d", bad, r.StatusCode)
		}
	}
	req, _ := http.NewRequest("GET", e.http.URL+"/api/status", nil)
	req.Header.Set("Authorization", "Basic "+bearer)
	if resp, _ := http.DefaultClient.Do(req); resp.StatusCode != 401 {
		t.Fatalf("non-bearer scheme: %d", resp.StatusCode)
	}
	if r, body := e.get("/api/status", bearer); r.StatusCode != 200 {
		t.Fatalf("admin: %d %s", r.StatusCode, body)
	}
	if err := auth.Revoke(context.Background(), e.store, tok.ID, concord.AuditRecord{Actor: "test"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if r, body := e.get("/api/status", bearer); r.StatusCode != 401 || !strings.Contains(body, "revoked") {
		t.Fatalf("revoked: %d %s", r.StatusCode, body)
	}
}

func TestExpiredToken(t *testing.T) {
	later := time.Now().Add(2 * time.Hour)
	e := newEnv(t, server.Options{Now: func() time.Time { return later }})
	_, bearer := e.token(concord.RoleAdmin, "")
	if r, body := e.get("/api/status", bearer); r.StatusCode != 401 || !strings.Contains(body, "expired") {
		t.Fatalf("expired: %d %s", r.StatusCode, body)
	}
}

func TestRoles(t *testing.T) {
	e := newEnv(t, server.Options{})
	want := map[concord.Role][2]int{ // /api/status, /metrics
		concord.RoleAdmin:       {200, 200},
		concord.RoleClinician:   {403, 403},
		concord.RoleIntegration: {403, 200},
		concord.RoleAuditor:     {403, 403},
		concord.RolePatient:     {403, 403},
	}
	for role, codes := range want {
		patient := ""
		if role == concord.RolePatient {
			patient = "example"
		}
		_, bearer := e.token(role, patient)
		if r, body := e.get("/api/status", bearer); r.StatusCode != codes[0] {
			t.Errorf("%s /api/status: %d %s", role, r.StatusCode, body)
		}
		if r, _ := e.get("/metrics", bearer); r.StatusCode != codes[1] {
			t.Errorf("%s /metrics: %d", role, r.StatusCode)
		}
	}
}

func TestAuditOfRequests(t *testing.T) {
	e := newEnv(t, server.Options{})
	admin, adminBearer := e.token(concord.RoleAdmin, "")
	clin, clinBearer := e.token(concord.RoleClinician, "")
	revoked, revokedBearer := e.token(concord.RoleAuditor, "")
	if err := auth.Revoke(context.Background(), e.store, revoked.ID, concord.AuditRecord{Actor: "test"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	before := len(e.audit())

	e.get("/api/status", adminBearer, "X-Request-ID", "req-ok-1")
	e.get("/api/status", clinBearer, "X-Request-ID", "req-denied-1")
	e.get("/api/status", revokedBearer, "X-Request-ID", "req-revoked-1")
	e.get("/api/status", "", "X-Request-ID", "req-anon-1")
	e.get("/metrics", adminBearer, "X-Request-ID", "req-metrics-1")

	recs := e.audit()[before:]
	if len(recs) != 3 {
		for _, r := range recs {
			t.Logf("%+v", r)
		}
		t.Fatalf("%d audit records for the requests, want 3 (success, denial, refused token)", len(recs))
	}
	ok, denied, refused := recs[0], recs[1], recs[2]
	if ok.Actor != admin.ID || ok.Role != "admin" || ok.Action != concord.AuditRead || ok.Object != "api/status" ||
		ok.Outcome != concord.OutcomeSuccess || ok.RequestID != "req-ok-1" || ok.Address != "127.0.0.1" || ok.Node != "test-node" {
		t.Errorf("success record %+v", ok)
	}
	if denied.Actor != clin.ID || denied.Outcome != concord.OutcomeMinor || denied.RequestID != "req-denied-1" ||
		!strings.Contains(denied.Detail, "denied") {
		t.Errorf("denial record %+v", denied)
	}
	if refused.Actor != revoked.ID || refused.Action != concord.AuditLogin || refused.Outcome != concord.OutcomeMinor ||
		!strings.Contains(refused.Detail, "revoked") {
		t.Errorf("refused-token record %+v", refused)
	}
	if _, brk, err := concord.VerifyAudit(context.Background(), e.store); err != nil || brk != nil {
		t.Fatalf("chain: %v %v", brk, err)
	}
}

// failingAudit is a store whose audit appends fail.
type failingAudit struct{ concord.Store }

func (f failingAudit) Update(ctx context.Context, fn func(concord.Tx) error) error {
	return f.Store.Update(ctx, func(tx concord.Tx) error { return fn(failingTx{tx}) })
}

type failingTx struct{ concord.Tx }

func (failingTx) AppendAudit(context.Context, *concord.AuditRecord) error {
	return concord.Errorf(concord.EUNAVAILABLE, "disk full")
}

func TestNoAuditNoData(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "c.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, bearer, err := auth.Issue(context.Background(), st, concord.TokenRequest{Role: concord.RoleAdmin, TTL: time.Hour},
		concord.AuditRecord{Actor: "test"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, server.Options{Store: failingAudit{st}})
	r, body := e.get("/api/status", bearer)
	if r.StatusCode != 503 || strings.Contains(body, "version") || !strings.Contains(body, "withheld") {
		t.Fatalf("audit failure must withhold the response: %d %s", r.StatusCode, body)
	}
}

func TestUnknownRoutes(t *testing.T) {
	e := newEnv(t, server.Options{})
	_, bearer := e.token(concord.RoleAdmin, "")
	if r, _ := e.get("/no/such/thing", ""); r.StatusCode != 401 {
		t.Fatalf("unknown route without token must not reveal itself: %d", r.StatusCode)
	}
	if r, body := e.get("/no/such/thing", bearer); r.StatusCode != 404 || !strings.Contains(body, "not_found") {
		t.Fatalf("unknown route with token: %d %s", r.StatusCode, body)
	}
	_, patientBearer := e.token(concord.RolePatient, "example")
	if r, body := e.get("/no/such/thing", patientBearer); r.StatusCode != 404 {
		t.Fatalf("unknown route with any valid token must be 404, not %d %s", r.StatusCode, body)
	}
	r, body := e.get("/fhir/Patient/1", bearer)
	var oo struct {
		ResourceType string
		Issue        []struct{ Severity, Code string }
	}
	if err := json.Unmarshal([]byte(body), &oo); err != nil || r.StatusCode != 404 || oo.ResourceType != "OperationOutcome" ||
		len(oo.Issue) != 1 || oo.Issue[0].Code != "not-found" || r.Header.Get("Content-Type") != "application/fhir+json" {
		t.Fatalf("FHIR path error must be an OperationOutcome: %d %s", r.StatusCode, body)
	}
}

func TestPanicIsContained(t *testing.T) {
	e := newEnv(t, server.Options{})
	e.srv.Handle("GET /api/boom", concord.Access{Action: concord.Action{Permission: concord.PermStatusRead}},
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("synthetic") }))
	_, bearer := e.token(concord.RoleAdmin, "")
	if r, body := e.get("/api/boom", bearer); r.StatusCode != 500 || !strings.Contains(body, "internal") {
		t.Fatalf("panic: %d %s", r.StatusCode, body)
	}
	if r, _ := e.get("/healthz", ""); r.StatusCode != 200 {
		t.Fatal("server down after a panic")
	}
	if !strings.Contains(e.logs.String(), "handler panicked") {
		t.Fatal("panic not logged")
	}
}

func TestRequestIDs(t *testing.T) {
	e := newEnv(t, server.Options{})
	r, _ := e.get("/healthz", "", "X-Request-ID", "abc-123")
	if r.Header.Get("X-Request-ID") != "abc-123" {
		t.Fatalf("valid id not kept: %q", r.Header.Get("X-Request-ID"))
	}
	r, _ = e.get("/healthz", "", "X-Request-ID", "bad id\"with{json}")
	if id := r.Header.Get("X-Request-ID"); id == "" || strings.ContainsAny(id, " \"{") {
		t.Fatalf("hostile id passed through: %q", id)
	}
}

func TestLogsKeepPatientDataOut(t *testing.T) {
	for _, phi := range []bool{false, true} {
		e := newEnv(t, server.Options{LogPHI: phi})
		_, bearer := e.token(concord.RoleAdmin, "")
		e.get("/fhir/Patient/SYNTHETIC-MRN-4711?name=Doe", bearer)
		logs := e.logs.String()
		if !strings.Contains(logs, `"route":"/"`) {
			t.Fatalf("request not logged by route: %s", logs)
		}
		if got := strings.Contains(logs, "SYNTHETIC-MRN-4711"); got != phi {
			t.Fatalf("log_phi=%v but identifier in logs = %v:\n%s", phi, got, logs)
		}
	}
}

func TestMetrics(t *testing.T) {
	e := newEnv(t, server.Options{})
	_, bearer := e.token(concord.RoleAdmin, "")
	e.get("/api/status", bearer)
	e.get("/api/status", "")
	_, body := e.get("/metrics", bearer)
	for _, want := range []string{
		`concord_http_requests_total{method="GET",route="GET /api/status",status="200"} 1`,
		`concord_http_requests_total{method="GET",route="GET /api/status",status="401"} 1`,
		`concord_http_request_duration_seconds_bucket{method="GET",route="GET /api/status",le="+Inf"} 2`,
		`concord_store_connections{kind="sqlite",state="max"}`,
		`concord_store_commits_total{kind="sqlite"}`,
		`go_goroutines`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestGracefulShutdown(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "c.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := server.New(server.Options{Store: st, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), ShutdownTimeout: 5 * time.Second})
	entered := make(chan struct{})
	srv.Handle("GET /slow", concord.Access{Public: true}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, "finished")
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	url := "http://" + ln.Addr().String()
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get(url + "/slow")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-entered
	cancel()
	if body := <-got; body != "finished" {
		t.Fatalf("in-flight request cut off: %q", body)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Fatal("still accepting after shutdown")
	}
}

// TestErrorTable: answers come from the one table (internal/httperr): an
// operation that needs the interface engine, on a server without one, is
// 501 not-supported; a malformed id is 400.
func TestErrorTable(t *testing.T) {
	e := newEnv(t, server.Options{})
	_, bearer := e.token(concord.RoleAdmin, "")
	req, _ := http.NewRequest("POST", e.http.URL+"/api/messages/1/reprocess", nil)
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 501 || !strings.Contains(string(body), `"code":"unsupported"`) {
		t.Fatalf("no engine: %d %s", resp.StatusCode, body)
	}
	if r, body := e.get("/api/messages/x", bearer); r.StatusCode != 400 || !strings.Contains(body, `"code":"invalid"`) {
		t.Fatalf("bad id: %d %s", r.StatusCode, body)
	}
}
