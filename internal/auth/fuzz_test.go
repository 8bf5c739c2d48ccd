package auth

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/store/sqlite"
)

// FuzzAuthenticate sends arbitrary Authorization headers: only the one
// real token may pass, and every refusal is EUNAUTHORIZED.
func FuzzAuthenticate(f *testing.F) {
	st, err := sqlite.Open(context.Background(), filepath.Join(f.TempDir(), "c.db"), sqlite.Options{})
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	tok, bearer, err := Issue(context.Background(), st, concord.TokenRequest{Role: concord.RoleClinician, TTL: time.Hour},
		concord.AuditRecord{Actor: "fuzz"}, time.Now())
	if err != nil {
		f.Fatal(err)
	}
	f.Add("Bearer " + bearer)
	f.Add("bearer " + bearer + "x")
	f.Add("Bearer cnc_" + tok.ID + ".")
	f.Add("Basic dXNlcjpwYXNz")
	f.Add("Bearer ")
	f.Fuzz(func(t *testing.T, header string) {
		p, _, err := Authenticate(context.Background(), st, header, time.Now())
		if err != nil {
			if concord.ErrorCode(err) != concord.EUNAUTHORIZED {
				t.Fatalf("%q: %v", header, err)
			}
			return
		}
		if p.Actor != tok.ID {
			t.Fatalf("header %q authenticated as %s", header, p.Actor)
		}
	})
}
