package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "concord.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	c, err := Load(Sources{File: "", Environ: nil})
	if err != nil {
		t.Fatal(err)
	}
	if c.Data != "./concord-data" || c.HTTP != ":8080" || c.MLLP != ":2575" || c.DICOM != ":11112" || c.DB != "" {
		t.Fatalf("defaults %+v", c)
	}
	if c.SQLitePath() != filepath.Join("concord-data", "concord.db") {
		t.Fatalf("sqlite path %s", c.SQLitePath())
	}
}

func TestPrecedence(t *testing.T) {
	p := write(t, "http: \":9001\"\nmllp: \":9002\"\ndicom: \":9003\"\nlog_level: debug\nshutdown_timeout: 5s\n")
	c, err := Load(Sources{
		File:    p,
		Environ: []string{"CONCORD_MLLP=:9102", "CONCORD_DICOM=:9103", "PATH=/bin", "CONCORD_TEST_POSTGRES=x"},
		Flags:   map[string]string{"dicom": ":9203"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP != ":9001" || c.MLLP != ":9102" || c.DICOM != ":9203" || c.LogLevel != "debug" || c.ShutdownTimeout != 5*time.Second {
		t.Fatalf("file < env < flag not honoured: %+v", c)
	}
}

func TestErrorsSayWhere(t *testing.T) {
	cases := []struct {
		name string
		src  Sources
		want string
	}{
		{"unknown key", Sources{File: write(t, "http: \":1\"\nhtp: \":2\"\n")}, `concord.yaml:2: unknown key "htp"`},
		{"bad value", Sources{File: write(t, "\n\nhttp: nonsense\n")}, `concord.yaml:3: key "http": want host:port`},
		{"bad port", Sources{File: write(t, "mllp: \":99999\"\n")}, `key "mllp": port must be 0 to 65535`},
		{"not a mapping", Sources{File: write(t, "- a\n- b\n")}, `concord.yaml:1: want a mapping`},
		{"nested value", Sources{File: write(t, "http:\n  port: 1\n")}, `concord.yaml:2: key "http" wants a single value`},
		{"duplicate", Sources{File: write(t, "http: \":1\"\nhttp: \":2\"\n")}, `concord.yaml:2: key "http" given twice`},
		{"bad yaml", Sources{File: write(t, "http: [\n")}, `concord.yaml`},
		{"missing file", Sources{File: "/nonexistent/concord.yaml"}, "config /nonexistent/concord.yaml: no such file or directory"},
		{"unknown env", Sources{Environ: []string{"CONCORD_HTPP=:1"}}, "environment variable CONCORD_HTPP: unknown setting"},
		{"bad env", Sources{Environ: []string{"CONCORD_LOG_LEVEL=loud"}}, "environment variable CONCORD_LOG_LEVEL: want debug, info, warn or error"},
		{"pprof off loopback", Sources{Environ: []string{"CONCORD_PPROF=0.0.0.0:6060"}}, "want a loopback address"},
		{"bad flag", Sources{Flags: map[string]string{"db": "mysql://x"}}, "flag --db: want a postgres:// URL"},
		{"bad bool", Sources{Flags: map[string]string{"log_phi": "maybe"}}, "flag --log-phi: want true or false"},
		{"bad int", Sources{Flags: map[string]string{"db_max_conns": "0"}}, "flag --db-max-conns: want a whole number"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.src)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
		})
	}
}

func TestKeyForms(t *testing.T) {
	k, ok := KeyByName("shutdown_timeout")
	if !ok || k.Flag() != "shutdown-timeout" || k.Env() != "CONCORD_SHUTDOWN_TIMEOUT" {
		t.Fatalf("key forms: %v %s %s", ok, k.Flag(), k.Env())
	}
}

// TestReadmeDocumentsEveryKey keeps the configuration reference in the
// README true: every key appears with its flag, variable and default.
func TestReadmeDocumentsEveryKey(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	def := Default()
	for _, k := range Keys {
		row := ""
		for _, line := range strings.Split(readme, "\n") {
			if strings.HasPrefix(line, "| `"+k.Name+"` |") {
				row = line
			}
		}
		if row == "" {
			t.Errorf("README has no configuration row for %s", k.Name)
			continue
		}
		for _, want := range []string{"`--" + k.Flag() + "`", "`" + k.Env() + "`"} {
			if !strings.Contains(row, want) {
				t.Errorf("README row for %s lacks %s", k.Name, want)
			}
		}
		if d := k.Get(&def); d != "" && d != "0" && !strings.Contains(row, "`"+d+"`") && k.Name != "node" {
			t.Errorf("README row for %s does not give the default %q", k.Name, d)
		}
	}
}
