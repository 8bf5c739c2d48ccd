package convert

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/hl7v2"
)

// FuzzOutboundResources feeds arbitrary JSON to the resource readers of
// OrderMessage, ResultMessage and PatientMessage: read as a golden case
// (every resource in its place) when it has that shape, and else given
// as every resource at once. Nothing may panic, and every message
// produced must parse and pass hl7v2.Validate without errors; a failure
// to write valid HL7 from accepted input (EINTERNAL, or an invalid
// message) is a bug.
func FuzzOutboundResources(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "outbound", "*.json"))
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(`{"resourceType":"ServiceRequest","id":"x","status":"active","intent":"order","code":{"text":"|^~\\&"}}`))
	f.Add([]byte(`{"resourceType":"Patient","id":"p","name":[{"family":"\u0000\r\n"}],"birthDate":"2020-02-30"}`))
	f.Add([]byte(`{"kind":"result","diagnosticReport":{"resourceType":"DiagnosticReport","status":"final","code":{"text":"t"}},` +
		`"observations":[{"resourceType":"Observation","code":{"text":"c"},"valueQuantity":{"value":1e400}}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var tc outboundCase
		if err := json.Unmarshal(data, &tc); err != nil || tc.Kind == "" {
			raw := json.RawMessage(data)
			tc = outboundCase{ServiceRequest: raw, Previous: raw, Patient: raw, Encounter: raw, Requester: raw,
				DiagnosticReport: raw, Specimens: []json.RawMessage{raw}, Observations: []json.RawMessage{raw, raw},
				Linked: []json.RawMessage{raw}}
		}
		tc.Control = "" // a caller's ORC-1 is taken as given
		for _, kind := range []string{"order", "result", "patient"} {
			tc.Kind = kind
			msg, err := tc.run("fuzz")
			if err != nil {
				if concord.ErrorCode(err) == concord.EINTERNAL {
					t.Fatalf("%s: %v", kind, err)
				}
				if strings.Contains(err.Error(), "is not valid HL7") {
					t.Fatalf("%s: wrote invalid HL7 from accepted input: %v", kind, err)
				}
				continue
			}
			m, perr := hl7v2.Parse(msg)
			if perr != nil {
				t.Fatalf("%s: the message does not parse: %v", kind, perr)
			}
			for _, is := range hl7v2.Validate(m, hl7v2.ValidateOptions{}) {
				if is.Severity == hl7v2.SeverityError {
					t.Fatalf("%s: %s", kind, is.Text)
				}
			}
		}
	})
}
