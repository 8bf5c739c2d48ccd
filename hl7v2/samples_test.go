package hl7v2

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sampleDir holds the shared HL7 v2 samples (Microsoft FHIR-Converter
// test data, synthetic patients); tests skip when ../shared is absent.
const sampleDir = "../../shared/data/hl7v2/fhir-converter/input"

func samples(t testing.TB) map[string][]byte {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(sampleDir, "*.hl7"))
	if len(files) == 0 {
		t.Skipf("no samples in %s (../shared absent)", sampleDir)
	}
	out := make(map[string][]byte, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	return out
}

// TestSamples parses every shared sample: it must parse, keep its bytes,
// have one segment per non-empty line, and name its type and control ID.
func TestSamples(t *testing.T) {
	all := samples(t)
	if len(all) < 130 {
		t.Fatalf("only %d samples", len(all))
	}
	for name, data := range all {
		m, err := Parse(data)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !bytes.Equal(m.Bytes(), data) {
			t.Errorf("%s: unedited message does not encode to its own bytes", name)
		}
		lines := 0
		for _, l := range strings.FieldsFunc(string(bytes.TrimPrefix(data, bom)), func(r rune) bool { return r == '\r' || r == '\n' }) {
			if strings.TrimSpace(l) != "" {
				lines++
			}
		}
		if m.Len() != lines {
			t.Errorf("%s: %d segments, file has %d lines", name, m.Len(), lines)
		}
		code, trigger, _ := m.MessageType()
		if code == "" || m.ControlID() == "" || m.Version() == "" {
			t.Errorf("%s: type %q^%q control %q version %q", name, code, trigger, m.ControlID(), m.Version())
		}
		// File names that carry the type must agree with MSH-9.
		base := strings.ToUpper(strings.SplitN(name, ".", 2)[0])
		if parts := strings.Split(base, "-"); len(parts) >= 2 && len(parts[1]) == 3 && parts[0] == code &&
			parts[1] != trigger && !strings.HasPrefix(base, "LAB") && !strings.HasPrefix(base, "MDHHS") {
			t.Errorf("%s: MSH-9 trigger %s", name, trigger)
		}
		// Editing and re-encoding gives CR-separated segments that parse back
		// to the same values.
		c := m.Clone()
		if err := c.Set("MSH-10", m.ControlID()); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		again, err := Parse(c.Bytes())
		if err != nil {
			t.Errorf("%s: re-encoded message does not parse: %v", name, err)
			continue
		}
		if again.Len() != m.Len() || again.Get("PID-5.1") != m.Get("PID-5.1") || again.ControlID() != m.ControlID() {
			t.Errorf("%s: re-encoded message reads differently", name)
		}
		if bytes.ContainsRune(c.Bytes(), '\n') || bytes.HasPrefix(c.Bytes(), bom) {
			t.Errorf("%s: re-encoding must use CR and no BOM", name)
		}
	}
}

func TestSampleValues(t *testing.T) {
	all := samples(t)
	m, err := Parse(all["ADT-A01-01.hl7"])
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]string{
		"MSH-1":         "|",
		"MSH-2":         `^~\&`,
		"MSH-3":         "ADTApp",
		"MSH-4.2":       "2.16.840.1.122848.1.30",
		"MSH-9":         "ADT^A01^ADT_A01",
		"MSH-9.3":       "ADT_A01",
		"MSH-10":        "MSG00001",
		"MSH-12":        "2.8",
		"PID-3.1":       "PATID1234",
		"PID-3[2].1":    "123456789",
		"PID-3[2].4":    "USSSA",
		"PID-3.4.2":     "2.16.1",
		"PID-5.1.1":     "EVERYMAN",
		"PID-5.1.5":     "Aniston",
		"PID-5[2].1.1":  "Josh",
		"PID-5.2":       "ADAM",
		"PID(1)-5(2).7": "L",
		"PID-11.1.1":    "1000",
		"PID-11.1.2":    "Hospital Lane",
		"PV1-14":        "NHS Provider-General (inc.A&E-this Hosp)",
		"PV1-18":        "Inpatient",
		"ZZZ-1":         "",
		"PID-99":        "",
		"PID-3[9].1":    "",
	}
	for path, want := range checks {
		if got := m.Get(path); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	pid, _ := m.Find("PID", 1)
	cx := pid.Field(3).Rep(2).CX()
	if cx.ID != "123456789" || cx.AssigningAuthority.Namespace != "USSSA" || cx.IdentifierType != "SS" {
		t.Errorf("CX %+v", cx)
	}
	name := pid.Field(5).XPN()
	if name.Family != "EVERYMAN" || name.Given != "ADAM" || name.Middle != "A" || name.Suffix != "III" || name.Prefix != "Dr." || name.Degree != "MD" {
		t.Errorf("XPN %+v", name)
	}
	addr := pid.Field(11).XAD()
	if addr.Street != "1000" || addr.Other != "Ste. 123" || addr.City != "Ann Arbor " || addr.State != "MI" || addr.Zip != "99999" || addr.Country != "USA" {
		t.Errorf("XAD %+v", addr)
	}
	race := pid.Field(10).CWE()
	if race.Code != "2106-3" || race.Text != "White" || race.System != "HL70005" {
		t.Errorf("CWE %+v", race)
	}
	ts, err := pid.Field(7).Time(nil)
	if err != nil || ts.Precision != PrecisionMinute || !ts.HasZone || ts.UTC().Format("2006-01-02T15:04:05") != "1988-08-18T09:11:00" {
		t.Errorf("PID-7 %v %v", ts, err)
	}
}
