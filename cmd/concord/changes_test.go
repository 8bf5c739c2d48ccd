package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concord-health/concord/hl7v2"
	"github.com/concord-health/concord/mllp"
)

// hl7Peer is an MLLP receiver standing in for a LIS or RIS: it answers
// AA and reports each control ID it received.
type hl7Peer struct {
	addr string
	mu   sync.Mutex
	ids  []string
}

// startPeer starts python-hl7's MLLP server (Debian python3-hl7, a real
// peer) when python is true and it is installed, else Concord's own mllp
// server.
func startPeer(t *testing.T, python bool) *hl7Peer {
	p := &hl7Peer{}
	var ids <-chan string
	if python && exec.Command("/usr/bin/python3", "-c", "import hl7.mllp").Run() == nil {
		script, _ := filepath.Abs("../../test/interop/python/server.py")
		p.addr, ids = runPeerServer(t, "/usr/bin/python3", script)
		t.Log("the LIS is python-hl7's MLLP server")
	} else {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p.addr = ln.Addr().String()
		c := make(chan string, 1024)
		ids = c
		ctx, cancel := context.WithCancel(context.Background())
		srv := &mllp.Server{Handler: mllp.HandlerFunc(func(ctx context.Context, _ *mllp.Conn, payload []byte) ([]byte, error) {
			m, err := hl7v2.Parse(payload)
			if err != nil {
				return nil, err
			}
			c <- m.ControlID()
			return m.Ack(hl7v2.AA, nil, hl7v2.AckOptions{ControlID: "ACK-" + m.ControlID()}).Bytes(), nil
		})}
		go srv.Serve(ctx, ln)
		t.Cleanup(cancel)
	}
	go func() {
		for id := range ids {
			p.mu.Lock()
			p.ids = append(p.ids, id)
			p.mu.Unlock()
		}
	}()
	return p
}

func (p *hl7Peer) got() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.ids...)
}

// changeMsg is a message of a changes channel as /api/messages shows it.
type changeMsg struct {
	ID        int64
	Peer      string
	Type      string
	Trigger   string
	Status    string
	ControlID string `json:"control_id"`
}

// channelMessages returns the messages of a channel, oldest first.
func channelMessages(t *testing.T, url, bearer, channel string) []changeMsg {
	t.Helper()
	code, body := get(t, url+"/api/messages?channel="+channel+"&limit=1000", bearer)
	var page struct{ Messages []changeMsg }
	if err := json.Unmarshal([]byte(body), &page); err != nil || code != 200 {
		t.Fatalf("/api/messages %d %s", code, body)
	}
	out := page.Messages
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// messageDetail returns a stored message's text and its deliveries.
func messageDetail(t *testing.T, url, bearer string, id int64) (*hl7v2.Message, []struct{ Destination, Status string }) {
	t.Helper()
	code, body := get(t, fmt.Sprintf("%s/api/messages/%d", url, id), bearer)
	var d struct {
		Raw        string
		Deliveries []struct{ Destination, Status string }
	}
	if err := json.Unmarshal([]byte(body), &d); err != nil || code != 200 {
		t.Fatalf("/api/messages/%d %d %s", id, code, body)
	}
	m, err := hl7v2.Parse([]byte(d.Raw))
	if err != nil {
		t.Fatalf("message %d: %v: %q", id, err, d.Raw)
	}
	return m, d.Deliveries
}

// TestChangesChannel: FHIR writes become HL7 v2 for the LIS and the RIS.
// A lab ServiceRequest created through POST /fhir reaches the LIS as
// OML^O21 (ORC-1 NW), answered AA and shown sent in /api/messages; its
// update goes out with ORC-1 XO; a final DiagnosticReport goes out as
// ORU^R01 with its Observation; a Patient update as ADT^A08; an imaging
// order goes to the RIS only, as OMI^O23; an order update that came from
// the LIS (its Provenance says so) is not sent back. Then the node restarts: nothing
// is sent again, and a change made while the channel was paused is sent
// once after the restart. All resources are synthetic.
func TestChangesChannel(t *testing.T) {
	lis, ris := startPeer(t, true), startPeer(t, false)
	dir := t.TempDir()
	data := filepath.Join(dir, "d")
	cfg := fmt.Sprintf(`channels:
  - name: lis-out
    changes:
      types: [ServiceRequest, DiagnosticReport, Patient]
      filter: 'type != "ServiceRequest" || (has(resource.category) && resource.category.exists(c, c.coding.exists(x, x.code == "108252007")))'
      poll: 1h   # every change here is written through /fhir on this node, which wakes the reader
    destinations:
      - name: lis
        mllp: %q
        retry_initial: 50ms
        retry_max: 200ms
        hl7: {type: OML^O21, version: "2.5.1", sending_facility: HOSP, receiving_application: LIS, receiving_facility: LAB, partner: LIS^LAB}
  - name: ris-out
    changes:
      types: [ServiceRequest]
      filter: 'has(resource.category) && resource.category.exists(c, c.coding.exists(x, x.code == "363679005"))'
    destinations:
      - name: ris
        mllp: %q
        retry_initial: 50ms
        hl7: {type: OMI^O23, receiving_application: RIS}
`, lis.addr, ris.addr)
	if err := os.WriteFile(filepath.Join(dir, "concord.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	n := startServe(t, dir, "--data", data)
	tok := func(role string) string {
		o, e, code := run(t, dir, "token", "create", "--role", role, "--data", data)
		if code != 0 {
			t.Fatalf("token: %s", e)
		}
		return strings.TrimSpace(o)
	}
	clin, integ, admin := tok("clinician"), tok("integration"), tok("admin")
	base := n.url + "/fhir"
	// Give the readers time to place their cursors at the end of the
	// (empty) log: a channel starts with the changes made after it.
	time.Sleep(time.Second)
	create := func(typ, body string) string {
		t.Helper()
		resp, out := fhirDo(t, "POST", base+"/"+typ, clin, body)
		var r struct{ ID string }
		if resp.StatusCode != 201 || json.Unmarshal([]byte(out), &r) != nil || r.ID == "" {
			t.Fatalf("create %s: %d %s", typ, resp.StatusCode, out)
		}
		return r.ID
	}
	update := func(typ, id, body string) {
		t.Helper()
		if resp, out := fhirDo(t, "PUT", base+"/"+typ+"/"+id, clin, body); resp.StatusCode != 200 {
			t.Fatalf("update %s/%s: %d %s", typ, id, resp.StatusCode, out)
		}
	}
	// waitMessages waits until channel has want messages, all delivered.
	waitMessages := func(url, channel string, want int) []changeMsg {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			ms := channelMessages(t, url, integ, channel)
			if len(ms) == want {
				_, ds := messageDetail(t, url, integ, ms[len(ms)-1].ID)
				if len(ds) == 1 && ds[0].Status == "sent" {
					return ms
				}
			}
			if len(ms) > want {
				t.Fatalf("channel %s: %d messages, want %d: %+v", channel, len(ms), want, ms)
			}
			if time.Now().After(deadline) {
				t.Fatalf("channel %s: %d messages, want %d delivered: %+v", channel, len(ms), want, ms)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	patient := `{"resourceType":"Patient","identifier":[{"system":"urn:oid:2.16.840.1.113883.19.5.1","value":"MRN-4242"}],` +
		`"name":[{"family":"Testperson","given":["Ada"]}],"gender":"female","birthDate":"1988-04-05"}`
	pid := create("Patient", patient) // a new Patient: ADT^A08 too
	order := func(status, priority string) string {
		return `{"resourceType":"ServiceRequest","status":"` + status + `","intent":"order","priority":"` + priority + `",` +
			`"identifier":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"PLAC"}]},"system":"urn:oid:2.16.840.1.113883.19.5.7","value":"ORD-77"}],` +
			`"category":[{"coding":[{"system":"http://snomed.info/sct","code":"108252007"}]}],` +
			`"code":{"coding":[{"system":"http://loinc.org","code":"2345-7","display":"Glucose"}]},"subject":{"reference":"Patient/` + pid + `"}}`
	}
	srID := create("ServiceRequest", order("active", "routine"))
	ms := waitMessages(n.url, "lis-out", 2)
	oml, ds := messageDetail(t, n.url, integ, ms[1].ID)
	if ms[0].Type != "ADT" || ms[0].Trigger != "A08" || ms[1].Type != "OML" || ms[1].Trigger != "O21" || ms[1].Peer != "ServiceRequest/"+srID+"/_history/1" ||
		oml.Get("ORC-1") != "NW" || oml.Get("ORC-2.1") != "ORD-77" || oml.Get("PID-3.1") != "MRN-4242" || oml.Get("MSH-5") != "LIS" || oml.Get("MSH-6") != "LAB" ||
		ds[0].Destination != "lis" {
		t.Fatalf("first messages %+v; OML %q", ms, oml.Bytes())
	}

	update("ServiceRequest", srID, strings.Replace(order("active", "stat"), `{"resourceType":"ServiceRequest",`, `{"resourceType":"ServiceRequest","id":"`+srID+`",`, 1))
	ms = waitMessages(n.url, "lis-out", 3)
	xo, _ := messageDetail(t, n.url, integ, ms[2].ID)
	if xo.Get("ORC-1") != "XO" || xo.Get("TQ1-9.1") != "S" {
		t.Fatalf("update: ORC-1 %q TQ1-9 %q in %q", xo.Get("ORC-1"), xo.Get("TQ1-9"), xo.Bytes())
	}

	obsID := create("Observation", `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"2345-7","display":"Glucose"}]},`+
		`"subject":{"reference":"Patient/`+pid+`"},"valueQuantity":{"value":5.4,"unit":"mmol/L","system":"http://unitsofmeasure.org","code":"mmol/L"}}`)
	drID := create("DiagnosticReport", `{"resourceType":"DiagnosticReport","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"2345-7"}]},`+
		`"subject":{"reference":"Patient/`+pid+`"},"basedOn":[{"reference":"ServiceRequest/`+srID+`"}],"result":[{"reference":"Observation/`+obsID+`"}],`+
		`"effectiveDateTime":"2026-03-02T10:30:00Z","issued":"2026-03-02T11:00:00Z"}`)
	ms = waitMessages(n.url, "lis-out", 4)
	oru, _ := messageDetail(t, n.url, integ, ms[3].ID)
	if ms[3].Type != "ORU" || ms[3].Peer != "DiagnosticReport/"+drID+"/_history/1" || oru.Get("OBR-25") != "F" || oru.Get("OBR-2.1") != "ORD-77" ||
		oru.Get("OBX-3.1") != "2345-7" || oru.Get("OBX-5") != "5.4" {
		t.Fatalf("result %+v: %q", ms[3], oru.Bytes())
	}

	update("Patient", pid, strings.Replace(strings.Replace(patient, "Ada", "Adah", 1), `{"resourceType":"Patient",`, `{"resourceType":"Patient","id":"`+pid+`",`, 1))
	ms = waitMessages(n.url, "lis-out", 5)
	a08, _ := messageDetail(t, n.url, integ, ms[4].ID)
	if ms[4].Type != "ADT" || ms[4].Trigger != "A08" || a08.Get("PID-5.2") != "Adah" {
		t.Fatalf("patient update %+v: %q", ms[4], a08.Bytes())
	}

	// Imaging: to the RIS as OMI^O23, not to the LIS.
	img := strings.Replace(strings.Replace(order("active", "routine"), "108252007", "363679005", 1), "ORD-77", "ORD-78", 1)
	create("ServiceRequest", img)
	rms := waitMessages(n.url, "ris-out", 1)
	if rms[0].Type != "OMI" || rms[0].Trigger != "O23" {
		t.Fatalf("ris %+v", rms)
	}
	time.Sleep(time.Second)
	if got := channelMessages(t, n.url, integ, "lis-out"); len(got) != 5 {
		t.Fatalf("the imaging order reached the LIS channel: %+v", got)
	}
	// The control IDs the LIS acknowledged are those stored, each once.
	var want []string
	for _, m := range ms {
		want = append(want, m.ControlID)
	}
	waitPeer := func(want []string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for strings.Join(lis.got(), ",") != strings.Join(want, ",") {
			if time.Now().After(deadline) {
				t.Fatalf("the LIS received %v, want %v", lis.got(), want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitPeer(want)
	_, metrics := get(t, n.url+"/metrics", admin)
	for _, m := range []string{`concord_changes_behind{channel="lis-out"} 0`, `concord_changes_behind{channel="ris-out"} 0`,
		`concord_delivery_attempts_total{channel="lis-out",destination="lis",outcome="sent"} 5`,
		`concord_messages_received_total{channel="lis-out",status="received"} 5`} {
		if !strings.Contains(metrics, m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}

	// A change that came from the LIS itself (a transaction with the
	// order's update and a Provenance naming LIS^LAB as its author, as
	// the HL7 v2 → FHIR conversion writes) is not sent back to it.
	bundle := `{"resourceType":"Bundle","type":"transaction","entry":[` +
		`{"request":{"method":"PUT","url":"ServiceRequest/` + srID + `"},"resource":` +
		strings.Replace(order("active", "asap"), `{"resourceType":"ServiceRequest",`, `{"resourceType":"ServiceRequest","id":"`+srID+`",`, 1) + `},` +
		`{"request":{"method":"POST","url":"Provenance"},"resource":{"resourceType":"Provenance","target":[{"reference":"ServiceRequest/` + srID + `"}],` +
		`"recorded":"2026-03-02T12:00:00Z","agent":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/provenance-participant-type","code":"author"}]},"who":{"display":"LIS^LAB"}}]}}]}`
	if resp, out := fhirDo(t, "POST", base, clin, bundle); resp.StatusCode != 200 {
		t.Fatalf("transaction: %d %s", resp.StatusCode, out)
	}
	time.Sleep(1500 * time.Millisecond)
	if got := channelMessages(t, n.url, integ, "lis-out"); len(got) != 5 {
		t.Fatalf("the LIS's own change was sent back to it: %+v", got[len(got)-1])
	}

	// The LIS sends its result for the order to the default channel,
	// which converts it into the store (a DiagnosticReport, Observations,
	// the Patient, and a Provenance naming LIS^LAB): none of it goes back
	// to the LIS.
	oruFile := filepath.Join(dir, "oru.hl7")
	oruText := "MSH|^~\\&|LIS|LAB|CONCORD|HOSP|20260302120000||ORU^R01^ORU_R01|LISR-1|P|2.5.1\r" +
		"PID|1||MRN-4242^^^&2.16.840.1.113883.19.5.1&ISO^MR||Testperson^Adah||19880405|F\r" +
		"ORC|RE|ORD-77^^2.16.840.1.113883.19.5.7^ISO|FIL-1^LAB\r" +
		"OBR|1|ORD-77^^2.16.840.1.113883.19.5.7^ISO|FIL-1^LAB|2345-7^Glucose^LN|||20260302103000|||||||||||||||20260302120000|||F\r" +
		"OBX|1|NM|2345-7^Glucose^LN||6.1|mmol/L^mmol/L^UCUM|||||F|||20260302103000\r"
	if err := os.WriteFile(oruFile, []byte(oruText), 0o600); err != nil {
		t.Fatal(err)
	}
	if o, e, code := run(t, dir, "send", "--to", n.mllp, oruFile); code != 0 || !strings.Contains(o, "\tAA") {
		t.Fatalf("the LIS's ORU: %d %s %s", code, o, e)
	}
	// It was stored (so the silence below is the partner rule, not a
	// failed conversion), and the Patient changed with it.
	if _, body := get(t, base+"/DiagnosticReport?identifier=FIL-1&_total=accurate", clin); !strings.Contains(body, `"total":1`) {
		t.Fatalf("the LIS's result was not stored: %.300s", body)
	}
	time.Sleep(1500 * time.Millisecond)
	if got := channelMessages(t, n.url, integ, "lis-out"); len(got) != 5 {
		t.Fatalf("the LIS's own result came back to it: %+v", got[5:])
	}

	// Restart: pause the channel, change the Patient, stop the node.
	if code, body := post(t, n.url+"/api/channels/lis-out/pause", admin, ""); code != 200 {
		t.Fatalf("pause: %d %s", code, body)
	}
	time.Sleep(3 * time.Second) // the state is cached for a moment
	update("Patient", pid, strings.Replace(strings.Replace(patient, "Ada", "Adele", 1), `{"resourceType":"Patient",`, `{"resourceType":"Patient","id":"`+pid+`",`, 1))
	time.Sleep(time.Second)
	if got := channelMessages(t, n.url, integ, "lis-out"); len(got) != 5 {
		t.Fatalf("a paused channel read the change log: %+v", got)
	}
	if _, metrics := get(t, n.url+"/metrics", admin); !strings.Contains(metrics, `concord_changes_behind{channel="lis-out"} 1`) {
		t.Errorf("a paused channel with one change waiting is not shown behind")
	}
	n.stop(t)
	n = startServe(t, dir, "--data", data)
	time.Sleep(2 * time.Second)
	if got := channelMessages(t, n.url, integ, "lis-out"); len(got) != 5 {
		t.Fatalf("after the restart, while paused: %+v", got)
	}
	if code, body := post(t, n.url+"/api/channels/lis-out/start", admin, ""); code != 200 {
		t.Fatalf("start: %d %s", code, body)
	}
	ms = waitMessages(n.url, "lis-out", 6)
	last, _ := messageDetail(t, n.url, integ, ms[5].ID)
	if !strings.HasPrefix(ms[5].Peer, "Patient/"+pid+"/_history/") || last.Get("PID-5.2") != "Adele" {
		t.Fatalf("after the restart %+v: %q", ms[5], last.Bytes())
	}
	waitPeer(append(want, ms[5].ControlID))
	time.Sleep(2 * time.Second) // nothing more comes
	if got := channelMessages(t, n.url, integ, "lis-out"); len(got) != 6 {
		t.Fatalf("after the restart: %+v", got)
	}
	waitPeer(append(want, ms[5].ControlID))
	n.stop(t)
}
