package storetest

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/concord-health/concord"
)

func sampleMessage(i int, at time.Time) *concord.Message {
	raw := []byte(fmt.Sprintf("MSH|^~\\&|LAB|North|EHR|Ward|20260101||ORU^R01^ORU_R01|CTRL-%d|P|2.5.1\rPID|1||MRN-%d^^^North^MR\r", i, i%3))
	return &concord.Message{
		Channel: "default", Peer: "127.0.0.1", Sender: "LAB^North", ReceivedAt: at,
		Type: "ORU", Trigger: "R01", Structure: "ORU_R01", ControlID: fmt.Sprintf("CTRL-%d", i), Version: "2.5.1",
		PatientID: fmt.Sprintf("MRN-%d", i%3), Status: concord.MessageReceived, AckCode: "AA", Raw: raw,
	}
}

func insertMessages(t *testing.T, s concord.Store, ms ...*concord.Message) {
	t.Helper()
	for _, m := range ms {
		if err := s.Update(ctx(t), func(tx concord.Tx) error { return tx.InsertMessage(ctx(t), m) }); err != nil {
			t.Fatal(err)
		}
	}
}

func testMessages(t *testing.T, f *Fixture) {
	s := f.Store
	base := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	var all []*concord.Message
	for i := 1; i <= 12; i++ {
		m := sampleMessage(i, base.Add(time.Duration(i)*time.Minute))
		if i%4 == 0 {
			m.Status, m.AckCode, m.Error = concord.MessageErrored, "AE", "PID-7: not a date"
		}
		if i == 5 {
			m.Channel, m.Type, m.Trigger = "lab", "ADT", "A01"
		}
		all = append(all, m)
	}
	insertMessages(t, s, all...)
	for i, m := range all[1:] {
		if m.ID <= all[i].ID {
			t.Fatalf("IDs not increasing: %d after %d", m.ID, all[i].ID)
		}
	}
	got, err := s.Message(ctx(t), all[2].ID)
	if err != nil {
		t.Fatal(err)
	}
	want := *all[2]
	if !bytes.Equal(got.Raw, want.Raw) || got.Size != len(want.Raw) || !got.ReceivedAt.Equal(want.ReceivedAt) {
		t.Fatalf("read back %+v", got)
	}
	got.Raw, want.Raw, got.ReceivedAt, want.ReceivedAt = nil, nil, time.Time{}, time.Time{}
	want.Size = got.Size
	if fmt.Sprintf("%+v", *got) != fmt.Sprintf("%+v", want) {
		t.Fatalf("read back\n%+v\nwant\n%+v", *got, want)
	}
	if _, err := s.Message(ctx(t), 999999); concord.ErrorCode(err) != concord.ENOTFOUND {
		t.Fatalf("missing message: %v", err)
	}
	ids := func(f concord.MessageFilter) (string, int64) {
		ms, total, err := s.Messages(ctx(t), f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range ms {
			if m.Raw != nil {
				t.Fatal("listing carries raw bytes")
			}
			out = append(out, m.ControlID)
		}
		return fmt.Sprint(out), total
	}
	cases := []struct {
		f     concord.MessageFilter
		want  string
		total int64
	}{
		{concord.MessageFilter{Limit: 3}, "[CTRL-12 CTRL-11 CTRL-10]", 12},
		{concord.MessageFilter{Limit: 3, Offset: 3}, "[CTRL-9 CTRL-8 CTRL-7]", 12},
		{concord.MessageFilter{Channel: "lab"}, "[CTRL-5]", 1},
		{concord.MessageFilter{ControlID: "CTRL-7"}, "[CTRL-7]", 1},
		{concord.MessageFilter{Status: concord.MessageErrored}, "[CTRL-12 CTRL-8 CTRL-4]", 3},
		{concord.MessageFilter{Type: "ADT", Trigger: "A01"}, "[CTRL-5]", 1},
		{concord.MessageFilter{PatientID: "MRN-0", Channel: "default"}, "[CTRL-12 CTRL-9 CTRL-6 CTRL-3]", 4},
		{concord.MessageFilter{Since: base.Add(10 * time.Minute)}, "[CTRL-12 CTRL-11 CTRL-10]", 3},
		{concord.MessageFilter{Since: base.Add(2 * time.Minute), Until: base.Add(4 * time.Minute)}, "[CTRL-3 CTRL-2]", 2},
		{concord.MessageFilter{Channel: "nope"}, "[]", 0},
	}
	for _, c := range cases {
		got, total := ids(c.f)
		if got != c.want || total != c.total {
			t.Errorf("filter %+v: %s (total %d), want %s (total %d)", c.f, got, total, c.want, c.total)
		}
	}
	counts, err := s.MessageCounts(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if c := counts["default"]; c.Received != 8 || c.Errored != 3 {
		t.Errorf("default counts %+v", c)
	}
	if c := counts["lab"]; c.Received != 1 {
		t.Errorf("lab counts %+v", c)
	}
	if c, _ := s.Counts(ctx(t)); c.Messages != 12 {
		t.Errorf("store counts %+v", c)
	}
}

func testRecentMessage(t *testing.T, f *Fixture) {
	s := f.Store
	now := time.Now().UTC()
	old := sampleMessage(1, now.Add(-2*time.Hour))
	rejected := sampleMessage(2, now)
	rejected.Status = concord.MessageRejected
	recent := sampleMessage(1, now.Add(-time.Minute))
	insertMessages(t, s, old, rejected, recent)
	find := func(control string, since time.Time) *concord.Message {
		var m *concord.Message
		err := s.Update(ctx(t), func(tx concord.Tx) error {
			var err error
			m, err = tx.RecentMessage(ctx(t), "default", "LAB^North", control, since)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if m := find("CTRL-1", now.Add(-time.Hour)); m == nil || m.ID != recent.ID {
		t.Errorf("recent duplicate not found: %+v", m)
	}
	if m := find("CTRL-1", now.Add(-30*time.Second)); m != nil {
		t.Errorf("message outside the window found: %+v", m)
	}
	if m := find("CTRL-2", now.Add(-time.Hour)); m != nil {
		t.Errorf("a rejected message counts as a duplicate: %+v", m)
	}
	if m := find("CTRL-404", time.Time{}); m != nil {
		t.Errorf("unknown control ID found: %+v", m)
	}
}

func testPruneContent(t *testing.T, f *Fixture) {
	s := f.Store
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	old, held, fresh := sampleMessage(1, now.Add(-40*24*time.Hour)), sampleMessage(2, now.Add(-40*24*time.Hour)), sampleMessage(3, now)
	insertMessages(t, s, old, fresh)
	if err := s.Update(ctx(t), func(tx concord.Tx) error {
		if err := tx.InsertMessage(ctx(t), held); err != nil {
			return err
		}
		return tx.Enqueue(ctx(t), held, []string{"lis"}, nil, now) // still to be delivered
	}); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.Update(ctx(t), func(tx concord.Tx) error {
		var err error
		n, err = tx.PruneContent(ctx(t), now.Add(-30*24*time.Hour), 100)
		return err
	}); err != nil || n != 1 {
		t.Fatalf("pruned %d, %v; want 1", n, err)
	}
	for _, c := range []struct {
		m       *concord.Message
		content bool
	}{{old, false}, {held, true}, {fresh, true}} {
		got, err := s.Message(ctx(t), c.m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if (len(got.Raw) > 0) != c.content || got.ControlID != c.m.ControlID || got.Size != len(c.m.Raw) {
			t.Errorf("message %s: content kept %v, want %v; metadata %+v", c.m.ControlID, len(got.Raw) > 0, c.content, got)
		}
	}
}

func testChannelStates(t *testing.T, f *Fixture) {
	s := f.Store
	set := func(ch, st string) error {
		return s.Update(ctx(t), func(tx concord.Tx) error { return tx.SetChannelState(ctx(t), ch, st, time.Now(), "operator") })
	}
	if states, err := s.ChannelStates(ctx(t)); err != nil || len(states) != 0 {
		t.Fatalf("fresh store states %v %v", states, err)
	}
	if err := set("lab", concord.ChannelStopped); err != nil {
		t.Fatal(err)
	}
	if err := set("lab", concord.ChannelPaused); err != nil {
		t.Fatal(err)
	}
	if err := set("adt", concord.ChannelStarted); err != nil {
		t.Fatal(err)
	}
	if err := set("adt", "exploded"); concord.ErrorCode(err) != concord.EINVALID {
		t.Fatalf("bad state: %v", err)
	}
	states, err := s.ChannelStates(ctx(t))
	if err != nil || states["lab"] != concord.ChannelPaused || states["adt"] != concord.ChannelStarted || len(states) != 2 {
		t.Fatalf("states %v %v", states, err)
	}
}
