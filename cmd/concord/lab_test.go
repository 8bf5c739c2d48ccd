package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLabOrderRoundTrip is issue 6's lab workflow end to end, with a real
// peer: python-hl7's MLLP server (Debian python3-hl7) stands in for the
// LIS (test/interop/python/lis.py). An ADT^A01 into the default channel
// makes a Patient and an Encounter, searchable by their identifiers; a
// lab ServiceRequest created through POST /fhir reaches the LIS as
// OML^O21 (ORC-1 NW), which it answers AA; the LIS then sends its final
// ORU^R01 for that order to Concord, which answers AA and stores a
// DiagnosticReport and an Observation linked to the ServiceRequest, a
// Specimen and the Patient, and completes the ServiceRequest. Nothing of
// the LIS's own result goes back to it. All data is synthetic.
func TestLabOrderRoundTrip(t *testing.T) {
	if exec.Command("/usr/bin/python3", "-c", "import hl7.mllp").Run() != nil {
		t.Skip("python3 with the hl7 module (Debian python3-hl7) is not installed")
	}
	// Concord's MLLP port must be known to the LIS before either starts.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mllpAddr := ln.Addr().String()
	ln.Close()
	script, _ := filepath.Abs("../../test/interop/python/lis.py")
	lisAddr, lines := runPeerServer(t, "/usr/bin/python3", script, mllpAddr)

	dir := t.TempDir()
	data := filepath.Join(dir, "d")
	cfg := fmt.Sprintf(`channels:
  - name: lis-out
    changes:
      types: [ServiceRequest]
      filter: 'has(resource.category) && resource.category.exists(c, c.coding.exists(x, x.code == "108252007"))'
    destinations:
      - name: lis
        mllp: %q
        retry_initial: 50ms
        hl7: {type: OML^O21, version: "2.5.1", sending_facility: HOSP, receiving_application: LIS, receiving_facility: LAB, partner: LIS^LAB}
`, lisAddr)
	if err := os.WriteFile(filepath.Join(dir, "concord.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	n := startServe(t, dir, "--data", data, "--mllp", mllpAddr)
	tok, e, code := run(t, dir, "token", "create", "--role", "clinician", "--data", data)
	if code != 0 {
		t.Fatalf("token: %s", e)
	}
	clin := strings.TrimSpace(tok)
	base := n.url + "/fhir"
	time.Sleep(time.Second) // the reader places its cursor at the end of the log

	// Registration: ADT^A01 into the default channel.
	adt := "MSH|^~\\&|REG|HOSP|CONCORD|HOSP|20260302080000||ADT^A01^ADT_A01|REG-1|P|2.5.1\r" +
		"EVN|A01|20260302080000\r" +
		"PID|1||MRN-5151^^^HOSP&2.16.840.1.113883.19.5.1&ISO^MR||Labperson^Bea||19790211|F\r" +
		"PV1|1|I|WARD^12^1^HOSP||||D7^Doctor^Dana" + strings.Repeat("|", 12) + // PV1-7, then PV1-19
		"V-31^^^HOSP&2.16.840.1.113883.19.5.2&ISO^VN" + strings.Repeat("|", 25) + "20260302080000\r" // PV1-44
	adtFile := filepath.Join(dir, "adt.hl7")
	if err := os.WriteFile(adtFile, []byte(adt), 0o600); err != nil {
		t.Fatal(err)
	}
	if o, e, code := run(t, dir, "send", "--to", mllpAddr, adtFile); code != 0 || !strings.Contains(o, "\tAA") {
		t.Fatalf("ADT^A01: %d %s %s", code, o, e)
	}
	search := func(query string) []json.RawMessage {
		t.Helper()
		_, body := get(t, base+"/"+query, clin)
		var b struct {
			Entry []struct{ Resource json.RawMessage }
		}
		if err := json.Unmarshal([]byte(body), &b); err != nil {
			t.Fatalf("%s: %v %.300s", query, err, body)
		}
		out := make([]json.RawMessage, len(b.Entry))
		for i, e := range b.Entry {
			out[i] = e.Resource
		}
		return out
	}
	var patient struct{ ID string }
	ps := search("Patient?identifier=" + url.QueryEscape("urn:oid:2.16.840.1.113883.19.5.1|MRN-5151"))
	if len(ps) != 1 || json.Unmarshal(ps[0], &patient) != nil {
		t.Fatalf("Patient by identifier: %d found", len(ps))
	}
	if es := search("Encounter?identifier=" + url.QueryEscape("urn:oid:2.16.840.1.113883.19.5.2|V-31") + "&subject=Patient/" + patient.ID); len(es) != 1 {
		t.Fatalf("Encounter by identifier and patient: %d found", len(es))
	}

	// The order, through the FHIR API.
	order := `{"resourceType":"ServiceRequest","status":"active","intent":"order",` +
		`"identifier":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"PLAC"}]},"system":"urn:oid:2.16.840.1.113883.19.5.7","value":"ORD-9001"}],` +
		`"category":[{"coding":[{"system":"http://snomed.info/sct","code":"108252007"}]}],` +
		`"code":{"coding":[{"system":"http://loinc.org","code":"2345-7","display":"Glucose [Mass/volume] in Serum or Plasma"}]},` +
		`"subject":{"reference":"Patient/` + patient.ID + `"},"authoredOn":"2026-03-02T08:30:00Z"}`
	resp, out := fhirDo(t, "POST", base+"/ServiceRequest", clin, order)
	var sr struct{ ID string }
	if resp.StatusCode != 201 || json.Unmarshal([]byte(out), &sr) != nil {
		t.Fatalf("create ServiceRequest: %d %s", resp.StatusCode, out)
	}

	// The LIS prints the order it took and Concord's answer to its result.
	var got []string
	deadline := time.After(60 * time.Second)
	for len(got) < 2 {
		select {
		case l := <-lines:
			got = append(got, l)
		case <-deadline:
			t.Fatalf("from the LIS so far: %q", got)
		}
	}
	if !strings.HasPrefix(got[0], "ORDER ") || !strings.HasSuffix(got[0], " NW") || got[1] != "RESULT AA LISR-1" {
		t.Fatalf("the LIS saw %q; want the new order, then AA for its result", got)
	}

	// The result, linked.
	var report struct {
		Status   string
		Subject  struct{ Reference string }
		BasedOn  []struct{ Reference string }
		Result   []struct{ Reference string }
		Specimen []struct{ Reference string }
	}
	rs := search("DiagnosticReport?based-on=ServiceRequest/" + sr.ID)
	if len(rs) != 1 || json.Unmarshal(rs[0], &report) != nil {
		t.Fatalf("DiagnosticReport based on the order: %d found", len(rs))
	}
	if report.Status != "final" || report.Subject.Reference != "Patient/"+patient.ID || len(report.Result) != 1 {
		t.Fatalf("report %+v", report)
	}
	var obs struct {
		Status        string
		Subject       struct{ Reference string }
		BasedOn       []struct{ Reference string }
		Specimen      struct{ Reference string }
		ValueQuantity struct {
			Value float64
			Code  string
		}
	}
	_, body := get(t, base+"/"+report.Result[0].Reference, clin)
	if err := json.Unmarshal([]byte(body), &obs); err != nil {
		t.Fatal(err)
	}
	if obs.Status != "final" || obs.Subject.Reference != "Patient/"+patient.ID || len(obs.BasedOn) != 1 ||
		obs.BasedOn[0].Reference != "ServiceRequest/"+sr.ID || obs.ValueQuantity.Value != 6.1 || obs.ValueQuantity.Code != "mmol/L" ||
		!strings.HasPrefix(obs.Specimen.Reference, "Specimen/") {
		t.Fatalf("observation %s", body)
	}
	var spec struct {
		Subject struct{ Reference string }
		Request []struct{ Reference string }
	}
	_, body = get(t, base+"/"+obs.Specimen.Reference, clin)
	if err := json.Unmarshal([]byte(body), &spec); err != nil || spec.Subject.Reference != "Patient/"+patient.ID {
		t.Fatalf("specimen %s", body)
	}
	var now struct{ Status string }
	_, body = get(t, base+"/ServiceRequest/"+sr.ID, clin)
	if err := json.Unmarshal([]byte(body), &now); err != nil || now.Status != "completed" {
		t.Fatalf("the order after its final result: %s", body)
	}

	// The completed order is the LIS's own change: nothing goes back.
	select {
	case l := <-lines:
		t.Fatalf("the LIS got more: %q", l)
	case <-time.After(1500 * time.Millisecond):
	}
}
