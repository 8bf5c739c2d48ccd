package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/concord-health/concord"
)

// testBindingTokens: a binding token is taken once, with what it was
// issued for; an expired one is not taken and is deleted; an unknown
// one is ENOTFOUND.
func testBindingTokens(t *testing.T, f *Fixture) {
	s := f.Store
	now := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	create := func(b *concord.BindingToken) {
		t.Helper()
		if err := s.Update(ctx(t), func(tx concord.Tx) error {
			c := *b
			return tx.CreateBindingToken(ctx(t), &c)
		}); err != nil {
			t.Fatal(err)
		}
	}
	take := func(hash string, at time.Time) (*concord.BindingToken, error) {
		var got *concord.BindingToken
		var terr error
		err := s.Update(ctx(t), func(tx concord.Tx) error {
			got, terr = tx.TakeBindingToken(ctx(t), hash, at)
			return nil // the clean-up of expired tokens commits either way
		})
		if err != nil {
			t.Fatal(err)
		}
		return got, terr
	}
	live := concord.HashBindingToken("live")
	create(&concord.BindingToken{Hash: live, Actor: "tok1", Subscriptions: []string{"a", "b-2"}, Expires: now.Add(5 * time.Minute)})
	old := concord.HashBindingToken("old")
	create(&concord.BindingToken{Hash: old, Actor: "tok2", Subscriptions: []string{"c"}, Expires: now.Add(time.Minute)})
	other := concord.HashBindingToken("other")
	create(&concord.BindingToken{Hash: other, Actor: "tok3", Subscriptions: []string{"d"}, Expires: now.Add(10 * time.Minute)})

	got, err := take(live, now)
	if err != nil {
		t.Fatal(err)
	}
	if got.Actor != "tok1" || !slices.Equal(got.Subscriptions, []string{"a", "b-2"}) || !got.Expires.Equal(now.Add(5*time.Minute)) {
		t.Fatalf("taken %+v", got)
	}
	if _, err := take(live, now); concord.ErrorCode(err) != concord.ENOTFOUND {
		t.Fatalf("second take: %v, want ENOTFOUND", err)
	}
	stale := concord.HashBindingToken("stale")
	create(&concord.BindingToken{Hash: stale, Actor: "tok4", Subscriptions: []string{"e"}, Expires: now.Add(time.Minute)})
	// Two minutes on, "old" has expired: it is refused.
	if _, err := take(old, now.Add(2*time.Minute)); concord.ErrorCode(err) != concord.ENOTFOUND {
		t.Fatalf("expired take: %v, want ENOTFOUND", err)
	}
	// Taking another token deletes the expired "stale" (it is gone even
	// when the clock is put back) and nothing still valid.
	if got, err := take(other, now.Add(2*time.Minute)); err != nil || got.Actor != "tok3" {
		t.Fatalf("other token: %+v %v", got, err)
	}
	if _, err := take(stale, now); concord.ErrorCode(err) != concord.ENOTFOUND {
		t.Fatalf("expired token still stored: %v", err)
	}
	if _, err := take(concord.HashBindingToken("never"), now); concord.ErrorCode(err) != concord.ENOTFOUND {
		t.Fatalf("unknown token: %v, want ENOTFOUND", err)
	}
}
