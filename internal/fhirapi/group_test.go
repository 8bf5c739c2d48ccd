package fhirapi

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/concord-health/concord"
)

// TestGroupCohort: a Group of Patients (member.entity) is created like
// any resource, found by Group?member=Patient/x, and GroupMembers lists
// its current Patients: inactive members, members whose period ended or
// has not begun, and other types are left out; a member Group adds its
// own; definitional, unknown and deleted Groups are errors.
func TestGroupCohort(t *testing.T) {
	s := newAPIServer(t, openSQLite(t))
	ctx := context.Background()
	for _, id := range []string{"p1", "p2", "p3", "p4", "p5", "p6"} {
		if status, body := s.do("PUT", "/fhir/Patient/"+id, "application/fhir+json",
			`{"resourceType":"Patient","id":"`+id+`","name":[{"family":"Synthetic"}]}`); status != 201 {
			t.Fatalf("PUT Patient/%s: %d %s", id, status, body)
		}
	}
	if status, body := s.do("PUT", "/fhir/Group/inner", "application/fhir+json",
		`{"resourceType":"Group","id":"inner","type":"person","actual":true,"member":[{"entity":{"reference":"Patient/p6"}},{"entity":{"reference":"Group/cohort"}}]}`); status != 201 {
		t.Fatalf("PUT inner Group: %d %s", status, body)
	}
	status, body := s.do("POST", "/fhir/Group", "application/fhir+json", `{"resourceType":"Group","type":"person","actual":true,"member":[
		{"entity":{"reference":"Patient/p2"}},
		{"entity":{"reference":"Patient/p1/_history/1"}},
		{"entity":{"reference":"Patient/p3"},"inactive":true},
		{"entity":{"reference":"Patient/p4"},"period":{"start":"2001-01-01","end":"2002-06"}},
		{"entity":{"reference":"Patient/p5"},"period":{"start":"2001-01-01"}},
		{"entity":{"reference":"Patient/p2"}},
		{"entity":{"reference":"Group/inner"}},
		{"entity":{"reference":"Device/d1"}},
		{"entity":{"reference":"https://elsewhere.example/fhir/Patient/p9"}}]}`)
	if status != 201 {
		t.Fatalf("POST Group: %d %s", status, body)
	}
	var g struct{ ID string }
	json.Unmarshal([]byte(body), &g)
	// The inner Group names this one: make it so, under the id it got.
	if status, body := s.do("PUT", "/fhir/Group/inner", "application/fhir+json",
		`{"resourceType":"Group","id":"inner","type":"person","actual":true,"member":[{"entity":{"reference":"Patient/p6"}},{"entity":{"reference":"Group/`+g.ID+`"}}]}`); status != 200 {
		t.Fatalf("PUT inner Group: %d %s", status, body)
	}
	for _, q := range []string{"member=Patient/p1", "member=p2", "member=Patient/p3"} {
		status, body := s.do("GET", "/fhir/Group?"+q, "", "")
		var b everythingBundle
		json.Unmarshal([]byte(body), &b)
		if status != 200 || len(b.Entry) != 1 || b.Entry[0].Resource.ID != g.ID {
			t.Errorf("Group?%s: %d %.300s", q, status, body)
		}
	}
	if status, body := s.do("GET", "/fhir/Group?member=Patient/p6", "", ""); status != 200 || !strings.Contains(body, `"id":"inner"`) || strings.Contains(body, `"id":"`+g.ID+`"`) {
		t.Errorf("Group?member=Patient/p6: %d %.300s", status, body)
	}
	got, skipped, err := GroupMembers(ctx, s.store, g.ID)
	if err != nil || !slices.Equal(got, []string{"p2", "p1", "p5", "p6"}) {
		t.Errorf("GroupMembers: %v %v, want [p2 p1 p5 p6]", got, err)
	}
	if want := []string{"Device/d1", "https://elsewhere.example/fhir/Patient/p9"}; !slices.Equal(skipped, want) {
		t.Errorf("GroupMembers skipped %v, want %v", skipped, want)
	}
	if got, _, err := GroupMembers(ctx, s.store, "inner"); err != nil || !slices.Equal(got, []string{"p6", "p2", "p1", "p5"}) {
		t.Errorf("GroupMembers(inner): %v %v", got, err)
	}
	if _, _, err := GroupMembers(ctx, s.store, "nope"); concord.ErrorCode(err) != concord.ENOTFOUND {
		t.Errorf("unknown Group: %v", err)
	}
	if status, body := s.do("PUT", "/fhir/Group/def", "application/fhir+json",
		`{"resourceType":"Group","id":"def","type":"person","actual":false,"characteristic":[{"code":{"text":"age"},"valueBoolean":true,"exclude":false}]}`); status != 201 {
		t.Fatalf("PUT definitional Group: %d %s", status, body)
	}
	if _, _, err := GroupMembers(ctx, s.store, "def"); concord.ErrorCode(err) != concord.EUNSUPPORTED {
		t.Errorf("definitional Group: %v", err)
	}
	if status, _ := s.do("DELETE", "/fhir/Group/def", "", ""); status != 200 && status != 204 {
		t.Fatalf("DELETE: %d", status)
	}
	if _, _, err := GroupMembers(ctx, s.store, "def"); concord.ErrorCode(err) != concord.EGONE {
		t.Errorf("deleted Group: %v", err)
	}
}
