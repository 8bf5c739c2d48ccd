package synthetic

import (
	"strconv"
	"testing"

	"github.com/concord-health/concord/hl7v2"
)

// TestSyntheticORUsValidate: the load messages are valid HL7 v2.5.1, with
// the results and identifiers asked for.
func TestSyntheticORUsValidate(t *testing.T) {
	for _, results := range []int{0, 1, 20, 25} {
		var raw []byte
		if results == 0 {
			raw = AppendORU(nil, "LOAD", "T-", 3, 17)
		} else {
			raw = AppendORUResults(nil, "LOAD", "T-", 3, 17, results)
		}
		m, err := hl7v2.Parse(raw)
		if err != nil {
			t.Fatalf("%d results: %v", results, err)
		}
		for _, is := range hl7v2.Validate(m, hl7v2.ValidateOptions{}) {
			if is.Severity == hl7v2.SeverityError {
				t.Errorf("%d results: %v", results, is)
			}
		}
		want := results
		if results == 0 {
			want = 4
		}
		if n := m.Count("OBX"); n != want {
			t.Errorf("%d results: %d OBX", results, n)
		}
		if got := m.Get("MSH-10"); got != "T-3-17" {
			t.Errorf("control ID %q", got)
		}
		if results > 20 {
			if got := m.Get("OBX[21]-4"); got != strconv.Itoa(2) {
				t.Errorf("OBX[21]-4 = %q, want sub-ID 2", got)
			}
		}
	}
}
