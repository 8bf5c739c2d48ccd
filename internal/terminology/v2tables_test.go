package terminology

import "testing"

// TestV2Tables: the generated tables hold HL7's codes and displays, under
// every way of naming a table.
func TestV2Tables(t *testing.T) {
	if n := V2Tables(); n < 400 {
		t.Fatalf("%d tables", n)
	}
	for _, tc := range []struct{ table, code, display string }{
		{"0078", "H", "High"},
		{"78", "LL", "Critically low"},
		{"HL70078", "A", "Abnormal"},
		{"v2-0001", "F", "Female"},
		{"0203", "MR", "Medical record number"},
		{"0004", "I", "Inpatient"},
		{"0085", "F", "Final results"},
		{"0396", "SCT", "SNOMED Clinical Terms"},
		{"0006", "ABC", "Christian: American Baptist Church"}, // merged from versions 2.1 and 2.4
	} {
		d, ok := V2Display(tc.table, tc.code)
		if !ok || d != tc.display {
			t.Errorf("V2Display(%q, %q) = %q, %v; want %q", tc.table, tc.code, d, ok, tc.display)
		}
	}
	for _, tc := range [][2]string{{"0078", "h"}, {"0078", "ZZZ"}, {"9999", "A"}, {"abc", "A"}, {"", ""}, {"00078", "H"}} {
		if d, ok := V2Display(tc[0], tc[1]); ok {
			t.Errorf("V2Display(%q, %q) = %q, want none", tc[0], tc[1], d)
		}
	}
	if got := V2System("78"); got != "http://terminology.hl7.org/CodeSystem/v2-0078" {
		t.Errorf("V2System(78) = %q", got)
	}
	if got := V2System("HL70203"); got != "http://terminology.hl7.org/CodeSystem/v2-0203" {
		t.Errorf("V2System(HL70203) = %q", got)
	}
	if got := V2System("x"); got != "" {
		t.Errorf("V2System(x) = %q", got)
	}
	if !V2HasTable("0001") || V2HasTable("9999") {
		t.Error("V2HasTable")
	}
}
