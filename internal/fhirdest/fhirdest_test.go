package fhirdest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/store/sqlite"
	"github.com/concord-health/concord/internal/terminology"
)

// openStore opens an SQLite store in a temporary directory.
func openStore(t *testing.T) concord.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "concord.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// message returns a stored-message value for raw, as the engine hands it
// to a destination.
func message(id int64, raw string) *concord.Message {
	raw = strings.ReplaceAll(strings.TrimRight(raw, "\n"), "\n", "\r")
	return &concord.Message{ID: id, Channel: "default", Peer: "127.0.0.1", Sender: "REGAPP^CITYHOSP",
		ReceivedAt: time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC), Type: "ADT", Trigger: "A01", ControlID: "CTRL1", Raw: []byte(raw)}
}

// TestDeliverStoresAndAnswers delivers a synthetic ADT^A01 (the converter's
// golden message): AA with what was stored, the Patient in the store, a
// Provenance naming the message, the local allergen code in the
// needs-mapping report; the same message again stores nothing; an
// unsupported type is AE with the reason; a closed store is a transport
// error, to be retried.
func TestDeliverStoresAndAnswers(t *testing.T) {
	raw, err := os.ReadFile("../convert/testdata/adt_a01.hl7")
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t)
	s := New(st, terminology.NewMapper(st, terminology.Options{}), Options{Channel: "default", Node: "test"})
	ctx := context.Background()

	r := s.Deliver(ctx, message(7, string(raw)))
	if r.Err != nil || r.Code != "AA" || !strings.Contains(r.Ack, "ADT^A01") || strings.Contains(r.Ack, " 0 created") {
		t.Fatalf("first delivery: %+v", r)
	}
	if n := count(t, st, "Patient"); n != 1 {
		t.Fatalf("%d Patients stored, want 1", n)
	}
	if n := count(t, st, "Provenance"); n != 1 {
		t.Fatalf("%d Provenances stored, want 1", n)
	}
	codes, _, err := st.UnmappedCodes(ctx, concord.UnmappedFilter{})
	if err != nil || len(codes) != 1 || codes[0].Code != "F1" || codes[0].Count != 1 {
		t.Fatalf("needs-mapping report: %+v, %v; want the local allergen F1 once", codes, err)
	}

	again := s.Deliver(ctx, message(7, string(raw)))
	if again.Code != "AA" || !strings.Contains(again.Ack, " 0 created, 0 updated") {
		t.Fatalf("replay: %+v; want AA storing nothing", again)
	}
	if n := count(t, st, "Patient"); n != 1 {
		t.Fatalf("%d Patients after the replay, want 1", n)
	}

	oru := "MSH|^~\\&|LAB|CITYHOSP|EHR|CITYHOSP|202603020930||ZZZ^Z99|C2|P|2.5.1\nPID|1||MRN1^^^CITYHOSP^MR\n"
	bad := s.Deliver(ctx, message(8, oru))
	if bad.Err != nil || bad.Code != "AE" || !strings.Contains(bad.Reason, "unsupported message type ZZZ^Z99") {
		t.Fatalf("unsupported type: %+v", bad)
	}
	noPID := "MSH|^~\\&|REGAPP|CITYHOSP|EHR|CITYHOSP|202603020930||ADT^A01|C3|P|2.5.1\nEVN|A01\nPV1|1|I\n"
	if r := s.Deliver(ctx, message(9, noPID)); r.Code != "AE" || r.Reason == "" {
		t.Fatalf("ADT without PID: %+v", r)
	}

	st.Close()
	if r := s.Deliver(ctx, message(10, string(raw))); r.Err == nil {
		t.Fatalf("closed store: %+v; want a transport error", r)
	}
}

// count returns how many current resources of typ the store holds.
func count(t *testing.T, st concord.Store, typ string) int {
	t.Helper()
	n := 0
	for seq := int64(0); ; {
		rs, err := st.Changes(context.Background(), seq, 500)
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) == 0 {
			return n
		}
		for _, r := range rs {
			if r.Type == typ && r.Version == 1 {
				n++
			}
			seq = r.Seq
		}
	}
}
