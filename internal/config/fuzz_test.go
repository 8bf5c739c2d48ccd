package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoadFile feeds arbitrary bytes as concord.yaml: Load must never
// panic, and must either give a valid configuration or a one-line error
// that names the file.
func FuzzLoadFile(f *testing.F) {
	f.Add([]byte("http: \":8080\"\nmllp: off\n"))
	f.Add([]byte("data: ./x\nlog_level: debug\nlog_phi: true\nshutdown_timeout: 3s\ndb_max_conns: 5\n"))
	f.Add([]byte("- a\n"))
	f.Add([]byte("http: [\n"))
	f.Add([]byte("&a x: *a\n"))
	f.Add([]byte("\xef\xbb\xbfhttp: \":1\"\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		p := filepath.Join(t.TempDir(), "concord.yaml")
		if err := os.WriteFile(p, body, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(Sources{File: p})
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error: %q", err)
			}
			if !strings.Contains(err.Error(), "concord.yaml") {
				t.Fatalf("error does not name the file: %q", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Load returned an invalid configuration: %v", err)
		}
	})
}
