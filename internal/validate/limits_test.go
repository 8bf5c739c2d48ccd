package validate

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/fhirpath"
)

// TestDeepNesting: Questionnaire items nested as deep as the JSON parser
// allows validate without error (and without exhausting the stack).
func TestDeepNesting(t *testing.T) {
	const depth = 120 // two JSON levels each: 240 of the parser's 256
	var b strings.Builder
	b.WriteString(`{"resourceType":"Questionnaire","status":"draft"`)
	for i := range depth {
		fmt.Fprintf(&b, `,"item":[{"linkId":"%d","type":"group"`, i)
	}
	for range depth {
		b.WriteString(`}]`)
	}
	b.WriteString(`}`)
	issues := check(t, b.String())
	if HasErrors(issues) {
		t.Fatalf("errors: %+v", errorsOf(issues))
	}
}

// TestHugeArray: a resource with 100,000 array items is checked item by
// item, with its errors capped.
func TestHugeArray(t *testing.T) {
	const n = 100_000
	var b strings.Builder
	b.WriteString(`{"resourceType":"Patient",` + narrative + `,"name":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"family":"Synthetic","given":["A"]}`)
	}
	b.WriteString(`],"identifier":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"use":"nope"}`)
	}
	b.WriteString(`]}`)
	issues := check(t, b.String())
	if len(errorsOf(issues)) != MaxIssues+1 {
		t.Fatalf("%d errors", len(errorsOf(issues)))
	}
	if is := issues[0]; is.Expression != "Patient.identifier[0].use" || is.Code != CodeCodeInvalid {
		t.Fatalf("first issue %+v", is)
	}
}

// TestInvariantWorkLimit: invariants whose cost grows with the square of
// the document (every contained resource is looked for in every
// reference) stop at the work limit with a warning, not an error.
func TestInvariantWorkLimit(t *testing.T) {
	const n = 3000
	var b strings.Builder
	b.WriteString(`{"resourceType":"List","status":"current","mode":"working",` + narrative + `,"contained":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"resourceType":"Patient","id":"p%d"}`, i)
	}
	b.WriteString(`],"entry":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"item":{"reference":"#p%d"}}`, i)
	}
	b.WriteString(`]}`)
	issues := check(t, b.String())
	if HasErrors(issues) {
		t.Fatalf("errors: %+v", errorsOf(issues))
	}
	limited := false
	for _, is := range issues {
		if is.Severity == concord.SeverityWarning && (is.Code == CodeTooCostly || strings.Contains(is.Diagnostics, "could not be checked")) {
			limited = true
		}
	}
	if !limited {
		t.Fatalf("no work-limit warning in %d issues", len(issues))
	}
}

// TestCancelled: a cancelled context stops the invariants with a warning;
// the other checks still run.
func TestCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	doc, _ := fhirpath.ParseJSON([]byte(`{"resourceType":"Observation","code":{"text":"x"},"valueString":"a","dataAbsentReason":{"text":"b"}}`))
	issues := Resource(ctx, doc)
	if len(issues) != 2 || issues[0].Code != CodeRequired || issues[1].Code != CodeTooCostly || issues[1].IsError() {
		t.Fatalf("got %+v", issues)
	}
}
