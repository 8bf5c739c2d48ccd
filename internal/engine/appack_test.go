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

// payloads is a Sender that keeps what it was given to send.
type payloads struct {
	mu  sync.Mutex
	got []*hl7v2.Message
}

func (p *payloads) Deliver(ctx context.Context, m *concord.Message) Result {
	msg, err := hl7v2.Parse(m.Raw)
	if err != nil {
		return Result{Err: err}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got = append(p.got, msg)
	return Result{Code: "AA"}
}

func (p *payloads) Close() error { return nil }

func (p *payloads) acks() map[string]*hl7v2.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]*hl7v2.Message{}
	for _, m := range p.got {
		out[m.Get("MSA-2")] = m
	}
	return out
}

// enhanced gives lab message i the acknowledgment modes accept/app.
func enhanced(i int, accept, app string) string {
	return strings.Replace(labMessage(i), "|P|2.5.1\r", "|P|2.5.1|||"+accept+"|"+app+"\r", 1)
}

// TestApplicationAck: an enhanced-mode sender gets CA at commit and its
// application acknowledgment later, through the channel's queue: AA once
// every destination took the message, AE naming the one that refused it;
// MSH-16 ER and SU are honoured; original mode gets none.
func TestApplicationAck(t *testing.T) {
	back := &payloads{}
	lis := senderFunc(func(ctx context.Context, m *concord.Message) Result {
		if m.ControlID == "LAB-002" {
			return Result{Code: "AR", Ack: "refused by the synthetic LIS"}
		}
		return Result{Code: "AA"}
	})
	appAck := fastRetry("application-ack", back)
	eng, _ := runEngineWith(t,
		Channel{Name: "lab", RespondAfterDestinations: true, Destinations: []Destination{fastRetry("lis", lis)}, AppAck: &appAck},
		Channel{Name: "adt", AppAck: &appAck})
	send := func(channel, payload string) *hl7v2.Message {
		t.Helper()
		ack := eng.Receive(context.Background(), Inbound{Channel: channel, Peer: "10.1.1.1", Payload: []byte(payload)})
		if ack == nil {
			return nil
		}
		m, err := hl7v2.Parse(ack)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	start := time.Now()
	if a := send("lab", enhanced(1, "AL", "AL")); a.Get("MSA-1") != "CA" {
		t.Fatalf("accept acknowledgment %s", a.Bytes())
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("the accept acknowledgment waited for the destinations")
	}
	send("lab", enhanced(2, "AL", "AL"))
	send("lab", enhanced(3, "AL", "ER")) // success: no application acknowledgment
	send("lab", enhanced(4, "AL", "SU"))
	send("lab", labMessage(5)) // original mode: the ACK on the connection is all
	if a := send("adt", enhanced(6, "AL", "AL")); a.Get("MSA-1") != "CA" {
		t.Fatalf("accept acknowledgment %s", a.Bytes())
	}
	waitFor(t, "four application acknowledgments", func() bool { return len(back.acks()) == 4 })
	time.Sleep(100 * time.Millisecond)
	got := back.acks()
	if len(got) != 4 {
		t.Fatalf("%d application acknowledgments, want 4", len(got))
	}
	for id, want := range map[string]string{"LAB-001": "AA", "LAB-002": "AE", "LAB-004": "AA", "LAB-006": "AA"} {
		a := got[id]
		if a == nil || a.Get("MSA-1") != want || a.Get("MSH-15") != "AL" || a.Get("MSH-16") != "NE" ||
			a.Get("MSH-9.1") != "ACK" || a.Get("MSH-5") != "LAB" {
			t.Fatalf("application acknowledgment of %s: %v", id, a)
		}
	}
	if e := got["LAB-002"].Get("ERR-8"); !strings.Contains(e, "destination lis did not take") || !strings.Contains(e, "AR") {
		t.Fatalf("AE application acknowledgment text %q", e)
	}
}

// TestSplit: a transformer ending in split delivers one message per OBR
// group, in order, each with the header segments and its own results;
// the stored message stays whole.
func TestSplit(t *testing.T) {
	tr, err := CompileTransformer([]Step{{Set: "MSH-5", Value: `"LIS"`}, {Split: "OBR"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CompileTransformer([]Step{{Split: "OBR"}, {Clear: "PID-19"}}); err == nil || !strings.Contains(err.Error(), "last step") {
		t.Fatalf("split before another step: %v", err)
	}
	got := &payloads{}
	eng, st := runEngineWith(t, Channel{Name: "lab", Transformer: tr, Destinations: []Destination{fastRetry("lis", got)}})
	oru := "MSH|^~\\&|LAB|North|EHR|Ward|20260102030405||ORU^R01^ORU_R01|MULTI|P|2.5.1\r" +
		"PID|1||MRN-9^^^North^MR||Synthetic^Pat\rPV1|1|O\r" +
		"OBR|1|O-1||24331-1^Lipid panel^LN\rOBX|1|NM|2093-3^Cholesterol^LN||182|mg/dL|||||F\rOBX|2|NM|2571-8^Triglyceride^LN||90|mg/dL|||||F\r" +
		"OBR|2|O-2||718-7^Hemoglobin^LN\rOBX|1|NM|718-7^Hemoglobin^LN||13.5|g/dL|||||F\rNTE|1||synthetic\r" +
		"OBR|3|O-3||2345-7^Glucose^LN\rOBX|1|NM|2345-7^Glucose^LN||95|mg/dL|||||F\r"
	ack := eng.Receive(context.Background(), Inbound{Channel: "lab", Peer: "x", Payload: []byte(oru)})
	if !strings.Contains(string(ack), "MSA|AA|MULTI") {
		t.Fatalf("ack %q", ack)
	}
	waitFor(t, "three parts", func() bool { got.mu.Lock(); defer got.mu.Unlock(); return len(got.got) == 3 })
	got.mu.Lock()
	defer got.mu.Unlock()
	for k, want := range []struct{ obr, segs string }{{"O-1", "MSH,PID,PV1,OBR,OBX,OBX"}, {"O-2", "MSH,PID,PV1,OBR,OBX,NTE"}, {"O-3", "MSH,PID,PV1,OBR,OBX"}} {
		m := got.got[k]
		var segs []string
		for j := 0; j < m.Len(); j++ {
			segs = append(segs, m.Segment(j).Name())
		}
		if m.Get("OBR-2") != want.obr || strings.Join(segs, ",") != want.segs || m.ControlID() != "MULTI-"+string(rune('1'+k)) ||
			m.Get("MSH-5") != "LIS" || m.Get("PID-3.1") != "MRN-9" {
			t.Fatalf("part %d: %s %v %s", k+1, m.Get("OBR-2"), segs, m.ControlID())
		}
	}
	ms, _, _ := st.Messages(context.Background(), concord.MessageFilter{ControlID: "MULTI"})
	if stored, _ := st.Message(context.Background(), ms[0].ID); string(stored.Raw) != oru {
		t.Fatal("the stored message is not the message as received")
	}
}
