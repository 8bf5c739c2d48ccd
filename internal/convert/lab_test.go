package convert

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/hl7v2"
	"github.com/concord-health/concord/internal/fhirapi"
)

// The messages in this file are synthetic: invented people and numbers.

const labPID = "PID|1||MRN900^^^CITYHOSP&1.2.3.4.5&ISO^MR||Labperson^Lena||19810303|F\r" +
	"PV1|1|O|CLINIC9^^^CITYHOSP||||||||||||||||V900^^^CITYHOSP&1.2.3.4.6&ISO^VN\r"

const ormNW = "MSH|^~\\&|EHR|CITYHOSP|LIS|CITYLAB|202603101000+0000||ORM^O01|ORM900|P|2.3\r" + labPID +
	"ORC|NW|PL900^EHR|||||||202603101000+0000\r" +
	"OBR|1|PL900^EHR||2345-7^Glucose^LN|R\r" +
	"NTE|1|P|Ordered at the clinic.\r"

const ormCA = "MSH|^~\\&|EHR|CITYHOSP|LIS|CITYLAB|202603101100+0000||ORM^O01|ORM901|P|2.3\r" + labPID +
	"ORC|CA|PL900^EHR|||||||202603101100+0000\r" +
	"OBR|1|PL900^EHR||2345-7^Glucose^LN|R\r"

// oruFor is a result for order placer (with filler FL900): OBX-11
// status and value as given.
func oruFor(control, placer, status, value string) string {
	return "MSH|^~\\&|LIS|CITYLAB|EHR|CITYHOSP|202603101400+0000||ORU^R01^ORU_R01|" + control + "|P|2.5.1\r" + labPID +
		"ORC|RE|" + placer + "|FL900^LIS\r" +
		"OBR|1|" + placer + "|FL900^LIS|2345-7^Glucose^LN|||202603101015+0000|||||||||||||||202603101330+0000||CH|F\r" +
		"OBX|1|NM|2345-7^Glucose^LN||" + value + "|mg/dl|70-99|H|||" + status + "|||202603101200+0000\r" +
		"OBX|2|NM|2951-2^Sodium^LN||140|mmol/l|135-145|N|||F|||202603101200+0000\r" +
		"SPM|1|SP900&EHR^FS900&LIS||SER^Serum^HL70487|||||||||||||202603101015+0000|202603101045+0000||Y\r"
}

// importMsg converts and imports one message.
func importMsg(t *testing.T, ctx context.Context, im *fhirapi.Importer, msg string) fhirapi.ImportResult {
	t.Helper()
	res := convertString(t, msg, Options{})
	r, err := im.Bundle(ctx, res.Bundle)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return r
}

// refOf returns a Reference's target.
func refOf(v any) string {
	m, _ := v.(map[string]any)
	s, _ := m["reference"].(string)
	return s
}

// firstRef returns the target of the first Reference of a list.
func firstRef(v any) string {
	l, _ := v.([]any)
	if len(l) == 0 {
		return ""
	}
	return refOf(l[0])
}

// TestOrderThenResult imports an order, then its result (which carries
// the filler number too): the result finds the order, links the report,
// its observations and specimen to it and to the patient, and completes
// it; replaying the result stores nothing.
func TestOrderThenResult(t *testing.T) {
	ctx, im, st := newImporter(t)
	importMsg(t, ctx, im, ormNW)
	srs := storedOf(t, st, "ServiceRequest")
	if len(srs) != 1 || srs[0]["status"] != "active" || srs[0]["intent"] != "order" {
		t.Fatalf("after the order: %v", srs)
	}
	srID := "ServiceRequest/" + srs[0]["id"].(string)
	importMsg(t, ctx, im, oruFor("ORU900", "PL900^EHR", "F", "112"))
	srs = storedOf(t, st, "ServiceRequest")
	if len(srs) != 1 {
		t.Fatalf("%d ServiceRequests after the result, want the order's one", len(srs))
	}
	sr := srs[0]
	if sr["status"] != "completed" {
		t.Errorf("order status %v, want completed", sr["status"])
	}
	var ids []string
	for _, x := range sr["identifier"].([]any) {
		ids = append(ids, x.(map[string]any)["value"].(string))
	}
	// The order is the placer's: the result changes its status only.
	if strings.Join(ids, ",") != "PL900" || len(sr["note"].([]any)) != 1 || sr["authoredOn"] != "2026-03-10T10:00:00Z" {
		t.Errorf("the order changed beyond its status: %v", sr)
	}
	pats := storedOf(t, st, "Patient")
	if len(pats) != 1 {
		t.Fatalf("%d patients", len(pats))
	}
	pid := "Patient/" + pats[0]["id"].(string)
	drs := storedOf(t, st, "DiagnosticReport")
	if len(drs) != 1 {
		t.Fatalf("%d reports", len(drs))
	}
	dr := drs[0]
	if firstRef(dr["basedOn"]) != srID || refOf(dr["subject"]) != pid || dr["status"] != "final" {
		t.Errorf("report %v", dr)
	}
	specs := storedOf(t, st, "Specimen")
	if len(specs) != 1 || specs[0]["receivedTime"] != "2026-03-10T10:45:00Z" || specs[0]["status"] != "available" {
		t.Fatalf("specimens %v", specs)
	}
	specID := "Specimen/" + specs[0]["id"].(string)
	if firstRef(dr["specimen"]) != specID || firstRef(specs[0]["request"]) != srID {
		t.Errorf("specimen links: report %v, specimen %v", dr["specimen"], specs[0]["request"])
	}
	var drIDs []string
	for _, x := range dr["identifier"].([]any) {
		drIDs = append(drIDs, x.(map[string]any)["value"].(string))
	}
	if !strings.Contains(strings.Join(drIDs, ","), "PL900,FL900") {
		t.Errorf("report identifiers %v", drIDs)
	}
	obs := storedOf(t, st, "Observation")
	if len(obs) != 2 || len(dr["result"].([]any)) != 2 {
		t.Fatalf("%d observations, report results %v", len(obs), dr["result"])
	}
	for _, o := range obs {
		if firstRef(o["basedOn"]) != srID || refOf(o["specimen"]) != specID || refOf(o["subject"]) != pid || refOf(o["encounter"]) == "" {
			t.Errorf("observation links %v", o)
		}
		if o["code"].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"] == "2345-7" {
			q := o["valueQuantity"].(map[string]any)
			if q["value"] != 112.0 || q["code"] != "mg/dL" || q["system"] != "http://unitsofmeasure.org" || o["status"] != "final" {
				t.Errorf("glucose %v", o)
			}
		}
	}
	again := importMsg(t, ctx, im, oruFor("ORU900", "PL900^EHR", "F", "112"))
	if again.Created != 0 || again.Updated != 0 {
		t.Errorf("replaying the result stored something: %+v", again)
	}
}

// TestResultWithoutOrder: a result for an order Concord never saw
// creates the order from what the result says (completed), and a second
// result for it is linked to the same order.
func TestResultWithoutOrder(t *testing.T) {
	ctx, im, st := newImporter(t)
	importMsg(t, ctx, im, oruFor("ORU950", "PL950^EHR", "P", "100"))
	importMsg(t, ctx, im, oruFor("ORU951", "PL950^EHR", "C", "101"))
	srs := storedOf(t, st, "ServiceRequest")
	if len(srs) != 1 || srs[0]["status"] != "completed" || len(srs[0]["identifier"].([]any)) != 2 {
		t.Fatalf("orders %v", srs)
	}
	if drs := storedOf(t, st, "DiagnosticReport"); len(drs) != 1 || firstRef(drs[0]["basedOn"]) != "ServiceRequest/"+srs[0]["id"].(string) {
		t.Errorf("reports %v", drs)
	}
}

// TestCorrectedResult sends a result, then its correction (OBX-11 C):
// the same Observation gets a second version with the new value.
func TestCorrectedResult(t *testing.T) {
	ctx, im, st := newImporter(t)
	importMsg(t, ctx, im, oruFor("ORU910", "PL910^EHR", "F", "112"))
	before := storedOf(t, st, "Observation")
	r := importMsg(t, ctx, im, oruFor("ORU911", "PL910^EHR", "C", "121.5"))
	after := storedOf(t, st, "Observation")
	if len(after) != len(before) || r.Created != 1 { // the new message's Provenance only
		t.Fatalf("observations %d → %d, import %+v", len(before), len(after), r)
	}
	for _, o := range after {
		q, _ := o["valueQuantity"].(map[string]any)
		if q["unit"] != "mg/dl" {
			continue
		}
		meta := o["meta"].(map[string]any)
		if o["status"] != "corrected" || q["value"] != 121.5 || meta["versionId"] != "2" {
			t.Errorf("corrected observation %v", o)
		}
		found := false
		for _, b := range before {
			found = found || b["id"] == o["id"]
		}
		if !found {
			t.Errorf("the correction made a new Observation %v", o["id"])
		}
	}
}

// TestCancelRevokesOrder sends an order, then its cancel (ORC-1 CA).
func TestCancelRevokesOrder(t *testing.T) {
	ctx, im, st := newImporter(t)
	importMsg(t, ctx, im, ormNW)
	importMsg(t, ctx, im, ormCA)
	srs := storedOf(t, st, "ServiceRequest")
	if len(srs) != 1 || srs[0]["status"] != "revoked" {
		t.Fatalf("after the cancel: %v", srs)
	}
	again := importMsg(t, ctx, im, ormCA)
	if again.Created != 0 || again.Updated != 0 {
		t.Errorf("replaying the cancel stored something: %+v", again)
	}
}

// TestSpecimenRejected: a specimen with a reject reason (SPM-21) is
// unsatisfactory, with the reason kept as a condition.
func TestSpecimenRejected(t *testing.T) {
	ctx, im, st := newImporter(t)
	msg := "MSH|^~\\&|LIS|CITYLAB|EHR|CITYHOSP|202603101400+0000||OUL^R22^OUL_R22|OUL920|P|2.5.1\r" + labPID +
		"SPM|1|SP920&EHR^FS920&LIS||BLD^Whole blood^HL70487|||||||||||||202603100800+0000|202603100830+0000||N|RH^Hemolysis^HL70490\r" +
		"OBR|1|PL920^EHR|FL920^LIS|58410-2^CBC panel^LN|||202603100800+0000||||||||||||||||||X\r" +
		"ORC|SC|PL920^EHR|FL920^LIS||CA\r"
	importMsg(t, ctx, im, msg)
	specs := storedOf(t, st, "Specimen")
	if len(specs) != 1 || specs[0]["status"] != "unsatisfactory" {
		t.Fatalf("specimens %v", specs)
	}
	b, _ := json.Marshal(specs[0]["condition"])
	if !strings.Contains(string(b), `"code":"RH"`) || !strings.Contains(string(b), "v2-0490") {
		t.Errorf("condition %s", b)
	}
	srs := storedOf(t, st, "ServiceRequest")
	drs := storedOf(t, st, "DiagnosticReport")
	if len(srs) != 1 || srs[0]["status"] != "revoked" || len(drs) != 1 || drs[0]["status"] != "cancelled" {
		t.Errorf("order %v, report %v", srs, drs)
	}
}

// TestConcordPlacerNumber: a ServiceRequest created through FHIR, sent
// by the outbound side with the placer number "<id>^CONCORD", is found by
// the result by id: the report and observations are based on it, and it
// is completed without losing what the result does not carry.
func TestConcordPlacerNumber(t *testing.T) {
	ctx, im, st := newImporter(t)
	pat := convertString(t, "MSH|^~\\&|EHR|CITYHOSP|X|X|202603101000+0000||ADT^A04|A04900|P|2.5.1\r"+labPID, Options{})
	if _, err := im.Bundle(ctx, pat.Bundle); err != nil {
		t.Fatal(err)
	}
	pid := "Patient/" + storedOf(t, st, "Patient")[0]["id"].(string)
	create := `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"ServiceRequest","id":"sr-lab-1",
		"status":"active","intent":"order","subject":{"reference":"` + pid + `"},"note":[{"text":"Clinician's note"}],
		"code":{"coding":[{"system":"http://loinc.org","code":"2345-7"}]}},"request":{"method":"PUT","url":"ServiceRequest/sr-lab-1"}}]}`
	if _, err := im.Bundle(ctx, []byte(create)); err != nil {
		t.Fatal(err)
	}
	res := convertString(t, oruFor("ORU930", "sr-lab-1^CONCORD", "F", "99"), Options{})
	if _, err := im.Bundle(ctx, res.Bundle); err != nil {
		t.Fatal(err)
	}
	srs := storedOf(t, st, "ServiceRequest")
	if len(srs) != 1 || srs[0]["id"] != "sr-lab-1" || srs[0]["status"] != "completed" {
		t.Fatalf("orders %v", srs)
	}
	if b, _ := json.Marshal(srs[0]["note"]); !strings.Contains(string(b), "Clinician's note") {
		t.Errorf("the order lost its note: %v", srs[0])
	}
	dr := storedOf(t, st, "DiagnosticReport")[0]
	if firstRef(dr["basedOn"]) != "ServiceRequest/sr-lab-1" {
		t.Errorf("report based on %v", dr["basedOn"])
	}
	for _, o := range storedOf(t, st, "Observation") {
		if firstRef(o["basedOn"]) != "ServiceRequest/sr-lab-1" {
			t.Errorf("observation based on %v", o["basedOn"])
		}
	}
	again, err := im.Bundle(ctx, res.Bundle)
	if err != nil || again.Created != 0 || again.Updated != 0 {
		t.Errorf("replay: %+v %v", again, err)
	}
}

// TestObservationWithoutCode: an OBX with no OBX-3 is refused with its
// location, unless it is an ORDER_DOCUMENT's content (ED, RP).
func TestObservationWithoutCode(t *testing.T) {
	msg := "MSH|^~\\&|LIS|CITYLAB|EHR|CITYHOSP|202603101400+0000||ORU^R01|ORU940|P|2.5.1\r" + labPID +
		"OBR|1|PL940^EHR||2345-7^Glucose^LN||||||||||||||||||||F\r" +
		"OBX|1|NM|2345-7^Glucose^LN||100\r" +
		"OBX|2|NM|||100\r"
	m := mustParse(t, msg)
	_, err := ToFHIR(context.Background(), m, Options{})
	if concord.ErrorCode(err) != concord.EINVALID || !strings.HasPrefix(concord.ErrorMessage(err), "OBX[2]-3:") {
		t.Fatalf("got %v", err)
	}
	doc := strings.Replace(msg, "OBX|2|NM|||100", "OBX|2|ED|||^TEXT^^Base64^QQ==", 1)
	if _, err := ToFHIR(context.Background(), mustParse(t, doc), Options{}); err != nil {
		t.Fatalf("document OBX: %v", err)
	}
}

func TestDecimal(t *testing.T) {
	for in, want := range map[string]string{"4.10": "4.10", "+5": "5", ".5": "0.5", "-0.0": "0.0", "007": "7", "-3.": "-3", "1e3": "", "": "", "--1": ""} {
		got, ok := decimal(in)
		if string(got) != want || ok != (want != "") {
			t.Errorf("decimal(%q) = %q %v, want %q", in, got, ok, want)
		}
	}
	for in, want := range map[string]string{"1430": "14:30:00", "143005.5": "14:30:05.5", "14": "14:00:00", "2561": "", "1430+0100": "14:30:00", "x": ""} {
		if got := fhirTime(in); got != want {
			t.Errorf("fhirTime(%q) = %q, want %q", in, got, want)
		}
	}
}

func mustParse(t *testing.T, msg string) *hl7v2.Message {
	t.Helper()
	m, err := hl7v2.Parse([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestOutboundOrderRoundTrip: a ServiceRequest created through FHIR is
// sent by the outbound side (OrderMessage, OML^O21); the LIS answers
// with an ORU^R01 echoing ORC-2 as it came. The result is linked to that
// ServiceRequest and completes it, whether the placer number was its
// identifier (PLAC, an OID) or made from its id ("<id>^CONCORD"), and
// the order keeps what the result does not carry.
func TestOutboundOrderRoundTrip(t *testing.T) {
	for _, tc := range []struct{ name, identifier string }{
		{"identifier", `,"identifier":[{"system":"urn:oid:1.2.3.4.77","value":"ORD-77","type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"PLAC"}]}}]`},
		{"id", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, im, st := newImporter(t)
			importMsg(t, ctx, im, "MSH|^~\\&|EHR|CITYHOSP|X|X|202603101000+0000||ADT^A04|A04960|P|2.5.1\r"+labPID)
			pat := storedOf(t, st, "Patient")[0]
			patJSON, _ := json.Marshal(pat)
			sr := `{"resourceType":"ServiceRequest","id":"sr-rt-1","status":"active","intent":"order"` + tc.identifier + `,
				"subject":{"reference":"Patient/` + pat["id"].(string) + `"},"authoredOn":"2026-03-10T09:00:00Z",
				"note":[{"text":"Clinician's note"}],"code":{"coding":[{"system":"http://loinc.org","code":"2345-7","display":"Glucose"}]}}`
			create := `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":` + sr + `,"request":{"method":"PUT","url":"ServiceRequest/sr-rt-1"}}]}`
			if _, err := im.Bundle(ctx, []byte(create)); err != nil {
				t.Fatal(err)
			}
			out, err := OrderMessage(OutboundOrder{ServiceRequest: []byte(sr), Patient: patJSON},
				OutboundOptions{SendingApplication: "CONCORD", ReceivingApplication: "LIS", ControlID: "OUT960", OrderType: OutboundOML})
			if err != nil {
				t.Fatal(err)
			}
			placer := mustParse(t, string(out)).Get("ORC-2")
			t.Logf("ORC-2 %q", placer)
			if placer == "" {
				t.Fatalf("no ORC-2 in %q", out)
			}
			res := convertString(t, oruFor("ORU960", placer, "F", "98"), Options{})
			if _, err := im.Bundle(ctx, res.Bundle); err != nil {
				t.Fatal(err)
			}
			srs := storedOf(t, st, "ServiceRequest")
			if len(srs) != 1 || srs[0]["id"] != "sr-rt-1" || srs[0]["status"] != "completed" || srs[0]["authoredOn"] != "2026-03-10T09:00:00Z" {
				t.Fatalf("placer %q: orders %v", placer, srs)
			}
			if b, _ := json.Marshal(srs[0]["note"]); !strings.Contains(string(b), "Clinician's note") {
				t.Errorf("the order lost its note: %v", srs[0])
			}
			dr := storedOf(t, st, "DiagnosticReport")[0]
			if firstRef(dr["basedOn"]) != "ServiceRequest/sr-rt-1" {
				t.Errorf("placer %q: report based on %v", placer, dr["basedOn"])
			}
			again, err := im.Bundle(ctx, res.Bundle)
			if err != nil || again.Created != 0 || again.Updated != 0 {
				t.Errorf("replay: %+v %v", again, err)
			}
		})
	}
}

// labMapper maps the local result code GLU to LOINC.
type labMapper struct{}

func (labMapper) Map(_ context.Context, sender, system, code string) (Coding, bool) {
	if code == "GLU" {
		return Coding{System: "http://loinc.org", Code: "2345-7", Display: "Glucose"}, true
	}
	return Coding{}, false
}

// TestResultCodeMapping: a local OBX-3 code is mapped to LOINC (the
// sender's coding kept after it); an unmapped one is reported with
// where OBX-3.
func TestResultCodeMapping(t *testing.T) {
	msg := "MSH|^~\\&|LIS|CITYLAB|EHR|CITYHOSP|202603101400+0000||ORU^R01|ORU970|P|2.5.1\r" + labPID +
		"OBR|1|PL970^EHR||PANEL^Panel^99LAB||||||||||||||||||||F\r" +
		"OBX|1|NM|GLU^Glucose^99LAB||5.4|mmol/L|||||F\r" +
		"OBX|2|NM|NA^Sodium^99LAB||140|mmol/L|||||F\r"
	res := convertString(t, msg, Options{Codes: labMapper{}})
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
		if e.Resource["resourceType"] != "Observation" {
			continue
		}
		codings := e.Resource["code"].(map[string]any)["coding"].([]any)
		if codings[0].(map[string]any)["code"] == "2345-7" {
			found = len(codings) == 2 && codings[1].(map[string]any)["code"] == "GLU" &&
				codings[1].(map[string]any)["system"] == "urn:concord:local:LIS%5ECITYLAB:99LAB"
		}
	}
	if !found {
		t.Errorf("GLU not mapped to LOINC with the local coding kept: %s", res.Bundle)
	}
	where := map[string]string{}
	for _, u := range res.Unmapped {
		where[u.Code] = u.Where
	}
	if where["NA"] != "OBX-3" || where["PANEL"] != "OBR-4" || where["GLU"] != "" {
		t.Errorf("unmapped %+v", res.Unmapped)
	}
}
