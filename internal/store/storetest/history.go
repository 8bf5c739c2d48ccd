package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/concord-health/concord"
)

// testResourceHistoryAt: a history restricted to a period (FHIR _at)
// lists the versions that were current at some moment of it, deletions
// included, at every level.
func testResourceHistoryAt(t *testing.T, f *Fixture) {
	s := f.Store
	base := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	put := func(typ, id string, version int64, deleted bool, at time.Duration) {
		t.Helper()
		r := &concord.Resource{Type: typ, ID: id, Version: version, LastUpdated: base.Add(at), Deleted: deleted}
		if !deleted {
			r.Content = []byte(fmt.Sprintf(`{"resourceType":%q,"id":%q}`, typ, id))
		}
		if err := putVersion(t, s, r); err != nil {
			t.Fatal(err)
		}
	}
	put("Patient", "a", 1, false, 0)                  // 09:00
	put("Observation", "b", 1, false, 5*time.Minute)  // 09:05
	put("Patient", "a", 2, false, 10*time.Minute)     // 09:10
	put("Patient", "a", 3, true, 20*time.Minute)      // 09:20, deleted
	put("Observation", "c", 1, false, 30*time.Minute) // 09:30
	put("Observation", "b", 2, false, 40*time.Minute) // 09:40
	at := func(from, to time.Duration) concord.HistoryFilter {
		return concord.HistoryFilter{CurrentFrom: base.Add(from), CurrentTo: base.Add(to)}
	}
	ms := time.Millisecond
	for _, c := range []struct {
		name string
		f    concord.HistoryFilter
		want string
	}{
		{"an instant", at(7*time.Minute, 7*time.Minute+ms), "Observation/b/1 Patient/a/1 "},
		{"the instant a version replaced another", at(10*time.Minute, 10*time.Minute+ms), "Patient/a/2 Observation/b/1 "},
		{"a period spanning a change", at(0, 15*time.Minute), "Patient/a/2 Observation/b/1 Patient/a/1 "},
		{"after a deletion", at(25*time.Minute, 26*time.Minute), "Patient/a/3 Observation/b/1 "},
		{"before anything", at(-time.Hour, -time.Hour+time.Minute), ""},
		{"everything", at(-time.Hour, time.Hour), "Observation/b/2 Observation/c/1 Patient/a/3 Patient/a/2 Observation/b/1 Patient/a/1 "},
	} {
		rs, err := s.ResourceHistory(ctx(t), c.f)
		if got := historyString(rs); err != nil || got != c.want {
			t.Errorf("%s: %s %v, want %s", c.name, got, err, c.want)
		}
	}
	// With type and instance.
	f1 := at(35*time.Minute, 45*time.Minute)
	f1.Type = "Observation"
	if rs, err := s.ResourceHistory(ctx(t), f1); historyString(rs) != "Observation/b/2 Observation/c/1 Observation/b/1 " || err != nil {
		t.Errorf("type level: %s %v", historyString(rs), err)
	}
	f1.ID = "b"
	f1.Limit = 1
	if rs, err := s.ResourceHistory(ctx(t), f1); historyString(rs) != "Observation/b/2 " || err != nil {
		t.Errorf("instance level: %s %v", historyString(rs), err)
	}
}

func historyString(rs []*concord.Resource) string {
	out := ""
	for _, r := range rs {
		out += fmt.Sprintf("%s/%s/%d ", r.Type, r.ID, r.Version)
	}
	return out
}
