package convert

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/hl7v2"
)

// The messages these tests use are the synthetic golden messages in
// testdata (invented people and numbers).

// goldenMessage reads a synthetic message of testdata.
func goldenMessage(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".hl7"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// parseString parses a synthetic message.
func parseString(t *testing.T, msg string) *hl7v2.Message {
	t.Helper()
	m, err := hl7v2.Parse([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// rxMapper maps the synthetic local drug code to RxNorm.
type rxMapper struct{}

func (rxMapper) Map(_ context.Context, sender, system, code string) (Coding, bool) {
	if code == "LOCAMOX500" && strings.HasPrefix(system, "urn:concord:local:") {
		return Coding{System: "http://www.nlm.nih.gov/research/umls/rxnorm", Code: "308191", Display: "amoxicillin 500 MG Oral Capsule"}, true
	}
	return Coding{}, false
}

// TestRDEChangeVersionsTheOrder checks that an RDE^O11 makes one
// MedicationRequest (placer ORC-2), that replaying it stores nothing,
// that a change (ORC-1 XO, a new dose) makes version 2 of the same
// MedicationRequest, that a cancel (CA) sets it cancelled, and that the
// dispense (RDS^O13) and the administration (RAS^O17) point to it.
func TestRDEChangeVersionsTheOrder(t *testing.T) {
	ctx, im, st := newImporter(t)
	rde := goldenMessage(t, "rde_o11")
	if _, err := im.Bundle(ctx, convertString(t, rde, Options{MessageID: "m-1"}).Bundle); err != nil {
		t.Fatal(err)
	}
	again, err := im.Bundle(ctx, convertString(t, rde, Options{MessageID: "m-1"}).Bundle)
	if err != nil || again.Created != 0 || again.Updated != 0 {
		t.Fatalf("replay %+v %v", again, err)
	}
	xo := strings.Replace(strings.Replace(rde, "ORC|NW|", "ORC|XO|", 1), "RXE||LOCAMOX500^Amoxicillin 500 mg capsule^LOCALRX|500|", "RXE||LOCAMOX500^Amoxicillin 500 mg capsule^LOCALRX|250|", 1)
	if _, err := im.Bundle(ctx, convertString(t, xo, Options{MessageID: "m-2"}).Bundle); err != nil {
		t.Fatal(err)
	}
	reqs := storedOf(t, st, "MedicationRequest")
	if len(reqs) != 1 {
		t.Fatalf("%d MedicationRequests", len(reqs))
	}
	mr := reqs[0]
	if mr["meta"].(map[string]any)["versionId"] != "2" || mr["status"] != "active" {
		t.Errorf("after XO: version %v status %v", mr["meta"], mr["status"])
	}
	dose := mr["dosageInstruction"].([]any)[0].(map[string]any)["doseAndRate"].([]any)[0].(map[string]any)["doseQuantity"].(map[string]any)
	if dose["value"] != 250.0 {
		t.Errorf("dose %v", dose)
	}
	ca := strings.Replace(rde, "ORC|NW|", "ORC|CA|", 1)
	if _, err := im.Bundle(ctx, convertString(t, ca, Options{MessageID: "m-3"}).Bundle); err != nil {
		t.Fatal(err)
	}
	if reqs := storedOf(t, st, "MedicationRequest"); len(reqs) != 1 || reqs[0]["status"] != "cancelled" {
		t.Errorf("after CA: %v", reqs)
	}
	for _, name := range []string{"rds_o13", "ras_o17"} {
		if _, err := im.Bundle(ctx, convertString(t, goldenMessage(t, name), Options{MessageID: name}).Bundle); err != nil {
			t.Fatal(name, err)
		}
	}
	want := "MedicationRequest/" + storedOf(t, st, "MedicationRequest")[0]["id"].(string)
	if n := len(storedOf(t, st, "MedicationRequest")); n != 1 {
		t.Errorf("the dispense and the administration made %d MedicationRequests", n)
	}
	disp := storedOf(t, st, "MedicationDispense")
	if len(disp) != 1 || disp[0]["authorizingPrescription"].([]any)[0].(map[string]any)["reference"] != want ||
		disp[0]["whenHandedOver"] != "2026-04-02T13:45:00Z" || disp[0]["status"] != "completed" {
		t.Errorf("dispense %v", disp)
	}
	adm := storedOf(t, st, "MedicationAdministration")
	if len(adm) != 1 || adm[0]["request"].(map[string]any)["reference"] != want || adm[0]["status"] != "completed" {
		t.Errorf("administration %v", adm)
	}
}

// TestDrugCodeMapping checks that a local drug code is mapped to RxNorm
// through Options.Codes (the RxNorm coding first, the sender's kept),
// and that an unmapped one is counted with its place.
func TestDrugCodeMapping(t *testing.T) {
	res := convertString(t, goldenMessage(t, "rds_o13"), Options{Codes: rxMapper{}})
	var b struct {
		Entry []struct {
			Resource map[string]any `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(res.Bundle, &b); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range b.Entry {
		if e.Resource["resourceType"] != "MedicationRequest" {
			continue
		}
		codings := e.Resource["medicationCodeableConcept"].(map[string]any)["coding"].([]any)
		if len(codings) != 2 || codings[0].(map[string]any)["code"] != "308191" || codings[1].(map[string]any)["code"] != "LOCAMOX500" {
			t.Errorf("codings %v", codings)
		}
		found = true
	}
	if !found {
		t.Fatal("no MedicationRequest")
	}
	places := map[string]bool{}
	for _, u := range res.Unmapped {
		places[u.Where] = true
		if u.Code == "LOCAMOX500" {
			t.Errorf("a mapped code is listed as unmapped: %+v", u)
		}
	}
	if !places["RXD-2"] {
		t.Errorf("the NDC of RXD-2 (not mapped by this mapper) is not counted: %+v", res.Unmapped)
	}
}

// TestRXEWithoutDrug checks the answer to an RXE with no give code.
func TestRXEWithoutDrug(t *testing.T) {
	msg := strings.Replace(goldenMessage(t, "rde_o11"), "RXE||LOCAMOX500^Amoxicillin 500 mg capsule^LOCALRX|", "RXE|||", 1)
	m := parseString(t, msg)
	_, err := ToFHIR(context.Background(), m, Options{})
	if concord.ErrorCode(err) != concord.EINVALID || concord.ErrorMessage(err) != "RXE-2: no give code" {
		t.Errorf("got %v", err)
	}
}

// bundleResources returns the resources of a type in a Bundle.
func bundleResources(t *testing.T, body []byte, typ string) []map[string]any {
	t.Helper()
	var b struct {
		Entry []struct {
			Resource map[string]any `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, e := range b.Entry {
		if e.Resource["resourceType"] == typ {
			out = append(out, e.Resource)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no %s in the Bundle", typ)
	}
	return out
}
