package engine

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/hl7v2"
)

// labAnswer sends lab message i to the "lab" channel and returns the
// parsed acknowledgment.
func labAnswer(t *testing.T, eng *Engine, i int) *hl7v2.Message {
	t.Helper()
	ack := eng.Receive(context.Background(), Inbound{Channel: "lab", Peer: "10.1.1.1", Payload: []byte(labMessage(i))})
	m, err := hl7v2.Parse(ack)
	if err != nil {
		t.Fatalf("acknowledgment %q: %v", ack, err)
	}
	return m
}

// TestRespondAfterDestinations: a channel set to answer after its
// destinations says AA only once every destination took the message, AE
// with the reason when one refused it for good, and AE naming the late
// destination when the wait ran out; the message is stored either way.
func TestRespondAfterDestinations(t *testing.T) {
	p := &partner{code: func(id string) string {
		if id == "LAB-002" {
			return "AR"
		}
		return "AA"
	}}
	p.start(t)
	defer p.shutdown()
	ch := Channel{Name: "lab", RespondAfterDestinations: true, RespondTimeout: 5 * time.Second,
		Destinations: []Destination{fastRetry("lis", NewMLLPSender(p.addr, time.Second))}}
	eng, st := runEngineWith(t, ch)

	if a := labAnswer(t, eng, 1); a.Get("MSA-1") != "AA" {
		t.Fatalf("delivered message answered %q: %s", a.Get("MSA-1"), a.Bytes())
	}
	if got := p.got(); len(got) != 1 || got[0] != "LAB-001" {
		t.Fatalf("partner got %v before the answer", got)
	}
	a := labAnswer(t, eng, 2)
	if a.Get("MSA-1") != "AE" || a.Get("ERR-3.1") != "207" || !strings.Contains(a.Get("ERR-8"), "destination lis did not take") ||
		!strings.Contains(a.Get("ERR-8"), "partner answered AR") {
		t.Fatalf("refused message answered %s", a.Bytes())
	}
	msgs, _, err := st.Messages(context.Background(), concord.MessageFilter{ControlID: "LAB-002"})
	if err != nil || len(msgs) != 1 || msgs[0].Status != concord.MessageReceived {
		t.Fatalf("refused message not kept as received: %v %v", msgs, err)
	}

	// A destination that is down: the answer comes at the timeout and
	// says the message stays queued.
	p.shutdown()
	eng2, _ := runEngineWith(t, Channel{Name: "lab", RespondAfterDestinations: true, RespondTimeout: time.Second,
		Destinations: []Destination{fastRetry("lis", NewMLLPSender(p.addr, 100*time.Millisecond))}})
	a = labAnswer(t, eng2, 3)
	if a.Get("MSA-1") != "AE" || !strings.Contains(a.Get("ERR-8"), "has not taken the message") ||
		!strings.Contains(a.Get("ERR-8"), "stays queued") {
		t.Fatalf("late destination answered %s", a.Bytes())
	}
	// The sender tries again after the partner is back: the repeat is a
	// duplicate (not delivered twice) and its answer waits for the first
	// message's delivery.
	p.start(t)
	a = labAnswer(t, eng2, 3)
	if a.Get("MSA-1") != "AA" {
		t.Fatalf("repeat after recovery answered %s", a.Bytes())
	}
	time.Sleep(200 * time.Millisecond)
	if got := p.got(); strings.Count(strings.Join(got, ","), "LAB-003") != 1 {
		t.Fatalf("partner got %v: want LAB-003 exactly once", got)
	}
	// Answers that timed out leave nothing behind.
	if n := eng2.progress.pending(); n != 0 {
		t.Fatalf("%d messages still have waiters", n)
	}
}

// TestRespondAfterDestinationsFiltered: a message the filter drops has
// no destinations to wait for and is answered at once.
func TestRespondAfterDestinationsFiltered(t *testing.T) {
	f, err := CompileFilter(`msg.get("MSH-3") == "NOBODY"`)
	if err != nil {
		t.Fatal(err)
	}
	blocked := make(chan struct{})
	defer close(blocked)
	eng, _ := runEngineWith(t, Channel{Name: "lab", Filter: f, RespondAfterDestinations: true, RespondTimeout: time.Minute,
		Destinations: []Destination{fastRetry("never", senderFunc(func(ctx context.Context, m *concord.Message) Result {
			<-blocked
			return Result{Code: "AA"}
		}))}})
	start := time.Now()
	if a := labAnswer(t, eng, 1); a.Get("MSA-1") != "AA" {
		t.Fatalf("filtered message answered %s", a.Bytes())
	}
	if time.Since(start) > 30*time.Second {
		t.Fatal("a filtered message waited for destinations")
	}
}

// TestChannelDestination: a destination that is another channel feeds
// it as if it had received the message: stored there once (a redelivery
// is a duplicate), filtered and delivered by its own destinations, and
// the first channel's delivery records the second's answer.
func TestChannelDestination(t *testing.T) {
	p := &partner{}
	p.start(t)
	defer p.shutdown()
	var mu sync.Mutex
	calls := 0
	archive := senderFunc(func(ctx context.Context, m *concord.Message) Result {
		mu.Lock()
		defer mu.Unlock()
		calls++
		return Result{Code: "AA"}
	})
	lab := Channel{Name: "lab", Destinations: []Destination{
		{Name: "to-archive", Channel: "archive", RetryInitial: 20 * time.Millisecond, RetryMax: 50 * time.Millisecond,
			Timeout: 5 * time.Second, OnAE: "retry", OnAR: "dead"}}}
	arch := Channel{Name: "archive", Destinations: []Destination{fastRetry("store", archive),
		fastRetry("lis", NewMLLPSender(p.addr, time.Second))}}
	eng, st := runEngineWith(t, lab, arch)
	for i := 1; i <= 5; i++ {
		receive(t, eng, i)
	}
	waitFor(t, "five deliveries to the partner through the second channel", func() bool { return len(p.got()) == 5 })
	ctx := context.Background()
	msgs, total, err := st.Messages(ctx, concord.MessageFilter{Channel: "archive"})
	if err != nil || total != 5 {
		t.Fatalf("archive channel holds %d messages (%v)", total, err)
	}
	if msgs[0].Peer != "lab" {
		t.Fatalf("archive message peer %q, want the channel it came from", msgs[0].Peer)
	}
	waitFor(t, "lab deliveries recorded", func() bool { return counts(t, st, "to-archive")[concord.DeliverySent] == 5 })
	ds, err := st.Deliveries(ctx, msgs[0].ID) // the archive message's own deliveries
	if err != nil || len(ds) != 2 {
		t.Fatalf("archive message deliveries %v %v", ds, err)
	}

	// A redelivery (as after a crash between sending and recording) is
	// answered as a duplicate and not delivered again.
	s := eng.channel("lab").Destinations[0].Sender
	labMsgs, _, _ := st.Messages(ctx, concord.MessageFilter{Channel: "lab", ControlID: "LAB-001"})
	first, err := st.Message(ctx, labMsgs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if r := s.Deliver(ctx, first); r.Code != "AA" || r.Err != nil {
		t.Fatalf("redelivery: %+v", r)
	}
	_, total, _ = st.Messages(ctx, concord.MessageFilter{Channel: "archive", Status: concord.MessageDuplicate})
	if total != 1 {
		t.Fatalf("redelivery stored %d duplicates, want 1", total)
	}
	time.Sleep(200 * time.Millisecond)
	if len(p.got()) != 5 {
		t.Fatalf("partner got %d messages after a redelivery, want 5", len(p.got()))
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 5 {
		t.Fatalf("archive destination called %d times, want 5", calls)
	}
}
