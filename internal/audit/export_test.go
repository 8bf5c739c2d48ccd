package audit

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/concord-health/concord"
)

func TestToAuditEvent(t *testing.T) {
	r := &concord.AuditRecord{
		Seq: 7, Time: time.Date(2026, 5, 6, 7, 8, 9, 123456000, time.UTC),
		Actor: "06h006j2nmgtjma7a7sg", Role: "clinician", Address: "10.1.2.3",
		Action: concord.AuditRead, Object: "Observation/obs-1", Patient: "example-1",
		Outcome: concord.OutcomeMinor, Detail: "GET /fhir/Observation/{id} 404", RequestID: "req-1", Node: "n1",
		PrevHash: concord.GenesisHash, Hash: "abc",
	}
	b, err := json.Marshal(ToAuditEvent(r))
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		ResourceType, ID, Action, Outcome, Recorded, OutcomeDesc string
		Type                                                     Coding
		Subtype                                                  []Coding
		Agent                                                    []struct {
			Who struct {
				Identifier struct{ System, Value string }
			}
			Requestor bool
			Network   struct{ Address, Type string }
			Role      []struct{ Text string }
		}
		Entity []struct {
			What struct{ Reference, Display string }
			Role *Coding
		}
		Source    struct{ Site string }
		Extension []struct {
			URL       string
			Extension []struct{ URL, ValueString string }
		}
	}
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.ResourceType != "AuditEvent" || ev.ID != "audit-7" || ev.Action != "R" || ev.Outcome != "4" ||
		ev.Recorded != "2026-05-06T07:08:09.123456Z" || ev.OutcomeDesc != r.Detail || ev.Source.Site != "n1" {
		t.Fatalf("event %s", b)
	}
	if ev.Type.Code != "rest" || len(ev.Subtype) != 1 || ev.Subtype[0].Code != "read" || ev.Subtype[0].System != sysRESTful {
		t.Fatalf("type %s", b)
	}
	a := ev.Agent[0]
	if a.Who.Identifier.Value != r.Actor || !a.Requestor || a.Network.Address != "10.1.2.3" || a.Network.Type != "2" || a.Role[0].Text != "clinician" {
		t.Fatalf("agent %s", b)
	}
	if len(ev.Entity) != 2 || ev.Entity[0].What.Reference != "Observation/obs-1" ||
		ev.Entity[1].What.Reference != "Patient/example-1" || ev.Entity[1].Role == nil || ev.Entity[1].Role.Code != "1" {
		t.Fatalf("entities %s", b)
	}
	chain := map[string]string{}
	for _, x := range ev.Extension[0].Extension {
		chain[x.URL] = x.ValueString
	}
	if ev.Extension[0].URL != chainExtension || chain["seq"] != "7" || chain["hash"] != "abc" ||
		chain["prevHash"] != concord.GenesisHash || chain["requestId"] != "req-1" {
		t.Fatalf("chain extension %s", b)
	}
}

func TestClassify(t *testing.T) {
	cases := map[string][2]string{ // action -> subtype code, AuditEvent.action
		concord.AuditCreate: {"create", "C"}, concord.AuditRead: {"read", "R"}, concord.AuditUpdate: {"update", "U"},
		concord.AuditDelete: {"delete", "D"}, concord.AuditSearch: {"search-type", "E"}, concord.AuditExecute: {"operation", "E"},
		concord.AuditLogin: {"110122", "E"}, concord.AuditIssue: {"110137", "E"}, concord.AuditRevoke: {"110137", "E"},
	}
	for action, want := range cases {
		_, sub, act := classify(action)
		if sub.Code != want[0] || act != want[1] {
			t.Errorf("%s: %s %s, want %v", action, sub.Code, act, want)
		}
	}
	// A free-text object is a display, not a reference.
	ev := ToAuditEvent(&concord.AuditRecord{Object: "api/status"})
	what := ev["entity"].([]any)[0].(map[string]any)["what"].(map[string]any)
	if what["display"] != "api/status" || what["reference"] != nil {
		t.Errorf("object api/status became %v", what)
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	cases := map[string]time.Time{
		"2026-11-01T08:30:00Z": time.Date(2026, 11, 1, 8, 30, 0, 0, time.UTC),
		"2026-11-01":           time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		"24h":                  now.Add(-24 * time.Hour),
		"90m":                  now.Add(-90 * time.Minute),
		"7d":                   now.Add(-7 * 24 * time.Hour),
		"0d":                   now,
	}
	for in, want := range cases {
		got, err := ParseSince(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("%s: %v %v, want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "yesterday", "-1d", "-5h", "2026-13-01", "7 d"} {
		if _, err := ParseSince(bad, now); concord.ErrorCode(err) != concord.EINVALID {
			t.Errorf("%q: %v, want EINVALID", bad, err)
		}
	}
}
