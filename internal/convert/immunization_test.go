package convert

import (
	"strings"
	"testing"
)

// TestVXUReplayStoresNothing checks that a VXU^V04 stores one
// Immunization (CVX code, lot, dose, the funding and VIS OBX as its
// fields, each OBX also an Observation partOf it), that replaying it
// stores nothing, and that the same message with RXA-21 D marks the same
// Immunization entered-in-error.
func TestVXUReplayStoresNothing(t *testing.T) {
	ctx, im, st := newImporter(t)
	vxu := goldenMessage(t, "vxu_v04")
	first, err := im.Bundle(ctx, convertString(t, vxu, Options{MessageID: "iz-1"}).Bundle)
	if err != nil {
		t.Fatal(err)
	}
	again, err := im.Bundle(ctx, convertString(t, vxu, Options{MessageID: "iz-1"}).Bundle)
	if err != nil || again.Created != 0 || again.Updated != 0 {
		t.Fatalf("replay %+v %v (first %+v)", again, err, first)
	}
	imms := storedOf(t, st, "Immunization")
	if len(imms) != 1 {
		t.Fatalf("%d immunizations", len(imms))
	}
	z := imms[0]
	code := z["vaccineCode"].(map[string]any)["coding"].([]any)[0].(map[string]any)
	if code["system"] != "http://hl7.org/fhir/sid/cvx" || code["code"] != "08" || z["lotNumber"] != "LOT-SYN-1" ||
		z["status"] != "completed" || z["primarySource"] != true || z["occurrenceDateTime"] != "2026-04-03" {
		t.Errorf("immunization %v", z)
	}
	if z["programEligibility"] == nil || z["fundingSource"] == nil || z["education"] == nil || z["reaction"] == nil {
		t.Errorf("the OBX did not fill the immunization: %v", z)
	}
	obs := storedOf(t, st, "Observation")
	if len(obs) != 5 {
		t.Errorf("%d observations, want one per OBX", len(obs))
	}
	for _, o := range obs {
		if o["partOf"].([]any)[0].(map[string]any)["reference"] != "Immunization/"+z["id"].(string) {
			t.Errorf("observation %v", o)
		}
	}
	del := strings.Replace(vxu, "|||CP|A\r", "|||CP|D\r", 1)
	if _, err := im.Bundle(ctx, convertString(t, del, Options{MessageID: "iz-2"}).Bundle); err != nil {
		t.Fatal(err)
	}
	if imms := storedOf(t, st, "Immunization"); len(imms) != 1 || imms[0]["status"] != "entered-in-error" {
		t.Errorf("after RXA-21 D: %v", imms)
	}
}

// TestVXURefusal checks a refused vaccination: not-done with the
// refusal reason (RXA-18), and the unknown amount 999 gives no dose.
func TestVXURefusal(t *testing.T) {
	vxu := goldenMessage(t, "vxu_v04")
	refused := strings.Replace(vxu, "|0.5|mL^mL^UCUM|", "|999||", 1)
	refused = strings.Replace(refused, "MSD^Merck and Co., Inc.^MVX|||CP|A", "MSD^Merck and Co., Inc.^MVX|00^Parental decision^NIP002||RE|A", 1)
	z := bundleResources(t, convertString(t, refused, Options{}).Bundle, "Immunization")[0]
	if z["status"] != "not-done" || z["statusReason"] == nil || z["doseQuantity"] != nil {
		t.Errorf("refusal %v", z)
	}
}
