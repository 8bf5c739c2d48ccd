package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concord-health/concord"
)

// concurrentSender is a test destination that records, for every
// delivery, when it started and ended relative to the others, and can
// hold every delivery until released or fail chosen first attempts.
type concurrentSender struct {
	gate chan struct{} // deliveries wait until it is closed
	mu   sync.Mutex
	// running holds the control IDs being delivered; events lists
	// "+ID" and "-ID" as deliveries start and end.
	running  map[string]bool
	events   []string
	max      int
	overlaps []string // problems seen as deliveries started
	failOnce map[string]bool
	tried    map[string]bool
}

func (s *concurrentSender) Deliver(ctx context.Context, m *concord.Message) Result {
	id := m.ControlID
	s.mu.Lock()
	for other := range s.running {
		if other[:2] == id[:2] && other[:1] == "P" { // same patient
			s.overlaps = append(s.overlaps, id+" started while "+other+" ran (same patient)")
		}
		if strings.HasPrefix(other, "X") || strings.HasPrefix(id, "X") {
			s.overlaps = append(s.overlaps, id+" started while "+other+" ran (one must run alone)")
		}
	}
	s.running[id] = true
	s.events = append(s.events, "+"+id)
	s.max = max(s.max, len(s.running))
	fail := s.failOnce[id] && !s.tried[id]
	s.tried[id] = true
	s.mu.Unlock()
	select {
	case <-s.gate:
	case <-ctx.Done():
	}
	time.Sleep(5 * time.Millisecond) // long enough for others to start beside it
	s.mu.Lock()
	delete(s.running, id)
	s.events = append(s.events, "-"+id)
	s.mu.Unlock()
	if fail {
		return Result{Err: errors.New("store unavailable (test)")}
	}
	return Result{Code: "AA", Ack: "stored"}
}

func (s *concurrentSender) Close() error { return nil }

func (s *concurrentSender) snapshot() (events []string, most int, overlaps []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events), s.max, slices.Clone(s.overlaps)
}

// patientMessage is a synthetic ORU^R01 for patient mrn with control ID
// id; merge turns it into an ADT^A40 with an MRG segment, which must be
// delivered alone.
func patientMessage(id, mrn string, merge bool) string {
	if merge {
		return "MSH|^~\\&|REG|North|EHR|Ward|20260102030405||ADT^A40^ADT_A39|" + id + "|P|2.5.1\r" +
			"EVN|A40|20260102030405\rPID|1||" + mrn + "^^^North^MR||Synthetic^Pat\rMRG|" + mrn + "-OLD^^^North^MR\r"
	}
	return "MSH|^~\\&|LAB|North|EHR|Ward|20260102030405||ORU^R01^ORU_R01|" + id + "|P|2.5.1\r" +
		"PID|1||" + mrn + "^^^North^MR||Synthetic^Pat\rOBR|1|O-" + id + "||24331-1^Lipid panel^LN\r" +
		"OBX|1|NM|2093-3^Cholesterol^LN||182|mg/dL|||||F\r"
}

func waitDelivered(t *testing.T, st concord.Store, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		counts, err := st.DeliveryCounts(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if counts["lab"]["fhir"][concord.DeliverySent] == int64(n) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries %v, want %d sent", counts["lab"]["fhir"], n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestParallelDestinationKeepsPatientOrder: a destination with Parallel
// delivers several messages at once, never two of one patient at once and
// each patient's in the order received; a merge (MRG) goes alone, after
// everything received before it and before everything after it.
func TestParallelDestinationKeepsPatientOrder(t *testing.T) {
	s := &concurrentSender{gate: make(chan struct{}), running: map[string]bool{}, failOnce: map[string]bool{}, tried: map[string]bool{}}
	eng, st := runEngine(t, Destination{Name: "fhir", Sender: s, Parallel: 4, Timeout: 10 * time.Second,
		RetryInitial: 10 * time.Millisecond, RetryMax: 10 * time.Millisecond, OnAE: "dead", OnAR: "dead"})
	// Control IDs: P<patient><n> for patient messages, X<n> for merges.
	var sent []string
	send := func(id, mrn string, merge bool) {
		t.Helper()
		ack := eng.Receive(context.Background(), Inbound{Channel: "lab", Peer: "10.1.1.1", Payload: []byte(patientMessage(id, mrn, merge))})
		if !strings.Contains(string(ack), "MSA|AA|"+id) {
			t.Fatalf("%s: %q", id, ack)
		}
		sent = append(sent, id)
	}
	for round := 1; round <= 3; round++ {
		for _, p := range []string{"1", "2", "3", "4", "5"} {
			send(fmt.Sprintf("P%s%d", p, round), "MRN-"+p, false)
		}
	}
	send("X1", "MRN-1", true)
	for _, p := range []string{"1", "2", "3"} {
		send("P"+p+"4", "MRN-"+p, false)
	}
	close(s.gate)
	waitDelivered(t, st, len(sent))
	events, most, overlaps := s.snapshot()
	if len(overlaps) > 0 {
		t.Errorf("order broken:\n%s", strings.Join(overlaps, "\n"))
	}
	if most < 2 || most > 4 {
		t.Errorf("at most %d deliveries ran at once, want 2 to 4 (Parallel 4)", most)
	}
	// Each patient's messages started in the order received.
	started := map[string][]string{}
	for _, e := range events {
		if e[0] == '+' && e[1] == 'P' {
			started[e[2:3]] = append(started[e[2:3]], e[1:])
		}
	}
	for p, got := range started {
		if !slices.IsSorted(got) {
			t.Errorf("patient %s delivered in the order %v", p, got)
		}
	}
	// The merge started after every earlier message ended, and everything
	// after it started after it ended.
	at := func(e string) int { return slices.Index(events, e) }
	for _, id := range sent {
		switch {
		case id == "X1":
		case id[2] < '4' && at("-"+id) > at("+X1"):
			t.Errorf("%s ended after the merge started: %v", id, events)
		case id[2] == '4' && at("+"+id) < at("-X1"):
			t.Errorf("%s started before the merge ended: %v", id, events)
		}
	}
}

// TestParallelDestinationRetryHoldsOnlyItsPatient: a delivery waiting for
// its retry holds back its patient's later messages, not the others'.
func TestParallelDestinationRetryHoldsOnlyItsPatient(t *testing.T) {
	s := &concurrentSender{gate: make(chan struct{}), running: map[string]bool{}, tried: map[string]bool{},
		failOnce: map[string]bool{"P11": true}}
	close(s.gate)
	eng, st := runEngine(t, Destination{Name: "fhir", Sender: s, Parallel: 4, Timeout: 10 * time.Second,
		RetryInitial: 300 * time.Millisecond, RetryMax: 300 * time.Millisecond, OnAE: "dead", OnAR: "dead"})
	for _, c := range []struct{ id, mrn string }{{"P11", "MRN-1"}, {"P12", "MRN-1"}, {"P21", "MRN-2"}, {"P22", "MRN-2"}} {
		ack := eng.Receive(context.Background(), Inbound{Channel: "lab", Peer: "10.1.1.1", Payload: []byte(patientMessage(c.id, c.mrn, false))})
		if !strings.Contains(string(ack), "MSA|AA|") {
			t.Fatalf("%s: %q", c.id, ack)
		}
	}
	waitDelivered(t, st, 4)
	events, _, overlaps := s.snapshot()
	if len(overlaps) > 0 {
		t.Errorf("order broken: %v", overlaps)
	}
	var starts []string
	for _, e := range events {
		if e[0] == '+' {
			starts = append(starts, e[1:])
		}
	}
	// P11 is tried twice; P12 only after P11's second try; patient 2's
	// messages do not wait for P11's retry.
	if n := strings.Count(strings.Join(starts, " "), "P11"); n != 2 {
		t.Fatalf("P11 tried %d times, want 2: %v", n, starts)
	}
	second := slices.Index(starts[slices.Index(starts, "P11")+1:], "P11") + slices.Index(starts, "P11") + 1
	if p12 := slices.Index(starts, "P12"); p12 < second {
		t.Errorf("P12 started before P11 was delivered: %v", starts)
	}
	if p22 := slices.Index(starts, "P22"); p22 > second {
		t.Errorf("patient 2 waited for patient 1's retry: %v", starts)
	}
}

func TestOrderKey(t *testing.T) {
	for _, c := range []struct {
		name, raw, patient string
		want               string
		ordered            bool
	}{
		{"one patient", patientMessage("C1", "MRN-1", false), "MRN-1", "MRN-1", true},
		{"merge", patientMessage("C2", "MRN-1", true), "MRN-1", "", false},
		{"no patient", "MSH|^~\\&|A|B|C|D|20260102||MFN^M02|C3|P|2.5\rMFI|PRA\r", "", "", false},
		{"two patients", "MSH|^~\\&|A|B|C|D|20260102||ADT^A24|C4|P|2.5\nPID|1||M1\nPID|1||M2\n", "M1", "", false},
		{"other separator", "MSH#^~\\&#A#B#C#D#20260102##ADT^A01#C5#P#2.5\rPID#1##M1\rPID#1##M2\r", "M1", "", false},
		{"byte-order mark", "\ufeffMSH|^~\\&|A|B|C|D|20260102||ADT^A01|C6|P|2.5\r\nPID|1||M1\r\n", "M1", "M1", true},
	} {
		got, ordered := orderKey(&concord.Message{PatientID: c.patient}, []byte(c.raw))
		if got != c.want || ordered != c.ordered {
			t.Errorf("%s: %q %v, want %q %v", c.name, got, ordered, c.want, c.ordered)
		}
	}
}
