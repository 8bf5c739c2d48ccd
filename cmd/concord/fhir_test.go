package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// fhirDo sends a FHIR request and returns the response with its body.
func fhirDo(t *testing.T, method, url, bearer, body string, headers ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestFHIRCrud: create, read, vread, update with If-Match and as create,
// delete as a versioned tombstone, history at three levels, the
// CapabilityStatement, OperationOutcome errors, and scopes enforced.
func TestFHIRCrud(t *testing.T) {
	n := startFHIR(t)
	tok := n.token
	dir := n.dir
	data := n.data
	clin := tok("--role", "clinician")
	reader := tok("--role", "clinician", "--scope", "user/Patient.rs")
	patientTok := tok("--role", "patient", "--patient", "syn-1")
	base := n.url + "/fhir"

	resp, body := fhirDo(t, "GET", base+"/metadata", "", "")
	if resp.StatusCode != 200 || !strings.Contains(body, `"fhirVersion":"4.0.1"`) || !strings.Contains(body, `"type":"Observation"`) {
		t.Fatalf("metadata: %d %.200s", resp.StatusCode, body)
	}

	// Synthetic patient, no real person.
	resp, body = fhirDo(t, "POST", base+"/Patient", clin, `{"resourceType":"Patient","id":"ignored","meta":{"source":"test"},"active":true,"name":[{"family":"Synthetic"}]}`)
	if resp.StatusCode != 201 || resp.Header.Get("ETag") != `W/"1"` || !strings.HasPrefix(resp.Header.Get("Location"), "/fhir/Patient/") {
		t.Fatalf("create: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	var created struct {
		ID   string
		Meta struct{ VersionID, LastUpdated, Source string }
	}
	json.Unmarshal([]byte(body), &created)
	if created.ID == "" || created.ID == "ignored" || created.Meta.VersionID != "1" || created.Meta.Source != "test" || created.Meta.LastUpdated == "" {
		t.Fatalf("created %s", body)
	}
	url := base + "/Patient/" + created.ID
	if resp, body = fhirDo(t, "GET", url, reader, ""); resp.StatusCode != 200 || !strings.Contains(body, `"family":"Synthetic"`) {
		t.Fatalf("read: %d %s", resp.StatusCode, body)
	}
	if resp, body = fhirDo(t, "GET", url+"?_pretty=true", reader, ""); resp.StatusCode != 200 || !strings.Contains(body, "\n  \"resourceType\": \"Patient\"") {
		t.Fatalf("_pretty: %d %s", resp.StatusCode, body)
	}
	if resp, body = fhirDo(t, "GET", url+"?_format=xml", reader, ""); resp.StatusCode != 501 || !strings.Contains(body, "OperationOutcome") {
		t.Fatalf("_format=xml: %d %s", resp.StatusCode, body)
	}
	if resp, _ = fhirDo(t, "GET", url, reader, "", "If-None-Match", `W/"1"`); resp.StatusCode != 304 {
		t.Fatalf("If-None-Match: %d", resp.StatusCode)
	}
	upd := strings.Replace(`{"resourceType":"Patient","id":"ID","active":false}`, "ID", created.ID, 1)
	if resp, body = fhirDo(t, "PUT", url, clin, upd, "If-Match", `W/"7"`); resp.StatusCode != 412 || !strings.Contains(body, "OperationOutcome") {
		t.Fatalf("stale If-Match: %d %s", resp.StatusCode, body)
	}
	if resp, body = fhirDo(t, "PUT", url, clin, upd, "If-Match", `W/"1"`, "Prefer", "return=minimal"); resp.StatusCode != 200 || body != "" || resp.Header.Get("ETag") != `W/"2"` {
		t.Fatalf("update: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if resp, body = fhirDo(t, "GET", url+"/_history/1", reader, ""); resp.StatusCode != 200 || !strings.Contains(body, `"active":true`) {
		t.Fatalf("vread 1: %d %s", resp.StatusCode, body)
	}
	// JSON Patch: applied to the current version; a failed test changes nothing.
	patchDo := func(doc string) (*http.Response, string) {
		return fhirDo(t, "PATCH", url, clin, doc, "Content-Type", "application/json-patch+json")
	}
	if resp, body = patchDo(`[{"op":"test","path":"/active","value":true}]`); resp.StatusCode != 400 {
		t.Fatalf("failed patch test: %d %s", resp.StatusCode, body)
	}
	if resp, body = patchDo(`[{"op":"add","path":"/gender","value":"unknown"},{"op":"replace","path":"/active","value":true}]`); resp.StatusCode != 200 ||
		!strings.Contains(body, `"gender":"unknown"`) || resp.Header.Get("ETag") != `W/"3"` {
		t.Fatalf("patch: %d %s", resp.StatusCode, body)
	}
	if resp, _ = patchDo(`[{"op":"replace","path":"/id","value":"other"}]`); resp.StatusCode != 400 {
		t.Fatalf("patch changing the id: %d", resp.StatusCode)
	}
	// Update as create, with a client id.
	if resp, _ = fhirDo(t, "PUT", base+"/Observation/obs-1", clin, `{"resourceType":"Observation","id":"obs-1","status":"final","code":{"text":"synthetic"}}`); resp.StatusCode != 201 {
		t.Fatalf("update as create: %d", resp.StatusCode)
	}
	if resp, body = fhirDo(t, "DELETE", url, clin, ""); resp.StatusCode != 204 {
		t.Fatalf("delete: %d %s", resp.StatusCode, body)
	}
	if resp, body = fhirDo(t, "GET", url, reader, ""); resp.StatusCode != 410 || !strings.Contains(body, `"code":"deleted"`) {
		t.Fatalf("read deleted: %d %s", resp.StatusCode, body)
	}
	var hist struct {
		Type  string
		Link  []struct{ Relation, URL string }
		Entry []struct {
			Request  struct{ Method string }
			Response struct{ Etag string }
		}
	}
	_, body = fhirDo(t, "GET", url+"/_history", reader, "")
	json.Unmarshal([]byte(body), &hist)
	if hist.Type != "history" || len(hist.Entry) != 4 || hist.Entry[0].Request.Method != "DELETE" || hist.Entry[3].Request.Method != "POST" || hist.Entry[2].Response.Etag != `W/"2"` {
		t.Fatalf("instance history: %s", body)
	}
	_, body = fhirDo(t, "GET", base+"/_history?_count=2", clin, "")
	hist.Entry, hist.Link = nil, nil
	json.Unmarshal([]byte(body), &hist)
	if len(hist.Entry) != 2 || len(hist.Link) != 2 || hist.Link[1].Relation != "next" {
		t.Fatalf("system history page 1: %s", body)
	}
	if !strings.HasPrefix(hist.Link[1].URL, base+"/_history?") {
		t.Fatalf("next link %q is not an absolute URL under %s", hist.Link[1].URL, base)
	}
	_, body = fhirDo(t, "GET", hist.Link[1].URL, clin, "")
	hist.Entry, hist.Link = nil, nil
	json.Unmarshal([]byte(body), &hist)
	if len(hist.Entry) != 2 || len(hist.Link) != 2 {
		t.Fatalf("system history page 2 (of 5 versions): %s", body)
	}

	// Refusals, all as OperationOutcome.
	for _, c := range []struct {
		method, url, bearer, body string
		status                    int
	}{
		{"POST", base + "/Patient", reader, `{"resourceType":"Patient"}`, 403},         // read-only scope
		{"GET", base + "/Observation/obs-1", reader, "", 403},                          // no scope on Observation
		{"GET", base + "/_history", reader, "", 403},                                   // system history needs a wildcard scope
		{"GET", url, patientTok, "", 404},                                              // not in its compartment
		{"GET", url, "", "", 401},                                                      // no token
		{"POST", base + "/Patient", clin, `{"resourceType":"Observation"}`, 400},       // wrong type
		{"POST", base + "/Patient", clin, `{"resourceType":`, 400},                     // not JSON
		{"PUT", base + "/Patient/a", clin, `{"resourceType":"Patient","id":"b"}`, 400}, // id mismatch
		{"GET", base + "/NoSuchType/1", clin, "", 404},
		{"GET", base + "/Patient/nobody", reader, "", 404},
	} {
		resp, body := fhirDo(t, c.method, c.url, c.bearer, c.body)
		if resp.StatusCode != c.status || !strings.Contains(body, "OperationOutcome") {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.url, resp.StatusCode, body, c.status)
		}
	}
	// Every write and read is in the audit trail.
	o, _, _ := run(t, dir, "audit", "export", "--data", data)
	for _, want := range []string{"Patient/" + created.ID + "/_history/2", "Observation/obs-1/_history/1"} {
		if !strings.Contains(o, want) {
			t.Errorf("audit export lacks %s", want)
		}
	}
}

// TestFHIRAbsoluteURLs: what fhir-kit-client needed of the server. A
// transaction posted to the base with a trailing slash (POST /fhir/, as
// the client's transaction and batch send it) is served like POST /fhir;
// history Bundles' self and next links and every fullUrl (history,
// transaction responses, searches inside a batch) are absolute URLs
// under the base, so that a client following next lands on the page.
func TestFHIRAbsoluteURLs(t *testing.T) {
	n := startFHIR(t)
	clin := n.token("--role", "clinician")
	base := n.url + "/fhir"

	type answer struct {
		Type string
		Link []struct{ Relation, URL string }
		// fullUrl and response.location of each entry; a search
		// entry's own Bundle in resource.
		Entry []struct {
			FullURL  string `json:"fullUrl"`
			Resource struct {
				Entry []struct {
					FullURL string `json:"fullUrl"`
				}
			}
			Response struct{ Status, Location string }
		}
	}
	decode := func(body string) answer {
		t.Helper()
		var a answer
		if err := json.Unmarshal([]byte(body), &a); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		return a
	}

	// Synthetic data only.
	tx := `{"resourceType":"Bundle","type":"transaction","entry":[
		{"fullUrl":"urn:uuid:0d6b7c1e-1111-4a2b-9c3d-000000000001","resource":{"resourceType":"Patient","name":[{"family":"Synthetic"}]},"request":{"method":"POST","url":"Patient"}},
		{"resource":{"resourceType":"Observation","status":"final","code":{"text":"synthetic"},"subject":{"reference":"urn:uuid:0d6b7c1e-1111-4a2b-9c3d-000000000001"}},"request":{"method":"POST","url":"Observation"}}]}`
	resp, body := fhirDo(t, "POST", base+"/", clin, tx)
	if resp.StatusCode != 200 {
		t.Fatalf("POST /fhir/: %d %s", resp.StatusCode, body)
	}
	txr := decode(body)
	if txr.Type != "transaction-response" || len(txr.Entry) != 2 {
		t.Fatalf("POST /fhir/: %s", body)
	}
	patID := strings.Split(txr.Entry[0].Response.Location, "/")[1]
	if got, want := txr.Entry[0].FullURL, base+"/Patient/"+patID; got != want {
		t.Errorf("transaction response fullUrl %q, want %q", got, want)
	}

	// A search inside a batch.
	resp, body = fhirDo(t, "POST", base, clin, `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Patient?_id=`+patID+`"}}]}`)
	if br := decode(body); resp.StatusCode != 200 || len(br.Entry) != 1 || len(br.Entry[0].Resource.Entry) != 1 ||
		br.Entry[0].Resource.Entry[0].FullURL != base+"/Patient/"+patID {
		t.Errorf("batch search: %d %s", resp.StatusCode, body)
	}

	// Two more versions, then the history one version a page, following
	// the next links as given.
	for _, g := range []string{"female", "male"} {
		if resp, body := fhirDo(t, "PUT", base+"/Patient/"+patID, clin,
			`{"resourceType":"Patient","id":"`+patID+`","gender":"`+g+`","name":[{"family":"Synthetic"}]}`); resp.StatusCode != 200 {
			t.Fatalf("PUT: %d %s", resp.StatusCode, body)
		}
	}
	next := base + "/Patient/" + patID + "/_history?_count=1"
	for page := 1; next != ""; page++ {
		if page > 3 {
			t.Fatalf("more than 3 pages of 3 versions")
		}
		resp, body := fhirDo(t, "GET", next, clin, "")
		h := decode(body)
		if resp.StatusCode != 200 || len(h.Entry) != 1 || len(h.Link) == 0 {
			t.Fatalf("history page %d (%s): %d %s", page, next, resp.StatusCode, body)
		}
		if h.Link[0].Relation != "self" || h.Link[0].URL != next {
			t.Errorf("page %d: self link %q, want %q", page, h.Link[0].URL, next)
		}
		if h.Entry[0].FullURL != base+"/Patient/"+patID {
			t.Errorf("page %d: fullUrl %q", page, h.Entry[0].FullURL)
		}
		next = ""
		for _, l := range h.Link {
			if l.Relation == "next" {
				next = l.URL
				if !strings.HasPrefix(next, base+"/Patient/"+patID+"/_history?") {
					t.Fatalf("page %d: next link %q is not under %s", page, next, base)
				}
			}
		}
		if page == 3 && next != "" {
			t.Errorf("a next link after the last version: %q", next)
		}
	}
}
