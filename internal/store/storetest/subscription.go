package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/concord-health/concord"
)

// testSubscriptions checks the state kept beside Subscriptions: owners,
// events numbered per subscription without gaps, and notifications
// recorded only for the event at the head of the queue, so two nodes
// cannot both deliver one.
func testSubscriptions(t *testing.T, f *Fixture) {
	s := f.Store
	at := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	update := func(fn func(tx concord.Tx) error) error { return s.Update(ctx(t), fn) }
	if _, err := s.Subscription(ctx(t), "s1"); concord.ErrorCode(err) != concord.ENOTFOUND {
		t.Fatalf("Subscription of an unknown id = %v, want ENOTFOUND", err)
	}
	if err := update(func(tx concord.Tx) error {
		return tx.AppendSubscriptionEvent(ctx(t), &concord.SubscriptionEvent{Subscription: "s1", Type: "Observation", ID: "o", Version: 1, At: at})
	}); concord.ErrorCode(err) != concord.ENOTFOUND {
		t.Fatalf("an event for an unknown subscription = %v, want ENOTFOUND", err)
	}
	owner := &concord.SubscriptionState{ID: "s1", Owner: "tok1", Role: concord.RoleClinician, Scopes: []string{"user/Observation.rs", "user/Patient.rs"}}
	for _, id := range []string{"s1", "s2"} {
		o := *owner
		o.ID = id
		if err := update(func(tx concord.Tx) error { return tx.PutSubscription(ctx(t), &o, false, at) }); err != nil {
			t.Fatal(err)
		}
	}
	st, err := s.Subscription(ctx(t), "s1")
	if err != nil || st.Owner != "tok1" || st.Role != concord.RoleClinician || !slices.Equal(st.Scopes, owner.Scopes) || st.Events != 0 {
		t.Fatalf("Subscription = %+v, %v", st, err)
	}
	// Three events for s1 in one transaction, one for s2; one more for s1
	// rolled back with its transaction leaves no gap.
	if err := update(func(tx concord.Tx) error {
		for i, sub := range []string{"s1", "s2", "s1", "s1"} {
			e := &concord.SubscriptionEvent{Subscription: sub, Type: "Observation", ID: "o" + string(rune('a'+i)), Version: 1, Seq: int64(i + 10), At: at}
			if err := tx.AppendSubscriptionEvent(ctx(t), e); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_ = update(func(tx concord.Tx) error {
		if err := tx.AppendSubscriptionEvent(ctx(t), &concord.SubscriptionEvent{Subscription: "s1", Type: "Observation", ID: "x", Version: 1, At: at}); err != nil {
			return err
		}
		return concord.Errorf(concord.EINVALID, "roll back")
	})
	evs, err := s.SubscriptionEvents(ctx(t), "s1", 1, 0, 10)
	if err != nil || len(evs) != 3 {
		t.Fatalf("SubscriptionEvents = %d, %v; want 3", len(evs), err)
	}
	for i, e := range evs {
		if e.Number != int64(i+1) || e.Subscription != "s1" || !e.At.Equal(at) {
			t.Fatalf("event %d = %+v", i, e)
		}
	}
	if evs[0].ID != "oa" || evs[1].ID != "oc" || evs[2].ID != "od" || evs[2].Seq != 13 {
		t.Fatalf("events out of order: %+v %+v %+v", evs[0], evs[1], evs[2])
	}
	if evs, err := s.SubscriptionEvents(ctx(t), "s1", 2, 2, 10); err != nil || len(evs) != 1 || evs[0].Number != 2 {
		t.Fatalf("SubscriptionEvents 2..2 = %v, %v", evs, err)
	}
	pending, err := s.PendingSubscriptions(ctx(t), at, 10)
	if err != nil || !slices.Equal(pending, []string{"s1", "s2"}) {
		t.Fatalf("PendingSubscriptions = %v, %v", pending, err)
	}
	record := func(a concord.SubscriptionAttempt) error {
		return update(func(tx concord.Tx) error { return tx.RecordNotification(ctx(t), "s1", a) })
	}
	// Only the head event may be recorded.
	if err := record(concord.SubscriptionAttempt{Number: 2, At: at, OK: true}); concord.ErrorCode(err) != concord.ECONFLICT {
		t.Fatalf("recording event 2 before 1 = %v, want ECONFLICT", err)
	}
	if err := record(concord.SubscriptionAttempt{Number: 1, At: at, OK: true}); err != nil {
		t.Fatal(err)
	}
	if err := record(concord.SubscriptionAttempt{Number: 1, At: at, OK: true}); concord.ErrorCode(err) != concord.ECONFLICT {
		t.Fatalf("recording event 1 twice = %v, want ECONFLICT", err)
	}
	// Two failures at event 2: counted, and the subscription waits.
	next := at.Add(time.Minute)
	for i := 0; i < 2; i++ {
		if err := record(concord.SubscriptionAttempt{Number: 2, At: at.Add(time.Duration(i) * time.Second), Error: "503", Next: next}); err != nil {
			t.Fatal(err)
		}
	}
	st, _ = s.Subscription(ctx(t), "s1")
	if st.Delivered != 1 || st.Attempts != 2 || st.Errors != 2 || !st.FailingSince.Equal(at) || !st.NextAttempt.Equal(next) || st.LastError != "503" {
		t.Fatalf("after two failures: %+v", st)
	}
	if pending, _ := s.PendingSubscriptions(ctx(t), at, 10); !slices.Equal(pending, []string{"s2"}) {
		t.Fatalf("PendingSubscriptions while s1 waits = %v, want [s2]", pending)
	}
	if pending, _ := s.PendingSubscriptions(ctx(t), next, 10); !slices.Equal(pending, []string{"s2", "s1"}) {
		t.Fatalf("PendingSubscriptions once s1 is due = %v, want [s2 s1]", pending)
	}
	// Parked: never due, until activated again (reset); not parked when
	// the state changed since it was read.
	s2, _ := s.Subscription(ctx(t), "s2")
	if err := update(func(tx concord.Tx) error {
		return tx.ParkSubscription(ctx(t), "s2", s2.UpdatedAt.Add(-time.Second), at)
	}); err != nil {
		t.Fatal(err)
	}
	if pending, _ := s.PendingSubscriptions(ctx(t), next, 10); !slices.Contains(pending, "s2") {
		t.Fatalf("a subscription parked from a stale read is not pending: %v", pending)
	}
	if err := update(func(tx concord.Tx) error { return tx.ParkSubscription(ctx(t), "s2", s2.UpdatedAt, at) }); err != nil {
		t.Fatal(err)
	}
	if pending, _ := s.PendingSubscriptions(ctx(t), next.Add(1000*time.Hour), 10); !slices.Equal(pending, []string{"s1"}) {
		t.Fatalf("PendingSubscriptions with s2 parked = %v, want [s1]", pending)
	}
	o2 := *owner
	o2.ID = "s2"
	if err := update(func(tx concord.Tx) error { return tx.PutSubscription(ctx(t), &o2, true, at) }); err != nil {
		t.Fatal(err)
	}
	if pending, _ := s.PendingSubscriptions(ctx(t), next, 10); !slices.Equal(pending, []string{"s2", "s1"}) {
		t.Fatalf("PendingSubscriptions with s2 activated again = %v, want [s2 s1]", pending)
	}
	// A new owner with reset clears the failures, not the counts.
	o := *owner
	o.Owner, o.Patient = "tok2", "p1"
	if err := update(func(tx concord.Tx) error { return tx.PutSubscription(ctx(t), &o, true, next) }); err != nil {
		t.Fatal(err)
	}
	st, _ = s.Subscription(ctx(t), "s1")
	if st.Owner != "tok2" || st.Patient != "p1" || st.Attempts != 0 || !st.FailingSince.IsZero() || st.LastError != "" ||
		st.Errors != 2 || st.Events != 3 || st.Delivered != 1 {
		t.Fatalf("after a reset: %+v", st)
	}
	if err := record(concord.SubscriptionAttempt{Number: 2, At: next, OK: true}); err != nil {
		t.Fatal(err)
	}
	if err := record(concord.SubscriptionAttempt{Number: 3, At: next, OK: true}); err != nil {
		t.Fatal(err)
	}
	if err := record(concord.SubscriptionAttempt{Number: 4, At: next, OK: true}); concord.ErrorCode(err) != concord.ECONFLICT {
		t.Fatalf("recording an event not queued = %v, want ECONFLICT", err)
	}

	// A handshake owed makes a subscription pending; recorded (failed or
	// not), it is owed no more. A heartbeat is due a period after the
	// last notification taken.
	hs := concord.SubscriptionState{ID: "h1", Owner: "tok1", Role: concord.RoleAdmin, Handshake: true, Heartbeat: time.Minute}
	if err := update(func(tx concord.Tx) error { return tx.PutSubscription(ctx(t), &hs, true, at) }); err != nil {
		t.Fatal(err)
	}
	st, _ = s.Subscription(ctx(t), "h1")
	if !st.Handshake || st.Heartbeat != time.Minute || !st.LastSent.Equal(at) {
		t.Fatalf("handshake state = %+v", st)
	}
	if pending, _ := s.PendingSubscriptions(ctx(t), at, 10); !slices.Contains(pending, "h1") {
		t.Fatalf("a subscription owing a handshake is not pending: %v", pending)
	}
	if err := record2(update, "h1", concord.SubscriptionAttempt{Handshake: true, At: at, Error: "refused", Next: at.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	st, _ = s.Subscription(ctx(t), "h1")
	if st.Handshake || st.Attempts != 1 || st.LastError != "refused" {
		t.Fatalf("after a failed handshake: %+v", st)
	}
	if pending, _ := s.PendingSubscriptions(ctx(t), at.Add(30*time.Second), 10); slices.Contains(pending, "h1") {
		t.Fatalf("pending before its heartbeat is due: %v", pending)
	}
	if pending, _ := s.PendingSubscriptions(ctx(t), at.Add(time.Minute), 10); !slices.Contains(pending, "h1") {
		t.Fatalf("not pending once its heartbeat is due: %v", pending)
	}
	sent := at.Add(time.Minute)
	if err := record2(update, "h1", concord.SubscriptionAttempt{At: sent, OK: true}); err != nil {
		t.Fatal(err)
	}
	st, _ = s.Subscription(ctx(t), "h1")
	if !st.LastSent.Equal(sent) || st.Attempts != 0 || st.LastError != "" {
		t.Fatalf("after a heartbeat: %+v", st)
	}
	if pending, _ := s.PendingSubscriptions(ctx(t), sent.Add(59*time.Second), 10); slices.Contains(pending, "h1") {
		t.Fatalf("pending right after a heartbeat: %v", pending)
	}
}

// testSubscriptionPrune: old events that were delivered go; events still
// to deliver stay whatever their age.
func testSubscriptionPrune(t *testing.T, f *Fixture) {
	s := f.Store
	old := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	update := func(fn func(tx concord.Tx) error) error { return s.Update(ctx(t), fn) }
	if err := update(func(tx concord.Tx) error {
		if err := tx.PutSubscription(ctx(t), &concord.SubscriptionState{ID: "p", Owner: "o", Role: concord.RoleAdmin}, false, old); err != nil {
			return err
		}
		for i := 0; i < 5; i++ {
			at := old
			if i == 1 {
				at = old.AddDate(0, 6, 0) // recent
			}
			if err := tx.AppendSubscriptionEvent(ctx(t), &concord.SubscriptionEvent{Subscription: "p", Type: "Observation", ID: "o", Version: int64(i + 1), At: at}); err != nil {
				return err
			}
		}
		for n := int64(1); n <= 3; n++ {
			if err := tx.RecordNotification(ctx(t), "p", concord.SubscriptionAttempt{Number: n, At: old, OK: true}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	cutoff := old.AddDate(0, 1, 0)
	var pruned int
	if err := update(func(tx concord.Tx) (err error) {
		pruned, err = tx.PruneSubscriptionEvents(ctx(t), cutoff, 1)
		return err
	}); err != nil || pruned != 1 {
		t.Fatalf("prune with limit 1 = %d, %v", pruned, err)
	}
	if err := update(func(tx concord.Tx) (err error) {
		pruned, err = tx.PruneSubscriptionEvents(ctx(t), cutoff, 100)
		return err
	}); err != nil || pruned != 1 {
		t.Fatalf("prune = %d, %v; want 1 more (events 1 and 3 delivered and old, 2 recent, 4 and 5 not delivered)", pruned, err)
	}
	if err := update(func(tx concord.Tx) error { return tx.SkipSubscriptionEvents(ctx(t), "p") }); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Subscription(ctx(t), "p"); st.Delivered != 5 || st.Events != 5 {
		t.Fatalf("after SkipSubscriptionEvents: %+v", st)
	}
	evs, _ := s.SubscriptionEvents(ctx(t), "p", 1, 0, 10)
	var nums []int64
	for _, e := range evs {
		nums = append(nums, e.Number)
	}
	if !slices.Equal(nums, []int64{2, 4, 5}) {
		t.Fatalf("events left = %v, want [2 4 5]", nums)
	}
}

// record2 records an attempt for subscription id.
func record2(update func(fn func(tx concord.Tx) error) error, id string, a concord.SubscriptionAttempt) error {
	return update(func(tx concord.Tx) error { return tx.RecordNotification(context.Background(), id, a) })
}
