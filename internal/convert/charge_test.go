package convert

import (
	"strings"
	"testing"
)

// TestDFTCharges checks that a DFT^P03 stores one ChargeItem per FT1
// (code, quantity, price, performer, visit and account), that replaying
// it stores nothing, and that a corrected amount under the same
// transaction ID updates the same ChargeItem.
func TestDFTCharges(t *testing.T) {
	ctx, im, st := newImporter(t)
	dft := goldenMessage(t, "dft_p03")
	if _, err := im.Bundle(ctx, convertString(t, dft, Options{MessageID: "f-1"}).Bundle); err != nil {
		t.Fatal(err)
	}
	again, err := im.Bundle(ctx, convertString(t, dft, Options{MessageID: "f-1"}).Bundle)
	if err != nil || again.Created != 0 || again.Updated != 0 {
		t.Fatalf("replay %+v %v", again, err)
	}
	charges := storedOf(t, st, "ChargeItem")
	if len(charges) != 2 {
		t.Fatalf("%d charges", len(charges))
	}
	accounts := storedOf(t, st, "Account")
	encs := storedOf(t, st, "Encounter")
	var xray map[string]any
	for _, c := range charges {
		if ccCodes(c["code"])[0] == "LOCXR1" {
			xray = c
		}
		if c["account"].([]any)[0].(map[string]any)["reference"] != "Account/"+accounts[0]["id"].(string) ||
			c["context"].(map[string]any)["reference"] != "Encounter/"+encs[0]["id"].(string) || c["status"] != "billable" {
			t.Errorf("charge %v", c)
		}
	}
	if xray == nil {
		t.Fatal("no X-ray charge")
	}
	price := xray["priceOverride"].(map[string]any)
	if price["value"] != 80.0 || price["currency"] != "USD" || xray["quantity"].(map[string]any)["value"] != 1.0 || xray["performer"] == nil {
		t.Errorf("x-ray charge %v", xray)
	}
	fixed := strings.Replace(dft, "|1|80.00&USD|80.00&USD|", "|1|75.00&USD|75.00&USD|", 1)
	r, err := im.Bundle(ctx, convertString(t, fixed, Options{MessageID: "f-2"}).Bundle)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(storedOf(t, st, "ChargeItem")); n != 2 || r.Updated != 1 {
		t.Errorf("after the correction: %d charges, %+v", n, r)
	}
}
