package fhirapi

import (
	"encoding/json"
	"net/url"
	"reflect"
	"sort"
	"testing"

	"github.com/concord-health/concord"
)

// A synthetic Observation as withMeta stores it.
const obsJSON = `{"resourceType":"Observation","id":"obs-1","meta":{"versionId":"2","lastUpdated":"2026-01-02T03:04:05.000Z","tag":[{"system":"urn:example:synthetic","code":"test"}]},
"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">synthetic</div>"},
"status":"final",
"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],
"code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},
"subject":{"reference":"Patient/synthetic-1"},
"effectiveDateTime":"2026-01-02T03:00:00Z",
"_effectiveDateTime":{"extension":[{"url":"urn:example:note","valueString":"synthetic"}]},
"valueQuantity":{"value":120,"unit":"mmHg"},
"interpretation":[{"text":"normal"}],
"note":[{"text":"synthetic note"}],
"component":[{"code":{"text":"systolic"},"valueQuantity":{"value":120},"interpretation":[{"text":"normal"}]}]}`

func shaped(t *testing.T, q string) map[string]any {
	t.Helper()
	vals, err := url.ParseQuery(q)
	if err != nil {
		t.Fatal(err)
	}
	out, err := shape([]byte(obsJSON), "Observation", vals)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("%s: %v in %s", q, err, out)
	}
	return m
}

func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func subsetted(m map[string]any) bool {
	meta, _ := m["meta"].(map[string]any)
	tags, _ := meta["tag"].([]any)
	n := 0
	for _, t := range tags {
		tm, _ := t.(map[string]any)
		if tm["system"] == subsettedSystem && tm["code"] == subsettedCode {
			n++
		}
	}
	return n == 1
}

func TestShapeSummaryModes(t *testing.T) {
	for _, tc := range []struct {
		q         string
		want      []string
		subsetted bool
	}{
		{"", []string{"_effectiveDateTime", "category", "code", "component", "effectiveDateTime", "id", "interpretation", "meta", "note", "resourceType", "status", "subject", "text", "valueQuantity"}, false},
		{"_summary=false", []string{"_effectiveDateTime", "category", "code", "component", "effectiveDateTime", "id", "interpretation", "meta", "note", "resourceType", "status", "subject", "text", "valueQuantity"}, false},
		// Summary elements of Observation, with the extension of a kept primitive.
		{"_summary=true", []string{"_effectiveDateTime", "code", "component", "effectiveDateTime", "id", "meta", "resourceType", "status", "subject", "valueQuantity"}, true},
		// The narrative and the mandatory elements (status, code).
		{"_summary=text", []string{"code", "id", "meta", "resourceType", "status", "text"}, true},
		{"_summary=data", []string{"_effectiveDateTime", "category", "code", "component", "effectiveDateTime", "id", "interpretation", "meta", "note", "resourceType", "status", "subject", "valueQuantity"}, true},
		// value matches valueQuantity; mandatory elements come along; unknown names are ignored.
		{"_elements=value,note,nosuch", []string{"code", "id", "meta", "note", "resourceType", "status", "valueQuantity"}, true},
		{"_elements=Observation.subject", []string{"code", "id", "meta", "resourceType", "status", "subject"}, true},
		{"_elements=effective", []string{"_effectiveDateTime", "code", "effectiveDateTime", "id", "meta", "resourceType", "status"}, true},
	} {
		m := shaped(t, tc.q)
		if got := keys(m); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: elements %v, want %v", tc.q, got, tc.want)
		}
		if got := subsetted(m); got != tc.subsetted {
			t.Errorf("%q: SUBSETTED tag %v, want %v", tc.q, got, tc.subsetted)
		}
	}
}

func TestShapeSummaryInsideBackboneElements(t *testing.T) {
	m := shaped(t, "_summary=true")
	comp := m["component"].([]any)[0].(map[string]any)
	if got := keys(comp); !reflect.DeepEqual(got, []string{"code", "valueQuantity"}) {
		t.Errorf("component under _summary=true: %v, want code and valueQuantity (interpretation is not a summary element)", got)
	}
	meta := m["meta"].(map[string]any)
	if meta["versionId"] != "2" || len(meta["tag"].([]any)) != 2 {
		t.Errorf("meta lost what it held: %v", meta)
	}
	// The data types inside a kept element are whole.
	if q := m["valueQuantity"].(map[string]any); q["unit"] != "mmHg" {
		t.Errorf("valueQuantity: %v", q)
	}
}

func TestShapeKeepsOneSubsettedTag(t *testing.T) {
	once, err := shape([]byte(obsJSON), "Observation", url.Values{"_summary": {"true"}})
	if err != nil {
		t.Fatal(err)
	}
	twice, err := shape(once, "Observation", url.Values{"_summary": {"true"}})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(twice, &m); err != nil || !subsetted(m) {
		t.Errorf("shaping twice: %s (%v)", twice, err)
	}
	bare := `{"resourceType":"Patient","id":"p","meta":{"versionId":"1","lastUpdated":"2026-01-02T03:04:05.000Z"},"gender":"other","photo":[{"title":"synthetic"}]}`
	out, err := shape([]byte(bare), "Patient", url.Values{"_summary": {"true"}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"resourceType":"Patient","id":"p","meta":{"versionId":"1","lastUpdated":"2026-01-02T03:04:05.000Z","tag":[{"system":"` + subsettedSystem + `","code":"SUBSETTED"}]},"gender":"other"}`
	if string(out) != want {
		t.Errorf("Patient _summary=true:\n got %s\nwant %s", out, want)
	}
}

func TestShapeRefuses(t *testing.T) {
	for _, q := range []string{"_summary=maybe", "_summary=count", "_summary=true&_summary=false", "_summary=true&_elements=status"} {
		vals, _ := url.ParseQuery(q)
		if _, err := shape([]byte(obsJSON), "Observation", vals); concord.ErrorCode(err) != concord.EINVALID {
			t.Errorf("%q: error %v, want EINVALID", q, err)
		}
	}
}
