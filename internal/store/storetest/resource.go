package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/concord-health/concord"
)

func putVersion(t *testing.T, s concord.Store, r *concord.Resource) error {
	t.Helper()
	return s.Update(ctx(t), func(tx concord.Tx) error { return tx.PutResource(ctx(t), r) })
}

// testResources: versions are stored in order, read back current and by
// version, deletions are tombstones, a version that does not follow the
// current one is a conflict, history and the change log list them.
func testResources(t *testing.T, f *Fixture) {
	s := f.Store
	base := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	v := func(typ, id string, version int64, content string, at time.Duration) *concord.Resource {
		r := &concord.Resource{Type: typ, ID: id, Version: version, LastUpdated: base.Add(at)}
		if content == "" {
			r.Deleted = true
		} else {
			r.Content = []byte(content)
		}
		return r
	}
	p1 := v("Patient", "p1", 1, `{"resourceType":"Patient","id":"p1","active":true}`, 0)
	if err := putVersion(t, s, p1); err != nil {
		t.Fatal(err)
	}
	if p1.Seq == 0 {
		t.Fatal("no change log position")
	}
	got, err := s.Resource(ctx(t), "Patient", "p1")
	if err != nil || got.Version != 1 || string(got.Content) != string(p1.Content) || !got.LastUpdated.Equal(base) || got.Deleted || got.Seq != p1.Seq {
		t.Fatalf("read %+v %v", got, err)
	}
	for _, bad := range []int64{1, 3, 0} {
		if err := putVersion(t, s, v("Patient", "p1", bad, `{}`, time.Minute)); concord.ErrorCode(err) != concord.ECONFLICT {
			t.Errorf("version %d after 1: %v", bad, err)
		}
	}
	if err := putVersion(t, s, v("Patient", "p1", 2, `{"resourceType":"Patient","id":"p1","active":false}`, time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := putVersion(t, s, v("Observation", "o1", 1, `{"resourceType":"Observation","id":"o1"}`, 2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := putVersion(t, s, v("Patient", "p1", 3, "", 3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	cur, err := s.Resource(ctx(t), "Patient", "p1")
	if err != nil || !cur.Deleted || cur.Content != nil || cur.Version != 3 {
		t.Fatalf("after delete %+v %v", cur, err)
	}
	old, err := s.ResourceVersion(ctx(t), "Patient", "p1", 2)
	if err != nil || string(old.Content) != `{"resourceType":"Patient","id":"p1","active":false}` {
		t.Fatalf("vread 2: %+v %v", old, err)
	}
	if _, err := s.ResourceVersion(ctx(t), "Patient", "p1", 9); concord.ErrorCode(err) != concord.ENOTFOUND {
		t.Fatalf("vread 9: %v", err)
	}
	if _, err := s.Resource(ctx(t), "Patient", "nobody"); concord.ErrorCode(err) != concord.ENOTFOUND {
		t.Fatalf("read unknown: %v", err)
	}
	// CurrentResource inside a transaction; nil for one never stored.
	err = s.Update(ctx(t), func(tx concord.Tx) error {
		r, err := tx.CurrentResource(ctx(t), "Observation", "o1")
		if err != nil || r == nil || r.Version != 1 {
			return fmt.Errorf("current o1: %+v %v", r, err)
		}
		if r, err := tx.CurrentResource(ctx(t), "Observation", "none"); err != nil || r != nil {
			return fmt.Errorf("current none: %+v %v", r, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A failed transaction stores nothing.
	boom := errors.New("boom")
	if err := s.Update(ctx(t), func(tx concord.Tx) error {
		if err := tx.PutResource(ctx(t), v("Observation", "o1", 2, `{"x":1}`, 4*time.Minute)); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("rollback: %v", err)
	}
	if r, _ := s.Resource(ctx(t), "Observation", "o1"); r.Version != 1 {
		t.Fatalf("a rolled back version is visible: %+v", r)
	}

	versions := func(rs []*concord.Resource) string {
		out := ""
		for _, r := range rs {
			out += fmt.Sprintf("%s/%s/%d ", r.Type, r.ID, r.Version)
		}
		return out
	}
	for _, c := range []struct {
		f    concord.HistoryFilter
		want string
	}{
		{concord.HistoryFilter{Type: "Patient", ID: "p1"}, "Patient/p1/3 Patient/p1/2 Patient/p1/1 "},
		{concord.HistoryFilter{Type: "Patient"}, "Patient/p1/3 Patient/p1/2 Patient/p1/1 "},
		{concord.HistoryFilter{}, "Patient/p1/3 Observation/o1/1 Patient/p1/2 Patient/p1/1 "},
		{concord.HistoryFilter{Since: base.Add(time.Minute)}, "Patient/p1/3 Observation/o1/1 Patient/p1/2 "},
		{concord.HistoryFilter{Limit: 2}, "Patient/p1/3 Observation/o1/1 "},
		{concord.HistoryFilter{Type: "Patient", Before: cur.Seq, Limit: 1}, "Patient/p1/2 "},
	} {
		rs, err := s.ResourceHistory(ctx(t), c.f)
		if err != nil || versions(rs) != c.want {
			t.Errorf("history %+v: %s %v, want %s", c.f, versions(rs), err, c.want)
		}
	}
	log, err := s.Changes(ctx(t), 0, 0)
	if err != nil || versions(log) != "Patient/p1/1 Patient/p1/2 Observation/o1/1 Patient/p1/3 " {
		t.Fatalf("changes: %s %v", versions(log), err)
	}
	if rest, _ := s.Changes(ctx(t), log[1].Seq, 10); versions(rest) != "Observation/o1/1 Patient/p1/3 " {
		t.Fatalf("changes after %d: %s", log[1].Seq, versions(rest))
	}
	if !log[3].Deleted || log[3].Content != nil {
		t.Fatalf("the deletion in the change log: %+v", log[3])
	}
}

// testResourceUpdatesSerialize: concurrent read-modify-write updates of
// one resource each get their own version; none is lost.
func testResourceUpdatesSerialize(t *testing.T, f *Fixture) {
	s := f.Store
	const n = 24
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.Update(ctx(t), func(tx concord.Tx) error {
				cur, err := tx.CurrentResource(ctx(t), "Patient", "shared")
				if err != nil {
					return err
				}
				next := int64(1)
				if cur != nil {
					next = cur.Version + 1
				}
				return tx.PutResource(ctx(t), &concord.Resource{Type: "Patient", ID: "shared", Version: next,
					LastUpdated: time.Now(), Content: []byte(fmt.Sprintf(`{"v":%d}`, next))})
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	cur, err := s.Resource(ctx(t), "Patient", "shared")
	if err != nil || cur.Version != n {
		t.Fatalf("after %d updates: %+v %v", n, cur, err)
	}
	hist, _ := s.ResourceHistory(ctx(t), concord.HistoryFilter{Type: "Patient", ID: "shared", Limit: 100})
	if len(hist) != n {
		t.Fatalf("%d versions in the history, want %d", len(hist), n)
	}
}
