package subscription

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/auth"
)

// bindingToken asks for a binding token at path and returns the status
// and the Parameters' values by name.
func bindingToken(t *testing.T, n *node, method, path, bearer, body string) (int, map[string][]string) {
	t.Helper()
	code, b := n.do(method, path, bearer, body)
	if code != http.StatusOK {
		return code, nil
	}
	var p struct {
		ResourceType string
		Parameter    []map[string]string
	}
	if err := json.Unmarshal(b, &p); err != nil || p.ResourceType != "Parameters" {
		t.Fatalf("%s %s: %s", method, path, b)
	}
	out := map[string][]string{}
	for _, prm := range p.Parameter {
		for k, v := range prm {
			if strings.HasPrefix(k, "value") {
				out[prm["name"]] = append(out[prm["name"]], v)
			}
		}
	}
	return code, out
}

// dialToken opens the token endpoint without an Authorization header.
func dialToken(t *testing.T, n *node) *wsClient {
	t.Helper()
	ws, code := dialPath(t, n, TokenWebsocketPath, "")
	if code != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade without Authorization: %d", code)
	}
	return ws
}

// TestBindWithToken: a client gets a binding token over HTTP with its
// bearer token, opens the public endpoint without Authorization, binds
// with the token and receives a ping for a matching write; the token
// works once; it names every subscription asked for at type level; a
// client that may not bind a subscription gets no token for it.
func TestBindWithToken(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) { testBindWithToken(t, openStore(t, backend)) })
	}
}

func testBindWithToken(t *testing.T, st concord.Store) {
	n := startNode(t, st, Options{})
	owner := n.token(concord.TokenRequest{Role: concord.RoleClinician, Scopes: []string{"user/Subscription.cru", "user/Observation.crus"}})
	mine := n.create(owner, "Subscription", wsSubscription("Observation?code=http://loinc.org|1234-5"))
	second := n.create(owner, "Subscription", wsSubscription("Observation?code=http://loinc.org|5555-5"))
	others := n.create(n.admin, "Subscription", wsSubscription("Observation?code=http://loinc.org|9999-9"))
	hook := n.create(n.admin, "Subscription", subscription("Observation?code=1", "http://127.0.0.1:9/", ""))

	code, p := bindingToken(t, n, "GET", "/fhir/Subscription/"+mine+"/$get-ws-binding-token", owner, "")
	if code != http.StatusOK {
		t.Fatalf("$get-ws-binding-token: %d", code)
	}
	tok := p["token"]
	if len(tok) != 1 || len(tok[0]) != 43 || len(p["expiration"]) != 1 ||
		strings.Join(p["subscription"], " ") != "Subscription/"+mine ||
		strings.Join(p["websocket-url"], " ") != "ws://"+strings.TrimPrefix(n.url, "http://")+TokenWebsocketPath {
		t.Fatalf("answer %v", p)
	}
	if exp, err := time.Parse(time.RFC3339, p["expiration"][0]); err != nil || exp.Before(time.Now().Add(4*time.Minute)) ||
		exp.After(time.Now().Add(6*time.Minute)) {
		t.Fatalf("expiration %v (%v), want about 5 minutes on", p["expiration"], err)
	}
	ws := dialToken(t, n)
	ws.send("bind-with-token " + tok[0])
	if got := ws.recv(t, 5*time.Second); got != "bound "+mine {
		t.Fatalf("bind-with-token answer %q", got)
	}
	n.create(owner, "Observation", observation("9999-9"))
	n.create(owner, "Observation", observation("1234-5"))
	if got := ws.recv(t, 5*time.Second); got != "ping "+mine {
		t.Fatalf("notification %q, want ping %s", got, mine)
	}
	if got := ws.recv(t, 300*time.Millisecond); got != "" {
		t.Fatalf("unexpected %q", got)
	}

	// The token is used: a second connection with it is refused.
	again := dialToken(t, n)
	again.send("bind-with-token " + tok[0])
	if code, reason := again.closed(t, 5*time.Second); code != 1008 || !strings.Contains(reason, "invalid binding token") {
		t.Fatalf("second use: close %d %q, want 1008", code, reason)
	}

	// Type level: every id named, in a query or a Parameters body.
	code, p = bindingToken(t, n, "GET", "/fhir/Subscription/$get-ws-binding-token?id="+mine+"&id="+second, owner, "")
	if code != http.StatusOK || strings.Join(p["subscription"], " ") != "Subscription/"+mine+" Subscription/"+second {
		t.Fatalf("type level: %d %v", code, p)
	}
	both := dialToken(t, n)
	both.send("bind-with-token " + p["token"][0])
	got := []string{both.recv(t, 5*time.Second), both.recv(t, 5*time.Second)}
	if got[0] != "bound "+mine || got[1] != "bound "+second {
		t.Fatalf("binding two: %q", got)
	}
	n.create(owner, "Observation", observation("5555-5"))
	if got := both.recv(t, 5*time.Second); got != "ping "+second {
		t.Fatalf("notification %q, want ping %s", got, second)
	}
	code, p = bindingToken(t, n, "POST", "/fhir/Subscription/$get-ws-binding-token", owner,
		`{"resourceType":"Parameters","parameter":[{"name":"id","valueString":"`+second+`"}]}`)
	if code != http.StatusOK || strings.Join(p["subscription"], " ") != "Subscription/"+second {
		t.Fatalf("POST with Parameters: %d %v", code, p)
	}
	if code, _ := bindingToken(t, n, "GET", "/fhir/Subscription/$get-ws-binding-token", owner, ""); code != http.StatusBadRequest {
		t.Fatalf("type level without ids: %d, want 400", code)
	}

	// No token for what "bind" would refuse: another's subscription to
	// a caller who may read Subscriptions but not search Observations,
	// an unknown one, a rest-hook one.
	reader := n.token(concord.TokenRequest{Role: concord.RoleClinician, Scopes: []string{"user/Subscription.rs"}})
	for _, c := range []struct {
		path, bearer string
		want         int
	}{
		{"/fhir/Subscription/" + others + "/$get-ws-binding-token", reader, http.StatusForbidden},
		{"/fhir/Subscription/nosuch/$get-ws-binding-token", owner, http.StatusNotFound},
		{"/fhir/Subscription/" + hook + "/$get-ws-binding-token", n.admin, http.StatusBadRequest},
		{"/fhir/Subscription/$get-ws-binding-token?id=" + mine + "&id=nosuch", owner, http.StatusNotFound},
	} {
		if code, _ := bindingToken(t, n, "GET", c.path, c.bearer, ""); code != c.want {
			t.Errorf("GET %s: %d, want %d", c.path, code, c.want)
		}
	}
	if code, _ := bindingToken(t, n, "GET", "/fhir/Subscription/"+mine+"/$get-ws-binding-token", "cnc_nonsense.x", ""); code != http.StatusUnauthorized {
		t.Errorf("without a valid bearer token: %d, want 401", code)
	}

	// The refusal of the used token is in the audit trail, as a failed
	// log-in on the public endpoint.
	found := false
	n.store.AuditRecords(context.Background(), concord.AuditFilter{}, func(r *concord.AuditRecord) error {
		if r.Object == "fhir/$subscription-websocket-token" && r.Action == concord.AuditLogin && r.Outcome == concord.OutcomeMinor &&
			strings.Contains(r.Detail, "invalid binding token") {
			found = true
		}
		return nil
	})
	if !found {
		t.Error("no audit record of the refused token")
	}
}

// TestBindWithTokenRefused: an expired token, a first message that is
// not bind-with-token, a wrong token, an oversize message, none within
// BindWait, a token whose issuer was revoked, and a message after the
// binding all close the connection.
func TestBindWithTokenRefused(t *testing.T) {
	var skew atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	n := startNode(t, openStore(t, "sqlite"), Options{Now: now, BindWait: 300 * time.Millisecond})
	id := n.create(n.admin, "Subscription", wsSubscription("Observation?code=http://loinc.org|1234-5"))
	get := func() string {
		t.Helper()
		code, p := bindingToken(t, n, "POST", "/fhir/Subscription/"+id+"/$get-ws-binding-token", n.admin, "")
		if code != http.StatusOK {
			t.Fatalf("$get-ws-binding-token: %d", code)
		}
		return p["token"][0]
	}
	expect := func(name string, ws *wsClient, want uint16) {
		t.Helper()
		if code, reason := ws.closed(t, 5*time.Second); code != want {
			t.Errorf("%s: close %d %q, want %d", name, code, reason, want)
		}
	}

	old := get()
	skew.Store(int64(6 * time.Minute))
	ws := dialToken(t, n)
	ws.send("bind-with-token " + old)
	expect("expired token", ws, 1008)
	skew.Store(0)

	tok := get()
	ws = dialToken(t, n)
	ws.send("bind " + id)
	expect("bind instead of bind-with-token", ws, 1008)
	ws = dialToken(t, n)
	ws.send("bind-with-token " + tok + "x")
	expect("a wrong token", ws, 1008)
	ws = dialToken(t, n)
	ws.send("bind-with-token " + strings.Repeat("A", 300))
	expect("an oversize message", ws, 1009)
	ws = dialToken(t, n)
	expect("no message", ws, 1008)

	// A token whose issuer's bearer token was revoked since is refused.
	issuer := n.token(concord.TokenRequest{Role: concord.RoleAdmin})
	code, p := bindingToken(t, n, "GET", "/fhir/Subscription/"+id+"/$get-ws-binding-token", issuer, "")
	if code != http.StatusOK {
		t.Fatalf("$get-ws-binding-token: %d", code)
	}
	issuerID, _, _ := concord.ParseBearer(issuer)
	if err := auth.Revoke(context.Background(), n.store, issuerID, concord.AuditRecord{Actor: "test", Role: "operator"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	ws = dialToken(t, n)
	ws.send("bind-with-token " + p["token"][0])
	expect("a revoked issuer", ws, 1008)

	// The token survived the failed attempts (none presented it): it
	// binds, and a second message then closes the connection.
	ws = dialToken(t, n)
	ws.send("bind-with-token " + tok)
	if got := ws.recv(t, 5*time.Second); got != "bound "+id {
		t.Fatalf("bind-with-token answer %q", got)
	}
	ws.send("bind " + id)
	expect("a message after the binding", ws, 1008)
}

// TestBindWithTokenTwoNodes: a token issued by one node binds a
// connection to another node sharing the PostgreSQL database, once.
func TestBindWithTokenTwoNodes(t *testing.T) {
	a, b := twoNodes(t)
	id := a.create(a.admin, "Subscription", wsSubscription("Observation?code=http://loinc.org|1234-5"))
	code, p := bindingToken(t, a, "GET", "/fhir/Subscription/"+id+"/$get-ws-binding-token", a.admin, "")
	if code != http.StatusOK {
		t.Fatalf("$get-ws-binding-token: %d", code)
	}
	ws := dialToken(t, b)
	ws.send("bind-with-token " + p["token"][0])
	if got := ws.recv(t, 5*time.Second); got != "bound "+id {
		t.Fatalf("bind-with-token on the other node: %q", got)
	}
	a.create(a.admin, "Observation", observation("1234-5"))
	if got := ws.recv(t, 5*time.Second); got != "ping "+id {
		t.Fatalf("notification %q, want ping %s", got, id)
	}
	again := dialToken(t, a)
	again.send("bind-with-token " + p["token"][0])
	if code, _ := again.closed(t, 5*time.Second); code != 1008 {
		t.Fatalf("reuse on the first node: close %d, want 1008", code)
	}
}
