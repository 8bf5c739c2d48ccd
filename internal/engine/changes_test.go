package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/hl7v2"
	"github.com/concord-health/concord/internal/convert"
	"github.com/concord-health/concord/internal/store/postgres"
	"github.com/concord-health/concord/internal/store/sqlite"
	"github.com/concord-health/concord/internal/store/storetest"
)

// Synthetic resources (invented names and ids) for the change source tests.
const (
	testPatient = `{"resourceType":"Patient","id":"p1","identifier":[{"system":"urn:oid:1.2.3","value":"MRN-7"}],` +
		`"name":[{"family":"Testperson","given":["Ada"]}],"gender":"female","birthDate":"1990-01-02"}`
	labCategory   = `"category":[{"coding":[{"system":"http://snomed.info/sct","code":"108252007"}]}]`
	imageCategory = `"category":[{"coding":[{"system":"http://snomed.info/sct","code":"363679005"}]}]`
)

func serviceRequest(id, status, category string) string {
	return `{"resourceType":"ServiceRequest","id":"` + id + `","status":"` + status + `","intent":"order",` + category +
		`,"code":{"coding":[{"system":"http://loinc.org","code":"2345-7","display":"Glucose"}]},"subject":{"reference":"Patient/p1"}}`
}

// put stores a new version of a resource as the FHIR layer would.
func put(t *testing.T, st concord.Store, typ, id string, content string) {
	t.Helper()
	err := st.Update(context.Background(), func(tx concord.Tx) error {
		cur, err := tx.CurrentResource(context.Background(), typ, id)
		if err != nil {
			return err
		}
		v := int64(1)
		if cur != nil {
			v = cur.Version + 1
		}
		return tx.PutResource(context.Background(), &concord.Resource{Type: typ, ID: id, Version: v,
			LastUpdated: time.Date(2026, 3, 2, 10, 0, int(v), 0, time.UTC), Content: []byte(content)})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func changesEngine(t *testing.T, st concord.Store, ch Channel) context.CancelFunc {
	eng := New(Options{Store: st, Node: "n1", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Channels: []Channel{ch}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { eng.Run(ctx); close(done) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

// TestChangeSource: lab orders go to the LIS as OML^O21 and imaging ones
// are dropped by the filter; a Patient change goes out as ADT^A08; an
// order the converter cannot write is kept as an errored message and the
// reader goes on; control IDs are deterministic.
func TestChangeSource(t *testing.T) {
	for _, b := range []string{"sqlite", "postgres"} {
		t.Run(b, func(t *testing.T) { testChangeSource(t, openStores(t, b)()) })
	}
}

// openStores returns a function that opens the test store of a backend:
// on SQLite the same store each time; on PostgreSQL a new connection
// pool to the same schema each time, as another node would have. The
// PostgreSQL case skips unless CONCORD_TEST_POSTGRES is set.
func openStores(t *testing.T, backend string) func() concord.Store {
	if backend == "sqlite" {
		st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "c.db"), sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return func() concord.Store { return st }
	}
	url := storetest.PostgresURL(t)
	return func() concord.Store {
		st, err := postgres.Open(context.Background(), url, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
}

func testChangeSource(t *testing.T, st concord.Store) {
	put(t, st, "Patient", "p1", testPatient) // before the channel existed: not sent
	filter, err := CompileChangeFilter(`type != "ServiceRequest" || resource.category.exists(c, c.coding.exists(x, x.code == "108252007"))`)
	if err != nil {
		t.Fatal(err)
	}
	lis, ris := &recorder{}, &recorder{}
	ch := Channel{Name: "lab-out", Changes: &ChangeSource{Types: []string{"ServiceRequest", "Patient"}, Filter: filter},
		Destinations: []Destination{fastRetry("lis", lis), fastRetry("lis-v23", ris)}}
	ch.Destinations[0].Outbound = convert.OutboundOptions{OrderType: convert.OutboundOML, ReceivingApplication: "LIS"}
	ch.Destinations[1].Outbound = convert.OutboundOptions{OrderType: convert.OutboundORM, Version: "2.3.1"}
	stop := changesEngine(t, st, ch)
	waitFor(t, "the cursor to start", func() bool { _, found, _ := st.Cursor(context.Background(), "lab-out"); return found })

	put(t, st, "ServiceRequest", "sr1", serviceRequest("sr1", "active", labCategory))
	put(t, st, "ServiceRequest", "sr-img", serviceRequest("sr-img", "active", imageCategory))
	put(t, st, "ServiceRequest", "sr-draft", serviceRequest("sr-draft", "draft", labCategory)) // no message
	put(t, st, "ServiceRequest", "sr1", serviceRequest("sr1", "active", labCategory)+" ")      // a change: XO
	put(t, st, "ServiceRequest", "sr-bad", strings.Replace(serviceRequest("sr-bad", "active", labCategory), `"2345-7"`, `"2345-7","system":3`, 1))
	put(t, st, "Patient", "p1", strings.Replace(testPatient, "Ada", "Adah", 1))
	waitFor(t, "deliveries", func() bool { return strings.Count(lis.ids(), ",") == 2 && strings.Count(ris.ids(), ",") == 2 })

	msgs, _, err := st.Messages(context.Background(), concord.MessageFilter{Channel: "lab-out"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := len(msgs) - 1; i >= 0; i-- {
		m := msgs[i]
		got = append(got, m.Peer+" "+m.Type+"^"+m.Trigger+" "+m.Status)
	}
	want := []string{
		"ServiceRequest/sr1/_history/1 OML^O21 received", "ServiceRequest/sr1/_history/1 ORM^O01 received",
		"ServiceRequest/sr1/_history/2 OML^O21 received", "ServiceRequest/sr1/_history/2 ORM^O01 received",
		"ServiceRequest/sr-bad/_history/1 ^ errored", "ServiceRequest/sr-bad/_history/1 ^ errored",
		"Patient/p1/_history/2 ADT^A08 received", "Patient/p1/_history/2 ADT^A08 received",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("messages:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The errored one says which change, and why, and is not queued.
	bad := msgs[3]
	full, err := st.Message(context.Background(), bad.ID)
	if err != nil {
		t.Fatal(err)
	}
	var env changeEnvelope
	if err := json.Unmarshal(full.Raw, &env); err != nil || env.Change != "ServiceRequest/sr-bad/_history/1" || env.Error == "" ||
		env.Destination != "lis" || !strings.Contains(full.Error, "destination lis") {
		t.Fatalf("errored message %q (%v)", full.Raw, err)
	}
	if ds, _ := st.Deliveries(context.Background(), bad.ID); len(ds) != 0 {
		t.Fatalf("an errored change was queued: %+v", ds[0])
	}
	// ORC-1 follows the version: NW, then XO; MSH-10 is the seq and the
	// destination's hash, MSH-5 the destination's receiving application.
	first, _ := st.Message(context.Background(), msgs[len(msgs)-1].ID)
	second, _ := st.Message(context.Background(), msgs[len(msgs)-3].ID)
	for i, c := range []struct {
		m    *concord.Message
		orc1 string
	}{{first, "NW"}, {second, "XO"}} {
		hm, err := hl7v2.Parse(c.m.Raw)
		if err != nil {
			t.Fatal(err)
		}
		if hm.Get("ORC-1") != c.orc1 || hm.Get("MSH-5") != "LIS" || !strings.HasSuffix(c.m.ControlID, changeControlID("lab-out", "lis", 0)[1:]) {
			t.Errorf("message %d: ORC-1 %q MSH-5 %q MSH-10 %q", i, hm.Get("ORC-1"), hm.Get("MSH-5"), c.m.ControlID)
		}
	}
	// Delivered in change order, each once.
	a08, _ := st.Message(context.Background(), msgs[1].ID)
	if ids := lis.ids(); ids != first.ControlID+","+second.ControlID+","+a08.ControlID {
		t.Fatalf("lis got %v, want %s, %s, %s", ids, first.ControlID, second.ControlID, a08.ControlID)
	}

	// Restart: nothing new is made from changes already handled; a change
	// made while the engine was down is sent after it.
	stop()
	put(t, st, "Patient", "p1", strings.Replace(testPatient, "Ada", "Adele", 1))
	changesEngine(t, st, ch)
	waitFor(t, "the change made while down", func() bool { return strings.Count(lis.ids(), ",") == 3 })
	time.Sleep(3 * changePoll)
	msgs2, _, _ := st.Messages(context.Background(), concord.MessageFilter{Channel: "lab-out"})
	if len(msgs2) != len(msgs)+2 || msgs2[0].Peer != "Patient/p1/_history/3" || msgs2[1].Peer != "Patient/p1/_history/3" {
		t.Fatalf("after restart %d messages (want %d), newest %s", len(msgs2), len(msgs)+2, msgs2[0].Peer)
	}
	if ids := strings.Split(lis.ids(), ","); len(ids) != 4 || ids[2] != a08.ControlID || ids[3] == a08.ControlID {
		t.Fatalf("lis got %v after the restart", ids)
	}
}

// TestChangeReprocess: an order the converter refused is converted again
// by an operator's reprocess once the configuration is fixed.
func TestChangeReprocess(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "c.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	lis := &recorder{}
	ch := Channel{Name: "lab-out", Changes: &ChangeSource{Types: []string{"ServiceRequest"}, FromBeginning: true},
		Destinations: []Destination{fastRetry("lis", lis)}}
	// ORM is withdrawn in 2.7: every order fails for this destination.
	ch.Destinations[0].Outbound = convert.OutboundOptions{OrderType: convert.OutboundORM, Version: "2.7"}
	put(t, st, "ServiceRequest", "sr1", serviceRequest("sr1", "active", labCategory))
	eng := New(Options{Store: st, Node: "n1", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Channels: []Channel{ch}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { eng.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	var errored *concord.Message
	waitFor(t, "the errored message", func() bool {
		ms, _, _ := st.Messages(context.Background(), concord.MessageFilter{Channel: "lab-out", Status: concord.MessageErrored})
		if len(ms) == 1 {
			errored = ms[0]
		}
		return errored != nil
	})
	if !strings.Contains(errored.Error, "destination lis") || !strings.Contains(errored.Error, "withdrawn") {
		t.Fatalf("error %q", errored.Error)
	}
	if _, _, err := eng.Reprocess(ctx, errored.ID, []byte("MSH|edited"), concord.AuditRecord{Actor: "op"}); concord.ErrorCode(err) != concord.EINVALID {
		t.Fatalf("edited reprocess of a change: %v", err)
	}
	fixed := ch
	fixed.Destinations = []Destination{fastRetry("lis", lis)}
	fixed.Destinations[0].Outbound = convert.OutboundOptions{OrderType: convert.OutboundOML}
	eng.Configure([]Channel{fixed})
	m, _, err := eng.Reprocess(ctx, errored.ID, nil, concord.AuditRecord{Actor: "op"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Type != "OML" || m.Status != concord.MessageReceived {
		t.Fatalf("reprocessed %+v", m)
	}
	waitFor(t, "delivery", func() bool { return lis.ids() == m.ControlID })
}

func TestChangeFilter(t *testing.T) {
	for _, c := range []struct {
		expr    string
		pass    bool
		compile bool
	}{
		{`resource.status == "active"`, true, true},
		{`has(resource.priority) && resource.priority == "stat"`, false, true},
		{`type == "ServiceRequest" && version == 1 && id == "s"`, true, true},
		{`resource.status`, false, false},
		{`nope ==`, false, false},
	} {
		f, err := CompileChangeFilter(c.expr)
		if (err == nil) != c.compile {
			t.Errorf("%s: compile %v", c.expr, err)
			continue
		}
		if err != nil {
			continue
		}
		pass, err := f.Pass(context.Background(), "ServiceRequest", "s", 1, []byte(`{"status":"active"}`))
		if err != nil || pass != c.pass {
			t.Errorf("%s: %v, %v", c.expr, pass, err)
		}
	}
	f, _ := CompileChangeFilter(`resource.missing == "x"`)
	if _, err := f.Pass(context.Background(), "Patient", "p", 1, []byte(`{}`)); err == nil {
		t.Error("a missing field passed silently")
	}
	if _, err := f.Pass(context.Background(), "Patient", "p", 1, []byte(`[1]`)); err == nil {
		t.Error("a non-object resource passed")
	}
}

func TestChangeControlID(t *testing.T) {
	a, b := changeControlID("lab", "lis", 1234567890123), changeControlID("lab", "ris", 1234567890123)
	if a == b || len(a) > 20 || a != changeControlID("lab", "lis", 1234567890123) || !strings.HasPrefix(a, "1234567890123-") {
		t.Fatalf("%s %s", a, b)
	}
}

// TestChangeReadersShareStore: two engines on one store (two nodes) each
// run the channel's reader; every change still makes one message.
func TestChangeReadersShareStore(t *testing.T) {
	for _, b := range []string{"sqlite", "postgres"} {
		t.Run(b, func(t *testing.T) { testChangeReadersShareStore(t, openStores(t, b)) })
	}
}

func testChangeReadersShareStore(t *testing.T, open func() concord.Store) {
	st := open()
	a, b := &recorder{}, &recorder{}
	mk := func(r *recorder) Channel {
		return Channel{Name: "adt-out", Changes: &ChangeSource{Types: []string{"Patient"}, FromBeginning: true},
			Destinations: []Destination{fastRetry("pas", r)}}
	}
	changesEngine(t, st, mk(a))
	changesEngine(t, open(), mk(b))
	const n = 30
	for i := 0; i < n; i++ {
		put(t, st, "Patient", "p1", strings.Replace(testPatient, "Ada", fmt.Sprintf("Ada%d", i), 1))
	}
	count := func(r *recorder) int {
		if r.ids() == "" {
			return 0
		}
		return len(strings.Split(r.ids(), ","))
	}
	waitFor(t, "every change delivered", func() bool { return count(a)+count(b) >= n })
	time.Sleep(3 * changePoll)
	ms, total, err := st.Messages(context.Background(), concord.MessageFilter{Channel: "adt-out", Limit: 1000})
	if err != nil || total != n {
		t.Fatalf("%d messages for %d changes (%v)", total, n, err)
	}
	seen := map[string]bool{}
	for _, m := range ms {
		if seen[m.Peer] {
			t.Fatalf("change %s made two messages", m.Peer)
		}
		seen[m.Peer] = true
	}
	if a.ids() != "" && b.ids() != "" {
		t.Fatalf("both nodes delivered: %q and %q", a.ids(), b.ids())
	}
}

// TestChangeGap: on PostgreSQL a gap in seq (a write not yet committed)
// holds the reader back for changeGapGrace, then is passed.
func TestChangeGap(t *testing.T) {
	rs := func(seqs ...int64) []*concord.Resource {
		var out []*concord.Resource
		for _, s := range seqs {
			out = append(out, &concord.Resource{Seq: s})
		}
		return out
	}
	rd := &changeReader{}
	t0 := time.Unix(1000, 0)
	if got := rd.gap.Until(10, rs(11, 12, 14, 15), t0, changeGapGrace); len(got) != 2 {
		t.Fatalf("before the gap: %d", len(got))
	}
	if got := rd.gap.Until(12, rs(14, 15), t0.Add(changeGapGrace/2), changeGapGrace); len(got) != 0 {
		t.Fatalf("a young gap was passed: %d", len(got))
	}
	if got := rd.gap.Until(12, rs(14, 15), t0.Add(changeGapGrace), changeGapGrace); len(got) != 2 {
		t.Fatalf("an old gap held the reader: %d", len(got))
	}
	if got := rd.gap.Until(15, rs(16, 17), t0.Add(changeGapGrace), changeGapGrace); len(got) != 2 {
		t.Fatalf("no gap: %d", len(got))
	}
}

// TestChangeFromPartner: a change written with a Provenance naming the
// destination's own system as author (as the HL7 v2 → FHIR conversion
// writes for the messages it stores) is not sent back to it; other
// destinations, and changes from anyone else, are sent.
func TestChangeFromPartner(t *testing.T) {
	st := openStores(t, "sqlite")()
	lis, other := &recorder{}, &recorder{}
	ch := Channel{Name: "lab-out", Changes: &ChangeSource{Types: []string{"ServiceRequest"}, FromBeginning: true},
		Destinations: []Destination{fastRetry("lis", lis), fastRetry("other", other)}}
	ch.Destinations[0].Partner = "LIS" // MSH-3 alone matches LIS^LAB
	// sr1 comes from a clinician; sr2 from an order message the LIS sent,
	// its Provenance written in the same transaction.
	put(t, st, "ServiceRequest", "sr1", serviceRequest("sr1", "active", labCategory))
	at := time.Date(2026, 3, 2, 11, 0, 0, 0, time.UTC)
	provenance := func(id, target, author, code string, when time.Time) *concord.Resource {
		return &concord.Resource{Type: "Provenance", ID: id, Version: 1, LastUpdated: when,
			Content: []byte(`{"resourceType":"Provenance","target":[{"reference":"ServiceRequest/` + target + `"}],` +
				`"agent":[{"type":{"coding":[{"code":"` + code + `"}]},"who":{"display":"` + author + `"}}]}`),
			Index: &concord.SearchIndex{Refs: []concord.IndexRef{{Param: "target", Type: "ServiceRequest", ID: target}}}}
	}
	err := st.Update(context.Background(), func(tx concord.Tx) error {
		if err := tx.PutResource(context.Background(), &concord.Resource{Type: "ServiceRequest", ID: "sr2", Version: 1, LastUpdated: at,
			Content: []byte(serviceRequest("sr2", "active", labCategory))}); err != nil {
			return err
		}
		if err := tx.PutResource(context.Background(), provenance("pv1", "sr2", "LIS^LAB", "author", at)); err != nil {
			return err
		}
		// Not the author, and another change's record: neither counts.
		if err := tx.PutResource(context.Background(), provenance("pv2", "sr1", "LIS^LAB", "enterer", at)); err != nil {
			return err
		}
		return tx.PutResource(context.Background(), provenance("pv3", "sr1", "LIS^LAB", "author", at))
	})
	if err != nil {
		t.Fatal(err)
	}
	changesEngine(t, st, ch)
	waitFor(t, "deliveries", func() bool { return strings.Count(other.ids(), ",") == 1 && lis.ids() != "" })
	time.Sleep(3 * changePoll)
	ms, _, _ := st.Messages(context.Background(), concord.MessageFilter{Channel: "lab-out"})
	var got []string
	for _, m := range ms {
		ds, _ := st.Deliveries(context.Background(), m.ID)
		got = append(got, m.Peer+" → "+ds[0].Destination)
	}
	want := "ServiceRequest/sr2/_history/1 → other,ServiceRequest/sr1/_history/1 → other,ServiceRequest/sr1/_history/1 → lis"
	if strings.Join(got, ",") != want {
		t.Fatalf("messages %v, want %s", got, want)
	}
}

// TestChangesWritten: a reader that would poll only every hour reads a
// change as soon as ChangesWritten says one was written.
func TestChangesWritten(t *testing.T) {
	st := openStores(t, "sqlite")()
	lis := &recorder{}
	ch := Channel{Name: "adt-out", Changes: &ChangeSource{Types: []string{"Patient"}, FromBeginning: true, Poll: time.Hour},
		Destinations: []Destination{fastRetry("pas", lis)}}
	put(t, st, "Patient", "p1", testPatient)
	eng := New(Options{Store: st, Node: "n1", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Channels: []Channel{ch}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { eng.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "the first round", func() bool { return lis.ids() != "" })
	first := lis.ids()
	put(t, st, "Patient", "p1", strings.Replace(testPatient, "Ada", "Adah", 1))
	time.Sleep(300 * time.Millisecond)
	if lis.ids() != first {
		t.Fatal("read before the wake-up: the poll is an hour")
	}
	eng.ChangesWritten()
	waitFor(t, "the woken reader", func() bool { return lis.ids() != first })
}
