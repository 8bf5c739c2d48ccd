package subscription

import (
	"context"
	"encoding/json"
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
