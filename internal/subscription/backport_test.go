package subscription

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/concord-health/concord"
)

// backportSubscription is a topic-based Subscription (R5 Backport STU 1.1)
// on the built-in Observation topic with one filter.
func backportSubscription(endpoint, filter, content string) string {
	s := map[string]any{"resourceType": "Subscription", "status": "requested", "reason": "synthetic test",
		"meta":     map[string]any{"profile": []string{"http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription"}},
		"criteria": TopicBase + "Observation",
		"_criteria": map[string]any{"extension": []any{map[string]any{
			"url": extFilterCriteria, "valueString": filter}}},
		"channel": map[string]any{"type": "rest-hook", "endpoint": endpoint, "payload": "application/fhir+json",
			"_payload": map[string]any{"extension": []any{map[string]any{"url": extPayloadContent, "valueCode": content}}}},
	}
	b, _ := json.Marshal(s)
	return string(b)
}

// statusParams is the subscription-status Parameters of a Bundle's first
// entry, by parameter name (notification-event parts flattened in order).
type notification struct {
	Type  string `json:"type"`
	Entry []struct {
		FullURL  string          `json:"fullUrl"`
		Resource json.RawMessage `json:"resource"`
		Request  struct{ Method, URL string }
	} `json:"entry"`
}

func (n notification) params(t *testing.T) (map[string]string, []map[string]string) {
	t.Helper()
	var p struct {
		ResourceType string `json:"resourceType"`
		Parameter    []struct {
			Name           string
			ValueCode      string
			ValueString    string
			ValueCanonical string
			ValueInteger   *int64
			ValueReference *struct{ Reference string }
			Part           []struct {
				Name           string
				ValueString    string
				ValueReference *struct{ Reference string }
			}
		} `json:"parameter"`
	}
	if len(n.Entry) == 0 || json.Unmarshal(n.Entry[0].Resource, &p) != nil || p.ResourceType != "Parameters" {
		t.Fatalf("the first entry is not Parameters")
	}
	out := map[string]string{}
	var events []map[string]string
	for _, x := range p.Parameter {
		switch {
		case x.Name == "notification-event":
			e := map[string]string{}
			for _, part := range x.Part {
				e[part.Name] = part.ValueString
				if part.ValueReference != nil {
					e[part.Name] = part.ValueReference.Reference
				}
			}
			events = append(events, e)
		case x.ValueReference != nil:
			out[x.Name] = x.ValueReference.Reference
		case x.ValueInteger != nil:
			out[x.Name] = jsonInt(*x.ValueInteger)
		default:
			out[x.Name] = x.ValueCode + x.ValueString + x.ValueCanonical
		}
	}
	return out, events
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestBackport: a topic-based subscription gets history Bundles whose
// first entry is the subscription status (event-notification, event
// number, focus) and then the resource; $status and $events answer for
// it, and $events lets a client catch up on an R4 subscription's events
// by number.
func TestBackport(t *testing.T) {
	n := startNode(t, openStore(t, "sqlite"), Options{})
	rcv := newReceiver(t)
	code, body := n.do("POST", "/fhir/Subscription", n.admin, backportSubscription(rcv.URL+"/notify", "Observation?code=http://loinc.org|1234-5", "full-resource"))
	var created struct{ ID, Status string }
	if json.Unmarshal(body, &created); code != 201 || created.Status != "requested" {
		t.Fatalf("POST a topic-based Subscription: %d %s; want 201, requested until the handshake", code, body)
	}
	id := created.ID
	// The handshake, then the subscription is active.
	hs := rcv.next(t)
	var hb notification
	if err := json.Unmarshal(hs.body, &hb); err != nil || hb.Type != "history" || len(hb.Entry) != 1 {
		t.Fatalf("handshake Bundle: %v %s", err, hs.body)
	}
	if ps, events := hb.params(t); ps["type"] != "handshake" || ps["status"] != "requested" || len(events) != 0 ||
		ps["events-since-subscription-start"] != "0" {
		t.Fatalf("handshake parameters %v %v", ps, events)
	}
	eventually(t, "the subscription active after its handshake", func() bool { return n.read("Subscription/" + id)["status"] == "active" })
	n.create(n.admin, "Observation", observation("9999-9"))
	obs := n.create(n.admin, "Observation", observation("1234-5"))
	h := rcv.next(t)
	if h.method != "POST" || h.path != "/notify" || h.contentType != "application/fhir+json" {
		t.Fatalf("notification = %s %s %s", h.method, h.path, h.contentType)
	}
	var b notification
	if err := json.Unmarshal(h.body, &b); err != nil || b.Type != "history" || len(b.Entry) != 2 {
		t.Fatalf("notification Bundle: %v %s", err, h.body)
	}
	ps, events := b.params(t)
	if ps["subscription"] != "Subscription/"+id || ps["topic"] != TopicBase+"Observation" || ps["status"] != "active" ||
		ps["type"] != "event-notification" || ps["events-since-subscription-start"] != "1" ||
		len(events) != 1 || events[0]["event-number"] != "1" || events[0]["focus"] != "Observation/"+obs {
		t.Fatalf("status parameters %v, events %v", ps, events)
	}
	if !strings.Contains(string(b.Entry[1].Resource), `"id":"`+obs+`"`) || b.Entry[1].Request.Method != "POST" {
		t.Fatalf("focus entry = %s %+v", b.Entry[1].Resource, b.Entry[1].Request)
	}

	// $status (once the delivery is recorded: the endpoint answers first).
	eventually(t, "$status with the event delivered", func() bool {
		code, body = n.do("GET", "/fhir/Subscription/"+id+"/$status", n.admin, "")
		var st notification
		if code != 200 || json.Unmarshal(body, &st) != nil || st.Type != "searchset" {
			t.Fatalf("$status: %d %s", code, body)
		}
		ps, _ = st.params(t)
		if ps["type"] != "query-status" || ps["events-since-subscription-start"] != "1" ||
			ps["subscription"] != n.url+"/fhir/Subscription/"+id {
			t.Fatalf("$status parameters %v", ps)
		}
		return ps["concord-events-delivered"] == "1"
	})

	// An R4 subscription whose endpoint is down: its events can be read
	// by number.
	rcv.down.Store(true)
	r4 := n.create(n.admin, "Subscription", subscription("Observation?code=http://loinc.org|1234-5", rcv.URL, ""))
	var want []string
	for i := 0; i < 3; i++ {
		want = append(want, n.create(n.admin, "Observation", observation("1234-5")))
	}
	eventually(t, "three events queued", func() bool {
		s, err := n.store.Subscription(t.Context(), r4)
		return err == nil && s.Events == 3
	})
	code, body = n.do("GET", "/fhir/Subscription/"+r4+"/$events?eventsSinceNumber=2&eventsUntilNumber=3", n.admin, "")
	var evb notification
	if code != 200 || json.Unmarshal(body, &evb) != nil || evb.Type != "history" {
		t.Fatalf("$events: %d %s", code, body)
	}
	ps, events = evb.params(t)
	if ps["type"] != "query-event" || len(events) != 2 || events[0]["event-number"] != "2" ||
		events[0]["focus"] != n.url+"/fhir/Observation/"+want[1] || events[1]["focus"] != n.url+"/fhir/Observation/"+want[2] ||
		len(evb.Entry) != 3 || evb.Entry[1].FullURL != n.url+"/fhir/Observation/"+want[1] || len(evb.Entry[1].Resource) != 0 {
		t.Fatalf("$events: %v %v, %d entries", ps, events, len(evb.Entry))
	}
	code, body = n.do("GET", "/fhir/Subscription/"+r4+"/$events?content=full-resource", n.admin, "")
	if json.Unmarshal(body, &evb) != nil || len(evb.Entry) != 4 || !strings.Contains(string(evb.Entry[3].Resource), want[2]) {
		t.Fatalf("$events full-resource: %d %s", code, body)
	}
	if code, _ := n.do("GET", "/fhir/Subscription/"+r4+"/$events?eventsSinceNumber=0", n.admin, ""); code != 400 {
		t.Fatalf("$events from 0: %d, want 400", code)
	}
	reader := n.token(concord.TokenRequest{Role: concord.RoleClinician, Scopes: []string{"user/Subscription.rs"}})
	if code, _ := n.do("GET", "/fhir/Subscription/"+r4+"/$events", reader, ""); code != http.StatusForbidden {
		t.Fatalf("$events by a caller who may not read Observations: %d, want 403", code)
	}

	// Refused topic-based subscriptions.
	for _, tc := range []struct {
		body string
		code int
	}{
		{strings.Replace(backportSubscription(rcv.URL, "code=1", "id-only"), TopicBase+"Observation", TopicBase+"Starship", 1), 400},
		{strings.Replace(backportSubscription(rcv.URL, "code=1", "id-only"), TopicBase, "http://elsewhere.example/topic/", 1), 400},
		{backportSubscription(rcv.URL, "Patient?name=x", "id-only"), 400},
		{backportSubscription(rcv.URL, "code=1", "everything"), 400},
		{strings.Replace(backportSubscription(rcv.URL, "code=1", "id-only"), `"type":"rest-hook"`, `"type":"websocket"`, 1), 501},
	} {
		if code, b := n.do("POST", "/fhir/Subscription", n.admin, tc.body); code != tc.code {
			t.Errorf("POST %s: %d %s, want %d", tc.body, code, b, tc.code)
		}
	}
}

// TestBackportHeartbeatAndFailedHandshake: a topic-based subscription
// with a heartbeat period gets heartbeats while nothing happens; one
// whose endpoint refuses the handshake is set to error.
func TestBackportHeartbeatAndFailedHandshake(t *testing.T) {
	n := startNode(t, openStore(t, "sqlite"), Options{})
	rcv := newReceiver(t)
	var m map[string]any
	json.Unmarshal([]byte(backportSubscription(rcv.URL, "code=1", "id-only")), &m)
	m["channel"].(map[string]any)["extension"] = []any{map[string]any{"url": extHeartbeat, "valueUnsignedInt": 1}}
	b, _ := json.Marshal(m)
	n.create(n.admin, "Subscription", string(b))
	for _, want := range []string{"handshake", "heartbeat", "heartbeat"} {
		var nb notification
		json.Unmarshal(rcv.next(t).body, &nb)
		if ps, _ := nb.params(t); ps["type"] != want {
			t.Fatalf("notification type %q, want %s", ps["type"], want)
		}
	}
	down := newReceiver(t)
	down.down.Store(true)
	id := n.create(n.admin, "Subscription", backportSubscription(down.URL, "code=1", "id-only"))
	eventually(t, "the subscription in error after a refused handshake", func() bool {
		s := n.read("Subscription/" + id)
		return s["status"] == "error" && strings.Contains(s["error"].(string), "handshake")
	})
}
