package convert

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/concord-health/concord/hl7v2"
)

// FuzzToFHIR checks that any bytes hl7v2 parses convert without panicking,
// and that a conversion that succeeds gives a JSON Bundle. The seeds are
// the synthetic golden messages and the corpus in testdata/fuzz.
func FuzzToFHIR(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.hl7"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := hl7v2.Parse(data)
		if err != nil {
			return
		}
		res, err := ToFHIR(context.Background(), m, Options{Codes: testMapper{}})
		if err != nil {
			return
		}
		if !json.Valid(res.Bundle) {
			t.Fatalf("not JSON: %s", res.Bundle)
		}
		var b struct {
			Entry []json.RawMessage `json:"entry"`
		}
		if err := json.Unmarshal(res.Bundle, &b); err != nil || len(b.Entry) != res.Resources {
			t.Fatalf("%d entries for %d resources (%v)", len(b.Entry), res.Resources, err)
		}
	})
}
