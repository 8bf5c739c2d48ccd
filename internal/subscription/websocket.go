package subscription

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/httperr"
	"github.com/concord-health/concord/internal/websocket"
)

// WebsocketPath is where clients of websocket subscriptions connect (R4
// subscription.html, websocket channel).
const WebsocketPath = "/fhir/$subscription-websocket"

// TokenWebsocketPath is where clients holding a token from
// $get-ws-binding-token connect, without an Authorization header (which
// browsers cannot send on a websocket): the front door lets the upgrade
// through, and the connection's first message must be
// "bind-with-token <token>".
const TokenWebsocketPath = "/fhir/$subscription-websocket-token"

// Websocket limits.
const (
	maxSockets      = 1000 // connections open on a node
	maxBound        = 20   // subscriptions bound on one connection
	socketMaxInput  = 1024 // a client sends only short commands
	bindMaxInput    = 256  // "bind-with-token " and a 43-character token, with room
	socketEventPage = 100
)

// Router is where the manager registers its routes; the HTTP server
// guards each with the declared access.
type Router interface {
	Handle(pattern string, access concord.Access, h http.Handler)
}

// Register adds the subscription routes to r: $status and $events, and
// the websocket endpoint, which any authenticated caller may open (each
// bind is authorised and audited on its own).
func (m *Manager) Register(r Router) {
	m.registerStatus(r)
	m.registerBindingToken(r)
	r.Handle("GET "+WebsocketPath, concord.Access{AnyCaller: true, Object: "fhir/$subscription-websocket"},
		http.HandlerFunc(m.serveWebsocket))
	// Public: the front door neither authenticates nor audits it; the
	// handler takes the binding token, the only credential there is,
	// and audits the outcome.
	r.Handle("GET "+TokenWebsocketPath, concord.Access{Public: true, Object: "fhir/$subscription-websocket-token"},
		http.HandlerFunc(m.serveTokenWebsocket))
}

// takeSocket counts one more websocket connection and returns the
// context it runs in, or nil when the manager is not running or this
// node holds maxSockets already; release with releaseSocket.
func (m *Manager) takeSocket() context.Context {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.runCtx == nil || m.sockets >= maxSockets {
		return nil
	}
	m.sockets++
	return m.runCtx
}

func (m *Manager) releaseSocket() {
	m.mu.Lock()
	m.sockets--
	m.mu.Unlock()
}

// serveWebsocket takes a websocket connection: the client sends
// "bind <id>" for each subscription it wants, the server answers
// "bound <id>" (or "error <id> <reason>") and then sends "ping <id>" for
// each event of a bound subscription queued after the bind. The caller
// authenticated on the upgrade request (Authorization: Bearer).
func (m *Manager) serveWebsocket(w http.ResponseWriter, r *http.Request) {
	ctx := m.takeSocket()
	if ctx == nil {
		httperr.Write(w, r, concord.Errorf(concord.EUNAVAILABLE, "no websocket connection can be taken now"))
		return
	}
	defer m.releaseSocket()
	s := &socket{m: m, p: concord.PrincipalFrom(r.Context()), tmpl: concord.AuditTemplateFrom(r.Context()),
		object: "fhir/$subscription-websocket", bound: map[string]int64{}}
	conn, err := websocket.Upgrade(w, r, websocket.Options{MaxMessage: socketMaxInput, ReadTimeout: 2 * m.opt.SocketPing})
	if err != nil {
		s.audit(ctx, "", concord.OutcomeMinor, "websocket upgrade refused: "+concord.ErrorMessage(err))
		httperr.Write(w, r, err)
		return
	}
	s.conn = conn
	s.audit(ctx, "", concord.OutcomeSuccess, "websocket opened")
	s.run(ctx)
}

// socket is one websocket connection.
type socket struct {
	m      *Manager
	conn   *websocket.Conn
	p      *concord.Principal
	tmpl   concord.AuditRecord
	object string // the audit records' object for the connection itself
	// byToken connections were bound by "bind-with-token" and take no
	// further message.
	byToken bool
	bound   map[string]int64 // subscription → number of the last event sent
}

// run serves the connection until the client leaves, breaks the
// protocol, its token stops being valid, or ctx ends.
func (s *socket) run(ctx context.Context) {
	cmds := make(chan string)
	done := make(chan struct{})
	defer close(done)
	// Every way out closes the connection (a close frame is sent once),
	// which ends the reader below.
	defer s.conn.Close(websocket.CloseGoingAway, "")
	go func() {
		defer close(cmds)
		for {
			op, msg, err := s.conn.ReadMessage()
			if err != nil {
				return
			}
			if op != websocket.OpText {
				continue
			}
			select {
			case cmds <- string(msg):
			case <-done:
				return
			}
		}
	}()
	ping := time.NewTicker(s.m.opt.SocketPing)
	defer ping.Stop()
	poll := time.NewTicker(s.m.opt.Poll)
	defer poll.Stop()
	for {
		wake := s.m.eventsWait()
		select {
		case <-ctx.Done():
			s.conn.Close(websocket.CloseGoingAway, "server stopping")
			return
		case cmd, ok := <-cmds:
			if !ok {
				s.conn.Close(websocket.CloseNormal, "")
				return
			}
			if s.byToken {
				s.audit(ctx, "", concord.OutcomeMinor, "message after bind-with-token: connection closed")
				s.conn.Close(websocket.ClosePolicy, "this connection takes one bind-with-token message")
				return
			}
			if err := s.command(ctx, cmd); err != nil {
				s.conn.Close(websocket.CloseNormal, "")
				return
			}
			continue
		case <-ping.C:
			if reason := s.tokenDead(ctx); reason != "" {
				s.conn.Close(websocket.ClosePolicy, reason)
				return
			}
			if err := s.conn.Ping(); err != nil {
				return
			}
			continue
		case <-wake:
		case <-poll.C: // events queued by another node
		}
		if err := s.push(ctx); err != nil {
			s.conn.Close(websocket.CloseInternal, "")
			return
		}
	}
}

// command handles one client message.
func (s *socket) command(ctx context.Context, cmd string) error {
	verb, id, _ := strings.Cut(strings.TrimSpace(cmd), " ")
	if verb != "bind" {
		return s.conn.WriteText("error unknown command: this server takes \"bind <subscription id>\"")
	}
	id = truncate(strings.TrimSpace(id), 64)
	if reason := s.bind(ctx, id); reason != "" {
		s.audit(ctx, id, concord.OutcomeMinor, "websocket bind refused: "+reason)
		return s.conn.WriteText("error " + id + " " + reason)
	}
	s.audit(ctx, id, concord.OutcomeSuccess, "websocket bound from "+s.conn.RemoteAddr().String())
	return s.conn.WriteText("bound " + id)
}

// bind binds subscription id to the connection, or says why not
// (Manager.bindable's rules).
func (s *socket) bind(ctx context.Context, id string) string {
	if !concord.IsFHIRID(id) {
		return "not a subscription id"
	}
	if _, ok := s.bound[id]; !ok && len(s.bound) >= maxBound {
		return fmt.Sprintf("at most %d subscriptions on one connection", maxBound)
	}
	st, err := s.m.bindable(ctx, s.p, id)
	if err != nil {
		return concord.ErrorMessage(err)
	}
	s.bound[id] = st.Events // events from now on
	return ""
}

// bindable checks that p may bind subscription id to a websocket
// connection, and returns its state. The subscription must exist, have
// a websocket channel and be active; p must be allowed to read
// Subscriptions and be its owner, or be allowed to read and search its
// criteria's type without a patient limit (a ping tells that a matching
// resource was written). The same rules hold for "bind <id>" and for
// $get-ws-binding-token; the errors (ENOTFOUND as a read would answer,
// EINVALID, ECONFLICT, EFORBIDDEN) say why not.
func (m *Manager) bindable(ctx context.Context, p *concord.Principal, id string) (*concord.SubscriptionState, error) {
	if !concord.IsFHIRID(id) {
		return nil, concord.Errorf(concord.EINVALID, "not a subscription id")
	}
	notFound := concord.Errorf(concord.ENOTFOUND, "no such subscription")
	if _, err := concord.Authorize(p, concord.Action{ResourceType: "Subscription", Ops: concord.OpRead}); err != nil {
		return nil, notFound // as a read would answer
	}
	res, err := m.opt.Store.Resource(ctx, "Subscription", id)
	if concord.ErrorCode(err) == concord.EUNAVAILABLE {
		return nil, err
	}
	if err != nil || res.Deleted {
		return nil, notFound
	}
	sub, err := parseSub(res.Content)
	if err != nil {
		return nil, notFound
	}
	if sub.Channel.Type != channelWebsocket {
		return nil, concord.Errorf(concord.EINVALID, "not a websocket subscription")
	}
	if sub.Status != statusActive {
		return nil, concord.Errorf(concord.ECONFLICT, "subscription is %s", sub.Status)
	}
	st, err := m.opt.Store.Subscription(ctx, id)
	if err != nil {
		return nil, concord.Errorf(concord.ECONFLICT, "subscription has no owner")
	}
	typ, _, err := sub.criteria()
	if err != nil {
		return nil, concord.Errorf(concord.ECONFLICT, "subscription criteria unreadable")
	}
	if st.Owner != p.Actor {
		g, err := concord.Authorize(p, concord.Action{ResourceType: typ, Ops: concord.OpRead | concord.OpSearch})
		if err != nil || g.Patient != "" {
			return nil, concord.Errorf(concord.EFORBIDDEN, "only its owner, or a caller who may search %s for every patient, may bind it", typ)
		}
	}
	return st, nil
}

// push sends a ping for each event queued for a bound subscription since
// the last one sent.
func (s *socket) push(ctx context.Context) error {
	for id, last := range s.bound {
		evs, err := s.m.opt.Store.SubscriptionEvents(ctx, id, last+1, 0, socketEventPage)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if err := s.conn.WriteText("ping " + id); err != nil {
				return err
			}
			s.bound[id] = e.Number
		}
	}
	return nil
}

// tokenDead says why the caller's token is no longer valid, or "".
func (s *socket) tokenDead(ctx context.Context) string {
	tok, err := s.m.opt.Store.Token(ctx, s.p.Actor)
	if err != nil {
		return "" // not a token, or the store is away: checked again later
	}
	if st := tok.Status(s.m.opt.Now()); st != "active" {
		return "token " + st
	}
	return ""
}

// audit records the connection's opening (id empty) or a bind, or
// their refusal: the route is not audited by the front door.
func (s *socket) audit(ctx context.Context, id string, outcome concord.Outcome, detail string) {
	s.auditAs(ctx, concord.AuditRead, id, outcome, detail)
}

// auditAs records an action on the connection (id empty) or a
// subscription.
func (s *socket) auditAs(ctx context.Context, action string, id string, outcome concord.Outcome, detail string) {
	rec := s.tmpl
	rec.Time, rec.Action, rec.Object, rec.Outcome, rec.Detail = s.m.opt.Now(), action, "Subscription/"+id, outcome, detail
	if id == "" {
		rec.Object = s.object
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.m.opt.Store.Update(actx, func(tx concord.Tx) error {
		r := rec // Update may run this more than once
		return tx.AppendAudit(actx, &r)
	}); err != nil {
		s.m.log.Warn("audit of a websocket bind", "err", err)
	}
}
