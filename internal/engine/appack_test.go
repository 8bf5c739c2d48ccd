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
