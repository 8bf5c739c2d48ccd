package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/store/postgres"
	"github.com/concord-health/concord/internal/store/sqlite"
	"github.com/concord-health/concord/internal/store/storetest"
)

// TestFHIRBundleOverHTTP: POST /fhir through the front door: a token is
// needed, a Synthea transaction loads, its resources are readable with
// references rewritten, and a PUT of unchanged content stores nothing.
func TestFHIRBundleOverHTTP(t *testing.T) {
	files, _ := filepath.Glob("../../../shared/data/synthea/Alberto_Atencio_*.json")
	if len(files) == 0 {
		t.Skip("../shared absent")
	}
	n := startFHIR(t)
	clin := n.token("--role", "clinician")
	dir := n.dir
	data := n.data
	body, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := fhirDo(t, "POST", n.url+"/fhir", "", string(body)); resp.StatusCode != 401 {
		t.Fatalf("without a token: %d", resp.StatusCode)
	}
	resp, out := fhirDo(t, "POST", n.url+"/fhir", clin, string(body))
	if resp.StatusCode != 200 {
		t.Fatalf("transaction: %d %.500s", resp.StatusCode, out)
	}
	var rb struct {
		Type  string
		Entry []struct {
			Resource json.RawMessage
			Response struct{ Status, Location string }
		}
	}
	json.Unmarshal([]byte(out), &rb)
	if rb.Type != "transaction-response" || len(rb.Entry) != 76 {
		t.Fatalf("response: %.500s", out)
	}
	var patient, observation string
	for _, e := range rb.Entry {
		switch {
		case strings.HasPrefix(e.Response.Location, "Patient/"):
			patient = strings.TrimSuffix(e.Response.Location, "/_history/1")
		case strings.HasPrefix(e.Response.Location, "Observation/") && observation == "":
			observation = strings.TrimSuffix(e.Response.Location, "/_history/1")
		}
	}
	resp, got := fhirDo(t, "GET", n.url+"/fhir/"+observation, clin, "")
	if resp.StatusCode != 200 || !strings.Contains(got, `"subject":{"reference":"`+patient+`"}`) {
		t.Fatalf("GET %s: %d %s", observation, resp.StatusCode, got)
	}
	resp, got = fhirDo(t, "GET", n.url+"/fhir/"+patient, clin, "")
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", patient, resp.StatusCode)
	}
	// The same content again (meta as read back): no new version.
	resp, _ = fhirDo(t, "PUT", n.url+"/fhir/"+patient, clin, got)
	if resp.StatusCode != 200 || resp.Header.Get("ETag") != `W/"1"` {
		t.Fatalf("unchanged PUT: %d %s", resp.StatusCode, resp.Header.Get("ETag"))
	}
	// The writes are audited as the token's holder.
	o, _, _ := run(t, dir, "audit", "export", "--data", data)
	if !strings.Contains(o, observation+"/_history/1") {
		t.Errorf("audit export lacks %s", observation)
	}
}

func TestImportTwiceSQLite(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "d")
	testImportTwice(t, dir, []string{"--data", data}, func() concord.Store {
		st, err := sqlite.Open(context.Background(), filepath.Join(data, "concord.db"), sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}

func TestImportTwicePostgres(t *testing.T) {
	url := storetest.PostgresURL(t)
	dir := t.TempDir()
	testImportTwice(t, dir, []string{"--db", url, "--data", filepath.Join(dir, "d")}, func() concord.Store {
		st, err := postgres.Open(context.Background(), url, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}

// summary matches the import's summary line.
var summary = regexp.MustCompile(`(\d+) files, (\d+) bundles: (\d+) resources created, (\d+) updated, (\d+) unchanged, (\d+) failed`)

// testImportTwice imports Synthea Bundles (when ../shared is present), an
// NDJSON file with one bad line and a collection Bundle, twice: the second
// run creates no resource and no version.
func testImportTwice(t *testing.T, dir string, db []string, open func() concord.Store) {
	in := filepath.Join(dir, "in")
	os.MkdirAll(filepath.Join(in, "nested"), 0o755)
	// Synthetic resources, no real person.
	ndjson := `{"resourceType":"Patient","id":"nd-1","name":[{"family":"Synthetic"}]}

{"resourceType":"Observation","id":"nd-2","status":"final","code":{"text":"synthetic"},"subject":{"reference":"Patient/nd-1"}}
{"resourceType":"Patient","id":"nd 3"}
`
	collection := `{"resourceType":"Bundle","type":"collection","entry":[
		{"fullUrl":"urn:uuid:7a0f4c8e-0000-4000-8000-000000000001","resource":{"resourceType":"Patient","name":[{"family":"Synthetic"}]}},
		{"resource":{"resourceType":"Observation","id":"col-2","status":"final","code":{"text":"synthetic"},"subject":{"reference":"urn:uuid:7a0f4c8e-0000-4000-8000-000000000001"}}}]}`
	os.WriteFile(filepath.Join(in, "resources.ndjson"), []byte(ndjson), 0o644)
	os.WriteFile(filepath.Join(in, "nested", "collection.json"), []byte(collection), 0o644)
	os.WriteFile(filepath.Join(in, "nested", "notes.txt"), []byte("not imported"), 0o644)
	args := append([]string{"import"}, db...)
	args = append(args, in)
	var synthea []string // a few small ones, for test time
	for _, name := range []string{"Agustín_*", "Alberto_Atencio_*", "Alejandro_*", "Alfreda_*"} {
		f, _ := filepath.Glob("../../../shared/data/synthea/" + name)
		for _, f := range f {
			abs, _ := filepath.Abs(f)
			synthea = append(synthea, abs)
		}
	}
	args = append(args, synthea...)
	files, entries := 2+len(synthea), 0
	for _, f := range synthea {
		b, _ := os.ReadFile(f)
		entries += strings.Count(string(b), `"request": {`)
	}

	o, e, code := run(t, dir, args...)
	m := summary.FindStringSubmatch(o)
	if code != 1 || m == nil || !strings.Contains(e, "resources.ndjson:4") || !strings.Contains(e, "not a FHIR id") {
		t.Fatalf("first import: exit %d\n%s\n%s", code, o, e)
	}
	// Synthea repeats some Organizations and Practitioners across
	// Bundles: the repeats count as unchanged.
	if m[1] != itoa(files) || m[2] != itoa(1+len(synthea)) || atoi(m[3])+atoi(m[5]) != entries+4 || atoi(m[3]) < 4 || m[4] != "0" || m[6] != "1" {
		t.Fatalf("first import: %s", o)
	}
	st := open()
	ctx := context.Background()
	first, err := st.Changes(ctx, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	obs, err := st.Resource(ctx, "Observation", "col-2")
	if err != nil || !strings.Contains(string(obs.Content), `"reference":"Patient/7a0f4c8e-0000-4000-8000-000000000001"`) {
		t.Fatalf("collection observation: %v %s", err, obs.Content)
	}
	var operatorWrites int
	st.AuditRecords(ctx, concord.AuditFilter{}, func(r *concord.AuditRecord) error {
		if strings.HasPrefix(r.Actor, "cli:") && r.Role == "operator" && r.Action == concord.AuditUpdate {
			operatorWrites++
		}
		return nil
	})
	st.Close()
	if len(first) != atoi(m[3]) || operatorWrites != len(first) {
		t.Fatalf("%d versions and %d audited writes after creating %s resources", len(first), operatorWrites, m[3])
	}

	o, e, code = run(t, dir, args...)
	m = summary.FindStringSubmatch(o)
	if code != 1 || m == nil || m[3] != "0" || m[4] != "0" || atoi(m[5]) != entries+4 {
		t.Fatalf("second import: exit %d\n%s\n%s", code, o, e)
	}
	st = open()
	defer st.Close()
	second, _ := st.Changes(ctx, 0, 100000)
	if len(second) != len(first) {
		t.Fatalf("the second import stored %d versions", len(second)-len(first))
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }
