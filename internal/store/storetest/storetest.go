// Package storetest is the one conformance suite every storage adapter
// passes. Each adapter's tests call Run with a Backend that makes fresh,
// empty stores; PostgreSQL tests get their own schema from PostgresURL.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concord-health/concord"
)

// Fixture is one fresh store and ways to reach its database around it.
type Fixture struct {
	Store concord.Store
	// Exec runs raw SQL against the same database, as an attacker with
	// database access or an administrator would.
	Exec func(query string, args ...any) error
	// AllowTamper disables the database's own append-only guard on the
	// audit log, as someone with full database rights could.
	AllowTamper func()
	// Reopen closes Store and opens the same database again.
	Reopen func() concord.Store
}

// Backend makes fixtures for one adapter.
type Backend struct {
	Name string
	New  func(t testing.TB) *Fixture
}

// Run runs the whole suite against b.
func Run(t *testing.T, b Backend) {
	tests := []struct {
		name string
		fn   func(*testing.T, *Fixture)
	}{
		{"Ready", testReady},
		{"TokenLifecycle", testTokenLifecycle},
		{"UpdateRollsBack", testUpdateRollsBack},
		{"UpdatePanicIsContained", testUpdatePanic},
		{"UpdateCancelled", testUpdateCancelled},
		{"GroupCommitIsolatesFailures", testGroupCommit},
		{"AuditRoundTrip", testAuditRoundTrip},
		{"AuditFilter", testAuditFilter},
		{"AuditAppendOnly", testAuditAppendOnly},
		{"AuditTamperChanged", testTamperChanged},
		{"AuditTamperDeleted", testTamperDeleted},
		{"AuditTamperDeletedTail", testTamperDeletedTail},
		{"AuditTamperReordered", testTamperReordered},
		{"Messages", testMessages},
		{"RecentMessage", testRecentMessage},
		{"Deliveries", testDeliveries},
		{"PruneContent", testPruneContent},
		{"ChannelStates", testChannelStates},
		{"Search", testSearch},
		{"IndexInOneTransaction", testIndexInOneTransaction},
		{"Flush", testFlush},
		{"Leases", testLeases},
		{"Cursors", testCursors},
		{"Subscriptions", testSubscriptions},
		{"SubscriptionPrune", testSubscriptionPrune},
		{"Resources", testResources},
		{"ResourceUpdatesSerialize", testResourceUpdatesSerialize},
		{"ResourceHistoryAt", testResourceHistoryAt},
		{"ResourceStamp", testResourceStamp},
		{"UnmappedCodes", testUnmappedCodes},
		{"ScanResources", testScanResources},
		{"ExportJobs", testExportJobs},
		{"BindingTokens", testBindingTokens},
		{"ReopenKeepsData", testReopen},
		{"CloseFinishesWrites", testClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, b.New(t))
		})
	}
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

func newToken(t testing.TB, role concord.Role, patient string) *concord.Token {
	t.Helper()
	tok, _, err := concord.NewToken(concord.TokenRequest{Role: role, Patient: patient, TTL: time.Hour, Label: "synthetic test"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func record(i int) *concord.AuditRecord {
	return &concord.AuditRecord{
		Time:      time.Now(),
		Actor:     fmt.Sprintf("tok%d", i),
		Role:      "clinician",
		Address:   "127.0.0.1:5000",
		Action:    concord.AuditRead,
		Object:    fmt.Sprintf("Patient/example-%d", i),
		Patient:   fmt.Sprintf("example-%d", i),
		Outcome:   concord.OutcomeSuccess,
		Detail:    "synthetic test record",
		RequestID: fmt.Sprintf("req-%d", i),
		Node:      "test",
	}
}

func appendRecords(t testing.TB, s concord.Store, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		if err := s.Update(ctx(t), func(tx concord.Tx) error { return tx.AppendAudit(ctx(t), record(i)) }); err != nil {
			t.Fatal(err)
		}
	}
}

func mustVerify(t testing.TB, s concord.Store) concord.AuditHead {
	t.Helper()
	head, brk, err := concord.VerifyAudit(ctx(t), s)
	if err != nil {
		t.Fatal(err)
	}
	if brk != nil {
		t.Fatalf("chain broken: %v", brk)
	}
	return head
}

func testReady(t *testing.T, f *Fixture) {
	if err := f.Store.Ready(ctx(t)); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	if k := f.Store.Kind(); k != "sqlite" && k != "postgres" {
		t.Fatalf("Kind = %q", k)
	}
	head, err := f.Store.AuditHead(ctx(t))
	if err != nil || head.Seq != 0 || head.Hash != concord.GenesisHash {
		t.Fatalf("empty store head = %+v, %v; want genesis", head, err)
	}
}

func testTokenLifecycle(t *testing.T, f *Fixture) {
	s := f.Store
	a := newToken(t, concord.RoleAdmin, "")
	time.Sleep(2 * time.Millisecond)
	p := newToken(t, concord.RolePatient, "example-1")
	for _, tok := range []*concord.Token{a, p} {
		if err := s.Update(ctx(t), func(tx concord.Tx) error { return tx.CreateToken(ctx(t), tok) }); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Token(ctx(t), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Role != concord.RolePatient || got.Patient != "example-1" || string(got.Hash) != string(p.Hash) ||
		!got.CreatedAt.Equal(p.CreatedAt) || !got.ExpiresAt.Equal(p.ExpiresAt) || !got.RevokedAt.IsZero() ||
		fmt.Sprint(got.Scopes) != fmt.Sprint(p.Scopes) || got.Label != p.Label {
		t.Fatalf("read back %+v, want %+v", got, p)
	}
	if _, err := s.Token(ctx(t), "nosuchtoken"); concord.ErrorCode(err) != concord.ENOTFOUND {
		t.Fatalf("unknown token: %v, want ENOTFOUND", err)
	}
	list, err := s.Tokens(ctx(t))
	if err != nil || len(list) != 2 || list[0].ID != p.ID || list[1].ID != a.ID {
		t.Fatalf("Tokens = %v, %v; want newest first", list, err)
	}
	c, err := s.Counts(ctx(t))
	if err != nil || c.Tokens != 2 || c.ActiveTokens != 2 {
		t.Fatalf("Counts = %+v, %v", c, err)
	}
	// Read a before revoking it, so that a store caching tokens holds
	// it: the revocation must still show at once. A caller changing what
	// it got must not change what the next caller gets.
	if got, err := s.Token(ctx(t), a.ID); err != nil || !got.RevokedAt.IsZero() {
		t.Fatalf("token before revoke: %+v, %v", got, err)
	} else if len(got.Scopes) > 0 {
		got.Scopes[0] = "changed"
	}
	if again, _ := s.Token(ctx(t), a.ID); fmt.Sprint(again.Scopes) != fmt.Sprint(a.Scopes) {
		t.Fatalf("scopes read again = %v, want %v", again.Scopes, a.Scopes)
	}
	at := time.Now()
	revoke := func(id string) error {
		return s.Update(ctx(t), func(tx concord.Tx) error { return tx.RevokeToken(ctx(t), id, at) })
	}
	if err := revoke(a.ID); err != nil {
		t.Fatal(err)
	}
	if err := revoke(a.ID); concord.ErrorCode(err) != concord.ECONFLICT {
		t.Fatalf("second revoke: %v, want ECONFLICT", err)
	}
	if err := revoke("nosuchtoken"); concord.ErrorCode(err) != concord.ENOTFOUND {
		t.Fatalf("revoke unknown: %v, want ENOTFOUND", err)
	}
	got, _ = s.Token(ctx(t), a.ID)
	if got.RevokedAt.IsZero() || got.Status(time.Now()) != "revoked" {
		t.Fatalf("revoked token reads back as %s", got.Status(time.Now()))
	}
	if c, _ := s.Counts(ctx(t)); c.ActiveTokens != 1 {
		t.Fatalf("active tokens after revoke = %d, want 1", c.ActiveTokens)
	}
}

func testUpdateRollsBack(t *testing.T, f *Fixture) {
	tok := newToken(t, concord.RoleClinician, "")
	boom := errors.New("boom")
	err := f.Store.Update(ctx(t), func(tx concord.Tx) error {
		if err := tx.CreateToken(ctx(t), tok); err != nil {
			return err
		}
		if err := tx.AppendAudit(ctx(t), record(1)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v, want the function's error", err)
	}
	if _, err := f.Store.Token(ctx(t), tok.ID); concord.ErrorCode(err) != concord.ENOTFOUND {
		t.Fatalf("token of a failed update exists: %v", err)
	}
	if h, _ := f.Store.AuditHead(ctx(t)); h.Seq != 0 {
		t.Fatalf("audit record of a failed update kept: head %d", h.Seq)
	}
}

func testUpdatePanic(t *testing.T, f *Fixture) {
	err := f.Store.Update(ctx(t), func(tx concord.Tx) error { panic("synthetic panic") })
	if concord.ErrorCode(err) != concord.EINTERNAL {
		t.Fatalf("panicking update: %v, want EINTERNAL", err)
	}
	appendRecords(t, f.Store, 1)
	mustVerify(t, f.Store)
}

func testUpdateCancelled(t *testing.T, f *Fixture) {
	c, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	err := f.Store.Update(c, func(tx concord.Tx) error { ran = true; return nil })
	if !errors.Is(err, context.Canceled) || ran {
		t.Fatalf("cancelled update: err %v, ran %v", err, ran)
	}
}

// testGroupCommit runs many concurrent updates, some of which fail after
// writing; the failures must leave no trace and the rest must all land,
// in one valid chain.
func testGroupCommit(t *testing.T, f *Fixture) {
	const n = 96
	var wg sync.WaitGroup
	errs := make([]error, n)
	toks := make([]*concord.Token, n)
	for i := range n {
		toks[i] = newToken(t, concord.RoleIntegration, "")
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f.Store.Update(ctx(t), func(tx concord.Tx) error {
				if err := tx.CreateToken(ctx(t), toks[i]); err != nil {
					return err
				}
				if err := tx.AppendAudit(ctx(t), record(i)); err != nil {
					return err
				}
				if i%5 == 0 {
					return fmt.Errorf("synthetic failure %d", i)
				}
				return nil
			})
		}()
	}
	wg.Wait()
	ok := 0
	for i := range n {
		_, err := f.Store.Token(ctx(t), toks[i].ID)
		if i%5 == 0 {
			if errs[i] == nil || concord.ErrorCode(err) != concord.ENOTFOUND {
				t.Fatalf("update %d should have failed and left nothing: %v / %v", i, errs[i], err)
			}
			continue
		}
		if errs[i] != nil || err != nil {
			t.Fatalf("update %d: %v / %v", i, errs[i], err)
		}
		ok++
	}
	head := mustVerify(t, f.Store)
	if head.Seq != int64(ok) {
		t.Fatalf("audit head %d, want %d records", head.Seq, ok)
	}
	if st := f.Store.Stats(); st.Writes < int64(ok) || st.Commits < 1 || st.Commits > st.Writes {
		t.Fatalf("stats %+v after %d writes", st, ok)
	}
}

func testAuditRoundTrip(t *testing.T, f *Fixture) {
	want := record(7)
	want.Time = time.Date(2026, 3, 4, 5, 6, 7, 891234567, time.FixedZone("x", 3600))
	want.Outcome = concord.OutcomeMinor
	if err := f.Store.Update(ctx(t), func(tx concord.Tx) error { return tx.AppendAudit(ctx(t), want) }); err != nil {
		t.Fatal(err)
	}
	if want.Seq != 1 || want.PrevHash != concord.GenesisHash || want.Hash != want.ComputeHash() {
		t.Fatalf("sealed record %+v", want)
	}
	var got []*concord.AuditRecord
	if err := f.Store.AuditRecords(ctx(t), concord.AuditFilter{}, func(r *concord.AuditRecord) error {
		got = append(got, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("%d records, want 1", len(got))
	}
	g := *got[0]
	if !g.Time.Equal(want.Time) || g.Time.Nanosecond()%1000 != 0 {
		t.Fatalf("time %v, want %v at microsecond precision", g.Time, want.Time)
	}
	g.Time = want.Time
	if g != *want {
		t.Fatalf("read back\n%+v\nwant\n%+v", g, *want)
	}
	if h := mustVerify(t, f.Store); h.Seq != 1 || h.Hash != want.Hash {
		t.Fatalf("head %+v", h)
	}
}

func testAuditFilter(t *testing.T, f *Fixture) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 1; i <= 10; i++ {
		r := record(i)
		r.Time = base.Add(time.Duration(i) * time.Hour)
		if err := f.Store.Update(ctx(t), func(tx concord.Tx) error { return tx.AppendAudit(ctx(t), r) }); err != nil {
			t.Fatal(err)
		}
	}
	seqs := func(fl concord.AuditFilter) []int64 {
		var out []int64
		if err := f.Store.AuditRecords(ctx(t), fl, func(r *concord.AuditRecord) error {
			out = append(out, r.Seq)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	cases := []struct {
		f    concord.AuditFilter
		want string
	}{
		{concord.AuditFilter{}, "[1 2 3 4 5 6 7 8 9 10]"},
		{concord.AuditFilter{Since: base.Add(8 * time.Hour)}, "[8 9 10]"},
		{concord.AuditFilter{Until: base.Add(3 * time.Hour)}, "[1 2]"},
		{concord.AuditFilter{Since: base.Add(2 * time.Hour), Until: base.Add(5 * time.Hour)}, "[2 3 4]"},
		{concord.AuditFilter{After: 6, Limit: 2}, "[7 8]"},
		{concord.AuditFilter{Since: base.Add(2 * time.Hour), After: 3, Limit: 3}, "[4 5 6]"},
	}
	for _, c := range cases {
		if got := fmt.Sprint(seqs(c.f)); got != c.want {
			t.Errorf("filter %+v: %s, want %s", c.f, got, c.want)
		}
	}
}

func testAuditAppendOnly(t *testing.T, f *Fixture) {
	appendRecords(t, f.Store, 3)
	if err := f.Exec(`UPDATE audit_log SET detail = 'changed' WHERE seq = 2`); err == nil {
		t.Fatal("the database let an audit record be changed")
	}
	if err := f.Exec(`DELETE FROM audit_log WHERE seq = 3`); err == nil {
		t.Fatal("the database let an audit record be deleted")
	}
	mustVerify(t, f.Store)
}

func expectBreak(t *testing.T, s concord.Store, seq int64, reason string) {
	t.Helper()
	_, brk, err := concord.VerifyAudit(ctx(t), s)
	if err != nil {
		t.Fatal(err)
	}
	if brk == nil {
		t.Fatal("tampering not detected")
	}
	if brk.Seq != seq || !strings.Contains(brk.Reason, reason) {
		t.Fatalf("break %v, want record %d (%s)", brk, seq, reason)
	}
}

func testTamperChanged(t *testing.T, f *Fixture) {
	appendRecords(t, f.Store, 5)
	f.AllowTamper()
	if err := f.Exec(`UPDATE audit_log SET object = 'Patient/someone-else' WHERE seq = 3`); err != nil {
		t.Fatal(err)
	}
	expectBreak(t, f.Store, 3, "record changed")
}

func testTamperDeleted(t *testing.T, f *Fixture) {
	appendRecords(t, f.Store, 5)
	f.AllowTamper()
	if err := f.Exec(`DELETE FROM audit_log WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	expectBreak(t, f.Store, 2, "deleted")
}

func testTamperDeletedTail(t *testing.T, f *Fixture) {
	appendRecords(t, f.Store, 5)
	f.AllowTamper()
	if err := f.Exec(`DELETE FROM audit_log WHERE seq = 5`); err != nil {
		t.Fatal(err)
	}
	expectBreak(t, f.Store, 5, "deleted")
}

func testTamperReordered(t *testing.T, f *Fixture) {
	appendRecords(t, f.Store, 5)
	f.AllowTamper()
	// Swap the positions of records 2 and 3.
	for _, q := range []string{
		`UPDATE audit_log SET seq = 1000 WHERE seq = 2`,
		`UPDATE audit_log SET seq = 2 WHERE seq = 3`,
		`UPDATE audit_log SET seq = 3 WHERE seq = 1000`,
	} {
		if err := f.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	expectBreak(t, f.Store, 2, "reordered")
}

func testReopen(t *testing.T, f *Fixture) {
	tok := newToken(t, concord.RoleAuditor, "")
	if err := f.Store.Update(ctx(t), func(tx concord.Tx) error { return tx.CreateToken(ctx(t), tok) }); err != nil {
		t.Fatal(err)
	}
	appendRecords(t, f.Store, 3)
	s := f.Reopen()
	if err := s.Ready(ctx(t)); err != nil {
		t.Fatalf("Ready after reopen: %v", err)
	}
	if _, err := s.Token(ctx(t), tok.ID); err != nil {
		t.Fatalf("token lost on reopen: %v", err)
	}
	appendRecords(t, s, 1)
	if h := mustVerify(t, s); h.Seq != 4 {
		t.Fatalf("head after reopen %d, want 4", h.Seq)
	}
}

func testClose(t *testing.T, f *Fixture) {
	s := f.Store
	const n = 40
	var wg sync.WaitGroup
	var mu sync.Mutex
	landed := 0
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Update(ctx(t), func(tx concord.Tx) error { return tx.AppendAudit(ctx(t), record(i)) })
			if err == nil {
				mu.Lock()
				landed++
				mu.Unlock()
			} else if concord.ErrorCode(err) != concord.EUNAVAILABLE {
				t.Errorf("update during close: %v, want success or EUNAVAILABLE", err)
			}
		}()
	}
	time.Sleep(time.Millisecond)
	s2 := f.Reopen() // closes s while updates may still be queued
	wg.Wait()
	if err := s.Update(ctx(t), func(tx concord.Tx) error { return nil }); concord.ErrorCode(err) != concord.EUNAVAILABLE {
		t.Fatalf("update after close: %v, want EUNAVAILABLE", err)
	}
	if h := mustVerify(t, s2); h.Seq != int64(landed) {
		t.Fatalf("%d updates reported success but %d records are stored", landed, h.Seq)
	}
}
