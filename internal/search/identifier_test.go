package search

import (
	"net/url"
	"testing"
)

// TestReferenceIdentifierValues checks that the values of a reference
// parameter's :identifier modifier are tokens (system|value) matching the
// rows Index writes for Reference.identifier, not references.
func TestReferenceIdentifierValues(t *testing.T) {
	q, _ := url.ParseQuery("entity:identifier=urn:concord:message|m1")
	req, err := Parse("Provenance", q, Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	c := req.Query.Where[0]
	if c.Param != "entity:identifier" || c.Kind != "token" || len(c.Values) != 1 {
		t.Fatalf("clause %+v", c)
	}
	v := c.Values[0]
	if !v.HasSystem || v.System != "urn:concord:message" || v.Code != "m1" || v.URL != "" {
		t.Fatalf("value %+v, want system urn:concord:message and code m1", v)
	}
}
