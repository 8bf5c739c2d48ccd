package adminapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/adminapi"
	"github.com/concord-health/concord/internal/auth"
	"github.com/concord-health/concord/internal/server"
	"github.com/concord-health/concord/internal/store/sqlite"
	"github.com/concord-health/concord/internal/terminology"
)

// All senders and codes here are synthetic.

type entry struct {
	Sender    string    `json:"sender"`
	System    string    `json:"system"`
	SystemURI string    `json:"system_uri"`
	Code      string    `json:"code"`
	Display   string    `json:"display"`
	Where     []string  `json:"where"`
	Count     int64     `json:"count"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	MappedAt  time.Time `json:"mapped_at"`
	MappedTo  string    `json:"mapped_to"`
}

// TestUnmappedReport: GET /api/terminology/unmapped lists the codes that
// need a mapping for admin and integration tokens (not others), filtered
// by sender and paged; a code a new ConceptMap maps drops out (listed
// with mapped=true).
func TestUnmappedReport(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "concord.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := server.New(server.Options{Store: st, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), Node: "test"})
	adminapi.RegisterTerminology(srv, st, terminology.NewMapper(st, terminology.Options{}))
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	token := func(role concord.Role) string {
		_, bearer, err := auth.Issue(ctx, st, concord.TokenRequest{Role: role, TTL: time.Hour, Label: "synthetic"},
			concord.AuditRecord{Actor: "test", Role: "operator", Address: "local"}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return bearer
	}
	get := func(path, bearer string) (int, http.Header, []entry) {
		t.Helper()
		req, _ := http.NewRequest("GET", hs.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+bearer)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var out []entry
		if resp.StatusCode == 200 {
			if err := json.Unmarshal(body, &out); err != nil {
				t.Fatalf("%s: not a JSON array: %s", path, body)
			}
		}
		return resp.StatusCode, resp.Header, out
	}

	at := time.Date(2026, 6, 1, 7, 0, 0, 0, time.UTC)
	if err := st.Update(ctx, func(tx concord.Tx) error {
		for i, c := range []concord.UnmappedCode{
			{Sender: "LAB^NORTH", System: "L", Code: "GLU", Display: "Glucose", Where: []string{"OBX-3"}, Count: 3},
			{Sender: "LAB^NORTH", System: "L", Code: "CHOL", Display: "Cholesterol", Where: []string{"OBX-3"}, Count: 2},
			{Sender: "PHARM^NORTH", System: "99RX", Code: "AMOX500", Display: "Amoxicillin 500 mg", Where: []string{"RXE-2"}},
		} {
			c.LastSeen = at.Add(time.Duration(i) * time.Minute)
			if err := tx.RecordUnmapped(ctx, &c); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	admin, integration := token(concord.RoleAdmin), token(concord.RoleIntegration)
	code, hdr, all := get("/api/terminology/unmapped", admin)
	if code != 200 || len(all) != 3 || hdr.Get("X-Total-Count") != "3" {
		t.Fatalf("admin: %d %v %+v", code, hdr, all)
	}
	first := all[0]
	if first.Sender != "LAB^NORTH" || first.Code != "GLU" || first.Count != 3 || first.Display != "Glucose" ||
		first.SystemURI != "urn:concord:local:LAB%5ENORTH:L" || len(first.Where) != 1 || first.Where[0] != "OBX-3" ||
		!first.LastSeen.Equal(at) || !first.MappedAt.IsZero() {
		t.Errorf("first entry: %+v", first)
	}
	code, _, pharm := get("/api/terminology/unmapped?sender=PHARM", integration)
	if code != 200 || len(pharm) != 1 || pharm[0].Code != "AMOX500" || pharm[0].Where[0] != "RXE-2" {
		t.Errorf("integration, sender PHARM: %d %+v", code, pharm)
	}
	code, hdr, page := get("/api/terminology/unmapped?limit=1&offset=1", admin)
	if code != 200 || len(page) != 1 || page[0].Code != "CHOL" || hdr.Get("X-Total-Count") != "3" {
		t.Errorf("second page: %d %+v", code, page)
	}
	for _, role := range []concord.Role{concord.RoleClinician, concord.RoleAuditor} {
		if code, _, _ := get("/api/terminology/unmapped", token(role)); code != 403 {
			t.Errorf("%s: %d, want 403", role, code)
		}
	}
	if code, _, _ := get("/api/terminology/unmapped", ""); code != 401 {
		t.Errorf("no token: %d", code)
	}
	for _, bad := range []string{"limit=x", "limit=5000", "offset=-1", "mapped=yes"} {
		if code, _, _ := get("/api/terminology/unmapped?"+bad, admin); code != 400 {
			t.Errorf("%s: %d, want 400", bad, code)
		}
	}

	// An operator maps LAB^NORTH's GLU: it drops out of the report.
	cm := `{"resourceType":"ConceptMap","id":"lab-north","status":"active","meta":{"versionId":"1","lastUpdated":"2026-06-01T08:00:00Z"},
	 "group":[{"source":"urn:concord:local:LAB%5ENORTH:L","target":"http://loinc.org",
	  "element":[{"code":"GLU","target":[{"code":"2345-7","equivalence":"equivalent"}]}]}]}`
	if err := st.Update(ctx, func(tx concord.Tx) error {
		return tx.PutResource(ctx, &concord.Resource{Type: "ConceptMap", ID: "lab-north", Version: 1, LastUpdated: at.Add(time.Hour), Content: []byte(cm)})
	}); err != nil {
		t.Fatal(err)
	}
	code, hdr, left := get("/api/terminology/unmapped?sender=LAB%5ENORTH", admin)
	if code != 200 || len(left) != 1 || left[0].Code != "CHOL" || hdr.Get("X-Total-Count") != "1" {
		t.Fatalf("after mapping GLU: %d %+v", code, left)
	}
	_, _, withMapped := get("/api/terminology/unmapped?sender=LAB&mapped=true", admin)
	if len(withMapped) != 2 || withMapped[0].Code != "GLU" || withMapped[0].MappedAt.IsZero() || withMapped[0].MappedTo != "http://loinc.org|2345-7" {
		t.Errorf("mapped=true: %+v", withMapped)
	}
	// Every request was audited as a search of the report.
	var n int
	if err := st.AuditRecords(ctx, concord.AuditFilter{}, func(r *concord.AuditRecord) error {
		if r.Object == "api/terminology/unmapped" {
			n++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n < 8 {
		t.Errorf("%d audit records of the report", n)
	}
}
