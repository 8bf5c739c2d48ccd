package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/store/sqlite"
	"github.com/concord-health/concord/internal/store/storetest"
)

func open(t testing.TB, path string) concord.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newFixture(t testing.TB) *storetest.Fixture {
	path := filepath.Join(t.TempDir(), "concord.db")
	f := &storetest.Fixture{Store: open(t, path)}
	t.Cleanup(func() { f.Store.Close() })
	exec := func(q string, args ...any) error {
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
		if err != nil {
			return err
		}
		defer db.Close()
		_, err = db.Exec(q, args...)
		return err
	}
	f.Exec = exec
	f.AllowTamper = func() {
		for _, q := range []string{"DROP TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_delete"} {
			if err := exec(q); err != nil {
				t.Fatal(err)
			}
		}
	}
	f.Reopen = func() concord.Store {
		f.Store.Close()
		f.Store = open(t, path)
		return f.Store
	}
	return f
}

func TestStore(t *testing.T) {
	storetest.Run(t, storetest.Backend{Name: "sqlite", New: newFixture})
}

func BenchmarkAuditedWrites(b *testing.B) {
	storetest.BenchmarkAuditedWrites(b, func(b testing.TB) concord.Store { return newFixture(b).Store })
}
