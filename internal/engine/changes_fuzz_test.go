package engine

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/convert"
)

// FuzzChangeConvert feeds arbitrary resource JSON through what a changes
// source does with a version: the filter, reading its references, and
// the conversion for each followed type. Nothing may panic.
func FuzzChangeConvert(f *testing.F) {
	f.Add([]byte(serviceRequest("s", "active", labCategory)))
	f.Add([]byte(testPatient))
	f.Add([]byte(`{"resourceType":"DiagnosticReport","status":"final","code":{},"basedOn":[{"reference":"ServiceRequest/1/_history/2"}],"result":[{"reference":"Observation/"}]}`))
	f.Add([]byte(`{"subject":{"reference":"Patient//"},"link":[{"other":{"reference":7}}]}`))
	f.Add([]byte(`[]`))
	filter, err := CompileChangeFilter(`has(resource.status) && resource.status == "active"`)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, content []byte) {
		filter.Pass(context.Background(), "ServiceRequest", "x", 1, content)
		var refs refsOf
		if json.Unmarshal(content, &refs) != nil {
			return
		}
		in := &changeInput{refs: refs, rel: map[string][]byte{}}
		for _, r := range append(append(append([]jsonRef{}, refs.Specimen...), refs.BasedOn...), refs.Result...) {
			for _, typ := range []string{"ServiceRequest", "Observation", "Specimen"} {
				if x, ok := r.ref(typ); ok {
					if x.ID == "" || x.Type != typ {
						t.Fatalf("ref %q read as %+v", r.Reference, x)
					}
					in.rel[x.Type+"/"+x.ID] = content
				}
			}
		}
		for _, typ := range []string{"ServiceRequest", "DiagnosticReport", "Patient", "Observation"} {
			in.r = &concord.Resource{Type: typ, ID: "x", Version: 2, Content: content}
			in.previous = content
			convertChange(in, convert.OutboundOptions{ControlID: "1-abcdef"})
		}
	})
}
