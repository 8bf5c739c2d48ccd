package terminology

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/concord-health/concord/fhirpath"
	"github.com/concord-health/concord/hl7v2"
)

// TestUCUM: the unit strings HL7 v2 results carry become UCUM codes, and
// what is not a unit (or surely not what the sender meant) is refused.
func TestUCUM(t *testing.T) {
	for _, tc := range []struct {
		unit, code string
		ok         bool
	}{
		// Valid UCUM stays as it is.
		{"mg/dL", "mg/dL", true}, {"g/dL", "g/dL", true}, {"fL", "fL", true}, {"10*3/uL", "10*3/uL", true},
		{"10*6/uL", "10*6/uL", true}, {"{cells}/uL", "{cells}/uL", true}, {"pg/{cell}", "pg/{cell}", true},
		{"g/mL", "g/mL", true}, {"%", "%", true}, {"U/L", "U/L", true}, {"mm[Hg]", "mm[Hg]", true},
		{"kg/m2", "kg/m2", true}, {"Cel", "Cel", true}, {"/min", "/min", true}, {"umol/L", "umol/L", true},
		{"mL/min/{1.73_m2}", "mL/min/{1.73_m2}", true}, {"10*3/mm3", "10*3/mm3", true}, {"L/L", "L/L", true},
		// Litres written l, and case.
		{"mg/dl", "mg/dL", true}, {"mmol/l", "mmol/L", true}, {"ng/ml", "ng/mL", true}, {"fl", "fL", true},
		{"MG/DL", "mg/dL", true}, {"MMOL/L", "mmol/L", true}, {"FL", "fL", true}, {"PG", "pg", true},
		{"GM/DL", "g/dL", true}, {"MEQ/L", "meq/L", true},
		// Powers of ten and counts.
		{"K/uL", "10*3/uL", true}, {"k/µl", "10*3/uL", true}, {"10^3/uL", "10*3/uL", true},
		{"x10E3/uL", "10*3/uL", true}, {"10^9/L", "10*9/L", true}, {"x10E9/L", "10*9/L", true},
		{"10(9)/L", "10*9/L", true}, {"10^12/L", "10*12/L", true}, {"M/uL", "10*6/uL", true},
		{"giga.l-1", "10*9/L", true}, {"tera.l-1", "10*12/L", true}, {"cells/uL", "{cells}/uL", true},
		{"copies/mL", "{copies}/mL", true}, {"/HPF", "/[HPF]", true},
		// Micro, equivalents, international units, osmoles.
		{"mcg/dL", "ug/dL", true}, {"µg/L", "ug/L", true}, {"μmol/L", "umol/L", true}, {"mcL", "uL", true},
		{"mEq/L", "meq/L", true}, {"IU/L", "[IU]/L", true}, {"mIU/mL", "m[IU]/mL", true},
		{"uIU/mL", "u[IU]/mL", true}, {"mOsm/kg", "mosm/kg", true}, {"u/l", "U/L", true},
		// Time.
		{"sec", "s", true}, {"secs", "s", true}, {"hr", "h", true}, {"mm/hr", "mm/h", true},
		{"days", "d", true}, {"yrs", "a", true}, {"mg/24hr", "mg/(24.h)", true}, {"g/24 h", "g/(24.h)", true},
		// Vital signs and customary units.
		{"beats/min", "/min", true}, {"bpm", "/min", true}, {"mmHg", "mm[Hg]", true}, {"°C", "Cel", true},
		{"degF", "[degF]", true}, {"lbs", "[lb_av]", true}, {"in", "[in_i]", true}, {"kg/m^2", "kg/m2", true},
		{"mL/min/1.73m2", "mL/min/{1.73_m2}", true}, {"percent", "%", true}, {"cc", "mL", true},
		{" mg/dL ", "mg/dL", true},
		// Not units, or not what the sender can have meant.
		{"", "", false}, {"   ", "", false}, {"g/l-1", "", false}, {"Neg", "", false}, {"N/A", "", false},
		{"Kelvin", "", false}, {"M", "", false}, {"S", "", false}, {"MM", "", false}, {"SEC", "s", true}, {"MM/HR", "mm/h", true}, {"log{copies}/mL", "", false}, {"mg/dL^^", "", false},
		{string(make([]byte, 100)), "", false},
	} {
		code, ok := UCUM(tc.unit)
		if code != tc.code || ok != tc.ok {
			t.Errorf("UCUM(%q) = %q, %v; want %q, %v", tc.unit, code, ok, tc.code, tc.ok)
		}
	}
}

// TestUCUMCodesConvert: the codes UCUM returns compare in the FHIRPath
// engine (and so in quantity searches) with their plain equivalents.
func TestUCUMCodesConvert(t *testing.T) {
	for unit, base := range map[string]string{"mg/dl": "g.m-3", "K/uL": "m-3", "giga.l-1": "m-3", "sec": "s", "mm/hr": "m.s-1"} {
		code, ok := UCUM(unit)
		if !ok {
			t.Fatalf("%q refused", unit)
		}
		if _, key, ok := fhirpath.UCUMCanonical(1, code); !ok || key != base {
			t.Errorf("%q → %q has base units %q, want %q", unit, code, key, base)
		}
	}
}

// sampleDir holds the shared HL7 v2 samples (Microsoft FHIR-Converter
// test data, synthetic patients); tests skip when ../shared is absent.
const sampleDir = "../../../shared/data/hl7v2/fhir-converter/input"

// TestUCUMSampleUnits: every unit in OBX-6 of the shared samples is
// normalised, or is one deliberately left (listed here with the reason).
func TestUCUMSampleUnits(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(sampleDir, "*.hl7"))
	if len(files) == 0 {
		t.Skipf("no samples in %s (../shared absent)", sampleDir)
	}
	left := map[string]string{
		"g/l-1": "UCUM reads it as g·L (a negative exponent after a slash); the sender meant g/L or g.l-1 — no guess",
	}
	seen := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := hl7v2.Parse(data)
		if err != nil {
			continue
		}
		for _, seg := range m.Segments() {
			if seg.Name() != "OBX" {
				continue
			}
			if u := seg.Field(6).Component(1).String(); u != "" {
				seen[u] = filepath.Base(f)
			}
		}
	}
	if len(seen) < 10 {
		t.Fatalf("only %d distinct units in the samples", len(seen))
	}
	units := make([]string, 0, len(seen))
	for u := range seen {
		units = append(units, u)
	}
	sort.Strings(units)
	for _, u := range units {
		code, ok := UCUM(u)
		_, deliberate := left[u]
		switch {
		case ok && deliberate:
			t.Errorf("%q (%s) is listed as left but normalises to %q", u, seen[u], code)
		case !ok && !deliberate:
			t.Errorf("%q (%s) is not normalised", u, seen[u])
		default:
			t.Logf("%-14q → %q %v", u, code, ok)
		}
	}
}

// FuzzUCUM: no unit string panics, and whatever is accepted is valid
// UCUM for the FHIRPath engine or one of the aliases' codes.
func FuzzUCUM(f *testing.F) {
	for _, s := range []string{"mg/dl", "K/uL", "10^3/uL", "giga.l-1", "{cells}/uL", "mL/min/{1.73_m2}", "[", "{", "/", "10^", "x10(", "mcl-1", "µ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, unit string) {
		code, ok := UCUM(unit)
		if ok && code == "" {
			t.Fatalf("UCUM(%q) accepted with no code", unit)
		}
		if ok {
			if again, ok2 := UCUM(code); !ok2 || again != code {
				t.Fatalf("UCUM(%q) = %q, which normalises again to %q, %v", unit, code, again, ok2)
			}
		}
	})
}
