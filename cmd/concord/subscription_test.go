package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// hookReceiver is a synthetic rest-hook endpoint recording the paths it
// is sent.
func hookReceiver(t *testing.T) (*httptest.Server, chan string) {
	hits := make(chan string, 20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		hits <- r.Method + " " + r.URL.Path
	}))
	t.Cleanup(srv.Close)
	return srv, hits
}

func nextHit(t *testing.T, hits chan string) string {
	t.Helper()
	select {
	case h := <-hits:
		return h
	case <-time.After(15 * time.Second):
		t.Fatal("no notification within 15 s")
		return ""
	}
}

// fhirCreate posts a resource and returns its id.
func fhirCreate(t *testing.T, base, bearer, typ, body string) string {
	t.Helper()
	resp, b := fhirDo(t, "POST", base+"/fhir/"+typ, bearer, body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST %s: %d %s", typ, resp.StatusCode, b)
	}
	var r struct{ ID, Status string }
	json.Unmarshal([]byte(b), &r)
	return r.ID
}

const (
	subLOINC = `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"1234-5"}]}}`
	subOther = `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"9999-9"}]}}`
)

func subscriptionFor(endpoint string) string {
	return `{"resourceType":"Subscription","status":"requested","reason":"synthetic test","criteria":"Observation?code=http://loinc.org|1234-5",
		"channel":{"type":"rest-hook","endpoint":"` + endpoint + `","payload":"application/fhir+json"}}`
}

// TestSubscriptionRestHook: concord serve admits a rest-hook Subscription
// written through /fhir, notifies the matching Observation only, and goes
// on after a restart.
func TestSubscriptionRestHook(t *testing.T) {
	f := startFHIR(t)
	admin := f.token("--role", "admin")
	rcv, hits := hookReceiver(t)
	resp, b := fhirDo(t, "POST", f.url+"/fhir/Subscription", admin, subscriptionFor(rcv.URL))
	if resp.StatusCode != http.StatusCreated || !strings.Contains(b, `"status":"active"`) {
		t.Fatalf("POST Subscription: %d %s", resp.StatusCode, b)
	}
	fhirCreate(t, f.url, admin, "Observation", subOther)
	id := fhirCreate(t, f.url, admin, "Observation", subLOINC)
	if h := nextHit(t, hits); h != "PUT /Observation/"+id {
		t.Fatalf("notification %q, want PUT /Observation/%s", h, id)
	}
	// Metrics.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, m := get(t, f.url+"/metrics", admin)
		if strings.Contains(m, `concord_subscription_notifications_total{kind="event",outcome="sent"} 1`) &&
			strings.Contains(m, "concord_subscription_matcher_behind 0") && strings.Contains(m, "concord_subscription_latency_seconds_count 1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no subscription metrics: %s", m)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The CapabilityStatement names the websocket endpoint.
	if _, b := fhirDo(t, "GET", f.url+"/fhir/metadata", "", ""); !strings.Contains(b,
		`"valueUri":"ws://`+strings.TrimPrefix(f.url, "http://")+`/fhir/$subscription-websocket"`) {
		t.Fatalf("metadata has no websocket URL: %.300s", b)
	}
	// Subscription announces $get-ws-binding-token, and Patient still
	// its $export.
	if _, b := fhirDo(t, "GET", f.url+"/fhir/metadata", "", ""); !strings.Contains(b,
		`{"name":"get-ws-binding-token","definition":"http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-get-ws-binding-token"}`) ||
		!strings.Contains(b, `"http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export"`) {
		t.Fatalf("metadata has no $get-ws-binding-token or $export: %.300s", b)
	}
	// It lists the subscription topics (the built-in ones here).
	if _, b := fhirDo(t, "GET", f.url+"/fhir/metadata", "", ""); !strings.Contains(b,
		`"url":"http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/capabilitystatement-subscriptiontopic-canonical","valueCanonical":"http://concord-health.org/fhir/SubscriptionTopic/Encounter"`) {
		t.Fatalf("metadata lists no subscription topics: %.300s", b)
	}
	f.stop(t)
	n := startServe(t, f.dir, "--data", f.data)
	id = fhirCreate(t, n.url, admin, "Observation", subLOINC)
	if h := nextHit(t, hits); h != "PUT /Observation/"+id {
		t.Fatalf("after a restart: notification %q, want PUT /Observation/%s\n%s", h, id, n.stderr)
	}
	// A Subscription loaded by concord import beside the running server
	// is admitted as the operator's and served.
	rcv2, hits2 := hookReceiver(t)
	file := filepath.Join(f.dir, "subscription.json")
	os.WriteFile(file, []byte(strings.Replace(subscriptionFor(rcv2.URL), `"status"`, `"id":"imported","status"`, 1)), 0o600)
	if out, errOut, code := run(t, f.dir, "import", "--data", f.data, file); code != 0 {
		t.Fatalf("import: %s %s", out, errOut)
	}
	id = fhirCreate(t, n.url, admin, "Observation", subLOINC)
	for _, h := range []chan string{hits, hits2} {
		if got := nextHit(t, h); got != "PUT /Observation/"+id {
			t.Fatalf("after the import: notification %q, want PUT /Observation/%s", got, id)
		}
	}
}

// TestSubscriptionPrivateRefused: with subscription_allow_private off, an
// endpoint on a loopback address is not called and the Subscription says
// why.
func TestSubscriptionPrivateRefused(t *testing.T) {
	dir := t.TempDir()
	data := dir + "/d"
	n := startServe(t, dir, "--data", data, "--subscription-allow-private=false")
	f := &fhirNode{node: n, t: t, dir: dir, data: data}
	admin := f.token("--role", "admin")
	rcv, hits := hookReceiver(t)
	id := fhirCreate(t, f.url, admin, "Subscription", subscriptionFor(rcv.URL))
	fhirCreate(t, f.url, admin, "Observation", subLOINC)
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, b := fhirDo(t, "GET", f.url+"/fhir/Subscription/"+id, admin, "")
		if strings.Contains(b, "subscription_allow_private") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Subscription does not say its endpoint was refused: %s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case h := <-hits:
		t.Fatalf("a loopback endpoint was called: %s", h)
	default:
	}
}
