package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/store/postgres"
	"github.com/concord-health/concord/internal/store/storetest"
)

func open(t testing.TB, dsn string) concord.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newFixture(t testing.TB) *storetest.Fixture {
	dsn := storetest.PostgresURL(t)
	f := &storetest.Fixture{Store: open(t, dsn)}
	t.Cleanup(func() { f.Store.Close() })
	f.Exec = func(q string, args ...any) error { return storetest.PostgresExec(dsn, q, args...) }
	f.AllowTamper = func() {
		if err := f.Exec("ALTER TABLE audit_log DISABLE TRIGGER USER"); err != nil {
			t.Fatal(err)
		}
	}
	f.Reopen = func() concord.Store {
		f.Store.Close()
		f.Store = open(t, dsn)
		return f.Store
	}
	return f
}

func TestStore(t *testing.T) {
	storetest.Run(t, storetest.Backend{Name: "postgres", New: newFixture})
}

func TestUnreachable(t *testing.T) {
	_, err := postgres.Open(context.Background(), "postgres://concord:s3cret@127.0.0.1:1/none", postgres.Options{})
	if concord.ErrorCode(err) != concord.EUNAVAILABLE {
		t.Fatalf("err = %v, want EUNAVAILABLE", err)
	}
	if strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("message %q must name the server and hide the password", err)
	}
}

func BenchmarkAuditedWrites(b *testing.B) {
	storetest.BenchmarkAuditedWrites(b, func(b testing.TB) concord.Store { return newFixture(b).Store })
}
