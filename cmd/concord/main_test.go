package main

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/concord-health/concord/internal/store/storetest"

	_ "modernc.org/sqlite"
)

// binary is the concord command built once for these tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "concord-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "concord")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// run runs the binary in dir and returns stdout, stderr and the exit code.
func run(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = cleanEnv()
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return so.String(), se.String(), code
}

// cleanEnv is the environment without CONCORD_ settings (but the test
// database URL, which the binary ignores).
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CONCORD_") || strings.HasPrefix(kv, "CONCORD_TEST_") {
			env = append(env, kv)
		}
	}
	return env
}

// node is a running concord serve.
type node struct {
	cmd    *exec.Cmd
	url    string
	mllp   string // host:port of the MLLP listener
	stderr *bytes.Buffer
	done   chan error
}

func startServe(t *testing.T, dir string, args ...string) *node {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"serve", "--http", "127.0.0.1:0", "--mllp", "127.0.0.1:0"}, args...)...)
	cmd.Dir = dir
	cmd.Env = cleanEnv()
	pr, pw := io.Pipe()
	stderr := &bytes.Buffer{}
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n := &node{cmd: cmd, stderr: stderr, done: make(chan error, 1)}
	addr := make(chan string, 1)
	mllpAddr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			stderr.WriteString(line + "\n")
			var l struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &l) == nil {
				switch l.Msg {
				case "http listening":
					select {
					case addr <- l.Addr:
					default:
					}
				case "mllp listening":
					select { // the first one is the default channel's
					case mllpAddr <- l.Addr:
					default:
					}
				}
			}
		}
	}()
	go func() { n.done <- cmd.Wait(); pw.Close() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	select {
	case a := <-addr:
		n.url = "http://" + a
		n.mllp = <-mllpAddr
	case err := <-n.done:
		t.Fatalf("serve exited: %v\n%s", err, stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not start:\n%s", stderr)
	}
	return n
}

func (n *node) stop(t *testing.T) {
	t.Helper()
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-n.done:
		if err != nil {
			t.Fatalf("serve exited with %v after SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop after SIGTERM")
	}
}

// request sends an HTTP request with an optional bearer token and body
// and returns the status and body.
func request(t *testing.T, method, url, bearer, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func get(t *testing.T, url, bearer string) (int, string) {
	t.Helper()
	return request(t, "GET", url, bearer, "")
}

func post(t *testing.T, url, bearer, body string) (int, string) {
	t.Helper()
	return request(t, "POST", url, bearer, body)
}

// walkthrough is the quick start: serve, probe, create a token, call the
// admin API with and without it, then stop.
func walkthrough(t *testing.T, dir string, storeArgs []string, wantKind string) {
	n := startServe(t, dir, storeArgs...)
	if code, _ := get(t, n.url+"/healthz", ""); code != 200 {
		t.Fatalf("/healthz %d", code)
	}
	if code, body := get(t, n.url+"/readyz", ""); code != 200 {
		t.Fatalf("/readyz %d %s", code, body)
	}
	if code, _ := get(t, n.url+"/api/status", ""); code != 401 {
		t.Fatalf("/api/status without token: %d, want 401", code)
	}
	out, errOut, code := run(t, dir, append([]string{"token", "create", "--role", "admin"}, storeArgs...)...)
	if code != 0 {
		t.Fatalf("token create: %d %s", code, errOut)
	}
	bearer := strings.TrimSpace(out)
	if !strings.HasPrefix(bearer, "cnc_") || strings.Contains(bearer, "\n") {
		t.Fatalf("token create printed %q", out)
	}
	code, body := get(t, n.url+"/api/status", bearer)
	if code != 200 {
		t.Fatalf("/api/status with admin token: %d %s", code, body)
	}
	var st struct {
		Version string
		Store   struct{ Kind string }
		Counts  struct {
			Tokens       int64 `json:"tokens"`
			AuditRecords int64 `json:"audit_records"`
		}
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil || st.Store.Kind != wantKind || st.Counts.Tokens != 1 || st.Counts.AuditRecords < 1 {
		t.Fatalf("status %s", body)
	}
	n.stop(t)
	if !strings.Contains(n.stderr.String(), `"msg":"concord stopping"`) {
		t.Fatalf("no orderly stop in log:\n%s", n.stderr)
	}
	// The audit trail has the issue and the status read, and verifies.
	out, errOut, code = run(t, dir, append([]string{"audit", "verify"}, storeArgs...)...)
	if code != 0 || !strings.Contains(out, "intact") {
		t.Fatalf("audit verify: %d %s %s", code, out, errOut)
	}
}

func TestQuickStartSQLite(t *testing.T) {
	dir := t.TempDir()
	walkthrough(t, dir, []string{"--data", filepath.Join(dir, "data")}, "sqlite")
	if _, err := os.Stat(filepath.Join(dir, "data", "concord.db")); err != nil {
		t.Fatalf("database not where --data says: %v", err)
	}
}

func TestQuickStartDefaultDataDir(t *testing.T) {
	dir := t.TempDir()
	walkthrough(t, dir, nil, "sqlite")
	if _, err := os.Stat(filepath.Join(dir, "concord-data", "concord.db")); err != nil {
		t.Fatalf("default data directory not used: %v", err)
	}
}

func TestQuickStartPostgres(t *testing.T) {
	url := storetest.PostgresURL(t)
	walkthrough(t, t.TempDir(), []string{"--db", url}, "postgres")
}

func TestConfigFileAndEnv(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "concord.yaml"), []byte("data: from-file\nlog_level: debug\n"), 0o600)
	out, errOut, code := run(t, dir, "token", "create", "--role", "auditor")
	if code != 0 || !strings.HasPrefix(out, "cnc_") {
		t.Fatalf("token create: %d %s %s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "from-file", "concord.db")); err != nil {
		t.Fatal("concord.yaml's data directory was not used")
	}
}

// TestBadConfiguration: each mistake ends with one clear line on stderr
// and a non-zero exit, never a stack trace.
func TestBadConfiguration(t *testing.T) {
	dir := t.TempDir()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	blocker := filepath.Join(dir, "a-file")
	os.WriteFile(blocker, []byte("synthetic"), 0o600)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("http: \":8080\"\nlisten_port: 9\n"), 0o600)
	badFilter := filepath.Join(dir, "badfilter.yaml")
	os.WriteFile(badFilter, []byte("channels:\n  - name: lab\n    mllp: \"127.0.0.1:0\"\n    filter: 'type =='\n"), 0o600)
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"unknown key", []string{"serve", "--config", bad}, []string{"bad.yaml:2", `unknown key "listen_port"`}},
		{"missing config", []string{"serve", "--config", filepath.Join(dir, "nope.yaml")}, []string{"nope.yaml", "no such file"}},
		{"bad filter", []string{"serve", "--config", badFilter, "--data", filepath.Join(dir, "d4"), "--http", "127.0.0.1:0", "--mllp", "off"},
			[]string{"channel lab (line 2)", `filter "type =="`}},
		{"port in use", []string{"serve", "--data", filepath.Join(dir, "d1"), "--http", busy.Addr().String()},
			[]string{"http address " + busy.Addr().String(), "address already in use"}},
		{"bad address", []string{"serve", "--http", "localhost"}, []string{"flag --http", "host:port"}},
		{"mllp port in use", []string{"serve", "--data", filepath.Join(dir, "d3"), "--http", "127.0.0.1:0", "--mllp", busy.Addr().String()},
			[]string{"mllp address " + busy.Addr().String(), "address already in use"}},
		{"unreachable postgres", []string{"serve", "--db", "postgres://concord:hunter2@127.0.0.1:1/concord"},
			[]string{"database postgres://concord:xxxxx@127.0.0.1:1/concord", "cannot connect"}},
		{"unwritable data directory", []string{"serve", "--data", filepath.Join(blocker, "data")},
			[]string{"data directory " + filepath.Join(blocker, "data"), "not a directory"}},
		{"bad role", []string{"token", "create", "--data", filepath.Join(dir, "d2"), "--role", "superuser"}, []string{`unknown role "superuser"`}},
		{"bad scope", []string{"token", "create", "--data", filepath.Join(dir, "d2"), "--role", "clinician", "--scope", "user/*.xyz"},
			[]string{`scope "user/*.xyz"`}},
		{"unknown flag", []string{"serve", "--htp", ":1"}, []string{"unknown flag: --htp"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, code := run(t, dir, c.args...)
			if code == 0 {
				t.Fatalf("exit 0; stdout %q stderr %q", out, errOut)
			}
			lines := strings.Split(strings.TrimRight(errOut, "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "concord: ") {
				t.Fatalf("want one line starting 'concord: ', got:\n%s", errOut)
			}
			for _, w := range c.want {
				if !strings.Contains(lines[0], w) {
					t.Fatalf("%q does not say %q", lines[0], w)
				}
			}
			if strings.Contains(errOut, "goroutine") || strings.Contains(errOut, "panic") || strings.Contains(errOut, "hunter2") {
				t.Fatalf("stack trace or secret in: %s", errOut)
			}
		})
	}
	t.Run("unknown env", func(t *testing.T) {
		cmd := exec.Command(binary, "serve")
		cmd.Dir = dir
		cmd.Env = append(cleanEnv(), "CONCORD_HTTP_PORT=9")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "CONCORD_HTTP_PORT: unknown setting") {
			t.Fatalf("%v %s", err, out)
		}
	})
}

func TestTokenCommands(t *testing.T) {
	dir := t.TempDir()
	data := []string{"--data", filepath.Join(dir, "d")}
	_, errOut, code := run(t, dir, append([]string{"token", "create", "--role", "patient", "--patient", "example-1",
		"--scope", "patient/Observation.rs", "--ttl", "7d", "--label", "synthetic portal user"}, data...)...)
	if code != 0 {
		t.Fatalf("create: %s", errOut)
	}
	id := strings.Fields(strings.TrimPrefix(errOut, "token "))[0]
	id = strings.TrimSuffix(id, ":")
	out, _, _ := run(t, dir, append([]string{"token", "list"}, data...)...)
	if !strings.Contains(out, id) || !strings.Contains(out, "patient/Observation.rs") || !strings.Contains(out, "active") ||
		!strings.Contains(out, "example-1") {
		t.Fatalf("list:\n%s", out)
	}
	if out, errOut, code := run(t, dir, append([]string{"token", "revoke", id}, data...)...); code != 0 || !strings.Contains(out, "revoked") {
		t.Fatalf("revoke: %d %s %s", code, out, errOut)
	}
	if _, errOut, code := run(t, dir, append([]string{"token", "revoke", id}, data...)...); code == 0 || !strings.Contains(errOut, "already revoked") {
		t.Fatalf("second revoke: %d %s", code, errOut)
	}
	out, _, _ = run(t, dir, append([]string{"token", "list"}, data...)...)
	if !strings.Contains(out, "revoked") {
		t.Fatalf("list after revoke:\n%s", out)
	}
	if strings.Contains(out, "cnc_") {
		t.Fatal("token list shows a secret")
	}
}

// TestAuditVerifyDetectsTampering changes, deletes and reorders records
// behind Concord's back, as someone with database access could, and checks
// that concord audit verify names the first broken record.
func TestAuditVerifyDetectsTampering(t *testing.T) {
	cases := []struct {
		name  string
		sql   []string
		first string
	}{
		{"changed", []string{`UPDATE audit_log SET detail = 'nothing to see' WHERE seq = 3`}, "audit record 3: content does not match its hash (record changed)"},
		{"deleted", []string{`DELETE FROM audit_log WHERE seq = 2`}, "audit record 2: missing"},
		{"reordered", []string{
			`UPDATE audit_log SET seq = 100 WHERE seq = 2`,
			`UPDATE audit_log SET seq = 2 WHERE seq = 3`,
			`UPDATE audit_log SET seq = 3 WHERE seq = 100`,
		}, "audit record 2: does not follow record 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			data := []string{"--data", filepath.Join(dir, "d")}
			for range 5 {
				if _, errOut, code := run(t, dir, append([]string{"token", "create", "--role", "integration"}, data...)...); code != 0 {
					t.Fatal(errOut)
				}
			}
			out, errOut, code := run(t, dir, append([]string{"audit", "verify"}, data...)...)
			if code != 0 || !strings.Contains(out, "intact: 5 records") {
				t.Fatalf("before tampering: %d %s %s", code, out, errOut)
			}
			db, err := sql.Open("sqlite", filepath.Join(dir, "d", "concord.db"))
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range append([]string{"DROP TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_delete"}, c.sql...) {
				if _, err := db.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			db.Close()
			out, errOut, code = run(t, dir, append([]string{"audit", "verify"}, data...)...)
			if code == 0 {
				t.Fatalf("tampering not detected: %s", out)
			}
			if !strings.Contains(errOut, c.first) {
				t.Fatalf("stderr %q, want %q", errOut, c.first)
			}
		})
	}
}

func TestAuditExport(t *testing.T) {
	dir := t.TempDir()
	data := []string{"--data", filepath.Join(dir, "d")}
	for range 3 {
		run(t, dir, append([]string{"token", "create", "--role", "clinician"}, data...)...)
	}
	out, errOut, code := run(t, dir, append([]string{"audit", "export", "--since", "1h"}, data...)...)
	if code != 0 {
		t.Fatal(errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(lines), out)
	}
	for i, l := range lines {
		var ev struct {
			ResourceType, ID, Action, Outcome, Recorded string
			Agent                                       []struct {
				Who struct{ Identifier struct{ Value string } }
			}
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.ResourceType != "AuditEvent" || ev.ID != fmt.Sprintf("audit-%d", i+1) || ev.Action != "E" || ev.Outcome != "0" ||
			len(ev.Agent) != 1 || !strings.HasPrefix(ev.Agent[0].Who.Identifier.Value, "cli:") {
			t.Fatalf("event %d: %s", i, l)
		}
		if _, err := time.Parse(time.RFC3339Nano, ev.Recorded); err != nil {
			t.Fatalf("recorded %q: %v", ev.Recorded, err)
		}
	}
	out, _, _ = run(t, dir, append([]string{"audit", "export", "--since", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, data...)...)
	if strings.TrimSpace(out) != "" {
		t.Fatalf("--since in the future exported %q", out)
	}
	if _, errOut, code := run(t, dir, append([]string{"audit", "export", "--since", "last tuesday"}, data...)...); code == 0 || !strings.Contains(errOut, "--since") {
		t.Fatalf("bad --since: %d %s", code, errOut)
	}
}
