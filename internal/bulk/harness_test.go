package bulk

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
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
)

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

// clock is a settable time for expiry tests; it runs with the real
// clock from where it was set.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// env is a running HTTP server with the FHIR API and the export routes,
// and an export worker.
type env struct {
	t     *testing.T
	store concord.Store
	http  *httptest.Server
	clock *clock
	opt   Options
	exp   *Exporter
	stop  context.CancelFunc
	done  chan struct{}
	admin string // a bearer token with system/*.cruds
}

func newEnv(t *testing.T, st concord.Store, opt Options) *env {
	t.Helper()
	c := &clock{}
	opt.Now = c.now
	if opt.Poll == 0 {
		opt.Poll = 20 * time.Millisecond
	}
	if opt.Node == "" {
		opt.Node = "test-node"
	}
	opt.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := server.New(server.Options{Store: st, Node: "test-node", Logger: opt.Logger})
	fhirapi.Register(srv, st, fhirapi.Options{Version: "test", Operations: Operations, TypeOperations: TypeOperations, Instantiates: []string{CapabilityStatement}})
	e := &env{t: t, store: st, clock: c, opt: opt}
	e.exp = New(st, opt)
	e.exp.Register(srv)
	e.http = httptest.NewServer(srv.Handler())
	t.Cleanup(e.http.Close)
	e.startWorker(e.exp)
	t.Cleanup(e.stopWorker)
	e.admin = e.token(concord.RoleAdmin, "")
	return e
}

// startWorker runs x's worker until stopWorker.
func (e *env) startWorker(x *Exporter) {
	ctx, cancel := context.WithCancel(context.Background())
	e.stop, e.done = cancel, make(chan struct{})
	go func() { x.Run(ctx); close(e.done) }()
}

func (e *env) stopWorker() {
	e.stop()
	<-e.done
}

// token issues a bearer token of role (bound to patient when given) with
// scopes (the role's defaults when none).
func (e *env) token(role concord.Role, patient string, scopes ...string) string {
	e.t.Helper()
	_, bearer, err := auth.Issue(context.Background(), e.store, concord.TokenRequest{Role: role, Patient: patient, Scopes: scopes, TTL: time.Hour},
		concord.AuditRecord{Actor: "test", Role: "operator", Address: "local"}, time.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return bearer
}

// do sends a request and returns the response with its body read.
func (e *env) do(method, path, bearer, body string, hdr ...string) (*http.Response, string) {
	e.t.Helper()
	url := path
	if !strings.HasPrefix(path, "http") {
		url = e.http.URL + path
	}
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
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
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// put stores resources (JSON) through PUT /fhir/Type/id as admin.
func (e *env) put(resources ...string) {
	e.t.Helper()
	for _, js := range resources {
		var r struct{ ResourceType, ID string }
		if err := json.Unmarshal([]byte(js), &r); err != nil {
			e.t.Fatal(err)
		}
		resp, body := e.do("PUT", "/fhir/"+r.ResourceType+"/"+r.ID, e.admin, js, "Content-Type", "application/fhir+json")
		if resp.StatusCode/100 != 2 {
			e.t.Fatalf("PUT %s/%s: %d %s", r.ResourceType, r.ID, resp.StatusCode, body)
		}
	}
}

// kickoff starts an export and returns its status URL.
func (e *env) kickoff(path, bearer string) string {
	e.t.Helper()
	resp, body := e.do("GET", path, bearer, "", "Prefer", "respond-async", "Accept", "application/fhir+json")
	if resp.StatusCode != http.StatusAccepted {
		e.t.Fatalf("kick-off %s: %d %s", path, resp.StatusCode, body)
	}
	loc := resp.Header.Get("Content-Location")
	if !strings.HasPrefix(loc, e.http.URL+"/fhir/$export-status/") {
		e.t.Fatalf("kick-off %s: Content-Location %q", path, loc)
	}
	return loc
}

// exportManifest is what tests read of a completion manifest.
type exportManifest struct {
	TransactionTime        string `json:"transactionTime"`
	Request                string `json:"request"`
	RequiresAccessToken    bool   `json:"requiresAccessToken"`
	Output, Error, Deleted []struct {
		Type  string `json:"type"`
		URL   string `json:"url"`
		Count int64  `json:"count"`
	}
}

// wait polls a status URL until the export is done and returns its
// manifest.
func (e *env) wait(status, bearer string) exportManifest {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		resp, body := e.do("GET", status, bearer, "")
		switch resp.StatusCode {
		case http.StatusAccepted:
			if resp.Header.Get("Retry-After") == "" || resp.Header.Get("X-Progress") == "" {
				e.t.Fatalf("202 without Retry-After or X-Progress: %v", resp.Header)
			}
			time.Sleep(50 * time.Millisecond)
			continue
		case http.StatusOK:
			var m exportManifest
			if err := json.Unmarshal([]byte(body), &m); err != nil {
				e.t.Fatalf("manifest: %v\n%s", err, body)
			}
			if !m.RequiresAccessToken || m.TransactionTime == "" || m.Request == "" {
				e.t.Fatalf("manifest misses fields: %s", body)
			}
			return m
		default:
			e.t.Fatalf("status: %d %s", resp.StatusCode, body)
		}
	}
	e.t.Fatal("the export did not finish")
	return exportManifest{}
}

// exported downloads every output file of m and returns the ids by type,
// checking that each line is JSON of the file's type with meta.versionId
// and lastUpdated, and that each file holds as many lines as the manifest
// says.
func (e *env) exported(m exportManifest, bearer string) map[string][]string {
	e.t.Helper()
	out := map[string][]string{}
	for _, f := range m.Output {
		req, _ := http.NewRequest("GET", f.URL, nil)
		req.Header.Set("Authorization", "Bearer "+bearer)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			e.t.Fatal(err)
		}
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/fhir+ndjson" {
			resp.Body.Close()
			e.t.Fatalf("GET %s: %d %s", f.URL, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 64<<20)
		n := int64(0)
		for sc.Scan() {
			var r struct {
				ResourceType, ID string
				Meta             struct{ VersionID, LastUpdated string }
			}
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				e.t.Fatalf("%s line %d: %v", f.URL, n+1, err)
			}
			if r.ResourceType != f.Type || r.ID == "" || r.Meta.VersionID == "" || r.Meta.LastUpdated == "" {
				e.t.Fatalf("%s line %d: a %s/%s (meta %+v) in a %s file", f.URL, n+1, r.ResourceType, r.ID, r.Meta, f.Type)
			}
			out[f.Type] = append(out[f.Type], r.ID)
			n++
		}
		resp.Body.Close()
		if err := sc.Err(); err != nil {
			e.t.Fatal(err)
		}
		if n != f.Count {
			e.t.Fatalf("%s: %d lines, the manifest says %d", f.URL, n, f.Count)
		}
	}
	return out
}

// syntheaFiles returns the shared Synthea Bundles (synthetic patients), or
// skips when ../shared is absent.
func syntheaFiles(t testing.TB) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("..", "..", "..", "shared", "data", "synthea", "*.json"))
	if len(files) == 0 {
		t.Skip("shared Synthea data not present")
	}
	return files
}

// loadSynthea posts every Synthea transaction Bundle to /fhir.
func (e *env) loadSynthea() {
	e.t.Helper()
	files := syntheaFiles(e.t)
	var wg sync.WaitGroup
	errs := make(chan string, len(files))
	sem := make(chan struct{}, 2)
	for _, f := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			b, err := os.ReadFile(f)
			if err != nil {
				errs <- err.Error()
				return
			}
			req, _ := http.NewRequest("POST", e.http.URL+"/fhir", strings.NewReader(string(b)))
			req.Header.Set("Authorization", "Bearer "+e.admin)
			req.Header.Set("Content-Type", "application/fhir+json")
			req.Header.Set("Prefer", "return=minimal")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err.Error()
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				errs <- filepath.Base(f) + ": " + resp.Status + " " + string(body[:min(len(body), 300)])
			}
		}()
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		e.t.Fatal(msg)
	}
}

// count is how many current resources of typ the store holds, by search.
func (e *env) count(typ string) int64 {
	e.t.Helper()
	_, n, err := e.store.Search(context.Background(), &concord.SearchQuery{Type: typ, Total: true})
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}
