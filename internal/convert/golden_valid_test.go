package convert

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/concord-health/concord/hl7v2"
)

// TestGoldenInputsValid: every synthetic golden message is valid HL7 v2
// (structure, data types, tables), so that a fresh concord serve accepts
// it before converting it.
func TestGoldenInputsValid(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.hl7")
	if len(files) == 0 {
		t.Fatal("no golden messages")
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := hl7v2.Parse(raw)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		var errs []string
		for _, is := range hl7v2.Validate(m, hl7v2.ValidateOptions{}) {
			if is.Severity == hl7v2.SeverityError {
				errs = append(errs, is.Text)
			}
		}
		if len(errs) > 0 {
			t.Errorf("%s is not valid HL7 v2: %s", filepath.Base(f), strings.Join(errs, "; "))
		}
	}
}
