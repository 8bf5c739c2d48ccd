package convert

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/hl7v2"
)

// The messages in this file are synthetic: invented people and numbers.

const a01 = "MSH|^~\\&|REG|CITYHOSP^1.2.3.4^ISO|EHR|CITYHOSP|20260301101500+0100||ADT^A01^ADT_A01|CTRL1|P|2.5.1\r" +
	"EVN|A01|20260301101500+0100\r" +
	"PID|1||MRN100^^^CITYHOSP&1.2.3.4.5&ISO^MR~999-00-1234^^^SSA^SS||Testperson^Alma^B^^Ms||19700214|F|||1 Test Road^^Springfield^ST^12345^USA^H||555-0100^PRN^PH|||M||ACC77^^^CITYHOSP&1.2.3.4.5&ISO^AN\r" +
	"NK1|1|Testperson^Bruno|SPO^Spouse|1 Test Road^^Springfield^ST^12345|555-0101\r" +
	"PV1|1|I|WARD1^101^A^CITYHOSP||||D100^Doctor^Dana^^^Dr^^^CITYHOSP&1.2.3.4.9&ISO|||MED||||7|||D100^Doctor^Dana^^^Dr^^^CITYHOSP&1.2.3.4.9&ISO||V500^^^CITYHOSP&1.2.3.4.6&ISO^VN|||||||||||||||||||||||||20260301100000+0100\r" +
	"AL1|1|DA|PEN^Penicillin^LOCALDRUG|SV|Hives\r" +
	"DG1|1||J18.9^Pneumonia, unspecified^I10|||A\r" +
	"PR1|1||0BJ08ZZ^Inspection of lung^I10P||202603011200+0100\r" +
	"IN1|1|GOLD^Gold plan|INS1^^^PAYERS|Test Insurance Co||||||||20260101|20261231||||SEL|||||||||||||||||||POL123\r" +
	"IN2|1||||||MCARE1\r"

// convertString converts a synthetic message given with CR separators.
func convertString(t *testing.T, msg string, opt Options) *Result {
	t.Helper()
	m, err := hl7v2.Parse([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	res, err := ToFHIR(context.Background(), m, opt)
	if err != nil {
		t.Fatal(err)
	}
	validateBundle(t, "message", res.Bundle)
	return res
}

// stored reads back the current content of every resource of a type.
func storedOf(t *testing.T, st concord.Store, typ string) []map[string]any {
	t.Helper()
	var out []map[string]any
	err := st.Update(context.Background(), func(tx concord.Tx) error {
		ids, err := tx.SearchIDs(context.Background(), &concord.SearchQuery{Type: typ}, 1000)
		if err != nil {
			return err
		}
		for _, id := range ids {
			r, err := tx.CurrentResource(context.Background(), typ, id)
			if err != nil {
				return err
			}
			var m map[string]any
			if err := json.Unmarshal(r.Content, &m); err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestA01StoresLinkedResources imports an A01 and checks what a user
// would look for: one Patient with its identifiers, an Encounter of that
// patient (the reference rewritten from the urn:uuid to Patient/id), the
// allergy, diagnosis, procedure and coverage, and a Provenance naming the
// stored message; replaying it stores nothing.
func TestA01StoresLinkedResources(t *testing.T) {
	ctx, im, st := newImporter(t)
	res := convertString(t, a01, Options{MessageID: "m-1"})
	if res.MessageType != "ADT^A01" {
		t.Errorf("type %q", res.MessageType)
	}
	r1, err := im.Bundle(ctx, res.Bundle)
	if err != nil {
		t.Fatal(err)
	}
	if r1.Created != res.Resources {
		t.Errorf("created %d of %d", r1.Created, res.Resources)
	}
	pats := storedOf(t, st, "Patient")
	if len(pats) != 1 {
		t.Fatalf("%d patients", len(pats))
	}
	p := pats[0]
	pid := "Patient/" + p["id"].(string)
	if p["gender"] != "female" || p["birthDate"] != "1970-02-14" {
		t.Errorf("patient %v", p)
	}
	id0 := p["identifier"].([]any)[0].(map[string]any)
	if id0["system"] != "urn:oid:1.2.3.4.5" || id0["value"] != "MRN100" {
		t.Errorf("identifier %v", id0)
	}
	encs := storedOf(t, st, "Encounter")
	if len(encs) != 1 {
		t.Fatalf("%d encounters", len(encs))
	}
	e := encs[0]
	if e["subject"].(map[string]any)["reference"] != pid {
		t.Errorf("encounter subject %v, want %s", e["subject"], pid)
	}
	if e["status"] != "in-progress" || e["class"].(map[string]any)["code"] != "IMP" {
		t.Errorf("encounter %v", e)
	}
	loc := e["location"].([]any)[0].(map[string]any)["location"].(map[string]any)
	locs := storedOf(t, st, "Location")
	if len(locs) != 1 || loc["reference"] != "Location/"+locs[0]["id"].(string) || locs[0]["name"] != "CITYHOSP WARD1 101 A" {
		t.Errorf("encounter location %v, locations %v", loc, locs)
	}
	if e["period"].(map[string]any)["start"] != "2026-03-01T10:00:00+01:00" {
		t.Errorf("period %v", e["period"])
	}
	for _, typ := range []string{"AllergyIntolerance", "Condition", "Procedure", "Coverage", "RelatedPerson", "Account", "Practitioner", "Provenance"} {
		if n := len(storedOf(t, st, typ)); n != 1 {
			t.Errorf("%d %s, want 1", n, typ)
		}
	}
	prov := storedOf(t, st, "Provenance")[0]
	what := prov["entity"].([]any)[0].(map[string]any)["what"].(map[string]any)["identifier"].(map[string]any)
	if what["system"] != "urn:concord:message" || what["value"] != "m-1" {
		t.Errorf("provenance entity %v", what)
	}
	if n := len(prov["target"].([]any)); n != res.Resources-1 {
		t.Errorf("provenance targets %d resources, want %d", n, res.Resources-1)
	}
	for _, tg := range prov["target"].([]any) {
		if ref := tg.(map[string]any)["reference"].(string); strings.HasPrefix(ref, "urn:") {
			t.Errorf("target %s not rewritten", ref)
		}
	}
	r2, err := im.Bundle(ctx, res.Bundle)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Created != 0 || r2.Updated != 0 {
		t.Errorf("replay stored something: %+v", r2)
	}
}

// TestA08UpdatesAndA03Finishes checks that an A08 with a new address
// makes a new version of the same Patient, and an A03 finishes the same
// Encounter.
func TestA08UpdatesAndA03Finishes(t *testing.T) {
	ctx, im, st := newImporter(t)
	if _, err := im.Bundle(ctx, convertString(t, a01, Options{MessageID: "m-1"}).Bundle); err != nil {
		t.Fatal(err)
	}
	a08 := strings.Replace(strings.Replace(a01, "ADT^A01^ADT_A01", "ADT^A08^ADT_A01", 1), "1 Test Road", "2 Other Road", 1)
	r, err := im.Bundle(ctx, convertString(t, a08, Options{MessageID: "m-2"}).Bundle)
	if err != nil {
		t.Fatal(err)
	}
	if r.Created != 1 || r.Updated != 1 { // the Provenance; the Patient
		t.Errorf("A08: %+v", r)
	}
	pats := storedOf(t, st, "Patient")
	if len(pats) != 1 || pats[0]["meta"].(map[string]any)["versionId"] != "2" {
		t.Fatalf("patients %v", pats)
	}
	if line := pats[0]["address"].([]any)[0].(map[string]any)["line"].([]any)[0]; line != "2 Other Road" {
		t.Errorf("address %v", line)
	}
	a03 := strings.Replace(a01, "ADT^A01^ADT_A01", "ADT^A03^ADT_A03", 1)
	a03 = strings.Replace(a03, "20260301100000+0100\r", "20260301100000+0100|20260305120000+0100\r", 1)
	if _, err := im.Bundle(ctx, convertString(t, a03, Options{MessageID: "m-3"}).Bundle); err != nil {
		t.Fatal(err)
	}
	encs := storedOf(t, st, "Encounter")
	if len(encs) != 1 || encs[0]["status"] != "finished" || encs[0]["period"].(map[string]any)["end"] != "2026-03-05T12:00:00+01:00" {
		t.Errorf("encounters %v", encs)
	}
	if n := len(storedOf(t, st, "Provenance")); n != 3 {
		t.Errorf("%d Provenance, want one per message", n)
	}
}

// TestA40Merge checks the merge: the source (MRG-1) inactive and
// replaced-by the survivor, which replaces it.
func TestA40Merge(t *testing.T) {
	ctx, im, st := newImporter(t)
	old := strings.Replace(a01, "MRN100", "MRN099", 1)
	if _, err := im.Bundle(ctx, convertString(t, old, Options{MessageID: "m-0"}).Bundle); err != nil {
		t.Fatal(err)
	}
	a40 := "MSH|^~\\&|REG|CITYHOSP|EHR|CITYHOSP|20260302090000||ADT^A40^ADT_A39|CTRL9|P|2.5.1\r" +
		"EVN|A40|20260302090000\r" +
		"PID|1||MRN100^^^CITYHOSP&1.2.3.4.5&ISO^MR||Testperson^Alma||19700214|F\r" +
		"MRG|MRN099^^^CITYHOSP&1.2.3.4.5&ISO^MR\r"
	if _, err := im.Bundle(ctx, convertString(t, a40, Options{MessageID: "m-9"}).Bundle); err != nil {
		t.Fatal(err)
	}
	pats := storedOf(t, st, "Patient")
	if len(pats) != 2 {
		t.Fatalf("%d patients", len(pats))
	}
	byMRN := map[string]map[string]any{}
	for _, p := range pats {
		byMRN[p["identifier"].([]any)[0].(map[string]any)["value"].(string)] = p
	}
	src, dst := byMRN["MRN099"], byMRN["MRN100"]
	if src["active"] != false {
		t.Errorf("source active %v", src["active"])
	}
	link := src["link"].([]any)[0].(map[string]any)
	if link["type"] != "replaced-by" || link["other"].(map[string]any)["reference"] != "Patient/"+dst["id"].(string) {
		t.Errorf("source link %v", link)
	}
	link = dst["link"].([]any)[0].(map[string]any)
	if link["type"] != "replaces" || link["other"].(map[string]any)["reference"] != "Patient/"+src["id"].(string) {
		t.Errorf("target link %v", link)
	}
}

// TestMRGPriorAccount checks that an A06 whose MRG-1 repeats the
// patient's own identifier (only the account changes, MRG-3) converts
// without merging the patient with itself, and that the same MRG in an
// A40 is refused.
func TestMRGPriorAccount(t *testing.T) {
	a06 := goldenMessage(t, "adt_a06")
	if !strings.Contains(a06, "\rMRG|MRN6^^^CITYHOSP&1.2.3.4.5&ISO^MR||OLDACC6") {
		t.Fatal("adt_a06 no longer has MRG-1 = its own MRN")
	}
	var b struct {
		Entry []struct {
			Resource map[string]any `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(convertString(t, a06, Options{}).Bundle, &b); err != nil {
		t.Fatal(err)
	}
	patients := 0
	for _, e := range b.Entry {
		if e.Resource["resourceType"] == "Patient" {
			patients++
			if e.Resource["link"] != nil || e.Resource["active"] == false {
				t.Errorf("A06 patient %v", e.Resource)
			}
		}
	}
	if patients != 1 {
		t.Errorf("%d patients, want 1", patients)
	}
	// Synthetic: a merge of the patient into itself.
	a40 := "MSH|^~\\&|REG|CITYHOSP|EHR|CITYHOSP|20260302090000||ADT^A40^ADT_A39|CTRL9|P|2.5.1\r" +
		"EVN|A40|20260302090000\r" +
		"PID|1||MRN100^^^CITYHOSP&1.2.3.4.5&ISO^MR||Testperson^Alma||19700214|F\r" +
		"MRG|MRN100^^^CITYHOSP&1.2.3.4.5&ISO^MR\r"
	m, err := hl7v2.Parse([]byte(a40))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ToFHIR(context.Background(), m, Options{}); concord.ErrorCode(err) != concord.EINVALID {
		t.Errorf("A40 into itself: %v, want EINVALID", err)
	}
}

// testMapper maps one local code.
type testMapper struct{}

func (testMapper) Map(_ context.Context, sender, system, code string) (Coding, bool) {
	switch {
	case code == "PEN":
		return Coding{System: "http://snomed.info/sct", Code: "764146007", Display: "Penicillin"}, true
	case system == "http://hl7.org/fhir/sid/icd-10":
		return Coding{System: system, Code: code}, true // standard already
	}
	return Coding{}, false
}

// TestCodeMapping checks that a mapped code gets the standard coding
// first and keeps the local one, and that unmapped codes are listed.
func TestCodeMapping(t *testing.T) {
	res := convertString(t, a01, Options{Codes: testMapper{}, Sender: "cityhosp"})
	var b struct {
		Entry []struct {
			Resource map[string]any `json:"resource"`
		} `json:"entry"`
	}
	json.Unmarshal(res.Bundle, &b)
	found := false
	for _, e := range b.Entry {
		if e.Resource["resourceType"] == "AllergyIntolerance" {
			codings := e.Resource["code"].(map[string]any)["coding"].([]any)
			local := codings[len(codings)-1].(map[string]any)
			if len(codings) != 2 || codings[0].(map[string]any)["code"] != "764146007" || local["code"] != "PEN" ||
				local["system"] != "urn:concord:local:cityhosp:LOCALDRUG" {
				t.Errorf("codings %v", codings)
			}
			found = true
		}
	}
	if !found {
		t.Fatal("no AllergyIntolerance")
	}
	for _, e := range b.Entry {
		if e.Resource["resourceType"] == "Condition" {
			if n := len(e.Resource["code"].(map[string]any)["coding"].([]any)); n != 1 {
				t.Errorf("a standard code answered as itself added a coding: %v", e.Resource["code"])
			}
		}
	}
	want := map[string]bool{"PR1-3": true}
	for _, u := range res.Unmapped {
		if !want[u.Where] || u.Sender != "cityhosp" {
			t.Errorf("unexpected unmapped %+v", u)
		}
		delete(want, u.Where)
	}
	if len(want) != 0 {
		t.Errorf("not listed as unmapped: %v (%+v)", want, res.Unmapped)
	}
}

// TestMissingPatientIdentifier checks the error an engine puts in ERR.
func TestMissingPatientIdentifier(t *testing.T) {
	m, _ := hl7v2.Parse([]byte("MSH|^~\\&|A|B|C|D|20260101||ADT^A01|1|P|2.5\rPID|1||^^^X\r"))
	_, err := ToFHIR(context.Background(), m, Options{})
	if concord.ErrorCode(err) != concord.EINVALID || concord.ErrorMessage(err) != "PID-3: no patient identifier" {
		t.Fatalf("got %v", err)
	}
}

// TestNoPID checks that an ADT without a PID is refused with the place.
func TestNoPID(t *testing.T) {
	m, _ := hl7v2.Parse([]byte("MSH|^~\\&|A|B|C|D|20260101||ADT^A08|1|P|2.5\rEVN|A08|20260101|||OP1^Operator^Olga\r"))
	_, err := ToFHIR(context.Background(), m, Options{})
	if concord.ErrorCode(err) != concord.EINVALID || !strings.HasPrefix(concord.ErrorMessage(err), "PID:") {
		t.Fatalf("got %v", err)
	}
}
