package convert

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/hl7v2"
)

// Synthetic resources for the tests below: invented people and orders.
const (
	outboundTestPatient = `{"resourceType":"Patient","id":"pat-t","identifier":[{"system":"urn:oid:2.16.840.1.113883.19.5.1","value":"MRN-T1"}],` +
		`"name":[{"family":"Madeup","given":["Tess"]}],"gender":"female","birthDate":"1990-01-02"}`
	outboundTestCode = `{"coding":[{"system":"http://loinc.org","code":"718-7","display":"Hemoglobin [Mass/volume] in Blood"}]}`
)

// outboundSR returns a ServiceRequest with the given status and extra
// elements (a JSON fragment starting with a comma, or "").
func outboundSR(status, extra string) []byte {
	return []byte(`{"resourceType":"ServiceRequest","id":"sr-t","status":"` + status + `","intent":"order",` +
		`"identifier":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"PLAC"}]},` +
		`"system":"urn:oid:2.16.840.1.113883.19.5.7","value":"ORD-T1"}],"code":` + outboundTestCode + extra + `}`)
}

// outboundParse checks a message as the golden test does and returns it
// parsed.
func outboundParse(t *testing.T, msg []byte) *hl7v2.Message {
	t.Helper()
	outboundCheckMessage(t, msg)
	m, err := hl7v2.Parse(msg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestOutboundOrderControl(t *testing.T) {
	repeating := `,"occurrenceTiming":{"repeat":{"boundsPeriod":{"start":"2026-03-01"}}}`
	filler := `,"identifier":[{"value":"ORD-T1"},{"type":{"coding":[{"code":"FILL"}]},"value":"LIS-9"}]`
	cases := []struct {
		name, now, was, extra string
		want                  string // ORC-1, or "" for no message
	}{
		{"new active", "active", "", "", "NW"},
		{"draft made active", "active", "draft", "", "NW"},
		{"active changed", "active", "active", "", "XO"},
		{"put on hold", "on-hold", "active", "", "HD"},
		{"held and changed", "on-hold", "on-hold", "", "XO"},
		{"released", "active", "on-hold", "", "RL"},
		{"cancelled", "revoked", "active", "", "CA"},
		{"cancelled while held", "revoked", "on-hold", "", "CA"},
		{"entered in error", "entered-in-error", "active", "", "CA"},
		{"standing order under way discontinued", "revoked", "active", repeating + filler, "DC"},
		{"standing order not yet numbered", "revoked", "active", repeating, "CA"},
		{"new draft", "draft", "", "", ""},
		{"new on hold", "on-hold", "", "", ""},
		{"revoked before sent", "revoked", "draft", "", ""},
		{"new revoked", "revoked", "", "", ""},
		{"completed", "completed", "active", "", ""},
		{"unknown", "unknown", "active", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := OutboundOrder{ServiceRequest: outboundSR(tc.now, tc.extra), Patient: []byte(outboundTestPatient)}
			if tc.was != "" {
				in.Previous = outboundSR(tc.was, "")
			}
			msg, err := OrderMessage(in, outboundTestOptions("c1"))
			if tc.want == "" {
				if !errors.Is(err, ErrNoOutboundMessage) {
					t.Fatalf("got %v (message %q), want ErrNoOutboundMessage", err, msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := outboundParse(t, msg).Get("ORC-1"); got != tc.want {
				t.Errorf("ORC-1 = %q, want %q", got, tc.want)
			}
		})
	}
	// An intent other than an order is not sent; a caller's ORC-1 wins.
	proposal := []byte(strings.Replace(string(outboundSR("active", "")), `"intent":"order"`, `"intent":"proposal"`, 1))
	if _, err := OrderMessage(OutboundOrder{ServiceRequest: proposal}, outboundTestOptions("c2")); !errors.Is(err, ErrNoOutboundMessage) {
		t.Errorf("proposal: got %v, want ErrNoOutboundMessage", err)
	}
	msg, err := OrderMessage(OutboundOrder{ServiceRequest: outboundSR("completed", ""), Control: "SC"}, outboundTestOptions("c3"))
	if err != nil {
		t.Fatal(err)
	}
	if got := outboundParse(t, msg).Get("ORC-1"); got != "SC" {
		t.Errorf("ORC-1 = %q, want the caller's SC", got)
	}
	if _, err := OrderMessage(OutboundOrder{ServiceRequest: outboundSR("active", ""), Control: "nw|"}, outboundTestOptions("c4")); concord.ErrorCode(err) != concord.EINVALID {
		t.Errorf("bad control: got %v, want EINVALID", err)
	}
}

func TestOutboundOrderTypes(t *testing.T) {
	sr := outboundSR("active", `,"priority":"stat","occurrenceDateTime":"2026-03-02T10:00:00Z"`)
	specimen := []byte(`{"resourceType":"Specimen","id":"sp-t","type":{"text":"blood"},"collection":{"collectedDateTime":"2026-03-02T10:05:00Z"}}`)
	in := OutboundOrder{ServiceRequest: sr, Patient: []byte(outboundTestPatient), Specimens: [][]byte{specimen}}
	cases := []struct {
		typ, version string
		segments     string // the segment IDs in order
	}{
		{OutboundORM, "2.5.1", "MSH PID PV1 ORC OBR"},
		{OutboundORM, "2.3.1", "MSH PID PV1 ORC OBR"},
		{OutboundORM, "2.3", "MSH PID PV1 ORC OBR"},
		{OutboundOML, "2.5.1", "MSH PID PV1 ORC TQ1 OBR SPM"},
		{OutboundOML, "2.8", "MSH PID PV1 ORC TQ1 OBR SPM"},
		{OutboundOMI, "2.5.1", "MSH PID PV1 ORC TQ1 OBR IPC"},
	}
	for _, tc := range cases {
		t.Run(tc.typ+" "+tc.version, func(t *testing.T) {
			opt := outboundTestOptions("t1")
			opt.OrderType, opt.Version = tc.typ, tc.version
			msg, err := OrderMessage(in, opt)
			if err != nil {
				t.Fatal(err)
			}
			m := outboundParse(t, msg)
			var ids []string
			for _, s := range m.Segments() {
				ids = append(ids, s.Name())
			}
			if got := strings.Join(ids, " "); got != tc.segments {
				t.Errorf("segments %q, want %q", got, tc.segments)
			}
			code, trigger, structure := m.MessageType()
			if want := strings.Replace(tc.typ, "^", "_", 1); structure != want && (tc.version != "2.3" || structure != "") {
				t.Errorf("MSH-9.3 %q, want %q (none in 2.3)", structure, want)
			}
			if code+"^"+trigger != tc.typ || m.Version() != tc.version {
				t.Errorf("MSH-9 %s^%s version %s, want %s %s", code, trigger, m.Version(), tc.typ, tc.version)
			}
			// Priority and timing: OBR-5 and OBR-27 in ORM, TQ1 otherwise.
			if tc.typ == OutboundORM {
				if m.Get("OBR-5") != "S" || m.Get("OBR-27.6") != "S" || m.Get("OBR-27.4") != "20260302100000+0000" {
					t.Errorf("OBR-5 %q OBR-27 %q", m.Get("OBR-5"), m.Get("OBR-27"))
				}
			} else if m.Get("TQ1-9") != "S" || m.Get("TQ1-7") != "20260302100000+0000" {
				t.Errorf("TQ1 %q", m.Get("TQ1-9"))
			}
			if m.Get("OBR-7") != "20260302100500+0000" {
				t.Errorf("OBR-7 (collection) = %q", m.Get("OBR-7"))
			}
		})
	}
	for _, tc := range []struct{ typ, version, code string }{
		{OutboundORM, "2.7", concord.EUNSUPPORTED},
		{OutboundOML, "2.4", concord.EUNSUPPORTED},
		{OutboundOMI, "2.3", concord.EUNSUPPORTED},
		{"ORU^R01", "2.5.1", concord.EINVALID},
	} {
		opt := outboundTestOptions("t2")
		opt.OrderType, opt.Version = tc.typ, tc.version
		if _, err := OrderMessage(in, opt); concord.ErrorCode(err) != tc.code {
			t.Errorf("%s in %s: got %v, want %s", tc.typ, tc.version, err, tc.code)
		}
	}
}

// TestOutboundPlacerLinksResult checks what the lab workflow relies on:
// the placer order number of the order and of the result written for
// the same ServiceRequest are the same, and OutboundPlacerNumber names
// it; a ServiceRequest without identifiers is numbered by its id.
func TestOutboundPlacerLinksResult(t *testing.T) {
	for _, sr := range [][]byte{
		outboundSR("active", ""),
		[]byte(`{"resourceType":"ServiceRequest","id":"sr-noid","status":"active","intent":"order","code":` + outboundTestCode + `}`),
	} {
		order, err := OrderMessage(OutboundOrder{ServiceRequest: sr, Patient: []byte(outboundTestPatient)}, outboundTestOptions("o1"))
		if err != nil {
			t.Fatal(err)
		}
		report := []byte(`{"resourceType":"DiagnosticReport","id":"dr-t","status":"final","code":` + outboundTestCode + `}`)
		result, err := ResultMessage(OutboundResult{DiagnosticReport: report, ServiceRequest: sr, Patient: []byte(outboundTestPatient)},
			outboundTestOptions("r1"))
		if err != nil {
			t.Fatal(err)
		}
		om, rm := outboundParse(t, order), outboundParse(t, result)
		if om.Get("ORC-2") == "" || om.Get("ORC-2") != rm.Get("OBR-2") || om.Get("OBR-2") != rm.Get("ORC-2") {
			t.Errorf("order placer %q/%q, result placer %q/%q", om.Get("ORC-2"), om.Get("OBR-2"), rm.Get("ORC-2"), rm.Get("OBR-2"))
		}
		system, value, err := OutboundPlacerNumber(sr)
		if err != nil {
			t.Fatal(err)
		}
		switch value {
		case "ORD-T1":
			if system != "urn:oid:2.16.840.1.113883.19.5.7" || om.Get("ORC-2.3") != "2.16.840.1.113883.19.5.7" {
				t.Errorf("placer system %q, ORC-2.3 %q", system, om.Get("ORC-2.3"))
			}
		case "sr-noid":
			if system != OutboundIDSystem || om.Get("ORC-2") != "sr-noid^CONCORD" {
				t.Errorf("placer system %q, ORC-2 %q", system, om.Get("ORC-2"))
			}
		default:
			t.Errorf("placer value %q", value)
		}
		if om.Get("ORC-2.1") != value {
			t.Errorf("ORC-2.1 %q, OutboundPlacerNumber %q", om.Get("ORC-2.1"), value)
		}
	}
}

// TestOutboundEscaping puts every delimiter, line breaks, control
// characters and non-ASCII text in names and notes: each reads back as
// written, and MSH-18 declares UTF-8.
func TestOutboundEscaping(t *testing.T) {
	family := `O'Hara|Pipe^Hat~Tilde\Back&Amp`
	given := "Zoë\tTab"
	note := "line one\nline two\r\nend\x01"
	p := fmt.Sprintf(`{"resourceType":"Patient","id":"p","identifier":[{"system":"urn:oid:1.2.3","value":"A|1^2"}],"name":[{"family":%s,"given":[%s]}]}`,
		outboundJSON(family), outboundJSON(given))
	sr := outboundSR("active", fmt.Sprintf(`,"note":[{"text":%s}]`, outboundJSON(note)))
	msg, err := OrderMessage(OutboundOrder{ServiceRequest: sr, Patient: []byte(p)}, outboundTestOptions("e1"))
	if err != nil {
		t.Fatal(err)
	}
	m := outboundParse(t, msg)
	for path, want := range map[string]string{
		"PID-5.1": family, "PID-5.2": given, "PID-3.1": "A|1^2", "NTE-3": note, "MSH-18": "UNICODE UTF-8",
	} {
		if got := m.Get(path); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	if m.Count("NTE") != 1 || m.Len() != 6 {
		t.Errorf("%d segments, %d NTE: a text broke the segment structure", m.Len(), m.Count("NTE"))
	}
	ascii, err := OrderMessage(OutboundOrder{ServiceRequest: outboundSR("active", "")}, outboundTestOptions("e2"))
	if err != nil {
		t.Fatal(err)
	}
	if got := outboundParse(t, ascii).Get("MSH-18"); got != "" {
		t.Errorf("MSH-18 = %q for an ASCII message", got)
	}
}

func TestOutboundValueTypes(t *testing.T) {
	long := strings.Repeat("x", 250)
	cases := []struct {
		value         string // the value[x] element
		typ, obx5, u6 string
	}{
		{`"valueQuantity":{"value":1.5e2,"unit":"g/L","system":"http://unitsofmeasure.org","code":"g/L"}`, "NM", "150", "g/L^g/L^UCUM"},
		{`"valueQuantity":{"value":-0.25,"unit":"pH"}`, "NM", "-0.25", "pH"},
		{`"valueQuantity":{"value":10,"comparator":"<="}`, "SN", "<=^10", ""},
		{`"valueInteger":7`, "NM", "7", ""},
		{`"valueBoolean":true`, "CWE", "Y^Yes^HL70136", ""},
		{`"valueBoolean":false`, "CWE", "N^No^HL70136", ""},
		{`"valueString":"two\nlines"`, "FT", `two\.br\lines`, ""},
		{`"valueString":"` + long + `"`, "TX", long, ""},
		{`"valueTime":"07:30:15"`, "TM", "073015", ""},
		{`"valuePeriod":{"start":"2026-01-01","end":"2026-01-31"}`, "DR", "20260101^20260131", ""},
		{`"valueRange":{"high":{"value":3}}`, "SN", "<=^3", ""},
		{`"valueCodeableConcept":{"text":"free text only"}`, "CWE", "^free text only", ""},
		{`"dataAbsentReason":{"text":"lost"}`, "", "", ""},
	}
	for _, tc := range cases {
		obs := `{"resourceType":"Observation","status":"final","code":` + outboundTestCode + `,` + tc.value + `}`
		report := `{"resourceType":"DiagnosticReport","id":"d","status":"final","code":` + outboundTestCode + `}`
		msg, err := ResultMessage(OutboundResult{DiagnosticReport: []byte(report), Observations: [][]byte{[]byte(obs)},
			Patient: []byte(outboundTestPatient)}, outboundTestOptions("v1"))
		if err != nil {
			t.Errorf("%s: %v", tc.value, err)
			continue
		}
		seg, _ := outboundParse(t, msg).Find("OBX", 1)
		if typ, v5, v6 := seg.Field(2).String(), string(seg.Field(5).Raw()), string(seg.Field(6).Raw()); typ != tc.typ || v5 != tc.obx5 || v6 != tc.u6 {
			t.Errorf("%s: OBX-2 %q OBX-5 %q OBX-6 %q, want %q %q %q", tc.value, typ, v5, v6, tc.typ, tc.obx5, tc.u6)
		}
	}
}

func TestOutboundErrors(t *testing.T) {
	ok := OutboundOrder{ServiceRequest: outboundSR("active", ""), Patient: []byte(outboundTestPatient)}
	report := func(status string) []byte {
		return []byte(`{"resourceType":"DiagnosticReport","id":"d","status":"` + status + `","code":` + outboundTestCode + `}`)
	}
	noControl := outboundTestOptions("")
	badVersion := outboundTestOptions("x")
	badVersion.Version = "3.0"
	cases := []struct {
		name string
		err  error
		code string
	}{
		{"no control ID", outboundErr(OrderMessage(ok, noControl)), concord.EINVALID},
		{"unknown version", outboundErr(OrderMessage(ok, badVersion)), concord.EUNSUPPORTED},
		{"no ServiceRequest", outboundErr(OrderMessage(OutboundOrder{}, outboundTestOptions("x"))), concord.EINVALID},
		{"not JSON", outboundErr(OrderMessage(OutboundOrder{ServiceRequest: []byte("{")}, outboundTestOptions("x"))), concord.EINVALID},
		{"wrong type", outboundErr(OrderMessage(OutboundOrder{ServiceRequest: []byte(outboundTestPatient)}, outboundTestOptions("x"))), concord.EINVALID},
		{"wrong shape", outboundErr(OrderMessage(OutboundOrder{ServiceRequest: outboundSR("active", `,"note":"flat"`)}, outboundTestOptions("x"))), concord.EINVALID},
		{"no code", outboundErr(OrderMessage(OutboundOrder{ServiceRequest: []byte(`{"resourceType":"ServiceRequest","id":"a","status":"active","intent":"order"}`)}, outboundTestOptions("x"))), concord.EINVALID},
		{"bad date", outboundErr(OrderMessage(OutboundOrder{ServiceRequest: outboundSR("active", `,"authoredOn":"2026-02-30T10:00:00Z","meta":{"lastUpdated":"2026-13-01T00:00:00Z"}`)}, outboundTestOptions("x"))), concord.EINVALID},
		{"patient without identifier", outboundErr(PatientMessage(OutboundPatient{Patient: []byte(`{"resourceType":"Patient"}`)}, outboundTestOptions("x"))), concord.EINVALID},
		{"report retracted", outboundErr(ResultMessage(OutboundResult{DiagnosticReport: report("entered-in-error")}, outboundTestOptions("x"))), concord.EUNSUPPORTED},
		{"observation without code", outboundErr(ResultMessage(OutboundResult{DiagnosticReport: report("final"), Observations: [][]byte{[]byte(`{"resourceType":"Observation","status":"final","valueInteger":1}`)}}, outboundTestOptions("x"))), concord.EINVALID},
	}
	for _, tc := range cases {
		if got := concord.ErrorCode(tc.err); got != tc.code {
			t.Errorf("%s: got %v (%s), want %s", tc.name, tc.err, got, tc.code)
		}
		if errors.Is(tc.err, ErrNoOutboundMessage) {
			t.Errorf("%s: a failure reported as nothing to send", tc.name)
		}
	}
	if _, err := ResultMessage(OutboundResult{DiagnosticReport: report("registered")}, outboundTestOptions("x")); !errors.Is(err, ErrNoOutboundMessage) {
		t.Errorf("registered report: got %v, want ErrNoOutboundMessage", err)
	}
}

// outboundJSON writes s as a JSON string.
func outboundJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func outboundErr(_ []byte, err error) error { return err }

func TestOutboundDTM(t *testing.T) {
	for in, want := range map[string]string{
		"2026":                             "2026",
		"2026-03":                          "202603",
		"2026-03-02":                       "20260302",
		"2026-03-02T10:30:00Z":             "20260302103000+0000",
		"2026-03-02T10:30:00-05:00":        "20260302103000-0500",
		"2026-03-02T10:30:00.123456+01:00": "20260302103000.1234+0100",
		"2026-03-02T10:30":                 "202603021030",
	} {
		if got, ok := outDTM(in); !ok || got != want {
			t.Errorf("outDTM(%q) = %q, %v, want %q", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "26", "2026-3-2", "2026-02-30", "2026-03-02T25:00:00Z", "2026-03-02T10:30:00+0100", "yesterday", "2026-03-02T10:30:00.Z"} {
		if got, ok := outDTM(bad); ok {
			t.Errorf("outDTM(%q) = %q, want invalid", bad, got)
		}
	}
}

func TestOutboundStudyUID(t *testing.T) {
	a := OutboundStudyUID("urn:oid:1.2.3", "ORD-1")
	if a != OutboundStudyUID("urn:oid:1.2.3", "ORD-1") || a == OutboundStudyUID("urn:oid:1.2.3", "ORD-2") {
		t.Errorf("study UID not a function of the placer number: %s", a)
	}
	if !regexp.MustCompile(`^2\.25\.[1-9][0-9]*$`).MatchString(a) || len(a) > 64 {
		t.Errorf("study UID %q is not a DICOM UID under 2.25", a)
	}
}

// TestOutboundPatientEvents checks A08 against A40: a merge link is
// announced once, when it appears.
func TestOutboundPatientEvents(t *testing.T) {
	withLink := []byte(`{"resourceType":"Patient","id":"pat-a","identifier":[{"value":"MRN-A"}],` +
		`"link":[{"other":{"reference":"Patient/pat-b"},"type":"replaces"}]}`)
	withoutLink := []byte(`{"resourceType":"Patient","id":"pat-a","identifier":[{"value":"MRN-A"}]}`)
	for _, tc := range []struct {
		name          string
		now, previous []byte
		want          string
	}{
		{"merge appears", withLink, withoutLink, "A40"},
		{"merge, no previous version", withLink, nil, "A40"},
		{"merged earlier, changed now", withLink, withLink, "A08"},
		{"plain change", withoutLink, withoutLink, "A08"},
	} {
		msg, err := PatientMessage(OutboundPatient{Patient: tc.now, Previous: tc.previous}, outboundTestOptions("p1"))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		m := outboundParse(t, msg)
		if _, trigger, _ := m.MessageType(); trigger != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, trigger, tc.want)
		}
		if tc.want == "A40" && m.Get("MRG-1.1") != "pat-b" {
			t.Errorf("%s: MRG-1 %q, want the retired record pat-b", tc.name, m.Get("MRG-1"))
		}
	}
}

// TestOutboundA08ClearsRemovedValues checks that a value removed from the
// Patient is sent as "" (delete) in the A08, and nothing else is.
func TestOutboundA08ClearsRemovedValues(t *testing.T) {
	prev := []byte(`{"resourceType":"Patient","id":"pat-c","identifier":[{"value":"MRN-C"}],"name":[{"family":"Fakename"}],` +
		`"telecom":[{"system":"phone","value":"555 0123","use":"home"}],"birthDate":"1970-05-06","gender":"male"}`)
	now := []byte(`{"resourceType":"Patient","id":"pat-c","identifier":[{"value":"MRN-C"}],"name":[{"family":"Fakename"}],"gender":"male"}`)
	msg, err := PatientMessage(OutboundPatient{Patient: now, Previous: prev}, outboundTestOptions("a1"))
	if err != nil {
		t.Fatal(err)
	}
	seg, _ := outboundParse(t, msg).Find("PID", 1)
	for field, want := range map[int]string{7: `""`, 13: `""`, 8: "M", 11: "", 14: ""} {
		if got := string(seg.Field(field).Raw()); got != want {
			t.Errorf("PID-%d = %q, want %q", field, got, want)
		}
	}
	if !seg.Field(13).IsNull() {
		t.Errorf("PID-13 is not the HL7 null")
	}
	msg, err = PatientMessage(OutboundPatient{Patient: now}, outboundTestOptions("a2"))
	if err != nil {
		t.Fatal(err)
	}
	if seg, _ := outboundParse(t, msg).Find("PID", 1); seg.Field(7).IsNull() || seg.Field(13).IsNull() {
		t.Errorf("without a previous version nothing is deleted: %s", seg)
	}
}
