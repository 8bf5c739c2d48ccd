package hl7v2

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// where writes a location as SEG[seq]-field[rep].component, the form the
// expectations below use.
func where(l Location) string {
	s := l.Segment + "[" + strconv.Itoa(l.Seq) + "]"
	if l.Field > 0 {
		s += "-" + strconv.Itoa(l.Field)
		if l.Rep > 0 {
			s += "[" + strconv.Itoa(l.Rep) + "]"
		}
		if l.Component > 0 {
			s += "." + strconv.Itoa(l.Component)
		}
	}
	return s
}

// errorsOf lists the issues of severity E as "code where".
func errorsOf(issues []Issue) []string {
	var out []string
	for _, is := range issues {
		if is.Severity == SeverityError {
			out = append(out, strconv.Itoa(int(is.Code))+" "+where(is.Location))
		}
	}
	return out
}

// invalidSamples lists the shared samples that break the standard, with
// the errors Validate must report for each ("code SEG[seq]-field"). Every
// other sample must be accepted (AA).
var invalidSamples = map[string][]string{
	// PV1-46 is "current patient balance" (NM); the sample puts a
	// date/time there.
	"ADT-A13-02.hl7": {"102 PV1[1]-46"},
	// PID-30 (patient death indicator) takes Y or N (HL7 table 0136), not
	// "NO"; in ADT_A01 (v2.3) DG1 comes before GT1, not after it.
	"ADT01-23.hl7": {"103 PID[1]-30", "100 DG1[1]"},
	// An ADT^A04 without EVN: EVN is required in every ADT message.
	"ADT04-251.hl7": {"100 EVN[1]"},
	// PID-30 "NO" as above; ORC-5 is the order status (table 0038), and
	// "NW" is an order control code (ORC-1), not a status.
	"LAB-ORM-1.hl7": {"103 PID[1]-30", "103 ORC[1]-5"},
	// PID-30 "NO" as above.
	"LAB-ORU-1.hl7": {"103 PID[1]-30"},
	"LAB-ORU-2.hl7": {"103 PID[1]-30"},
	// IN1-13 (plan expiration date) is a DT, not a date/time with a zone.
	// The file lacks the line break before ORC, so ORC's fields run into
	// GT1 (GT1-22, -24, -25 get an order control code and order numbers)
	// and the order has no ORC.
	"MDHHS-OML-O21-1.hl7": {"102 IN1[1]-13", "103 GT1[1]-22", "102 GT1[1]-24.1", "103 GT1[1]-25.1", "100 ORC[1]"},
	// IN1-13 as above; two OBR under one ORC: each observation request
	// needs its own ORC in OML_O21.
	"MDHHS-OML-O21-2.hl7": {"102 IN1[1]-13", "100 OBR[2]"},
	// Labelled ADT^A01^ADT_A01 but carries an MDM body (orders and TXA),
	// which ADT_A01 does not allow.
	"MDM_01.hl7": {"100 ORC[1]", "100 TQ1[1]", "100 OBR[1]", "100 NTE[1]", "100 TXA[1]", "100 ORC[2]", "100 OBR[2]"},
	// In the ORDER's OBSERVATION group PRT comes before NTE (OBX [{PRT}]
	// [{NTE}], v2.7 to v2.9); this PRT follows the NTE.
	"OMG-O19-01.hl7": {"100 PRT[5]"},
	"OML-O21-03.hl7": {"100 PRT[5]"},
	// Labelled ORM^O01^ORM_O01 but uses OML segments: ORM_O01 has no TQ1
	// and no SPM.
	"OML-O21-02.hl7": {"100 TQ1[1]", "100 SPM[1]", "100 SPM[2]"},
	// ORC-15 "2010201200+0215" has month 20.
	"ORM-O01-01.hl7": {"102 ORC[1]-15"},
	// ORC-1 "NM" is not an order control code (a typo for NW).
	"OUL-R24-02.hl7": {"103 ORC[2]-1"},
	// The comment text is in NTE-2 (source of comment, table 0105)
	// instead of NTE-3.
	"SIU-S13-01.hl7": {"103 NTE[1]-2"},
	"SIU-S14-01.hl7": {"103 NTE[1]-2"},
	"SIU-S15-01.hl7": {"103 NTE[1]-2"},
	"SIU-S16-01.hl7": {"103 NTE[1]-2"},
	"SIU-S17-01.hl7": {"103 NTE[1]-2"},
	"SIU-S26-01.hl7": {"103 NTE[1]-2"},
	// Labelled ADT^A60^ADT_A60 but carries a scheduling (SIU) body, and
	// AIS-2 "E" is not a segment action code (table 0206).
	"SIU_12.hl7": {"100 SCH[1]", "100 EVN[1]", "100 PD1[1]", "100 OBX[1]", "100 DG1[1]", "100 RGS[1]", "100 AIS[1]",
		"103 AIS[1]-2", "100 IAM[1]", "100 AIG[1]", "100 AIL[1]", "100 AIP[1]", "100 RGS[2]", "100 AIS[2]", "103 AIS[2]-2",
		"100 AIG[2]", "100 AIL[2]", "100 AIP[2]"},
}

// TestValidateSamples validates every shared sample: valid ones are
// accepted, invalid ones get exactly the errors listed above.
func TestValidateSamples(t *testing.T) {
	all := samples(t)
	for name := range invalidSamples {
		if _, ok := all[name]; !ok {
			t.Errorf("%s: listed as invalid but not among the samples", name)
		}
	}
	for name, data := range all {
		m, err := Parse(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		issues := Validate(m, ValidateOptions{})
		want, invalid := invalidSamples[name]
		got := errorsOf(issues)
		if !invalid {
			if code := AckCodeFor(issues); code != AA {
				t.Errorf("%s: %s, want AA: %v", name, code, issues)
			}
			continue
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: errors %q, want %q", name, got, want)
		}
		if code := AckCodeFor(issues); code != AE {
			t.Errorf("%s: %s, want AE", name, code)
		}
		if _, known := Structure(m); !known {
			t.Errorf("%s: structure not known", name)
		}
	}
}

// build parses a synthetic message built from segments separated by "\r".
func build(t *testing.T, segments ...string) *Message {
	t.Helper()
	m, err := Parse([]byte(strings.Join(segments, "\r") + "\r"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// fields writes a synthetic segment with the given fields.
func fields(name string, values map[int]string) string {
	last := 0
	for n := range values {
		last = max(last, n)
	}
	parts := make([]string, last+1)
	parts[0] = name
	for n, v := range values {
		parts[n] = v
	}
	return strings.Join(parts, "|")
}

// find returns the issues with a code at a location ("SEG[seq]-field").
func find(issues []Issue, code Code, at string) []Issue {
	var out []Issue
	for _, is := range issues {
		if is.Code == code && where(is.Location) == at {
			out = append(out, is)
		}
	}
	return out
}

// Synthetic segments (no real patient data).
const (
	mshADT = "MSH|^~\\&|SEND|FAC|RECV|FAC|20260101120000||ADT^A01^ADT_A01|MSG1|P|2.5.1"
	evn    = "EVN|A01|20260101120000"
	pid    = "PID|1||123^^^HOSP^MR||DOE^JANE||19800101|F"
	pv1    = "PV1|1|I|WARD^1^1"
	mshORU = "MSH|^~\\&|LAB|FAC|EHR|FAC|20260101120000||ORU^R01^ORU_R01|MSG2|P|2.5.1"
	obr    = "OBR|1|P1|F1|1234-5^TEST^LN"
)

func TestValidateHeader(t *testing.T) {
	cases := []struct {
		name string
		msh  string
		code Code
		at   string
		ack  AckCode
	}{
		{"missing MSH-10", "MSH|^~\\&|A|B|C|D|20260101||ADT^A01^ADT_A01||P|2.5.1", CodeRequiredFieldMissing, "MSH[1]-10", AE},
		{"processing ID X", "MSH|^~\\&|A|B|C|D|20260101||ADT^A01^ADT_A01|1|X|2.5.1", CodeUnsupportedProcID, "MSH[1]-11.1", AR},
		{"version 3.0", "MSH|^~\\&|A|B|C|D|20260101||ADT^A01^ADT_A01|1|P|3.0", CodeUnsupportedVersion, "MSH[1]-12.1", AR},
		{"missing version", "MSH|^~\\&|A|B|C|D|20260101||ADT^A01^ADT_A01|1|P", CodeRequiredFieldMissing, "MSH[1]-12", AE},
		{"missing processing ID", "MSH|^~\\&|A|B|C|D|20260101||ADT^A01^ADT_A01|1||2.5.1", CodeRequiredFieldMissing, "MSH[1]-11", AE},
		{"unknown type", "MSH|^~\\&|A|B|C|D|20260101||XYZ^A01|1|P|2.5.1", CodeUnsupportedMessage, "MSH[1]-9.1", AR},
		{"unknown event", "MSH|^~\\&|A|B|C|D|20260101||ADT^Z99|1|P|2.5.1", CodeUnsupportedEvent, "MSH[1]-9.2", AR},
		{"missing type", "MSH|^~\\&|A|B|C|D|20260101|||1|P|2.5.1", CodeRequiredFieldMissing, "MSH[1]-9.1", AE},
		{"missing event", "MSH|^~\\&|A|B|C|D|20260101||ADT|1|P|2.5.1", CodeRequiredFieldMissing, "MSH[1]-9.2", AE},
		{"bad MSH-7", "MSH|^~\\&|A|B|C|D|2026-01-01||ADT^A01^ADT_A01|1|P|2.5.1", CodeDataType, "MSH[1]-7", AE},
		{"missing MSH-7 in 2.4", "MSH|^~\\&|A|B|C|D|||ADT^A01^ADT_A01|1|P|2.4", CodeRequiredFieldMissing, "MSH[1]-7", AE},
		{"MSH-15 XX", "MSH|^~\\&|A|B|C|D|20260101||ADT^A01^ADT_A01|1|P|2.5.1|||XX", CodeTableValue, "MSH[1]-15", AE},
		{"MSH-16 YY", "MSH|^~\\&|A|B|C|D|20260101||ADT^A01^ADT_A01|1|P|2.5.1||||YY", CodeTableValue, "MSH[1]-16", AE},
	}
	for _, c := range cases {
		// Synthetic: a minimal valid ADT^A01 body under the header.
		issues := Validate(build(t, c.msh, evn, pid, pv1), ValidateOptions{})
		if len(find(issues, c.code, c.at)) != 1 {
			t.Errorf("%s: want %d at %s, got %v", c.name, c.code, c.at, issues)
		}
		if got := AckCodeFor(issues); got != c.ack {
			t.Errorf("%s: AckCodeFor %s, want %s", c.name, got, c.ack)
		}
	}
	// Synthetic: MSH-7 may be absent before v2.4, and ACK needs no trigger.
	for _, msh := range []string{"MSH|^~\\&|A|B|C|D|||ADT^A01|1|P|2.3", "MSH|^~\\&|A|B|C|D|20260101||ACK|1|P|2.5.1"} {
		body := []string{msh, evn, pid, pv1}
		if strings.Contains(msh, "ACK") {
			body = []string{msh, "MSA|AA|1"}
		}
		if issues := Validate(build(t, body...), ValidateOptions{}); AckCodeFor(issues) != AA || len(errorsOf(issues)) > 0 {
			t.Errorf("%s: %v", msh, issues)
		}
	}
}

func TestValidateStructure(t *testing.T) {
	// Synthetic: ADT^A01 without PID.
	issues := Validate(build(t, mshADT, evn, pv1), ValidateOptions{})
	got := find(issues, CodeSegmentSequence, "PID[1]")
	if len(got) != 1 || got[0].Text != "required segment PID missing" || len(errorsOf(issues)) != 1 {
		t.Errorf("missing PID: %v", issues)
	}
	// Synthetic: PV1 before PID is out of place, and only that.
	issues = Validate(build(t, mshADT, evn, pv1, pid), ValidateOptions{})
	if e := errorsOf(issues); !slices.Equal(e, []string{"100 PV1[1]"}) {
		t.Errorf("PV1 before PID: %v", issues)
	}
	// Synthetic: Z-segments anywhere draw no issue.
	issues = Validate(build(t, mshADT, "ZA1|x", evn, "ZB2|y", pid, pv1, "ZC3|z"), ValidateOptions{})
	if len(issues) != 0 {
		t.Errorf("Z-segments: %v", issues)
	}
	// Synthetic: a segment that is no HL7 segment at all, in a known
	// structure.
	issues = Validate(build(t, mshADT, evn, pid, "XYZ|1", pv1), ValidateOptions{})
	if e := errorsOf(issues); !slices.Equal(e, []string{"100 XYZ[1]"}) {
		t.Errorf("XYZ: %v", issues)
	}
	// Synthetic: missing segments at the end, each with its occurrence
	// (ADT_A17 has two patients).
	msh17 := "MSH|^~\\&|A|B|C|D|20260101||ADT^A17^ADT_A17|1|P|2.5.1"
	issues = Validate(build(t, msh17, evn, pid, pv1, pid), ValidateOptions{})
	if e := errorsOf(issues); !slices.Equal(e, []string{"100 PV1[2]"}) {
		t.Errorf("ADT_A17: %v", issues)
	}
	// Synthetic: repeating groups and nested groups in ORU_R01.
	issues = Validate(build(t, mshORU, pid, "PV1|1|O", "ORC|RE", obr, "NTE|1||note", "OBX|1|NM|1^A^L||5",
		"NTE|1||n", "OBX|2|ST|2^B^L||x", "SPM|1|S1", "OBX|3|NM|3^C^L||1", obr, "OBX|1|NM|1^A^L||6", pid, obr), ValidateOptions{})
	if len(issues) != 0 {
		t.Errorf("ORU_R01: %v", issues)
	}
	// Synthetic: an OBX before any OBR.
	issues = Validate(build(t, mshORU, pid, "OBX|1|NM|1^A^L||5", obr, "OBX|2|NM|1^A^L||5"), ValidateOptions{})
	if AckCodeFor(issues) != AA {
		t.Errorf("ORU_R01 patient OBX (v2.6+): %v", issues)
	}
	issues = Validate(build(t, mshORU, "NTE|1||x", obr), ValidateOptions{})
	if e := errorsOf(issues); !slices.Equal(e, []string{"100 NTE[1]"}) {
		t.Errorf("ORU_R01 leading NTE: %v", issues)
	}
	// Synthetic: an imaging order needs an IPC after each OBR.
	mshOMI := "MSH|^~\\&|A|B|C|D|20260101||OMI^O23^OMI_O23|1|P|2.5.1"
	issues = Validate(build(t, mshOMI, pid, "ORC|NW|P1", "OBR|1|P1||CT^Head^L", "IPC|ACC1|P1|1.2.3|S1"), ValidateOptions{})
	if len(issues) != 0 {
		t.Errorf("OMI_O23: %v", issues)
	}
	issues = Validate(build(t, mshOMI, pid, "ORC|NW|P1", "OBR|1|P1||CT^Head^L"), ValidateOptions{})
	if e := errorsOf(issues); !slices.Equal(e, []string{"100 IPC[1]"}) {
		t.Errorf("OMI_O23 without IPC: %v", issues)
	}
}

// TestValidatePharmacyOrderDetail: in the dispense, give and
// administration messages (RDS_O13, RGV_O15, RAS_O17) the order detail
// RXO may stand alone, its routes and components being an optional
// supplement; in RDE_O11 RXO needs its RXR.
func TestValidatePharmacyOrderDetail(t *testing.T) {
	// Synthetic segments.
	msh := func(typ string) string { return "MSH|^~\\&|A|B|C|D|20260101||" + typ + "|1|P|2.5.1" }
	const (
		orc  = "ORC|RE|P1"
		rxo  = "RXO|A^Drug^L|1||TAB^Tablet^HL70292"
		rxr  = "RXR|PO^Oral^HL70162"
		rxc  = "RXC|B|W^Water^L|100|mL^mL^UCUM"
		note = "NTE|1||n"
		rxd  = "RXD|1|A^Drug^L|20260101|1|TAB^Tablet^HL70292"
		rxa  = "RXA|0|1|20260101|20260101|A^Drug^L|1|TAB^Tablet^HL70292"
		rxg  = "RXG|1||||A^Drug^L"
		rxe  = "RXE||A^Drug^L|1||TAB^Tablet^HL70292"
	)
	cases := []struct {
		name string
		segs []string
		want []string // errors, as errorsOf writes them
	}{
		{"RDS RXO alone", []string{msh("RDS^O13^RDS_O13"), pid, orc, rxo, rxd, rxr}, nil},
		{"RAS RXO alone", []string{msh("RAS^O17^RAS_O17"), pid, orc, rxo, rxa, rxr}, nil},
		{"RGV RXO alone", []string{msh("RGV^O15^RGV_O15"), pid, orc, rxo, rxg, rxr}, nil},
		{"RDS RXO with supplement", []string{msh("RDS^O13^RDS_O13"), pid, orc, rxo, note, rxr, rxc, note, rxd, rxr}, nil},
		{"RDS RXC without RXR", []string{msh("RDS^O13^RDS_O13"), pid, orc, rxo, rxc, rxd, rxr}, []string{"100 RXC[1]"}},
		// Without its RXR, the RXO cannot stay: it is reported out of place.
		{"RDE RXO without RXR", []string{msh("RDE^O11^RDE_O11"), pid, orc, rxo, rxe, rxr}, []string{"100 RXO[1]"}},
	}
	for _, c := range cases {
		if got := errorsOf(Validate(build(t, c.segs...), ValidateOptions{})); !slices.Equal(got, c.want) {
			t.Errorf("%s: errors %q, want %q", c.name, got, c.want)
		}
	}
}

func TestValidateFields(t *testing.T) {
	cases := []struct {
		name string
		segs []string
		want string // "code where severity"
	}{
		{"OBX-5 not NM", []string{mshORU, pid, obr, "OBX|1|NM|1^A^L||5", "OBX|2|NM|1^A^L||abc"}, "102 OBX[2]-5 E"},
		{"OBX-5 second repetition", []string{mshORU, pid, obr, "OBX|1|NM|1^A^L||5~x"}, "102 OBX[1]-5[2] E"},
		{"OBX-11 Q", []string{mshORU, pid, obr, "OBX|1|ST|1^A^L||text||||||Q"}, "103 OBX[1]-11 E"},
		{"OBX-2 unknown", []string{mshORU, pid, obr, "OBX|1|QQ|1^A^L||text"}, "103 OBX[1]-2 E"},
		{"OBX-2 missing", []string{mshORU, pid, obr, "OBX|1||1^A^L||text"}, "101 OBX[1]-2 E"},
		{"OBX-5 DT", []string{mshORU, pid, obr, "OBX|1|DT|1^A^L||20260231"}, "102 OBX[1]-5 E"},
		{"OBX-5 TS", []string{mshORU, pid, obr, "OBX|1|TS|1^A^L||202601011261"}, "102 OBX[1]-5 E"},
		{"OBX-5 TM", []string{mshORU, pid, obr, "OBX|1|TM|1^A^L||2460"}, "102 OBX[1]-5 E"},
		{"OBX-5 CWE empty", []string{mshORU, pid, obr, "OBX|1|CWE|1^A^L||^^L"}, "102 OBX[1]-5 E"},
		{"OBX-5 SN comparator", []string{mshORU, pid, obr, "OBX|1|SN|1^A^L||!^10"}, "102 OBX[1]-5.1 E"},
		{"OBX-5 SN number", []string{mshORU, pid, obr, "OBX|1|SN|1^A^L||>^x"}, "102 OBX[1]-5.2 E"},
		{"OBX-5 SN separator", []string{mshORU, pid, obr, "OBX|1|SN|1^A^L||^1^?^2"}, "102 OBX[1]-5.3 E"},
		{"PID-7 ISO date", []string{mshADT, evn, "PID|1||1^^^H^MR||DOE^J||2026-01-01|F", pv1}, "102 PID[1]-7 E"},
		{"PID-8 user-defined", []string{mshADT, evn, "PID|1||1^^^H^MR||DOE^J||19800101|Q", pv1}, "103 PID[1]-8 W"},
		{"PID-1 not SI", []string{mshADT, evn, "PID|one||1^^^H^MR||DOE^J||19800101|F", pv1}, "102 PID[1]-1 E"},
		{"PV1-2 user-defined", []string{mshADT, evn, pid, "PV1|1|Z"}, "103 PV1[1]-2 W"},
		{"AL1-2 user-defined", []string{mshADT, evn, pid, pv1, "AL1|1|ZZ^Other|X^Allergen"}, "103 AL1[1]-2.1 W"},
		{"ORC-1", []string{mshORU, pid, "ORC|XY", obr}, "103 ORC[1]-1 E"},
		{"NTE-2", []string{mshORU, pid, obr, "NTE|1|Q|text"}, "103 NTE[1]-2 E"},
		{"DG1-5", []string{mshADT, evn, pid, pv1, "DG1|1||I10^x^I10|x|20261301"}, "102 DG1[1]-5 E"},
		{"FT1-4 range end", []string{"MSH|^~\\&|A|B|C|D|20260101||DFT^P03^DFT_P03|1|P|2.5.1", "EVN|P03|20260101", pid,
			"FT1|1|||20260101^2026x|20260101|CG|X^Y^L"}, "102 FT1[1]-4.2 E"},
		{"MSA-1", []string{"MSH|^~\\&|A|B|C|D|20260101||ACK^A01^ACK|1|P|2.5.1", "MSA|XX|1"}, "103 MSA[1]-1 E"},
		{"NK1-8 DT with time", []string{mshADT, evn, pid, "NK1|1|DOE^J|SPO|||||202601011200", pv1}, "102 NK1[1]-8 E"},
	}
	for _, c := range cases {
		// Synthetic messages built from the segments above.
		issues := Validate(build(t, c.segs...), ValidateOptions{})
		var got []string
		for _, is := range issues {
			if is.Severity != SeverityInformation {
				got = append(got, strconv.Itoa(int(is.Code))+" "+where(is.Location)+" "+string(is.Severity))
			}
		}
		if !slices.Equal(got, []string{c.want}) {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
	// Synthetic: valid values of every checked kind, nulls, spaces and
	// escapes draw no issue.
	ok := []string{mshORU, fields("PID", map[int]string{1: "1", 3: "1^^^H^MR", 5: "DOE^J", 7: "198001011200+0100", 8: "F",
		24: "N", 25: "2", 29: `""`, 30: "Y "}),
		fields("PV1", map[int]string{1: "1", 2: "O", 44: "20260101", 45: "20260102~20260103", 46: "-12.50"}),
		"ORC|NW|P1||||||||||||||20260101120000.1234", obr,
		"OBX|1|NM|1^A^L||+5.5~\"\"~7||||||F", "OBX|2|SN|1^A^L||<>^5^-^10", "OBX|3|SN|1^A^L||^2^:^3",
		"OBX|4|CWE|1^A^L||^Text only", "OBX|5|TM|1^A^L||123045.5-0500", "OBX|6|DT|1^A^L||202602", "OBX|7|ED|1^A^L||^AP^PDF^Base64^AAAA",
		"OBX|8|ST|1^A^L||a\\F\\b", "NTE|1|L|comment", "SPM|1|S1||X^Y^L|||||||||||||20260101^20260102"}
	if issues := Validate(build(t, ok...), ValidateOptions{}); len(issues) != 0 {
		t.Errorf("valid values: %v", issues)
	}
}

func TestValidateStrict(t *testing.T) {
	// Synthetic: a known message type whose structure Concord does not
	// define, with a segment HL7 does not define.
	segs := []string{"MSH|^~\\&|A|B|C|D|20260101||MFN^M02^MFN_M02|1|P|2.5.1", "MFI|PRA", "QQQ|1", "MFE|A"}
	loose := Validate(build(t, segs...), ValidateOptions{})
	strict := Validate(build(t, segs...), ValidateOptions{Strict: true})
	sev := func(issues []Issue, at string) []Severity {
		var out []Severity
		for _, is := range issues {
			if where(is.Location) == at {
				out = append(out, is.Severity)
			}
		}
		return out
	}
	if !slices.Equal(sev(loose, "MSH[1]-9.3"), []Severity{SeverityInformation}) || !slices.Equal(sev(loose, "QQQ[1]"), []Severity{SeverityWarning}) {
		t.Errorf("loose: %v", loose)
	}
	if !slices.Equal(sev(strict, "MSH[1]-9.3"), []Severity{SeverityError}) || !slices.Equal(sev(strict, "QQQ[1]"), []Severity{SeverityError}) {
		t.Errorf("strict: %v", strict)
	}
	if AckCodeFor(loose) != AA || AckCodeFor(strict) != AE {
		t.Errorf("ack codes %s %s", AckCodeFor(loose), AckCodeFor(strict))
	}
}

func TestStructure(t *testing.T) {
	cases := []struct {
		msh   string
		want  string
		known bool
	}{
		{"MSH|^~\\&|A|B|C|D|20260101||ADT^A04|1|P|2.3", "ADT_A01", true},
		{"MSH|^~\\&|A|B|C|D|20260101||ADT^A04^ADT_A01|1|P|2.5", "ADT_A01", true},
		{"MSH|^~\\&|A|B|C|D|20260101||ADT^A04^ADT_A04|1|P|2.8", "ADT_A01", true},
		{"MSH|^~\\&|A|B|C|D|20260101||ADT^A13|1|P|2.3", "ADT_A01", true},
		{"MSH|^~\\&|A|B|C|D|20260101||ADT^A14|1|P|2.3", "ADT_A05", true},
		{"MSH|^~\\&|A|B|C|D|20260101||ADT^A07|1|P|2.3", "ADT_A06", true},
		{"MSH|^~\\&|A|B|C|D|20260101||ADT^A10|1|P|2.3", "ADT_A09", true},
		{"MSH|^~\\&|A|B|C|D|20260101||ADT^A26|1|P|2.3", "ADT_A21", true},
		{"MSH|^~\\&|A|B|C|D|20260101||ADT^A40|1|P|2.4", "ADT_A39", true},
		{"MSH|^~\\&|A|B|C|D|20260101||ADT^A42|1|P|2.3", "ADT_A39", true},
		{"MSH|^~\\&|A|B|C|D|20260101||ADT^A47|1|P|2.5", "ADT_A30", true},
		{"MSH|^~\\&|A|B|C|D|20260101||ADT^A47|1|P|2.8", "ADT_A44", true},
		{"MSH|^~\\&|A|B|C|D|20260101||ORU^R01|1|P|2.3", "ORU_R01", true},
		{"MSH|^~\\&|A|B|C|D|20260101||ORU^R32|1|P|2.6", "ORU_R30", true},
		{"MSH|^~\\&|A|B|C|D|20260101||RDE^O25^RDE_O25|1|P|2.8", "RDE_O11", true},
		{"MSH|^~\\&|A|B|C|D|20260101||MDM^T09|1|P|2.3", "MDM_T01", true},
		{"MSH|^~\\&|A|B|C|D|20260101||SIU^S26|1|P|2.3", "SIU_S12", true},
		{"MSH|^~\\&|A|B|C|D|20260101||REF^I14^REF_I12|1|P|2.8", "REF_I12", true},
		{"MSH|^~\\&|A|B|C|D|20260101||ACK^A01^ACK|1|P|2.5", "ACK", true},
		{"MSH|^~\\&|A|B|C|D|20260101||ACK|1|P|2.2", "ACK", true},
		{"MSH|^~\\&|A|B|C|D|20260101||ADT|1|P|2.2\rEVN|A03|20260101", "ADT_A03", true},
		{"MSH|^~\\&|A|B|C|D|20260101||MFN^M02|1|P|2.5", "MFN_M02", false},
		{"MSH|^~\\&|A|B|C|D|20260101||XYZ^A01|1|P|2.5", "", false},
	}
	for _, c := range cases {
		// Synthetic headers only.
		got, known := Structure(build(t, c.msh))
		if got != c.want || known != c.known {
			t.Errorf("%s: %s %v, want %s %v", c.msh, got, known, c.want, c.known)
		}
	}
	// Synthetic: an event-named MSH-9.3 is noted; a contradicting one
	// warned about.
	issues := Validate(build(t, "MSH|^~\\&|A|B|C|D|20260101||ADT^A04^ADT_A04|1|P|2.8", evn, pid, pv1), ValidateOptions{})
	if len(issues) != 1 || issues[0].Severity != SeverityInformation || where(issues[0].Location) != "MSH[1]-9.3" {
		t.Errorf("event-named MSH-9.3: %v", issues)
	}
	issues = Validate(build(t, "MSH|^~\\&|A|B|C|D|20260101||ADT^A01^ADT_A05|1|P|2.8", evn, pid, pv1), ValidateOptions{})
	if len(issues) != 1 || issues[0].Severity != SeverityWarning || AckCodeFor(issues) != AA {
		t.Errorf("contradicting MSH-9.3: %v", issues)
	}
}

func TestAckCodeFor(t *testing.T) {
	issue := func(c Code, s Severity) Issue { return Issue{Code: c, Severity: s} }
	cases := []struct {
		issues []Issue
		want   AckCode
	}{
		{nil, AA},
		{[]Issue{issue(CodeTableValue, SeverityWarning), issue(CodeTableValue, SeverityInformation)}, AA},
		{[]Issue{issue(CodeTableValue, SeverityError)}, AE},
		{[]Issue{issue(CodeDataType, SeverityError), issue(CodeUnsupportedVersion, SeverityError)}, AR},
		{[]Issue{issue(CodeUnsupportedMessage, SeverityError)}, AR},
		{[]Issue{issue(CodeUnsupportedEvent, "")}, AR},
		{[]Issue{issue(CodeUnsupportedProcID, SeverityError)}, AR},
		{[]Issue{issue(CodeApplicationError, SeverityError)}, AE},
		{[]Issue{issue(CodeUnsupportedVersion, SeverityWarning)}, AA},
	}
	for i, c := range cases {
		if got := AckCodeFor(c.issues); got != c.want {
			t.Errorf("case %d: %s, want %s", i, got, c.want)
		}
	}
}

// TestValidateOrder checks that issues come in message order.
func TestValidateOrder(t *testing.T) {
	// Synthetic: problems in the header, the structure and the fields.
	m := build(t, "MSH|^~\\&|A|B|C|D|x||ADT^A01^ADT_A01|1|P|2.5.1", evn, "PV1|1|I", "PID|x||1^^^H^MR||D^J||x",
		"OBX|1|NM|1^A^L||y")
	var got []string
	for _, is := range Validate(m, ValidateOptions{}) {
		got = append(got, strconv.Itoa(int(is.Code))+" "+where(is.Location))
	}
	want := []string{"102 MSH[1]-7", "100 PV1[1]", "102 PID[1]-1", "102 PID[1]-7", "102 OBX[1]-5"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestValidateHostile feeds messages built to make validation work hard.
func TestValidateHostile(t *testing.T) {
	// Synthetic: 50 000 OBX segments where ADT_A01 does not allow them
	// (before EVN), each with a bad value.
	var b strings.Builder
	b.WriteString(mshADT + "\r")
	for i := 0; i < 50000; i++ {
		b.WriteString("OBX|x|NM|1^A^L||y|||||||Q\r")
	}
	b.WriteString(evn + "\r" + pid + "\r" + pv1 + "\r")
	m, err := Parse([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	issues := Validate(m, ValidateOptions{})
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	if len(issues) == 0 || len(issues) > maxIssues+1 || AckCodeFor(issues) != AE {
		t.Errorf("%d issues, %s", len(issues), AckCodeFor(issues))
	}
	if len(find(issues, CodeSegmentSequence, "OBX[1]")) != 1 {
		t.Errorf("first OBX not reported: %v", issues[:3])
	}
	// Synthetic: a long message with the error at its end, aligned by
	// the one-pass recovery.
	b.Reset()
	b.WriteString(mshORU + "\r" + pid + "\r" + obr + "\r")
	for i := 0; i < 20000; i++ {
		b.WriteString("OBX|1|NM|1^A^L||5\r")
	}
	b.WriteString("PV1|1|I\r")
	m, err = Parse([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if e := errorsOf(Validate(m, ValidateOptions{})); !slices.Equal(e, []string{"100 PV1[1]"}) {
		t.Errorf("long ORU: %v", e)
	}
	// The step budget: a tiny one stops the check with its own issue.
	v := &validator{m: m}
	v.checkStructure(lookupStructure("ORU_R01"), 100)
	if len(v.issues) != 1 || v.issues[0].Text != "message too complex to check: structure check stopped" {
		t.Errorf("budget: %v", v.issues)
	}
	v = &validator{m: m}
	st := lookupStructure("ORU_R01")
	syms := make([]int16, m.Len())
	for i := range syms {
		syms[i] = st.syms[m.segs[i].name]
	}
	v.report(st, syms, st.recover(syms, make([]int, len(st.names)), 3))
	if len(v.issues) == 0 || !strings.Contains(v.issues[len(v.issues)-1].Text, "too complex") {
		t.Errorf("recover budget: %v", v.issues)
	}
	// Synthetic: more field problems than are listed.
	b.Reset()
	b.WriteString(mshORU + "\r" + pid + "\r" + obr + "\r")
	for i := 0; i < 500; i++ {
		b.WriteString("OBX|1|NM|1^A^L||bad\r")
	}
	m, _ = Parse([]byte(b.String()))
	issues = Validate(m, ValidateOptions{})
	if len(issues) != maxIssues+1 || !strings.Contains(issues[maxIssues].Text, "not listed") {
		t.Errorf("cap: %d issues", len(issues))
	}
}

// TestValidateConcurrent validates the samples from several goroutines at
// once: the structures compile lazily, once (run with -race).
func TestValidateConcurrent(t *testing.T) {
	all := samples(t)
	var msgs []*Message
	for _, data := range all {
		m, err := Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	done := make(chan []AckCode)
	for g := 0; g < 4; g++ {
		go func() {
			var codes []AckCode
			for _, m := range msgs {
				codes = append(codes, AckCodeFor(Validate(m, ValidateOptions{})))
			}
			done <- codes
		}()
	}
	first := <-done
	for g := 1; g < 4; g++ {
		if codes := <-done; !slices.Equal(codes, first) {
			t.Errorf("goroutines disagree")
		}
	}
}

// TestValidateEmpty covers messages Parse cannot return.
func TestValidateEmpty(t *testing.T) {
	for _, m := range []*Message{nil, {}} {
		issues := Validate(m, ValidateOptions{})
		if len(issues) != 1 || issues[0].Code != CodeSegmentSequence {
			t.Errorf("%v", issues)
		}
		if s, ok := Structure(m); s != "" || ok {
			t.Errorf("Structure: %s %v", s, ok)
		}
	}
}

// TestDefinitions checks that every structure compiles, that the event
// table names only defined structures, and that field rules are in
// order.
func TestDefinitions(t *testing.T) {
	for id, def := range structureDefs {
		if _, err := compiledStructures[id].get(); err != nil {
			t.Errorf("%s: %v", id, err)
		}
		if _, err := parseDefinition(def); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
	for _, bad := range []string{"MSH [PID", "MSH PID]", "MSH <PID|PV1", "MSH PI", "MSH {PID>"} {
		if _, err := compileStructure("X", bad); err == nil {
			t.Errorf("%q compiled", bad)
		}
	}
	for code, me := range eventTable() {
		if len(code) != 3 {
			t.Errorf("message type %q", code)
		}
		for trigger, structs := range me.structures {
			for _, s := range structs {
				if _, ok := structureDefs[s]; !ok {
					t.Errorf("%s^%s uses undefined structure %s", code, trigger, s)
				}
			}
		}
	}
	for seg, rules := range segmentFields {
		if !hl7Segments[seg] {
			t.Errorf("%s is not in hl7Segments", seg)
		}
		for i, r := range rules {
			if i > 0 && r.field <= rules[i-1].field || (r.typ == typeCode) != (r.table != nil) {
				t.Errorf("%s rule %d: %+v", seg, i, r)
			}
		}
	}
	for id := range structureDefs {
		for _, name := range lookupStructure(id).names {
			if !hl7Segments[name] {
				t.Errorf("%s: segment %s is not in hl7Segments", id, name)
			}
		}
	}
	if got := expandRange("A09-A11"); !slices.Equal(got, []string{"A09", "A10", "A11"}) {
		t.Errorf("expandRange: %v", got)
	}
	if got := expandRange("PC1-PC3"); !slices.Equal(got, []string{"PC1", "PC2", "PC3"}) {
		t.Errorf("expandRange: %v", got)
	}
}

// TestValidDTM checks the byte-level time check against ParseTime.
func TestValidDTM(t *testing.T) {
	for _, s := range []string{"2026", "202601", "20260101", "2026010112", "202601011230", "20260101123045",
		"20260101123045.1", "20260101123045.1234+0100", "20260229", "20240229", "20261301", "2026010124",
		"202601011260", "20260101123045.", "20260101123045.12345", "2026010112.5", "20260101+1500", "20260101+01",
		"", "2026-01-01", "x", "20260101-0000", "19991231235959-1200"} {
		if got, want := validDTM([]byte(s)), func() bool { _, err := ParseTime(s, nil); return err == nil }(); got != want {
			t.Errorf("validDTM(%q) = %v, ParseTime says %v", s, got, want)
		}
	}
	for s, want := range map[string]bool{"12": true, "1230": true, "123045": true, "123045.12": true, "1230+0100": true,
		"24": false, "1260": false, "123": false, "1230.5": false, "": false} {
		if validTM([]byte(s)) != want {
			t.Errorf("validTM(%q) != %v", s, want)
		}
	}
	for s, want := range map[string]bool{"1": true, "-1.5": true, " 2 ": true, "+.5": true, "1.": true, "": false,
		".": false, "1.2.3": false, "--1": false, "1e5": false} {
		if validNM([]byte(s)) != want {
			t.Errorf("validNM(%q) != %v", s, want)
		}
		if _, err := ParseNumber(s); (err == nil) != want {
			t.Errorf("ParseNumber(%q) disagrees", s)
		}
	}
}

// csvDir holds the HL7 v2-to-FHIR IG message tables; the test skips when
// ../shared is absent.
const csvDir = "../../shared/data/hl7v2/v2-to-fhir/messages"

// csvNode is a row of an IG message table: a segment, or a group with its
// members.
type csvNode struct {
	seg      string
	optional bool
	choice   bool
	kids     []*csvNode
}

// readMessageCSV reads an IG message table into a tree, from its Syntax
// column: "PID", "[ PD1 ]", "[{ SFT }]" are segments, "[{", "{", "[",
// "<" open groups, "}]", "}", "]", ">" close them and "|" separates
// choices.
func readMessageCSV(path string) (*csvNode, [][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	rows, err := r.ReadAll()
	if err != nil {
		return nil, nil, err
	}
	root := &csvNode{}
	stack := []*csvNode{root}
	var segRows [][]string
	var prev []string
	for _, row := range rows[2:] {
		if len(row) < 6 {
			continue
		}
		syntax := strings.ReplaceAll(row[2], " ", "")
		// Skip blank rows and the rows that repeat a segment once per
		// FHIR target (same syntax, same sort order or identifier).
		if syntax == "" || prev != nil && syntax == strings.ReplaceAll(prev[2], " ", "") && (row[0] == prev[0] || row[1] == prev[1]) {
			continue
		}
		prev = row
		top := stack[len(stack)-1]
		switch {
		case syntax == "[{" || syntax == "{" || syntax == "[" || syntax == "<":
			g := &csvNode{optional: syntax[0] == '[', choice: syntax == "<"}
			if g.choice {
				g.kids = []*csvNode{{}}
			}
			top.kids = append(top.kids, g)
			stack = append(stack, g)
		case syntax == "}]" || syntax == "}" || syntax == "]" || syntax == ">":
			if len(stack) == 1 {
				return nil, nil, fmt.Errorf("%s: unbalanced %s", path, syntax)
			}
			stack = stack[:len(stack)-1]
		case syntax == "|":
			top.kids = append(top.kids, &csvNode{})
		default:
			seg := strings.Trim(syntax, "[]{}")
			if len(seg) != 3 {
				return nil, nil, fmt.Errorf("%s: syntax %q", path, row[2])
			}
			n := &csvNode{seg: seg, optional: strings.Contains(syntax, "[") || row[4] == "0"}
			if top.choice {
				alt := top.kids[len(top.kids)-1]
				alt.kids = append(alt.kids, n)
			} else {
				top.kids = append(top.kids, n)
			}
			if len(stack) == 1 {
				segRows = append(segRows, []string{seg, row[4], syntax})
			}
		}
	}
	return root, segRows, nil
}

// csvSequence lists the segments of a tree: all of them (each once), or
// only the required ones; a choice takes alternative alt.
func csvSequence(n *csvNode, all bool, alt int) []string {
	if n.seg != "" {
		return []string{n.seg}
	}
	var out []string
	if n.choice {
		return csvSequence(n.kids[alt%len(n.kids)], all, alt)
	}
	for _, k := range n.kids {
		if !all && k.optional {
			continue
		}
		out = append(out, csvSequence(k, all, alt)...)
	}
	return out
}

// TestStructuresAgainstIG cross-checks the definitions with the message
// tables of the HL7 v2-to-FHIR IG: every segment they list is allowed
// where they list it, and every required top-level segment is required.
func TestStructuresAgainstIG(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(csvDir, "*.csv"))
	if len(files) == 0 {
		t.Skipf("no IG message tables in %s (../shared absent)", csvDir)
	}
	if len(files) != 13 {
		t.Errorf("%d tables, want 13", len(files))
	}
	for _, file := range files {
		name := filepath.Base(file)
		id := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(name, "HL7 Message - FHIR R4_"), " - Sheet1.csv"))
		root, top, err := readMessageCSV(file)
		if err != nil {
			t.Fatal(err)
		}
		code, trigger, _ := strings.Cut(id, "_")
		msh := "MSH|^~\\&|A|B|C|D|20260101||" + code + "^" + trigger + "^" + id + "|1|P|2.8"
		check := func(what string, seq []string) []Issue {
			t.Helper()
			segs := []string{msh}
			for _, s := range seq[1:] {
				segs = append(segs, s+"|")
			}
			var seqIssues []Issue
			for _, is := range Validate(build(t, segs...), ValidateOptions{}) {
				if is.Code == CodeSegmentSequence || is.Code == CodeTableValue && is.Severity != SeverityInformation {
					seqIssues = append(seqIssues, is)
				}
			}
			return seqIssues
		}
		if st, ok := Structure(build(t, msh)); !ok {
			t.Errorf("%s: structure %s not known", id, st)
			continue
		}
		for alt := 0; alt < 6; alt++ {
			full := csvSequence(root, true, alt)
			if issues := check("full", full); len(issues) > 0 {
				t.Errorf("%s: every segment %v: %v", id, full, issues)
			}
		}
		minimal := csvSequence(root, false, 0)
		if issues := check("minimal", minimal); len(issues) > 0 {
			t.Errorf("%s: required segments %v: %v", id, minimal, issues)
		}
		// Each required top-level segment is required: without it the
		// message is reported as missing it.
		required := 0
		for _, row := range top {
			if row[1] != "1" || strings.ContainsAny(row[2], "[{") || row[0] == "MSH" {
				continue
			}
			required++
			for i, s := range minimal {
				if s != row[0] {
					continue
				}
				without := slices.Delete(slices.Clone(minimal), i, i+1)
				issues := check("without "+s, without)
				if len(issues) == 0 || !strings.Contains(issues[0].Text, "required segment "+s) {
					t.Errorf("%s: without %s: %v", id, s, issues)
				}
			}
		}
		t.Logf("%s: %d segments in all, %d required, %d required at the top level", id, len(csvSequence(root, true, 0)), len(minimal), required)
		if required == 0 && !slices.Contains([]string{"ORM_O01", "ORU_R01", "OML_O21", "SIU_S12", "VXU_V04"}, id) {
			t.Errorf("%s: no required top-level segment found", id)
		}
	}
}

func FuzzValidate(f *testing.F) {
	f.Add([]byte(mshADT + "\r" + evn + "\r" + pid + "\r" + pv1 + "\r"))
	f.Add([]byte(mshORU + "\r" + pid + "\r" + obr + "\rOBX|1|SN|1^A^L||>^5^-^x~\"\"\rOBX|2|CWE|1^A^L||^^L\rZZZ|1\r"))
	f.Add([]byte("MSH|^~\\&|A|B|C|D|2026||OML^O21^OML_O21|1|P|2.8\rPID|1\rORC|NW\rOBR|1\rOBR|2\rSPM|1\rPV1|1\rORC|NW\rOBR|1\rOBX|1\r"))
	f.Add([]byte("MSH|^~\\&|A|B|C|D|||ADT^A17|1|X|9.9|||Q\rPID|a\rPV1\rPID\rEVN\rMRG\r"))
	f.Add([]byte("MSH#$%*@#A#B#C#D#20260101##SIU$S12#1#P#2.5\nSCH#1\nRGS#1\nAIS#1#Q#x$y%z\nNTE#1#L#a*b\n"))
	f.Add([]byte("MSH|^~\\&|A|B|C|D|20260101||ACK|1|P|2.5.1\rMSA|AA|1\rERR||||X\r"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err != nil {
			return
		}
		for _, strict := range []bool{false, true} {
			issues := Validate(m, ValidateOptions{Strict: strict})
			for _, is := range issues {
				if is.Code == CodeAccepted || Code(is.Code).Text() == "" {
					t.Fatalf("issue without a code: %+v", is)
				}
				if is.Severity != SeverityError && is.Severity != SeverityWarning && is.Severity != SeverityInformation {
					t.Fatalf("issue without a severity: %+v", is)
				}
			}
			if len(issues) > maxIssues+1 {
				t.Fatalf("%d issues", len(issues))
			}
			AckCodeFor(issues)
		}
		Structure(m)
	})
}

// BenchmarkValidate validates every shared sample (already parsed) once
// per iteration.
func BenchmarkValidate(b *testing.B) {
	msgs, n := sampleSet(b)
	parsed := make([]*Message, len(msgs))
	for i, data := range msgs {
		m, err := Parse(data)
		if err != nil {
			b.Fatal(err)
		}
		parsed[i] = m
		Validate(m, ValidateOptions{}) // compile the structures outside the timing
	}
	b.SetBytes(n)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, m := range parsed {
			Validate(m, ValidateOptions{})
		}
	}
	b.ReportMetric(float64(len(parsed))*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
