package server_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/server"
)

// TestGrantReachesHandler checks that the guard hands the authorisation
// decision to the handler: a patient-scoped token's request carries the
// patient it is bound to, a user- or system-scoped one carries no patient.
func TestGrantReachesHandler(t *testing.T) {
	e := newEnv(t, server.Options{})
	type seen struct {
		Present bool
		Patient string
	}
	e.srv.Handle("GET /test/grant", concord.Access{
		Action: concord.Action{ResourceType: "Observation", Ops: concord.OpRead},
	}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g, ok := concord.GrantFrom(r.Context())
		json.NewEncoder(w).Encode(seen{Present: ok, Patient: g.Patient})
	}))

	for _, tc := range []struct {
		role    concord.Role
		patient string
		want    seen
	}{
		{concord.RolePatient, "synthetic-patient-1", seen{Present: true, Patient: "synthetic-patient-1"}},
		{concord.RoleClinician, "", seen{Present: true}},
		{concord.RoleIntegration, "", seen{Present: true}},
	} {
		_, bearer := e.token(tc.role, tc.patient)
		r, body := e.get("/test/grant", bearer)
		if r.StatusCode != 200 {
			t.Fatalf("%s: %d %s", tc.role, r.StatusCode, body)
		}
		var got seen
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("%s: %v in %s", tc.role, err, body)
		}
		if got != tc.want {
			t.Errorf("%s: handler saw grant %+v, want %+v", tc.role, got, tc.want)
		}
	}
}
