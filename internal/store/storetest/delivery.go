package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/concord-health/concord"
)

func testDeliveries(t *testing.T, f *Fixture) {
	s := f.Store
	now := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	var ms []*concord.Message
	for i := 1; i <= 3; i++ {
		m := sampleMessage(i, now)
		ms = append(ms, m)
		if err := s.Update(ctx(t), func(tx concord.Tx) error {
			if err := tx.InsertMessage(ctx(t), m); err != nil {
				return err
			}
			return tx.Enqueue(ctx(t), m, []string{"lis", "archive"}, payloadFor(i), now)
		}); err != nil {
			t.Fatal(err)
		}
	}
	head := func(dest string) *concord.Delivery {
		d, m, err := s.NextDelivery(ctx(t), "default", dest)
		if err != nil {
			t.Fatal(err)
		}
		if d != nil && (m == nil || m.ID != d.MessageID || len(m.Raw) == 0) {
			t.Fatalf("head of %s comes without its message: %+v", dest, m)
		}
		return d
	}
	record := func(id int64, o concord.DeliveryOutcome) error {
		return s.Update(ctx(t), func(tx concord.Tx) error { return tx.RecordAttempt(ctx(t), id, o) })
	}
	d := head("lis")
	if d == nil || d.MessageID != ms[0].ID || d.Status != concord.DeliveryQueued || d.Attempts != 0 || !d.CreatedAt.Equal(now) ||
		string(d.Payload) != "transformed 1" {
		t.Fatalf("first head %+v", d)
	}
	// A failed attempt keeps the delivery at the head: FIFO holds.
	retryAt := now.Add(time.Minute)
	if err := record(d.ID, concord.DeliveryOutcome{Status: concord.DeliveryQueued, NextAttempt: retryAt, Error: "connection refused", At: now}); err != nil {
		t.Fatal(err)
	}
	again := head("lis")
	if again.ID != d.ID || again.Attempts != 1 || again.LastError != "connection refused" || !again.NextAttempt.Equal(retryAt) {
		t.Fatalf("after a failed attempt %+v", again)
	}
	if err := record(d.ID, concord.DeliveryOutcome{Status: concord.DeliverySent, PartnerAck: "MSA|AA|CTRL-1", At: retryAt}); err != nil {
		t.Fatal(err)
	}
	if err := record(d.ID, concord.DeliveryOutcome{Status: concord.DeliverySent, At: retryAt}); concord.ErrorCode(err) != concord.ECONFLICT {
		t.Fatalf("recording a sent delivery again: %v", err)
	}
	if next := head("lis"); next == nil || next.MessageID != ms[1].ID || next.Payload != nil {
		t.Fatalf("second head %+v", next)
	}
	// The other destination has its own queue.
	if a := head("archive"); a == nil || a.MessageID != ms[0].ID {
		t.Fatalf("archive head %+v", a)
	}
	// The window of queued work, oldest first, as far as asked.
	window := func(dest string, limit int) string {
		ds, err := s.QueuedDeliveries(ctx(t), "default", dest, limit)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, d := range ds {
			if d.Destination != dest || d.Status != concord.DeliveryQueued {
				t.Fatalf("window of %s holds %+v", dest, d)
			}
			ids = append(ids, d.MessageID)
		}
		return fmt.Sprint(ids)
	}
	if got, want := window("lis", 10), fmt.Sprint([]int64{ms[1].ID, ms[2].ID}); got != want {
		t.Errorf("lis window %s, want %s (the sent one gone)", got, want)
	}
	if got, want := window("archive", 2), fmt.Sprint([]int64{ms[0].ID, ms[1].ID}); got != want {
		t.Errorf("archive window of 2: %s, want %s", got, want)
	}
	if got := window("archive", 0); got != "[]" {
		t.Errorf("window of 0: %s", got)
	}
	n2 := head("lis")
	if err := record(n2.ID, concord.DeliveryOutcome{Status: concord.DeliveryDead, Error: "AR: unknown patient", At: retryAt}); err != nil {
		t.Fatal(err)
	}
	n3 := head("lis")
	if err := record(n3.ID, concord.DeliveryOutcome{Status: concord.DeliverySent, At: retryAt}); err != nil {
		t.Fatal(err)
	}
	if d := head("lis"); d != nil {
		t.Fatalf("lis queue should be empty, head %+v", d)
	}
	// Operators: a dead delivery goes back into its queue; a sent one
	// cannot; discarding gives up what is still queued.
	upd := func(fn func(tx concord.Tx) error) error { return s.Update(ctx(t), fn) }
	if err := upd(func(tx concord.Tx) error { return tx.RequeueDelivery(ctx(t), n2.ID, retryAt, "operator: retry") }); err != nil {
		t.Fatal(err)
	}
	if h := head("lis"); h == nil || h.ID != n2.ID || h.Status != concord.DeliveryQueued || h.LastError != "operator: retry" {
		t.Fatalf("requeued head %+v", h)
	}
	if err := upd(func(tx concord.Tx) error { return tx.RequeueDelivery(ctx(t), n3.ID, retryAt, "x") }); concord.ErrorCode(err) != concord.ECONFLICT {
		t.Fatalf("requeue a sent delivery: %v", err)
	}
	if err := upd(func(tx concord.Tx) error { return tx.RequeueDelivery(ctx(t), 999999, retryAt, "x") }); concord.ErrorCode(err) != concord.ENOTFOUND {
		t.Fatalf("requeue an unknown delivery: %v", err)
	}
	var discarded int
	if err := upd(func(tx concord.Tx) error {
		var err error
		discarded, err = tx.DiscardDeliveries(ctx(t), ms[1].ID, "operator: discard")
		return err
	}); err != nil || discarded != 2 { // lis (requeued) and archive
		t.Fatalf("discard: %d %v", discarded, err)
	}
	ds, err := s.Deliveries(ctx(t), ms[1].ID)
	if err != nil || len(ds) != 2 || ds[0].Destination != "archive" || ds[0].Status != concord.DeliveryDead || ds[1].LastError != "operator: discard" {
		t.Fatalf("deliveries of message 2: %+v %v", ds, err)
	}
	counts, err := s.DeliveryCounts(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if c := counts["default"]["lis"]; c[concord.DeliverySent] != 2 || c[concord.DeliveryDead] != 1 || c[concord.DeliveryQueued] != 0 {
		t.Errorf("lis counts %v", c)
	}
	if c := counts["default"]["archive"]; c[concord.DeliveryQueued] != 2 || c[concord.DeliveryDead] != 1 {
		t.Errorf("archive counts %v", c)
	}
	// Operators search messages by where their deliveries stand, and by
	// sender (application, or application^facility).
	for _, c := range []struct {
		f    concord.MessageFilter
		want string
	}{
		{concord.MessageFilter{DeliveryStatus: concord.DeliveryDead}, "[CTRL-2]"},
		{concord.MessageFilter{DeliveryStatus: concord.DeliveryQueued, Destination: "archive"}, "[CTRL-3 CTRL-1]"},
		{concord.MessageFilter{DeliveryStatus: concord.DeliverySent, Destination: "lis"}, "[CTRL-3 CTRL-1]"},
		{concord.MessageFilter{Destination: "nowhere"}, "[]"},
		{concord.MessageFilter{Sender: "LAB"}, "[CTRL-3 CTRL-2 CTRL-1]"},
		{concord.MessageFilter{Sender: "LAB^North"}, "[CTRL-3 CTRL-2 CTRL-1]"},
		{concord.MessageFilter{Sender: "LA"}, "[]"},
		{concord.MessageFilter{Sender: "LAB^South"}, "[]"},
	} {
		got, total, err := s.Messages(ctx(t), c.f)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range got {
			ids = append(ids, m.ControlID)
		}
		if fmt.Sprint(ids) != c.want && !(len(ids) == 0 && c.want == "[]") || int(total) != len(ids) {
			t.Errorf("%+v: %v (total %d), want %s", c.f, ids, total, c.want)
		}
	}
}

func testLeases(t *testing.T, f *Fixture) {
	s := f.Store
	now := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	lease := func(owner string, at time.Time) bool {
		var ok bool
		if err := s.Update(ctx(t), func(tx concord.Tx) error {
			var err error
			ok, err = tx.Lease(ctx(t), "default", "lis", owner, at, at.Add(30*time.Second))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !lease("node-a", now) {
		t.Fatal("a free destination was not leased")
	}
	if lease("node-b", now.Add(10*time.Second)) {
		t.Fatal("a second node took a held lease")
	}
	if !lease("node-a", now.Add(20*time.Second)) {
		t.Fatal("the holder could not renew its lease")
	}
	if lease("node-b", now.Add(40*time.Second)) {
		t.Fatal("a renewed lease was taken before it expired")
	}
	if !lease("node-b", now.Add(51*time.Second)) {
		t.Fatal("an expired lease was not taken over")
	}
}

// payloadFor gives odd messages a transformed payload and even ones none.
func payloadFor(i int) []byte {
	if i%2 == 1 {
		return []byte(fmt.Sprintf("transformed %d", i))
	}
	return nil
}
