package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/concord-health/concord"
)

func recordUnmapped(t *testing.T, s concord.Store, codes ...concord.UnmappedCode) {
	t.Helper()
	if err := s.Update(ctx(t), func(tx concord.Tx) error {
		for _, c := range codes {
			c := c
			if err := tx.RecordUnmapped(ctx(t), &c); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func unmapped(t *testing.T, s concord.Store, f concord.UnmappedFilter) ([]*concord.UnmappedCode, int64) {
	t.Helper()
	out, total, err := s.UnmappedCodes(ctx(t), f)
	if err != nil {
		t.Fatal(err)
	}
	return out, total
}

// testUnmappedCodes: the "needs mapping" report counts each sender's
// code once however often it is seen, keeps the first and last time, the
// latest display and every place; it filters by sender (full or MSH-3
// alone), pages most frequent first, hides codes marked mapped until they
// are reported again, and survives hostile values.
func testUnmappedCodes(t *testing.T, f *Fixture) {
	s := f.Store
	t0 := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
	glu := concord.UnmappedCode{Sender: "LAB^NORTH", System: "L", Code: "GLU", Display: "Glucose", Where: []string{"OBX-3"}, LastSeen: t0}
	recordUnmapped(t, s, glu)
	glu2 := glu
	glu2.Display, glu2.Where, glu2.LastSeen = "", []string{"obr-4", "OBX-3"}, t0.Add(time.Hour)
	recordUnmapped(t, s, glu2, glu2) // twice in one transaction
	early := glu
	early.Display, early.Where, early.LastSeen = "Glucose, serum", nil, t0.Add(-time.Hour)
	recordUnmapped(t, s,
		early,
		concord.UnmappedCode{Sender: "LAB^SOUTH", System: "L", Code: "GLU", Where: []string{"OBX-3"}, LastSeen: t0, Count: 2},
		concord.UnmappedCode{Sender: "LABX^NORTH", System: "99LAB", Code: "K", Where: []string{"OBX-3"}, LastSeen: t0},
	)
	all, total := unmapped(t, s, concord.UnmappedFilter{})
	if total != 3 || len(all) != 3 {
		t.Fatalf("report has %d (%d listed), want 3: %+v", total, len(all), all)
	}
	got := all[0]
	if got.Sender != "LAB^NORTH" || got.Code != "GLU" || got.Count != 4 || got.Display != "Glucose, serum" ||
		!slices.Equal(got.Where, []string{"OBX-3", "OBR-4"}) || !got.FirstSeen.Equal(t0.Add(-time.Hour)) ||
		!got.LastSeen.Equal(t0.Add(time.Hour)) || !got.MappedAt.IsZero() {
		t.Fatalf("most frequent entry: %+v", got)
	}
	if all[1].Sender != "LAB^SOUTH" || all[1].Count != 2 || !slices.Equal(all[1].Where, []string{"OBX-3"}) {
		t.Errorf("second entry: %+v", all[1])
	}

	// Sender filter: the full MSH-3^MSH-4, or MSH-3 alone (LAB matches
	// LAB^NORTH and LAB^SOUTH, not LABX^NORTH).
	if got, total := unmapped(t, s, concord.UnmappedFilter{Sender: "LAB"}); total != 2 || len(got) != 2 {
		t.Errorf("sender LAB: %d %+v", total, got)
	}
	if got, total := unmapped(t, s, concord.UnmappedFilter{Sender: "LABX^NORTH"}); total != 1 || got[0].Code != "K" {
		t.Errorf("sender LABX^NORTH: %d %+v", total, got)
	}
	// Paging.
	page, total := unmapped(t, s, concord.UnmappedFilter{Limit: 1, Offset: 1})
	if total != 3 || len(page) != 1 || page[0].Sender != "LAB^SOUTH" {
		t.Errorf("second page of one: %d %+v", total, page)
	}

	// Mapped: hidden by default, listed on request with its target; seen
	// unmapped again, it comes back.
	if err := s.Update(ctx(t), func(tx concord.Tx) error {
		return tx.SetCodeMapped(ctx(t), "LAB^NORTH", "L", "GLU", t0.Add(2*time.Hour), "http://loinc.org|2345-7")
	}); err != nil {
		t.Fatal(err)
	}
	if got, total := unmapped(t, s, concord.UnmappedFilter{}); total != 2 || got[0].Sender != "LAB^SOUTH" {
		t.Errorf("after mapping LAB^NORTH GLU: %d %+v", total, got)
	}
	withMapped, _ := unmapped(t, s, concord.UnmappedFilter{Mapped: true, Sender: "LAB^NORTH"})
	if len(withMapped) != 1 || !withMapped[0].MappedAt.Equal(t0.Add(2*time.Hour)) || withMapped[0].MappedTo != "http://loinc.org|2345-7" {
		t.Errorf("mapped entry: %+v", withMapped)
	}
	recordUnmapped(t, s, glu)
	if got, _ := unmapped(t, s, concord.UnmappedFilter{Sender: "LAB^NORTH"}); len(got) != 1 || got[0].Count != 5 || !got[0].MappedAt.IsZero() || got[0].MappedTo != "" {
		t.Errorf("reported again after mapping: %+v", got)
	}
	if err := s.Update(ctx(t), func(tx concord.Tx) error {
		if err := tx.SetCodeMapped(ctx(t), "LAB^SOUTH", "L", "GLU", t0, "http://loinc.org|2345-7"); err != nil {
			return err
		}
		if err := tx.SetCodeMapped(ctx(t), "LAB^SOUTH", "L", "GLU", time.Time{}, "ignored"); err != nil {
			return err
		}
		return tx.SetCodeMapped(ctx(t), "NOBODY", "L", "X", t0, "x|y") // unknown: no error
	}); err != nil {
		t.Fatal(err)
	}
	if got, _ := unmapped(t, s, concord.UnmappedFilter{Sender: "LAB^SOUTH"}); len(got) != 1 || !got[0].MappedAt.IsZero() || got[0].MappedTo != "" {
		t.Errorf("unmarked: %+v", got)
	}

	// Hostile values are cut and cleaned, never refused; an empty code is.
	long := strings.Repeat("é", 400)
	recordUnmapped(t, s, concord.UnmappedCode{Sender: "EVIL\x00^\xff", System: long, Code: long + "x", Display: long,
		Where: []string{"OBX-3' OR '1'='1", "%_", strings.Repeat("A", 100)}})
	evil, _ := unmapped(t, s, concord.UnmappedFilter{Sender: "EVIL"})
	if len(evil) != 1 || evil[0].Sender != "EVIL^\uFFFD" || len(evil[0].Code) > 256 || len(evil[0].Display) > 512 || !slices.Equal(evil[0].Where, []string{"OBX-3OR11", strings.Repeat("A", 32)}) {
		t.Errorf("hostile entry: %+v", evil)
	}
	err := s.Update(ctx(t), func(tx concord.Tx) error { return tx.RecordUnmapped(ctx(t), &concord.UnmappedCode{Sender: "X"}) })
	if concord.ErrorCode(err) != concord.EINVALID {
		t.Errorf("empty code: %v", err)
	}
	// A failed transaction records nothing.
	boom := errors.New("boom")
	err = s.Update(ctx(t), func(tx concord.Tx) error {
		if err := tx.RecordUnmapped(ctx(t), &concord.UnmappedCode{Sender: "ROLLBACK", System: "L", Code: "X"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if got, total := unmapped(t, s, concord.UnmappedFilter{Sender: "ROLLBACK"}); total != 0 {
		t.Errorf("rolled back entry kept: %+v", got)
	}
}

// testResourceStamp: the stamp of a type changes with every version of
// that type stored (a deletion too) and with nothing else.
func testResourceStamp(t *testing.T, f *Fixture) {
	s := f.Store
	stamp := func() concord.ResourceStamp {
		t.Helper()
		st, err := s.ResourceStamp(ctx(t), "ConceptMap")
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if st := stamp(); st != (concord.ResourceStamp{}) {
		t.Fatalf("empty store: %+v", st)
	}
	now := time.Now()
	cm := &concord.Resource{Type: "ConceptMap", ID: "m1", Version: 1, LastUpdated: now, Content: []byte(`{"resourceType":"ConceptMap","id":"m1"}`)}
	if err := putVersion(t, s, cm); err != nil {
		t.Fatal(err)
	}
	one := stamp()
	if one.Versions != 1 || one.LastSeq != cm.Seq {
		t.Fatalf("after one version: %+v (seq %d)", one, cm.Seq)
	}
	if err := putVersion(t, s, &concord.Resource{Type: "Patient", ID: "p", Version: 1, LastUpdated: now, Content: []byte(`{"resourceType":"Patient","id":"p"}`)}); err != nil {
		t.Fatal(err)
	}
	if st := stamp(); st != one {
		t.Errorf("another type changed the stamp: %+v → %+v", one, st)
	}
	if err := putVersion(t, s, &concord.Resource{Type: "ConceptMap", ID: "m1", Version: 2, LastUpdated: now, Deleted: true}); err != nil {
		t.Fatal(err)
	}
	if st := stamp(); st.Versions != 2 || st.LastSeq <= one.LastSeq {
		t.Errorf("after a deletion: %+v", st)
	}
}
