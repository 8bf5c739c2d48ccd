package validate

import (
	"context"
	"testing"

	"github.com/concord-health/concord/fhirpath"
)

// FuzzResource: the validator handles any JSON document without
// panicking, gives every issue a severity and a code, and gives the same
// issues twice. The seed corpus is in testdata/fuzz/FuzzResource.
func FuzzResource(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Patient","name":[{"given":["A",null],"_given":[null,{"extension":[{"url":"u","valueString":"x"}]}]}]}`))
	f.Add([]byte(`{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"contained":[{"resourceType":"Patient","id":"p"}],"subject":{"reference":"#p"}}}]}`))
	f.Fuzz(func(t *testing.T, src []byte) {
		doc, err := fhirpath.ParseJSON(src)
		if err != nil {
			return
		}
		ctx := context.Background()
		issues := Resource(ctx, doc)
		for _, is := range issues {
			if is.Severity == "" || is.Code == "" || is.Diagnostics == "" {
				t.Fatalf("incomplete issue %+v", is)
			}
		}
		if again := Resource(ctx, doc); len(again) != len(issues) {
			t.Fatalf("%d issues, then %d", len(issues), len(again))
		}
	})
}
