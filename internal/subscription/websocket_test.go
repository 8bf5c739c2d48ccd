package subscription

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/auth"
)

// wsClient is a minimal websocket client for the tests.
type wsClient struct {
	c  net.Conn
	br *bufio.Reader
}

// dialWS opens the websocket endpoint with a bearer token and returns
// the client, or the HTTP status when the upgrade is refused.
func dialWS(t *testing.T, n *node, bearer string) (*wsClient, int) {
	t.Helper()
	return dialPath(t, n, WebsocketPath, "Authorization: Bearer "+bearer+"\r\n")
}

// dialPath opens the websocket endpoint at path with the extra header
// lines given.
func dialPath(t *testing.T, n *node, path, header string) (*wsClient, int) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(n.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"+header+"\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &wsClient{c: c, br: br}, resp.StatusCode
}

// send writes a masked text frame.
func (w *wsClient) send(s string) {
	var key [4]byte
	rand.Read(key[:])
	b := []byte{0x81, 0x80 | byte(len(s))}
	if len(s) > 125 {
		b = binary.BigEndian.AppendUint16([]byte{0x81, 0x80 | 126}, uint16(len(s)))
	}
	b = append(b, key[:]...)
	for i := 0; i < len(s); i++ {
		b = append(b, s[i]^key[i&3])
	}
	w.c.Write(b)
}

// recv returns the next text message, skipping pings, or "" after d.
func (w *wsClient) recv(t *testing.T, d time.Duration) string {
	t.Helper()
	w.c.SetReadDeadline(time.Now().Add(d))
	for {
		var h [2]byte
		if _, err := io.ReadFull(w.br, h[:]); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return ""
			}
			t.Fatalf("websocket read: %v", err)
		}
		n := int(h[1] & 0x7F)
		if n == 126 {
			var b [2]byte
			io.ReadFull(w.br, b[:])
			n = int(binary.BigEndian.Uint16(b[:]))
		}
		p := make([]byte, n)
		io.ReadFull(w.br, p)
		if h[0]&0x0F == 0x1 {
			return string(p)
		}
	}
}

func wsSubscription(criteria string) string {
	return `{"resourceType":"Subscription","status":"requested","reason":"synthetic test","criteria":"` + criteria + `",
		"channel":{"type":"websocket"}}`
}

// TestWebsocket: a client bound to its subscription gets a ping for each
// matching write and nothing for another subscription; binds it may not
// make are refused.
func TestWebsocket(t *testing.T) {
	n := startNode(t, openStore(t, "sqlite"), Options{})
	mine := n.create(n.admin, "Subscription", wsSubscription("Observation?code=http://loinc.org|1234-5"))
	other := n.create(n.admin, "Subscription", wsSubscription("Observation?code=http://loinc.org|9999-9"))
	hook := n.create(n.admin, "Subscription", subscription("Observation?code=1", "http://127.0.0.1:9/", ""))
	if _, code := dialWS(t, n, "cnc_nonsense.x"); code != http.StatusUnauthorized {
		t.Fatalf("upgrade with a bad token: %d, want 401", code)
	}
	ws, code := dialWS(t, n, n.admin)
	if code != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %d", code)
	}
	ws.send("bind " + mine)
	if got := ws.recv(t, 5*time.Second); got != "bound "+mine {
		t.Fatalf("bind answer %q", got)
	}
	ws.send("bind " + hook)
	if got := ws.recv(t, 5*time.Second); !strings.HasPrefix(got, "error "+hook+" not a websocket") {
		t.Fatalf("binding a rest-hook subscription: %q", got)
	}
	ws.send("bind nosuch")
	if got := ws.recv(t, 5*time.Second); !strings.HasPrefix(got, "error nosuch no such subscription") {
		t.Fatalf("binding an unknown subscription: %q", got)
	}
	n.create(n.admin, "Observation", observation("9999-9"))
	n.create(n.admin, "Observation", observation("1234-5"))
	n.create(n.admin, "Observation", observation("1234-5"))
	for i := 0; i < 2; i++ {
		if got := ws.recv(t, 5*time.Second); got != "ping "+mine {
			t.Fatalf("notification %d = %q, want ping %s", i+1, got, mine)
		}
	}
	if got := ws.recv(t, 300*time.Millisecond); got != "" {
		t.Fatalf("unexpected %q (the other subscription's event?)", got)
	}
	// A caller who may read Subscriptions but not Observations cannot
	// bind another's subscription.
	reader := n.token(concord.TokenRequest{Role: concord.RoleClinician, Scopes: []string{"user/Subscription.rs"}})
	ws2, _ := dialWS(t, n, reader)
	ws2.send("bind " + other)
	if got := ws2.recv(t, 5*time.Second); !strings.HasPrefix(got, "error "+other+" only its owner") {
		t.Fatalf("a bind without rights: %q", got)
	}
	// The opening, the bind and the refusal are in the audit trail.
	want := map[string]bool{"fhir/$subscription-websocket success": false, "Subscription/" + mine + " success": false,
		"Subscription/" + other + " refused": false}
	n.store.AuditRecords(context.Background(), concord.AuditFilter{}, func(r *concord.AuditRecord) error {
		k := r.Object + " success"
		if r.Outcome != concord.OutcomeSuccess {
			k = r.Object + " refused"
		}
		if _, ok := want[k]; ok && strings.Contains(r.Detail, "websocket") {
			want[k] = true
		}
		return nil
	})
	for k, seen := range want {
		if !seen {
			t.Errorf("no audit record for %s", k)
		}
	}
}

// TestWebsocketTokenRevoked: a connection whose token is revoked is
// closed (policy violation) at the next ping.
func TestWebsocketTokenRevoked(t *testing.T) {
	n := startNode(t, openStore(t, "sqlite"), Options{SocketPing: 50 * time.Millisecond})
	bearer := n.token(concord.TokenRequest{Role: concord.RoleClinician, Scopes: []string{"user/Subscription.cru", "user/Observation.rs"}})
	id := n.create(bearer, "Subscription", wsSubscription("Observation?code=http://loinc.org|1234-5"))
	ws, _ := dialWS(t, n, bearer)
	ws.send("bind " + id)
	if got := ws.recv(t, 5*time.Second); got != "bound "+id {
		t.Fatalf("bind answer %q", got)
	}
	tokID, _, _ := concord.ParseBearer(bearer)
	if err := auth.Revoke(context.Background(), n.store, tokID, concord.AuditRecord{Actor: "test", Role: "operator"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if code, _ := ws.closed(t, 5*time.Second); code != 1008 {
		t.Fatalf("close code %d, want 1008", code)
	}
}

// closed reads until the server's close frame and returns its code and
// reason (skipping other frames); it fails the test when none comes
// within d.
func (w *wsClient) closed(t *testing.T, d time.Duration) (uint16, string) {
	t.Helper()
	w.c.SetReadDeadline(time.Now().Add(d))
	for {
		var h [2]byte
		if _, err := io.ReadFull(w.br, h[:]); err != nil {
			t.Fatalf("no close frame: %v", err)
		}
		p := make([]byte, h[1]&0x7F)
		io.ReadFull(w.br, p)
		if h[0]&0x0F == 0x8 {
			if len(p) < 2 {
				return 1005, ""
			}
			return binary.BigEndian.Uint16(p), string(p[2:])
		}
	}
}
