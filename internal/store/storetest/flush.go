package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/concord-health/concord"
)

// testFlush: a version insert that a store holds back (PostgreSQL sends
// statements in batches) reports its conflict by Flush at the latest;
// the function then fails and nothing of it is stored (the statements
// held back with it may have run: only the function's failure undoes
// them). A new resource's seq is known after Flush.
func testFlush(t *testing.T, f *Fixture) {
	ctx := context.Background()
	at := time.Date(2026, 4, 5, 6, 7, 8, 0, time.UTC)
	first := &concord.Resource{Type: "Patient", ID: "fl-1", Version: 1, LastUpdated: at, Content: []byte(`{"resourceType":"Patient","id":"fl-1"}`)}
	if err := putVersion(t, f.Store, first); err != nil || first.Seq == 0 {
		t.Fatalf("first version: seq %d, %v", first.Seq, err)
	}
	again := &concord.Resource{Type: "Patient", ID: "fl-1", Version: 1, LastUpdated: at, Content: []byte(`{"resourceType":"Patient","id":"fl-1","active":true}`)}
	before := &concord.Resource{Type: "Patient", ID: "fl-0", Version: 1, LastUpdated: at, Content: []byte(`{"resourceType":"Patient","id":"fl-0"}`)}
	var conflict error
	err := f.Store.Update(ctx, func(tx concord.Tx) error {
		if err := tx.PutResource(ctx, before); err != nil {
			return err
		}
		conflict = tx.PutResource(ctx, again)
		if conflict == nil {
			conflict = tx.Flush(ctx)
		}
		return conflict
	})
	if concord.ErrorCode(conflict) != concord.ECONFLICT || concord.ErrorCode(err) != concord.ECONFLICT {
		t.Errorf("a second version 1: %v (Update: %v), want ECONFLICT from PutResource or Flush", conflict, err)
	}
	cur, err := f.Store.Resource(ctx, "Patient", "fl-1")
	if err != nil || string(cur.Content) != string(first.Content) || cur.Seq != first.Seq {
		t.Errorf("the conflicting version changed the current one: %s seq %d, %v", cur.Content, cur.Seq, err)
	}
	if _, err := f.Store.Resource(ctx, "Patient", "fl-0"); concord.ErrorCode(err) != concord.ENOTFOUND {
		t.Errorf("a write of the failed function stayed: %v", err)
	}
	other := &concord.Resource{Type: "Patient", ID: "fl-2", Version: 1, LastUpdated: at, Content: []byte(`{"resourceType":"Patient","id":"fl-2"}`)}
	var seq int64
	if err := f.Store.Update(ctx, func(tx concord.Tx) error {
		if err := tx.PutResource(ctx, other); err != nil {
			return err
		}
		err := tx.Flush(ctx)
		seq = other.Seq
		return err
	}); err != nil || seq <= first.Seq {
		t.Errorf("seq after Flush: %d (first %d), %v", seq, first.Seq, err)
	}
}
