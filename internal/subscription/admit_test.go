package subscription

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/auth"
)

// TestAdmitRefuses: a Subscription the server cannot serve is refused
// with the reason, and nothing is stored.
func TestAdmitRefuses(t *testing.T) {
	n := startNode(t, openStore(t, "sqlite"), Options{})
	reader := n.token(concord.TokenRequest{Role: concord.RoleClinician, Scopes: []string{"user/Subscription.cru", "user/Patient.rs"}})
	ok := "http://127.0.0.1:9/hook"
	for _, tc := range []struct {
		name, bearer, body string
		code               int
		says               string
	}{
		{"unknown parameter", n.admin, subscription("Observation?colour=blue", ok, ""), 400, "colour"},
		{"unknown type", n.admin, subscription("Spaceship?code=x", ok, ""), 400, "Spaceship"},
		{"no criteria", n.admin, subscription("", ok, ""), 400, "criteria"},
		{"result parameter", n.admin, subscription("Observation?_count=5", ok, ""), 400, "_count"},
		{"not http", n.admin, subscription("Observation?code=1", "ftp://127.0.0.1/hook", ""), 400, "http"},
		{"relative endpoint", n.admin, subscription("Observation?code=1", "/hook", ""), 400, "http"},
		{"user information", n.admin, subscription("Observation?code=1", "http://u:p@127.0.0.1/hook", ""), 400, "user information"},
		{"payload type", n.admin, subscription("Observation?code=1", ok, "application/fhir+xml"), 501, "payload"},
		{"header injection", n.admin, subscription("Observation?code=1", ok, "", "X-A: b\r\nX-B: c"), 400, "header"},
		{"header name", n.admin, subscription("Observation?code=1", ok, "", "X A: b"), 400, "header"},
		{"host header", n.admin, subscription("Observation?code=1", ok, "", "Host: elsewhere"), 400, "Host"},
		{"channel type", n.admin, strings.Replace(subscription("Observation?code=1", ok, ""), "rest-hook", "email", 1), 501, "email"},
		{"status", n.admin, strings.Replace(subscription("Observation?code=1", ok, ""), `"requested"`, `"paused"`, 1), 400, "status"},
		{"writer may not read the type", reader, subscription("Observation?code=1", ok, ""), 403, "Observation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, b := n.do("POST", "/fhir/Subscription", tc.bearer, tc.body)
			if code != tc.code || !bytes.Contains(b, []byte(tc.says)) {
				t.Fatalf("POST = %d %s; want %d saying %q", code, b, tc.code, tc.says)
			}
		})
	}
	if code, b := n.do("GET", "/fhir/Subscription?_total=accurate", n.admin, ""); code != 200 || !bytes.Contains(b, []byte(`"total":0`)) {
		t.Fatalf("refused subscriptions were stored: %d %s", code, b)
	}
	// The same writer may subscribe to what it reads; off is stored as
	// written.
	code, b := n.do("POST", "/fhir/Subscription", reader, strings.Replace(subscription("Patient?family=Synthetic", ok, ""), `"requested"`, `"off"`, 1))
	if code != 201 || !bytes.Contains(b, []byte(`"status":"off"`)) {
		t.Fatalf("POST off: %d %s", code, b)
	}
}

// TestOwnerRevoked: when the token that wrote a Subscription is revoked,
// its notifications stop and the Subscription says why.
func TestOwnerRevoked(t *testing.T) {
	n := startNode(t, openStore(t, "sqlite"), Options{})
	rcv := newReceiver(t)
	bearer := n.token(concord.TokenRequest{Role: concord.RoleClinician, Scopes: []string{"user/Subscription.cru", "user/Observation.rs"}})
	id := n.create(bearer, "Subscription", subscription("Observation?code=http://loinc.org|1234-5", rcv.URL, ""))
	n.create(n.admin, "Observation", observation("1234-5"))
	rcv.next(t)
	tokID, _, _ := concord.ParseBearer(bearer)
	if err := auth.Revoke(context.Background(), n.store, tokID, concord.AuditRecord{Actor: "test", Role: "operator"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	n.create(n.admin, "Observation", observation("1234-5"))
	eventually(t, "the subscription in error", func() bool {
		s := n.read("Subscription/" + id)
		return s["status"] == "error" && strings.Contains(s["error"].(string), "revoked")
	})
	rcv.none(t, 200*time.Millisecond)
}

// TestGiveUpAndResume: an endpoint failing longer than GiveUp sets the
// subscription to error and deliveries stop; its events stay queued and
// arrive, in order, once a client asks for it again (status requested).
func TestGiveUpAndResume(t *testing.T) {
	n := startNode(t, openStore(t, "sqlite"), Options{GiveUp: 300 * time.Millisecond})
	rcv := newReceiver(t)
	rcv.down.Store(true)
	body := subscription("Observation?code=http://loinc.org|1234-5", rcv.URL+"/h", "application/fhir+json")
	id := n.create(n.admin, "Subscription", body)
	o1 := n.create(n.admin, "Observation", observation("1234-5"))
	o2 := n.create(n.admin, "Observation", observation("1234-5"))
	eventually(t, "the subscription given up", func() bool {
		s := n.read("Subscription/" + id)
		return s["status"] == "error" && strings.Contains(s["error"].(string), "given up")
	})
	rcv.down.Store(false)
	tries := rcv.tries.Load()
	rcv.none(t, 300*time.Millisecond)
	if rcv.tries.Load() != tries {
		t.Fatal("a subscription in error was still tried")
	}
	put := withID(body, id)
	if code, b := n.do("PUT", "/fhir/Subscription/"+id, n.admin, put); code != http.StatusOK || !bytes.Contains(b, []byte(`"status":"active"`)) {
		t.Fatalf("PUT requested: %d %s", code, b)
	}
	for _, want := range []string{o1, o2} {
		if h := rcv.next(t); h.path != "/h/Observation/"+want {
			t.Fatalf("after resuming: %s, want /h/Observation/%s", h.path, want)
		}
	}
}

// TestPatientOwner: a subscription written for a patient-context token
// notifies only the resources in that patient's compartment.
func TestPatientOwner(t *testing.T) {
	n := startNode(t, openStore(t, "sqlite"), Options{})
	rcv := newReceiver(t)
	p1 := n.create(n.admin, "Patient", `{"resourceType":"Patient","name":[{"family":"Synthetic"}]}`)
	p2 := n.create(n.admin, "Patient", `{"resourceType":"Patient","name":[{"family":"Synthetic"}]}`)
	id := n.create(n.admin, "Subscription", subscription("Observation?code=http://loinc.org|1234-5", rcv.URL, "application/fhir+json"))
	// Patient-context tokens may not write through /fhir yet: make the
	// patient's token the owner in the store, as Admit would.
	patient := n.token(concord.TokenRequest{Role: concord.RolePatient, Patient: p1})
	tokID, _, _ := concord.ParseBearer(patient)
	if err := n.store.Update(context.Background(), func(tx concord.Tx) error {
		return tx.PutSubscription(context.Background(), &concord.SubscriptionState{ID: id, Owner: tokID, Role: concord.RolePatient,
			Patient: p1, Scopes: []string{"patient/*.rs"}}, false, time.Now())
	}); err != nil {
		t.Fatal(err)
	}
	obs := func(p string) string {
		return strings.Replace(observation("1234-5"), `"status"`, `"subject":{"reference":"Patient/`+p+`"},"status"`, 1)
	}
	n.create(n.admin, "Observation", obs(p2))
	mine := n.create(n.admin, "Observation", obs(p1))
	if h := rcv.next(t); h.path != "/Observation/"+mine {
		t.Fatalf("notified %s, want only /Observation/%s (the patient's)", h.path, mine)
	}
	rcv.none(t, 200*time.Millisecond)
}

// TestEnd: once its end time has passed, a subscription is turned off
// and notifies nothing more.
func TestEnd(t *testing.T) {
	n := startNode(t, openStore(t, "sqlite"), Options{})
	rcv := newReceiver(t)
	end := time.Now().Add(time.Second).UTC().Format(time.RFC3339Nano)
	body := strings.Replace(subscription("Observation?code=http://loinc.org|1234-5", rcv.URL, ""), `"reason"`, `"end":"`+end+`","reason"`, 1)
	id := n.create(n.admin, "Subscription", body)
	n.create(n.admin, "Observation", observation("1234-5"))
	rcv.next(t)
	time.Sleep(1100 * time.Millisecond)
	n.create(n.admin, "Observation", observation("1234-5"))
	eventually(t, "the subscription off", func() bool { return n.read("Subscription/" + id)["status"] == "off" })
	rcv.none(t, 200*time.Millisecond)
}

// TestAdmitInTransaction: a Subscription in a transaction Bundle is
// admitted as a single write is (active, and refused with the Bundle
// when it cannot be served).
func TestAdmitInTransaction(t *testing.T) {
	n := startNode(t, openStore(t, "sqlite"), Options{})
	rcv := newReceiver(t)
	bundle := func(sub string) string {
		return `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":` + sub + `,"request":{"method":"POST","url":"Subscription"}}]}`
	}
	code, b := n.do("POST", "/fhir", n.admin, bundle(subscription("Observation?code=http://loinc.org|1234-5", rcv.URL, "")))
	if code != http.StatusOK || !bytes.Contains(b, []byte(`"status":"active"`)) {
		t.Fatalf("transaction: %d %s", code, b)
	}
	n.create(n.admin, "Observation", observation("1234-5"))
	rcv.next(t)
	if code, b := n.do("POST", "/fhir", n.admin, bundle(subscription("Observation?colour=blue", rcv.URL, ""))); code != http.StatusBadRequest ||
		!bytes.Contains(b, []byte("colour")) {
		t.Fatalf("transaction with a bad Subscription: %d %s, want 400", code, b)
	}
}

// TestPruneEvents: delivered events older than EventRetention are
// dropped; those still to deliver stay.
func TestPruneEvents(t *testing.T) {
	n := startNode(t, openStore(t, "sqlite"), Options{EventRetention: time.Millisecond, PruneEvery: 20 * time.Millisecond})
	rcv := newReceiver(t)
	down := newReceiver(t)
	down.down.Store(true)
	ok := n.create(n.admin, "Subscription", subscription("Observation?code=http://loinc.org|1234-5", rcv.URL, ""))
	failing := n.create(n.admin, "Subscription", subscription("Observation?code=http://loinc.org|1234-5", down.URL, ""))
	n.create(n.admin, "Observation", observation("1234-5"))
	rcv.next(t)
	eventually(t, "the delivered event pruned", func() bool {
		evs, err := n.store.SubscriptionEvents(context.Background(), ok, 1, 0, 10)
		return err == nil && len(evs) == 0
	})
	if evs, err := n.store.SubscriptionEvents(context.Background(), failing, 1, 0, 10); err != nil || len(evs) != 1 {
		t.Fatalf("the event still to deliver: %d, %v; want kept", len(evs), err)
	}
}

// TestRecreated: a Subscription created anew under the id of a deleted
// one does not inherit its undelivered events.
func TestRecreated(t *testing.T) {
	n := startNode(t, openStore(t, "sqlite"), Options{})
	rcv := newReceiver(t)
	rcv.down.Store(true)
	body := subscription("Observation?code=http://loinc.org|1234-5", rcv.URL+"/h", "application/fhir+json")
	id := n.create(n.admin, "Subscription", body)
	n.create(n.admin, "Observation", observation("1234-5"))
	eventually(t, "a failed attempt", func() bool { return rcv.tries.Load() > 0 })
	if code, b := n.do("DELETE", "/fhir/Subscription/"+id, n.admin, ""); code != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", code, b)
	}
	if code, b := n.do("PUT", "/fhir/Subscription/"+id, n.admin, withID(body, id)); code != http.StatusCreated {
		t.Fatalf("PUT anew: %d %s", code, b)
	}
	rcv.down.Store(false)
	fresh := n.create(n.admin, "Observation", observation("1234-5"))
	if h := rcv.next(t); h.path != "/h/Observation/"+fresh {
		t.Fatalf("first notification %s, want the new subscription's /h/Observation/%s", h.path, fresh)
	}
}
