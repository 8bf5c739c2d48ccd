package subscription

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/concord-health/concord"
)

// The topics and resources of these tests are synthetic.

const (
	xv50 = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic."
	xv43 = "http://hl7.org/fhir/4.3/StructureDefinition/extension-SubscriptionTopic."
)

// topicBasic is a SubscriptionTopic as an R4 Basic resource, in the
// form of the Backport IG's R4 example: the topic's own elements with
// the 5.0 prefix, status as a modifier extension, the backbone elements
// with the 4.3 prefix. triggers and filters are the extensions of each
// resourceTrigger and the filterParameter of each canFilterBy (on
// Encounter).
func topicBasic(url, version, status string, triggers [][]any, filters ...string) string {
	ext := []any{
		map[string]any{"url": xv50 + "url", "valueUri": url},
		map[string]any{"url": xv50 + "version", "valueString": version},
		map[string]any{"url": xv50 + "title", "valueString": "synthetic test topic"},
	}
	for _, tr := range triggers {
		ext = append(ext, map[string]any{"url": xv43 + "resourceTrigger", "extension": tr})
	}
	for _, f := range filters {
		ext = append(ext, map[string]any{"url": xv43 + "canFilterBy", "extension": []any{
			map[string]any{"url": "resource", "valueUri": "Encounter"},
			map[string]any{"url": "filterParameter", "valueString": f}}})
	}
	ext = append(ext, map[string]any{"url": xv43 + "notificationShape", "extension": []any{
		map[string]any{"url": "resource", "valueUri": "Encounter"},
		map[string]any{"url": "include", "valueString": "Encounter:patient"}}})
	b, _ := json.Marshal(map[string]any{"resourceType": "Basic", "extension": ext,
		"modifierExtension": []any{map[string]any{"url": xv50 + "status", "valueCode": status}},
		"code":              map[string]any{"coding": []any{map[string]any{"system": "http://hl7.org/fhir/fhir-types", "code": "SubscriptionTopic"}}}})
	return string(b)
}

// encounterTrigger is a resourceTrigger on Encounter with the given
// interactions, queryCriteria.current and fhirPathCriteria ("" for none).
func encounterTrigger(interactions []string, current, fhirPath string, more ...any) []any {
	tr := []any{map[string]any{"url": "resource", "valueUri": "http://hl7.org/fhir/StructureDefinition/Encounter"}}
	for _, i := range interactions {
		tr = append(tr, map[string]any{"url": "supportedInteraction", "valueCode": i})
	}
	if current != "" {
		tr = append(tr, map[string]any{"url": "queryCriteria", "extension": []any{
			map[string]any{"url": "current", "valueString": current},
			map[string]any{"url": "resultForCreate", "valueCode": "test-passes"}}})
	}
	if fhirPath != "" {
		tr = append(tr, map[string]any{"url": "fhirPathCriteria", "valueString": fhirPath})
	}
	return append(tr, more...)
}

// topicSubscription is a topic-based rest-hook Subscription (full
// resources) on topic with the given filters.
func topicSubscription(endpoint, topic string, filters ...string) string {
	var fx []any
	for _, f := range filters {
		fx = append(fx, map[string]any{"url": extFilterCriteria, "valueString": f})
	}
	s := map[string]any{"resourceType": "Subscription", "status": "requested", "reason": "synthetic test",
		"criteria": topic,
		"channel": map[string]any{"type": "rest-hook", "endpoint": endpoint, "payload": "application/fhir+json",
			"_payload": map[string]any{"extension": []any{map[string]any{"url": extPayloadContent, "valueCode": "full-resource"}}}},
	}
	if len(fx) > 0 {
		s["_criteria"] = map[string]any{"extension": fx}
	}
	b, _ := json.Marshal(s)
	return string(b)
}

// encounter is a synthetic Encounter of patient p with a status.
func encounter(id, patient, status string) string {
	idPart := ""
	if id != "" {
		idPart = `"id":"` + id + `",`
	}
	return `{"resourceType":"Encounter",` + idPart + `"status":"` + status + `","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},"subject":{"reference":"Patient/` + patient + `"}}`
}

// eventOf reads a notification: its status parameters' topic, the event
// numbers and the focus of each.
func eventOf(t *testing.T, h hit) (topic string, events []map[string]string, entries int) {
	t.Helper()
	var b notification
	if err := json.Unmarshal(h.body, &b); err != nil || b.Type != "history" {
		t.Fatalf("notification Bundle: %v %s", err, h.body)
	}
	ps, events := b.params(t)
	if ps["type"] != "event-notification" {
		t.Fatalf("notification type %q, want event-notification", ps["type"])
	}
	return ps["topic"], events, len(b.Entry)
}

// handshaken takes the handshake of a new topic-based subscription and
// waits until it is active.
func (n *node) handshaken(t *testing.T, rcv *receiver, id string) {
	t.Helper()
	var hb notification
	json.Unmarshal(rcv.next(t).body, &hb)
	if ps, _ := hb.params(t); ps["type"] != "handshake" {
		t.Fatalf("first notification %q, want the handshake", ps["type"])
	}
	eventually(t, "the subscription active", func() bool { return n.read("Subscription/" + id)["status"] == "active" })
}

// TestClientTopic: a topic defined by a client as an R4 Basic resource
// (Backport IG form) is listed in the CapabilityStatement, and a
// topic-based subscription on it is notified of exactly the versions its
// trigger lets through (update only, status=finished, the subscriber's
// subject filter on top), with event numbers and the Basic's url as the
// topic. A topic whose fhirPathCriteria compares %previous and %current
// notifies the change to finished once. Retiring the topic stops its
// subscriptions and refuses new ones.
func TestClientTopic(t *testing.T) {
	backends(t, func(t *testing.T, backend string) {
		n := startNode(t, openStore(t, backend), Options{})
		rcv := newReceiver(t)
		const url = "http://example.org/fhir/SubscriptionTopic/encounter-finished"
		topicID := n.create(n.admin, "Basic", topicBasic(url, "1", "active",
			[][]any{encounterTrigger([]string{"update"}, "status=finished", "")}, "subject"))

		_, meta := n.do("GET", "/fhir/metadata", "", "")
		for _, want := range []string{`"valueCanonical":"` + url + `|1"`, `"valueCanonical":"` + TopicBase + `Encounter"`} {
			if !strings.Contains(string(meta), want) {
				t.Fatalf("metadata does not list %s", want)
			}
		}

		sub := n.create(n.admin, "Subscription", topicSubscription(rcv.URL, url, "Encounter?subject=Patient/p1"))
		n.handshaken(t, rcv, sub)

		// Not notified: created finished (a create), planned, another
		// patient's finished.
		n.create(n.admin, "Encounter", encounter("", "p1", "finished"))
		enc := n.create(n.admin, "Encounter", encounter("", "p1", "planned"))
		other := n.create(n.admin, "Encounter", encounter("", "p2", "planned"))
		if code, b := n.do("PUT", "/fhir/Encounter/"+other, n.admin, encounter(other, "p2", "finished")); code != 200 {
			t.Fatalf("PUT: %d %s", code, b)
		}
		if code, b := n.do("PUT", "/fhir/Encounter/"+enc, n.admin, encounter(enc, "p1", "finished")); code != 200 {
			t.Fatalf("PUT: %d %s", code, b)
		}
		topic, events, entries := eventOf(t, rcv.next(t))
		if topic != url || len(events) != 1 || events[0]["event-number"] != "1" || events[0]["focus"] != "Encounter/"+enc || entries != 2 {
			t.Fatalf("notification: topic %s, events %v, %d entries; want event 1 on Encounter/%s", topic, events, entries, enc)
		}
		// The next one is numbered 2: nothing came in between.
		enc2 := n.create(n.admin, "Encounter", encounter("", "p1", "in-progress"))
		n.do("PUT", "/fhir/Encounter/"+enc2, n.admin, encounter(enc2, "p1", "finished"))
		if _, events, _ := eventOf(t, rcv.next(t)); len(events) != 1 || events[0]["event-number"] != "2" || events[0]["focus"] != "Encounter/"+enc2 {
			t.Fatalf("second notification events %v, want event 2 on Encounter/%s", events, enc2)
		}

		// $events lists them for the owner.
		eventually(t, "$events with both events", func() bool {
			code, b := n.do("GET", "/fhir/Subscription/"+sub+"/$events", n.admin, "")
			var evb notification
			if code != 200 || json.Unmarshal(b, &evb) != nil {
				t.Fatalf("$events: %d %s", code, b)
			}
			ps, events := evb.params(t)
			return ps["topic"] == url && len(events) == 2 && events[1]["focus"] == n.url+"/fhir/Encounter/"+enc2
		})

		// %previous and %current: notified when an Encounter becomes
		// finished (created finished counts), not when a finished one is
		// written again.
		fp := newReceiver(t)
		const fpURL = "http://example.org/fhir/SubscriptionTopic/encounter-complete"
		n.create(n.admin, "Basic", topicBasic(fpURL, "1", "active", [][]any{encounterTrigger([]string{"create", "update"}, "",
			"(%previous.id.empty() or (%previous.status != 'finished')) and (%current.status = 'finished')")}))
		fpSub := n.create(n.admin, "Subscription", topicSubscription(fp.URL, fpURL+"|1"))
		n.handshaken(t, fp, fpSub)
		created := n.create(n.admin, "Encounter", encounter("", "p3", "finished"))
		if _, events, _ := eventOf(t, fp.next(t)); len(events) != 1 || events[0]["event-number"] != "1" || events[0]["focus"] != "Encounter/"+created {
			t.Fatalf("fhirPath topic: events %v, want event 1 on Encounter/%s", events, created)
		}
		n.do("PUT", "/fhir/Encounter/"+created, n.admin, encounter(created, "p4", "finished")) // still finished
		later := n.create(n.admin, "Encounter", encounter("", "p3", "arrived"))
		n.do("PUT", "/fhir/Encounter/"+later, n.admin, encounter(later, "p3", "finished"))
		if _, events, _ := eventOf(t, fp.next(t)); len(events) != 1 || events[0]["event-number"] != "2" || events[0]["focus"] != "Encounter/"+later {
			t.Fatalf("fhirPath topic: events %v, want event 2 on Encounter/%s", events, later)
		}

		// Retired: the subscription stops, new ones are refused.
		if code, b := n.do("PUT", "/fhir/Basic/"+topicID, n.admin, strings.Replace(topicBasic(url, "1", "retired",
			[][]any{encounterTrigger([]string{"update"}, "status=finished", "")}, "subject"), `{`, `{"id":"`+topicID+`",`, 1)); code != 200 {
			t.Fatalf("PUT the topic retired: %d %s", code, b)
		}
		if code, b := n.do("POST", "/fhir/Subscription", n.admin, topicSubscription(rcv.URL, url)); code != 400 || !strings.Contains(string(b), "is retired, not active") {
			t.Fatalf("subscription to a retired topic: %d %s, want 400", code, b)
		}
		eventually(t, "the retired topic's subscription in error", func() bool {
			s := n.read("Subscription/" + sub)
			e, _ := s["error"].(string)
			return s["status"] == "error" && strings.Contains(e, "topic")
		})
		// It may still be turned off, not asked for again.
		turned := func(status string) string {
			var m map[string]any
			json.Unmarshal([]byte(topicSubscription(rcv.URL, url, "Encounter?subject=Patient/p1")), &m)
			m["id"], m["status"] = sub, status
			b, _ := json.Marshal(m)
			return string(b)
		}
		if code, b := n.do("PUT", "/fhir/Subscription/"+sub, n.admin, turned("requested")); code != 400 {
			t.Fatalf("the retired topic's subscription asked for again: %d %s, want 400", code, b)
		}
		if code, b := n.do("PUT", "/fhir/Subscription/"+sub, n.admin, turned("off")); code != 200 {
			t.Fatalf("the retired topic's subscription turned off: %d %s, want 200", code, b)
		}
	})
}

// TestClientTopicRefused: subscriptions to unknown topics, other
// versions, draft topics, with filters the topic does not allow, and to
// topics using what this server does not serve are refused.
func TestClientTopicRefused(t *testing.T) {
	n := startNode(t, openStore(t, "sqlite"), Options{})
	rcv := newReceiver(t)
	base := "http://example.org/fhir/SubscriptionTopic/"
	finished := [][]any{encounterTrigger([]string{"update"}, "status=finished", "")}
	n.create(n.admin, "Basic", topicBasic(base+"ok", "1", "active", finished, "subject"))
	n.create(n.admin, "Basic", topicBasic(base+"draft", "1", "draft", finished))
	n.create(n.admin, "Basic", topicBasic(base+"previous", "1", "active", [][]any{encounterTrigger(nil, "", "",
		map[string]any{"url": "queryCriteria", "extension": []any{map[string]any{"url": "previous", "valueString": "status:not=finished"}}})}))
	n.create(n.admin, "Basic", topicBasic(base+"delete", "1", "active", [][]any{encounterTrigger([]string{"update", "delete"}, "", "")}))
	n.create(n.admin, "Basic", topicBasic(base+"badpath", "1", "active", [][]any{encounterTrigger(nil, "", "%current.status = ")}))
	n.create(n.admin, "Basic", topicBasic(base+"badsearch", "1", "active", [][]any{encounterTrigger(nil, "no-such-parameter=1", "")}))
	for _, tc := range []struct {
		topic, filter string
		code          int
		says          string
	}{
		{base + "nowhere", "", 400, "unknown topic"},
		{base + "ok|2", "", 400, "unknown topic"},
		{base + "draft", "", 400, "is draft, not active"},
		{base + "ok", "Encounter?status=finished", 400, "canFilterBy"},
		{base + "ok", "Observation?subject=Patient/p1", 400, "Encounter"},
		{base + "previous", "", 501, "previous"},
		{base + "delete", "", 501, "delete"},
		{base + "badpath", "", 400, "fhirPathCriteria"},
		{base + "badsearch", "", 400, "no-such-parameter"},
	} {
		var filters []string
		if tc.filter != "" {
			filters = append(filters, tc.filter)
		}
		code, b := n.do("POST", "/fhir/Subscription", n.admin, topicSubscription(rcv.URL, tc.topic, filters...))
		if code != tc.code || !strings.Contains(string(b), tc.says) {
			t.Errorf("subscription to %s filtered by %q: %d %s, want %d saying %q", tc.topic, tc.filter, code, b, tc.code, tc.says)
		}
	}
	// The allowed filter, with a version, is admitted.
	if code, b := n.do("POST", "/fhir/Subscription", n.admin, topicSubscription(rcv.URL, base+"ok|1", "subject=Patient/p1")); code != 201 {
		t.Fatalf("subscription with an allowed filter: %d %s", code, b)
	}
	// A writer who may not read Encounters may not subscribe to them.
	reader := n.token(concord.TokenRequest{Role: concord.RoleClinician, Scopes: []string{"user/Subscription.cru", "user/Observation.rs"}})
	if code, b := n.do("POST", "/fhir/Subscription", reader, topicSubscription(rcv.URL, base+"ok")); code != 403 {
		t.Fatalf("subscription by a writer who may not read Encounters: %d %s, want 403", code, b)
	}
}

// TestTopicInTransaction: a topic and a subscription to it written in
// one transaction Bundle: the subscription is admitted (the admission
// reads topics as the transaction sees them).
func TestTopicInTransaction(t *testing.T) {
	n := startNode(t, openStore(t, "sqlite"), Options{})
	rcv := newReceiver(t)
	url := "http://example.org/fhir/SubscriptionTopic/in-tx"
	bundle := `{"resourceType":"Bundle","type":"transaction","entry":[` +
		`{"resource":` + topicBasic(url, "1", "active", [][]any{encounterTrigger(nil, "status=finished", "")}) + `,"request":{"method":"POST","url":"Basic"}},` +
		`{"resource":` + topicSubscription(rcv.URL, url) + `,"request":{"method":"POST","url":"Subscription"}}]}`
	if code, b := n.do("POST", "/fhir", n.admin, bundle); code != 200 {
		t.Fatalf("transaction: %d %s", code, b)
	}
}

// TestParseTopicBasic: the prefixes of the IG's versions are all read;
// a Basic that is not a topic is not one.
func TestParseTopicBasic(t *testing.T) {
	ig := topicBasic("http://example.org/t", "2", "active", [][]any{encounterTrigger([]string{"create"}, "status=finished", "%current.status = 'finished'")}, "subject", "_in")
	td := parseTopicBasic([]byte(ig))
	if td == nil || td.err != nil || td.url != "http://example.org/t" || td.version != "2" || td.status != "active" ||
		len(td.triggers) != 1 || td.triggers[0].typ != "Encounter" || !td.triggers[0].create || td.triggers[0].update ||
		td.triggers[0].current.Get("status") != "finished" || td.triggers[0].fhirPath == nil || len(td.filterBy) != 2 {
		t.Fatalf("IG form: %+v", td)
	}
	// Later builds: 5.0 throughout, artifact-url and artifact-status.
	later := strings.NewReplacer(xv43, xv50, xv50+"url", "http://hl7.org/fhir/StructureDefinition/artifact-url",
		xv50+"status", "http://hl7.org/fhir/StructureDefinition/artifact-status").Replace(ig)
	if td := parseTopicBasic([]byte(later)); td == nil || td.err != nil || td.url != "http://example.org/t" || td.status != "active" || len(td.triggers) != 1 {
		t.Fatalf("later form: %+v", td)
	}
	for _, notTopic := range []string{
		`{"resourceType":"Basic","code":{"coding":[{"code":"referral"}]}}`,
		strings.Replace(ig, `"resourceType":"Basic"`, `"resourceType":"Patient"`, 1),
		strings.Replace(ig, xv50+"url", "http://example.org/other", 1),
	} {
		if td := parseTopicBasic([]byte(notTopic)); td != nil {
			t.Errorf("%.80s read as a topic: %+v", notTopic, td)
		}
	}
	unknownModifier := strings.Replace(ig, `"modifierExtension":[`, `"modifierExtension":[{"url":"http://example.org/negate","valueBoolean":true},`, 1)
	if td := parseTopicBasic([]byte(unknownModifier)); td == nil || concord.ErrorCode(td.err) != concord.EUNSUPPORTED {
		t.Fatalf("an unknown modifier extension: %+v", td)
	}
}
