package convert

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/concord-health/concord/hl7v2"
)

// outboundUpdate rewrites the outbound golden files instead of comparing
// against them. It is not named "update": the inbound tests of this
// package may declare that one.
var outboundUpdate = flag.Bool("update-outbound", false, "rewrite testdata/outbound/*.hl7 from the current output")

// outboundCase is one golden case: the resources, the options and the
// values the message must hold (see testdata/outbound/README.md).
type outboundCase struct {
	Kind    string `json:"kind"`
	Options struct {
		Version     string            `json:"version"`
		OrderType   string            `json:"orderType"`
		Authorities map[string]string `json:"authorities"`
	} `json:"options"`
	ServiceRequest   json.RawMessage   `json:"serviceRequest"`
	Previous         json.RawMessage   `json:"previous"`
	Patient          json.RawMessage   `json:"patient"`
	Encounter        json.RawMessage   `json:"encounter"`
	Requester        json.RawMessage   `json:"requester"`
	DiagnosticReport json.RawMessage   `json:"diagnosticReport"`
	Specimens        []json.RawMessage `json:"specimens"`
	Observations     []json.RawMessage `json:"observations"`
	Linked           []json.RawMessage `json:"linked"`
	Control          string            `json:"control"`
	Expect           map[string]string `json:"expect"`
}

// outboundTestOptions are the fixed options of the golden cases.
func outboundTestOptions(controlID string) OutboundOptions {
	return OutboundOptions{
		SendingApplication: "CONCORD", SendingFacility: "NORTH",
		ReceivingApplication: "LIS", ReceivingFacility: "LAB",
		ControlID: controlID,
		Time:      time.Date(2026, 3, 2, 10, 15, 0, 0, time.UTC),
	}
}

func outboundRaws(in []json.RawMessage) [][]byte {
	var out [][]byte
	for _, r := range in {
		out = append(out, r)
	}
	return out
}

// run converts the case with the function its kind names.
func (tc *outboundCase) run(controlID string) ([]byte, error) {
	opt := outboundTestOptions(controlID)
	opt.Version = tc.Options.Version
	opt.OrderType = tc.Options.OrderType
	opt.Authorities = tc.Options.Authorities
	switch tc.Kind {
	case "order":
		return OrderMessage(OutboundOrder{ServiceRequest: tc.ServiceRequest, Previous: tc.Previous, Patient: tc.Patient,
			Encounter: tc.Encounter, Specimens: outboundRaws(tc.Specimens), Requester: tc.Requester, Control: tc.Control}, opt)
	case "result":
		return ResultMessage(OutboundResult{DiagnosticReport: tc.DiagnosticReport, Observations: outboundRaws(tc.Observations),
			Patient: tc.Patient, Encounter: tc.Encounter, ServiceRequest: tc.ServiceRequest, Requester: tc.Requester,
			Specimens: outboundRaws(tc.Specimens)}, opt)
	case "patient":
		return PatientMessage(OutboundPatient{Patient: tc.Patient, Previous: tc.Previous, Linked: outboundRaws(tc.Linked),
			Encounter: tc.Encounter}, opt)
	}
	return nil, nil
}

// TestOutboundGolden converts every case under testdata/outbound and
// compares the message with its .hl7 file; the message must parse, pass
// hl7v2.Validate without errors, and read back the expected values.
func TestOutboundGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "outbound", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no outbound cases: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var tc outboundCase
			if err := json.Unmarshal(data, &tc); err != nil {
				t.Fatalf("case: %v", err)
			}
			if tc.Kind != "order" && tc.Kind != "result" && tc.Kind != "patient" {
				t.Fatalf("case kind %q: want order, result or patient", tc.Kind)
			}
			msg, err := tc.run(name)
			if err != nil {
				t.Fatalf("convert: %v", err)
			}
			outboundCheckMessage(t, msg)
			m, _ := hl7v2.Parse(msg)
			if m.ControlID() != name {
				t.Errorf("MSH-10 = %q, want %q", m.ControlID(), name)
			}
			keys := make([]string, 0, len(tc.Expect))
			for k := range tc.Expect {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, path := range keys {
				if got := m.Get(path); got != tc.Expect[path] {
					t.Errorf("%s = %q, want %q", path, got, tc.Expect[path])
				}
			}
			golden := strings.TrimSuffix(file, ".json") + ".hl7"
			text := bytes.ReplaceAll(msg, []byte("\r"), []byte("\n"))
			if *outboundUpdate {
				if err := os.WriteFile(golden, text, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update-outbound to create it)", err)
			}
			if !bytes.Equal(text, want) {
				t.Errorf("message differs from %s (run with -update-outbound after a deliberate change):\n got:\n%s\nwant:\n%s", golden, text, want)
			}
		})
	}
}

// outboundCheckMessage fails the test unless msg parses, uses CR
// between segments, and passes hl7v2.Validate without errors.
func outboundCheckMessage(t *testing.T, msg []byte) {
	t.Helper()
	if bytes.IndexByte(msg, '\n') >= 0 {
		t.Errorf("the message holds a line feed; segments end with CR and text line breaks are escaped")
	}
	m, err := hl7v2.Parse(msg)
	if err != nil {
		t.Fatalf("the message does not parse: %v\n%s", err, bytes.ReplaceAll(msg, []byte("\r"), []byte("\n")))
	}
	for _, is := range hl7v2.Validate(m, hl7v2.ValidateOptions{}) {
		if is.Severity == hl7v2.SeverityError {
			t.Errorf("validate: %s (%v)", is.Text, is.Location)
		}
	}
}
