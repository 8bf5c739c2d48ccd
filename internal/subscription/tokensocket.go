package subscription

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"

	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/httperr"
	"github.com/concord-health/concord/internal/websocket"
)

// serveTokenWebsocket takes a websocket connection bound by a token from
// $get-ws-binding-token (R5 Backport IG): nothing authenticates the
// upgrade, so the connection may send exactly one text message, of at
// most bindMaxInput bytes, within BindWait: "bind-with-token <token>".
// Anything else, or a token that is unknown, used, expired, or whose
// issuer's bearer token is no longer valid, closes the connection with
// 1008 (policy violation) and is audited as a refused log-in. A good
// token binds the subscriptions it was issued for, with its issuer's
// rights ("bound <id>" for each), and the connection then behaves as
// one to WebsocketPath, except that it takes no further message.
func (m *Manager) serveTokenWebsocket(w http.ResponseWriter, r *http.Request) {
	ctx := m.takeSocket()
	if ctx == nil {
		httperr.Write(w, r, concord.Errorf(concord.EUNAVAILABLE, "no websocket connection can be taken now"))
		return
	}
	defer m.releaseSocket()
	addr := r.RemoteAddr
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	s := &socket{m: m, tmpl: concord.AuditRecord{Actor: "unknown", Address: addr, Node: m.opt.Node},
		object: "fhir/$subscription-websocket-token", byToken: true, bound: map[string]int64{}}
	conn, err := websocket.Upgrade(w, r, websocket.Options{MaxMessage: bindMaxInput, ReadTimeout: 2 * m.opt.SocketPing})
	if err != nil {
		s.auditAs(ctx, concord.AuditLogin, "", concord.OutcomeMinor, "websocket upgrade refused: "+concord.ErrorMessage(err))
		httperr.Write(w, r, err)
		return
	}
	s.conn = conn
	if reason := s.bindWithToken(ctx); reason != "" {
		s.auditAs(ctx, concord.AuditLogin, "", concord.OutcomeMinor, "bind-with-token refused: "+reason)
		conn.Close(websocket.ClosePolicy, reason)
		return
	}
	s.run(ctx)
}

// bindWithToken reads the connection's one message, takes its binding
// token from the store (once), sets the connection's principal to the
// token's issuer and binds its subscriptions; it returns why not, or "".
func (s *socket) bindWithToken(ctx context.Context) string {
	m := s.m
	timer := time.AfterFunc(m.opt.BindWait, func() {
		s.conn.Close(websocket.ClosePolicy, "no bind-with-token message in time")
	})
	op, msg, err := s.conn.ReadMessage()
	if !timer.Stop() {
		return fmt.Sprintf("no bind-with-token message within %s", m.opt.BindWait)
	}
	if err != nil {
		return "no bind-with-token message: " + truncate(err.Error(), 80)
	}
	tok, ok := parseBindWithToken(msg)
	if op != websocket.OpText || !ok {
		return "the first message must be \"bind-with-token <token>\""
	}
	var b *concord.BindingToken
	var takeErr error
	now := m.opt.Now()
	if err := m.opt.Store.Update(ctx, func(tx concord.Tx) error {
		b, takeErr = tx.TakeBindingToken(ctx, concord.HashBindingToken(tok), now)
		return nil // the clean-up of expired tokens commits either way
	}); err != nil {
		return "binding tokens cannot be checked now"
	}
	if takeErr != nil {
		return "invalid binding token (unknown, used or expired)"
	}
	s.tmpl.Actor = b.Actor
	issuer, err := m.opt.Store.Token(ctx, b.Actor)
	if err != nil {
		return "the binding token's issuer is not a valid token"
	}
	if st := issuer.Status(now); st != "active" {
		return "the binding token's issuer token is " + st
	}
	p, err := issuer.Principal()
	if err != nil {
		return "the binding token's issuer token is no longer valid"
	}
	p.Address = s.tmpl.Address
	s.p, s.tmpl.Role = p, string(p.Role)
	s.auditAs(ctx, concord.AuditRead, "", concord.OutcomeSuccess, "websocket opened with a binding token")
	for _, id := range b.Subscriptions {
		// Checked again: the subscription may have changed since the
		// token was issued.
		if reason := s.bind(ctx, id); reason != "" {
			s.audit(ctx, id, concord.OutcomeMinor, "websocket bind refused: "+reason)
			if err := s.conn.WriteText("error " + id + " " + reason); err != nil {
				return "connection lost"
			}
			continue
		}
		s.audit(ctx, id, concord.OutcomeSuccess, "websocket bound with a binding token from "+s.conn.RemoteAddr().String())
		if err := s.conn.WriteText("bound " + id); err != nil {
			return "connection lost"
		}
	}
	if len(s.bound) == 0 {
		return "no subscription could be bound"
	}
	return ""
}

// parseBindWithToken reads "bind-with-token <token>" (spaces around the
// token are ignored), where the token is base64url text of at most 100
// characters, and returns the token.
func parseBindWithToken(msg []byte) (string, bool) {
	verb, tok, _ := strings.Cut(string(msg), " ")
	tok = strings.TrimSpace(tok)
	if verb != "bind-with-token" || tok == "" || len(tok) > 100 {
		return "", false
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return "", false
		}
	}
	return tok, true
}
