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
	"github.com/concord-health/concord/hl7v2"
	"github.com/concord-health/concord/internal/adminapi"
	"github.com/concord-health/concord/internal/auth"
	"github.com/concord-health/concord/internal/convert"
	"github.com/concord-health/concord/internal/fhirapi"
	"github.com/concord-health/concord/internal/server"
	"github.com/concord-health/concord/internal/store/sqlite"
)

// The messages here are synthetic: invented people and numbers.

const labPatient = "PID|1||MRN77^^^CITYHOSP&1.2.3.4.5&ISO^MR||Turnaround^Tess||19800101|F\r"

// labOrder is an order for a test placed at an hour of 2026-04-01.
func labOrder(placer, code, at string) string {
	return "MSH|^~\\&|EHR|CITYHOSP|LIS|CITYLAB|" + at + "||ORM^O01|O" + placer + "|P|2.3\r" + labPatient +
		"ORC|NW|" + placer + "^EHR|||||||" + at + "\rOBR|1|" + placer + "^EHR||" + code + "\r"
}

// labResult is the final result of the order, specimen received at
// received (none when empty), issued at issued, with OBR-25 status.
func labResult(placer, code, received, issued, status string) string {
	msg := "MSH|^~\\&|LIS|CITYLAB|EHR|CITYHOSP|" + issued + "||ORU^R01|R" + placer + status + "|P|2.5.1\r" + labPatient +
		"OBR|1|" + placer + "^EHR|F" + placer + "^LIS|" + code + "||||||||||||||||||" + issued + "|||" + status + "\r" +
		"OBX|1|NM|" + code + "||5|mmol/L|||||" + status + "|||" + issued + "\r"
	if received != "" {
		msg += "SPM|1|S" + placer + "&EHR||SER^Serum^HL70487|||||||||||||" + received + "|" + received + "\r"
	}
	return msg
}

// TestLabTurnaround: GET /api/lab/turnaround gives per test the count
// of final reports and the median and 90th percentile of order →
// specimen received → final result, from results converted and stored,
// filtered by since/until; admin and integration only.
func TestLabTurnaround(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "concord.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	scope, _ := concord.ParseScope("system/*.cruds")
	p := &concord.Principal{Actor: "lab-test", Role: concord.RoleAdmin, Scopes: []concord.Scope{scope}}
	ictx := concord.WithAuditTemplate(concord.WithPrincipal(ctx, p), concord.AuditRecord{Actor: p.Actor, Role: string(p.Role), Address: "test"})
	im := fhirapi.NewImporter(st, fhirapi.Options{})
	send := func(msg string) {
		t.Helper()
		m, err := hl7v2.Parse([]byte(msg))
		if err != nil {
			t.Fatal(err)
		}
		res, err := convert.ToFHIR(ctx, m, convert.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := im.Bundle(ictx, res.Bundle); err != nil {
			t.Fatal(err)
		}
	}
	const glucose, sodium = "2345-7^Glucose^LN", "2951-2^Sodium^LN"
	// Glucose: ordered 08:00, received 08:30, final 10:00 (30 min, 90 min, 2 h).
	send(labOrder("P1", glucose, "202604010800+0000"))
	send(labResult("P1", glucose, "202604010830+0000", "202604011000+0000", "F"))
	// Glucose again: ordered 09:00, received 09:10, final 10:10 (10 min, 60 min, 70 min).
	send(labOrder("P2", glucose, "202604020900+0000"))
	send(labResult("P2", glucose, "202604020910+0000", "202604021010+0000", "F"))
	// Glucose, only preliminary: not counted.
	send(labOrder("P3", glucose, "202604030900+0000"))
	send(labResult("P3", glucose, "202604030910+0000", "202604031010+0000", "P"))
	// Sodium: no specimen; ordered 07:00, final 07:45.
	send(labOrder("P4", sodium, "202604010700+0000"))
	send(labResult("P4", sodium, "", "202604010745+0000", "F"))

	srv := server.New(server.Options{Store: st, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), Node: "test"})
	adminapi.RegisterLab(srv, st)
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
	get := func(path, bearer string) (int, adminapi.Turnaround) {
		t.Helper()
		req, _ := http.NewRequest("GET", hs.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+bearer)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out adminapi.Turnaround
		if resp.StatusCode == 200 {
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
				t.Fatal(err)
			}
		}
		return resp.StatusCode, out
	}
	code, all := get("/api/lab/turnaround", token(concord.RoleAdmin))
	if code != 200 || len(all.Tests) != 2 {
		t.Fatalf("admin: %d %+v", code, all)
	}
	g, s := all.Tests[0], all.Tests[1]
	if g.Code != "2345-7" || g.System != "http://loinc.org" || g.Count != 2 {
		t.Fatalf("glucose %+v", g)
	}
	want := func(name string, got adminapi.Interval, n int, median, p90 float64) {
		t.Helper()
		if got.Count != n || got.MedianSeconds != median || got.P90Seconds != p90 {
			t.Errorf("%s: %+v, want %d, median %v, p90 %v", name, got, n, median, p90)
		}
	}
	want("glucose order→received", g.OrderToReceived, 2, 600, 1800)
	want("glucose received→final", g.ReceivedToFinal, 2, 3600, 5400)
	want("glucose order→final", g.OrderToFinal, 2, 4200, 7200)
	if s.Code != "2951-2" || s.Count != 1 {
		t.Fatalf("sodium %+v", s)
	}
	want("sodium order→received", s.OrderToReceived, 0, 0, 0)
	want("sodium order→final", s.OrderToFinal, 1, 2700, 2700)

	code, since := get("/api/lab/turnaround?since=2026-04-02&until=2026-04-03T00:00:00Z", token(concord.RoleIntegration))
	if code != 200 || len(since.Tests) != 1 || since.Tests[0].Count != 1 {
		t.Fatalf("integration, since: %d %+v", code, since)
	}
	want("since: order→final", since.Tests[0].OrderToFinal, 1, 4200, 4200)
	if code, _ := get("/api/lab/turnaround?since=yesterday", token(concord.RoleAdmin)); code != 400 {
		t.Errorf("bad since: %d, want 400", code)
	}
	for _, role := range []concord.Role{concord.RoleClinician, concord.RoleAuditor} {
		if code, _ := get("/api/lab/turnaround", token(role)); code != 403 {
			t.Errorf("%s: %d, want 403", role, code)
		}
	}
}
