package engine

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/hl7v2"
)

func TestFilterExpressions(t *testing.T) {
	m, err := hl7v2.Parse([]byte(labMessage(7)))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]bool{
		`type == "ORU" && trigger == "R01"`:                   true,
		`type == "ADT"`:                                       false,
		`msg.get("OBX-3.3") == "LN" && msg.count("OBX") == 1`: true,
		`msg.get("PID-3.1").startsWith("MRN-")`:               true,
		`msg.get("ZZZ-1") == ""`:                              true,
		`control_id in ["LAB-007", "LAB-008"]`:                true,
		`sender == "LAB^North" && version.startsWith("2.5")`:  true,
		`structure == "ORU_R01" && msg.count("PID") > 1`:      false,
		`int(msg.get("OBX-5")) >= 200`:                        false,
	}
	for src, want := range cases {
		f, err := CompileFilter(src)
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		if got, err := f.Pass(context.Background(), m); err != nil || got != want {
			t.Errorf("%s = %v, %v; want %v", src, got, err, want)
		}
	}
	for _, bad := range []string{`type ==`, `msg.get("PID-3")`, `1 + 1`, `nope == "x"`, `msg.get(1) == ""`} {
		if _, err := CompileFilter(bad); err == nil {
			t.Errorf("%s compiled", bad)
		}
	}
	// Errors at run time: a bad path, and a costly expression stopped by
	// the cost limit.
	for _, src := range []string{`msg.get("not a path") == ""`,
		`[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(e, a+b+c+d+e > 0)))))`} {
		f, err := CompileFilter(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if _, err := f.Pass(context.Background(), m); err == nil {
			t.Errorf("%s evaluated without error", src)
		}
	}
}

// TestChannelFilter: filtered messages are stored as filtered, answered
// AA and queued nowhere; a filter failing at run time keeps the message as
// errored for an operator and answers AE.
func TestChannelFilter(t *testing.T) {
	p := &partner{}
	p.start(t)
	defer p.shutdown()
	f, err := CompileFilter(`msg.get("PID-3.1") != "MRN-2"`)
	if err != nil {
		t.Fatal(err)
	}
	st := newFilteredEngine(t, f, fastRetry("lis", NewMLLPSender(p.addr, 0)))
	for i := 1; i <= 3; i++ {
		receive(t, st.eng, i) // all answered AA
	}
	waitFor(t, "delivery", func() bool { return counts(t, st.store, "lis")[concord.DeliverySent] == 2 })
	ms, _, _ := st.store.Messages(context.Background(), concord.MessageFilter{Status: concord.MessageFiltered})
	if len(ms) != 1 || ms[0].ControlID != "LAB-002" {
		t.Fatalf("filtered %+v", ms)
	}
	if got := strings.Join(p.got(), ","); got != "LAB-001,LAB-003" {
		t.Fatalf("delivered %s", got)
	}
	bad, _ := CompileFilter(`msg.get("bad path") == ""`)
	ch := *st.eng.channel("lab")
	ch.Filter = bad
	ch.Destinations = nil // its deliveries are done
	st.eng.Configure([]Channel{ch})
	ack := st.eng.Receive(context.Background(), Inbound{Channel: "lab", Peer: "x", Payload: []byte(labMessage(9))})
	if !strings.Contains(string(ack), "MSA|AE|LAB-009") || !strings.Contains(string(ack), "207") {
		t.Fatalf("ack %q", ack)
	}
	ms, _, _ = st.store.Messages(context.Background(), concord.MessageFilter{ControlID: "LAB-009"})
	if len(ms) != 1 || ms[0].Status != concord.MessageErrored || !strings.Contains(ms[0].Error, "filter") {
		t.Fatalf("stored %+v", ms)
	}
}

// TestTransformer: destinations get the transformed message; the store
// keeps the message as received; a bad step keeps it as errored.
func TestTransformer(t *testing.T) {
	var mu sync.Mutex
	var got []string
	final := "C"
	tr, err := CompileTransformer([]Step{
		{Set: "PID-2", Value: `"EXT-" + msg.get("PID-3.1")`},
		{Copy: "OBR-2", To: "OBR-3"},
		{Clear: "PID-5"},
		{Map: "OBX-11", Table: map[string]string{"F": final}},
		{AddSegment: "NTE|1||transformed by Concord"},
	})
	if err != nil {
		t.Fatal(err)
	}
	// A destination that records the bytes it is given.
	rec := senderFunc(func(ctx context.Context, m *concord.Message) Result {
		mu.Lock()
		got = append(got, string(m.Raw))
		mu.Unlock()
		return Result{Code: "AA"}
	})
	st := newTransformingEngine(t, tr, fastRetry("rec", rec))
	receive(t, st.eng, 4)
	waitFor(t, "delivery", func() bool { return counts(t, st.store, "rec")[concord.DeliverySent] == 1 })
	out, err := hl7v2.Parse([]byte(got[0]))
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{"PID-2": "EXT-MRN-4", "OBR-3": "O-4", "PID-5": "", "OBX-11": "C", "NTE-3": "transformed by Concord", "PID-3.1": "MRN-4"} {
		if v := out.Get(path); v != want {
			t.Errorf("%s = %q, want %q", path, v, want)
		}
	}
	ms, _, _ := st.store.Messages(context.Background(), concord.MessageFilter{ControlID: "LAB-004"})
	stored, _ := st.store.Message(context.Background(), ms[0].ID)
	if string(stored.Raw) != labMessage(4) {
		t.Fatalf("stored message changed: %q", stored.Raw)
	}
	for _, bad := range [][]Step{
		{{Set: "PID-2", Value: `1 + 1`}},
		{{Set: "bad", Value: `"x"`}},
		{{Map: "PID-8"}},
		{{Clear: "PID-5", Copy: "PID-3"}},
		{{DeleteSegments: "MSH"}},
		{{AddSegment: "NTE|1\rMSH|x"}},
	} {
		if _, err := CompileTransformer(bad); err == nil {
			t.Errorf("%+v compiled", bad)
		}
	}
}

// senderFunc adapts a function to Sender.
type senderFunc func(ctx context.Context, m *concord.Message) Result

func (f senderFunc) Deliver(ctx context.Context, m *concord.Message) Result { return f(ctx, m) }
func (f senderFunc) Close() error                                           { return nil }

func newTransformingEngine(t *testing.T, tr *Transformer, dests ...Destination) filteredEngine {
	eng, st := runEngineWith(t, Channel{Name: "lab", Transformer: tr, Destinations: dests})
	return filteredEngine{eng, st}
}
