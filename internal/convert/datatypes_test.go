package convert

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/hl7v2"
)

// fieldContext parses a synthetic message whose ZZZ segment holds the
// values under test, and returns a Context over it and the segment.
func fieldContext(t *testing.T, zzz string, opt Options) (*Context, hl7v2.Segment) {
	t.Helper()
	m, err := hl7v2.Parse([]byte("MSH|^~\\&|APP|FAC|R|R|20260101||ADT^A01|1|P|2.5\r" + zzz + "\r"))
	if err != nil {
		t.Fatal(err)
	}
	seg, ok := m.Find("ZZZ", 1)
	if !ok {
		t.Fatal("no ZZZ")
	}
	return newContext(m, opt, "A01"), seg
}

func TestDateTimePrecision(t *testing.T) {
	c, seg := fieldContext(t, "ZZZ|2026|202603|20260314|2026031409|202603140930-0500|20260314093015.25+0100|bad|20261399", Options{Zone: time.FixedZone("x", 3600)})
	for _, tc := range []struct {
		field          int
		date, dateTime string
	}{
		{1, "2026", "2026"},
		{2, "2026-03", "2026-03"},
		{3, "2026-03-14", "2026-03-14"},
		{4, "2026-03-14", "2026-03-14T09:00:00+01:00"}, // no offset: Options.Zone
		{5, "2026-03-14", "2026-03-14T09:30:00-05:00"},
		{6, "2026-03-14", "2026-03-14T09:30:15.250+01:00"},
		{7, "", ""},
		{8, "", ""},
	} {
		if got := c.Date(seg.Field(tc.field)); got != tc.date {
			t.Errorf("ZZZ-%d Date %q, want %q", tc.field, got, tc.date)
		}
		if got := c.DateTime(seg.Field(tc.field)); got != tc.dateTime {
			t.Errorf("ZZZ-%d DateTime %q, want %q", tc.field, got, tc.dateTime)
		}
	}
	if got := c.Instant(seg.Field(3)); got != "2026-03-14T00:00:00+01:00" {
		t.Errorf("Instant of a date: %q", got)
	}
}

func TestIdentifierSystems(t *testing.T) {
	c, seg := fieldContext(t, "ZZZ|1^^^&2.16.840.1&ISO~2^^^&B6A0C3E4-0000-4000-8000-000000000001&UUID~3^^^&http://example.org/ids&URI~4^^^Main Hosp^MR~5^^^^MR~6~7^^^^^&1.2.3&ISO", Options{})
	want := []string{
		"urn:oid:2.16.840.1",
		"urn:uuid:b6a0c3e4-0000-4000-8000-000000000001",
		"http://example.org/ids",
		"urn:concord:v2:authority:Main%20Hosp",
		"urn:concord:v2:sender:APP%5EFAC:MR",
		"urn:concord:v2:sender:APP%5EFAC:id",
		"urn:oid:1.2.3", // the assigning facility, CX-6
	}
	for i, w := range want {
		id := c.Identifier(seg.Field(1).Rep(i + 1))
		if id == nil || id["system"] != w {
			t.Errorf("rep %d: %v, want system %s", i+1, id, w)
		}
	}
	if id := c.Identifier(seg.Field(2)); id != nil {
		t.Errorf("an empty CX gave %v", id)
	}
}

func TestContactPointsAndNames(t *testing.T) {
	c, seg := fieldContext(t, "ZZZ|^NET^Internet^a@example.org~^PRN^PH^^1^555^1234567^89~555-0100^WPN~(555)0101^^CP|Doe^Jane^Q R^Jr^Dr^MD^L", Options{})
	got := c.ContactPoints(seg.Field(1), "home")
	want := []map[string]any{
		{"system": "email", "value": "a@example.org", "use": "home"},
		{"system": "phone", "value": "+1 (555) 1234567 ext. 89", "use": "home"},
		{"system": "phone", "value": "555-0100", "use": "work"},
		{"system": "phone", "value": "(555)0101", "use": "mobile"},
	}
	if len(got) != len(want) {
		t.Fatalf("%v", got)
	}
	for i := range want {
		g := got[i].(map[string]any)
		for k, v := range want[i] {
			if g[k] != v {
				t.Errorf("telecom %d %s = %v, want %v", i, k, g[k], v)
			}
		}
	}
	n := c.HumanName(seg.Field(2))
	if n["family"] != "Doe" || len(n["given"].([]any)) != 2 || n["use"] != "official" || len(n["suffix"].([]any)) != 2 {
		t.Errorf("name %v", n)
	}
}

func TestTokenValueEscapes(t *testing.T) {
	q, err := url.ParseQuery("identifier=" + tokenValue("urn:x", `a|b,c\d`))
	if err != nil {
		t.Fatal(err)
	}
	if got := q.Get("identifier"); got != `urn:x|a\|b\,c\\d` {
		t.Errorf("got %q", got)
	}
}

// TestErrorLocationNamesOccurrence checks that a problem in the second
// DG1 is reported at DG1[2].
func TestErrorLocationNamesOccurrence(t *testing.T) {
	m, _ := hl7v2.Parse([]byte("MSH|^~\\&|A|B|C|D|20260101||ADT^A01|1|P|2.5\rPID|1||1^^^Z\rDG1|1||X^Y^I10\rDG1|2\r"))
	_, err := ToFHIR(context.Background(), m, Options{})
	if concord.ErrorCode(err) != concord.EINVALID || concord.ErrorMessage(err) != "DG1[2]-3: no diagnosis code" {
		t.Fatalf("got %v", err)
	}
}
