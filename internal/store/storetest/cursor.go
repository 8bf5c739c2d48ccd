package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/concord-health/concord"
)

// testCursors checks the change log cursors: a reader starts nowhere,
// moves only from where it stands (so two nodes cannot both handle the
// same changes), and a move rolled back with its transaction is undone.
func testCursors(t *testing.T, f *Fixture) {
	s := f.Store
	at := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	if last, err := s.LastChange(ctx(t)); err != nil || last != 0 {
		t.Fatalf("LastChange of an empty store = %d, %v; want 0", last, err)
	}
	for i := 1; i <= 3; i++ {
		if err := s.Update(ctx(t), func(tx concord.Tx) error {
			return tx.PutResource(ctx(t), &concord.Resource{Type: "Patient", ID: "p1", Version: int64(i), LastUpdated: at,
				Content: []byte(`{"resourceType":"Patient","id":"p1"}`)})
		}); err != nil {
			t.Fatal(err)
		}
	}
	changes, err := s.Changes(ctx(t), 0, 10)
	if err != nil || len(changes) != 3 {
		t.Fatalf("Changes = %d, %v", len(changes), err)
	}
	last, err := s.LastChange(ctx(t))
	if err != nil || last != changes[2].Seq {
		t.Fatalf("LastChange = %d, %v; want %d", last, err, changes[2].Seq)
	}
	if seq, found, err := s.Cursor(ctx(t), "lab"); err != nil || found || seq != 0 {
		t.Fatalf("Cursor of a new reader = %d, %v, %v", seq, found, err)
	}
	move := func(name string, from, to int64) error {
		return s.Update(ctx(t), func(tx concord.Tx) error { return tx.MoveCursor(ctx(t), name, from, to, at) })
	}
	if err := move("lab", 0, changes[0].Seq); err != nil {
		t.Fatal(err)
	}
	if err := move("lab", 0, changes[1].Seq); concord.ErrorCode(err) != concord.ECONFLICT {
		t.Fatalf("a second first move = %v, want ECONFLICT", err)
	}
	if err := move("lab", changes[1].Seq, changes[2].Seq); concord.ErrorCode(err) != concord.ECONFLICT {
		t.Fatalf("a move from the wrong place = %v, want ECONFLICT", err)
	}
	if err := move("lab", changes[0].Seq, changes[0].Seq-1); concord.ErrorCode(err) != concord.EINVALID {
		t.Fatalf("a move backwards = %v, want EINVALID", err)
	}
	// Rolled back with the transaction it was in.
	boom := errors.New("boom")
	if err := s.Update(ctx(t), func(tx concord.Tx) error {
		if err := tx.MoveCursor(ctx(t), "lab", changes[0].Seq, changes[2].Seq, at); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("Update = %v", err)
	}
	if seq, found, err := s.Cursor(ctx(t), "lab"); err != nil || !found || seq != changes[0].Seq {
		t.Fatalf("Cursor after a rollback = %d, %v, %v; want %d", seq, found, err, changes[0].Seq)
	}
	if err := move("lab", changes[0].Seq, changes[2].Seq); err != nil {
		t.Fatal(err)
	}
	if seq, _, err := s.Cursor(ctx(t), "lab"); err != nil || seq != changes[2].Seq {
		t.Fatalf("Cursor = %d, %v; want %d", seq, err, changes[2].Seq)
	}
	// Readers are independent.
	if seq, found, _ := s.Cursor(ctx(t), "ris"); found || seq != 0 {
		t.Fatalf("another reader's cursor = %d, %v", seq, found)
	}
}
