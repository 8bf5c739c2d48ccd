package subscription

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzSubscription: any JSON given as a Subscription is read, checked
// and, when it is an object, rewritten with a new status without a
// panic; the rewrite is valid JSON that reads back with that status and
// error, and its other members unchanged.
func FuzzSubscription(f *testing.F) {
	f.Add([]byte(subscription("Observation?code=http://loinc.org|1234-5", "http://127.0.0.1/hook", "application/fhir+json", "Authorization: Bearer x")))
	f.Add([]byte(backportSubscription("https://example.org/notify", "Observation?code=1", "full-resource")))
	f.Add([]byte(wsSubscription("Patient?name=x")))
	f.Add([]byte(`{"resourceType":"Subscription","status":"active","error":"x","_error":{"id":"e"},"criteria":"Observation?_has:Observation:subject:code=1"}`))
	f.Add([]byte(`{"criteria":"Observation?a=%zz","channel":{"type":"rest-hook","endpoint":"http://u:p@h/","header":["a:b","X A: b"]}}`))
	f.Add([]byte(`{"criteria":"http://concord-health.org/fhir/SubscriptionTopic/Observation|2","_criteria":{"extension":[{"url":"http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria","valueString":"Patient?x=1"}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := parseSub(data)
		if err != nil {
			return
		}
		s.check(t.Context(), func(context.Context, string) (*topicDef, error) { return nil, nil })
		s.heartbeat()
		out, err := withStatus(data, "error", "why \"not\"")
		if err != nil {
			return
		}
		var before, after map[string]json.RawMessage
		if json.Unmarshal(out, &after) != nil {
			t.Fatalf("the rewrite is not a JSON object: %s", out)
		}
		if json.Unmarshal(data, &before) != nil {
			return // duplicate members and the like: the decoder kept the last
		}
		var status, errText string
		json.Unmarshal(after["status"], &status)
		json.Unmarshal(after["error"], &errText)
		if status != "error" || errText != `why "not"` {
			t.Fatalf("status %q error %q after the rewrite", status, errText)
		}
		if _, ok := after["_error"]; ok {
			t.Fatal("_error kept")
		}
		for k, v := range before {
			if k == "status" || k == "error" || k == "_error" {
				continue
			}
			if string(after[k]) != string(v) {
				t.Fatalf("member %s changed: %s → %s", k, v, after[k])
			}
		}
	})
}

// FuzzBindWithToken: any first message on the token endpoint is read
// without a panic; what is taken is a base64url token of at most 100
// characters that the message holds after "bind-with-token ".
func FuzzBindWithToken(f *testing.F) {
	f.Add([]byte("bind-with-token q5pZ7zUB0mZ3mCk0Hn4aGm0nKq0N9HcdJjKfzqg2rYI"))
	f.Add([]byte("bind-with-token  spaced \t"))
	f.Add([]byte("bind abc"))
	f.Add([]byte("bind-with-token a+b/c="))
	f.Add([]byte("bind-with-token"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		tok, ok := parseBindWithToken(msg)
		if !ok {
			return
		}
		if tok == "" || len(tok) > 100 || strings.Trim(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" ||
			!strings.HasPrefix(string(msg), "bind-with-token ") || !strings.Contains(string(msg), tok) {
			t.Fatalf("%q taken from %q", tok, msg)
		}
	})
}

// FuzzTopicBasic: any JSON given as a topic Basic resource is read
// without a panic; a topic read without error has triggers on resource
// types, and a subscription's plan on it (with any filter) covers only
// those types.
func FuzzTopicBasic(f *testing.F) {
	f.Add([]byte(topicBasic("http://example.org/t", "1", "active", [][]any{encounterTrigger([]string{"update"}, "status=finished", "")}, "subject")), "subject=Patient/1")
	f.Add([]byte(topicBasic("http://example.org/t", "", "draft", [][]any{encounterTrigger(nil, "", "(%previous.id.empty() or (%previous.status != 'finished')) and (%current.status = 'finished')")})), "Encounter?status=x")
	f.Add([]byte(topicBasic("http://example.org/t", "1", "active", [][]any{encounterTrigger([]string{"delete"}, "a=%zz", "")}, "_in")), "Observation?code=1")
	f.Add([]byte(`{"resourceType":"Basic","code":{"coding":[{"code":"SubscriptionTopic"}]},"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/artifact-url","valueUri":"u"},{"url":"http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.eventTrigger"}]}`), "")
	f.Add([]byte(`{"resourceType":"Basic","code":{"coding":[{"code":"SubscriptionTopic"}]},"extension":[{"url":"http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.url","valueUri":"u"},{"url":"http://hl7.org/fhir/4.3/StructureDefinition/extension-SubscriptionTopic.resourceTrigger","extension":[{"url":"resource","valueUri":"Starship"}]}]}`), "x")
	f.Fuzz(func(t *testing.T, data []byte, filter string) {
		td := parseTopicBasic(data)
		if td == nil || td.err != nil {
			return
		}
		types := map[string]bool{}
		for _, tr := range td.triggers {
			if tr.typ == "" || !(tr.create || tr.update) {
				t.Fatalf("trigger %+v read without error", tr)
			}
			types[tr.typ] = true
		}
		if len(types) == 0 {
			t.Fatal("a topic without triggers read without error")
		}
		p, err := td.planWith([]string{filter})
		if err != nil {
			return
		}
		for typ := range p {
			if !types[typ] {
				t.Fatalf("plan on %s, not a trigger's type", typ)
			}
		}
	})
}
