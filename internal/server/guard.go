package server

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/auth"
)

// auditTimeout bounds the wait for an audit record to commit.
const auditTimeout = 10 * time.Second

// guard wraps a route's handler: it authenticates the caller, authorises
// the declared action, and audits the request. An audited response is held
// back until its audit record is committed: no audit record, no data.
func (s *Server) guard(access concord.Access, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if access.Public {
			h.ServeHTTP(w, r)
			return
		}
		now := s.opt.Now()
		rec := concord.AuditRecord{
			Address:   remoteIP(r),
			RequestID: requestID(r.Context()),
			Node:      s.opt.Node,
			Object:    access.Object,
		}
		if rec.Object == "" {
			rec.Object = routePath(r)
		}
		p, tok, err := auth.Authenticate(r.Context(), s.opt.Store, r.Header.Get("Authorization"), now)
		if err != nil {
			if r.Header.Get("Authorization") != "" && concord.ErrorCode(err) == concord.EUNAUTHORIZED {
				// A credential was presented and refused: a failed log-in.
				rec.Action = concord.AuditLogin
				rec.Actor = "unknown"
				if tok != nil {
					rec.Actor, rec.Role = tok.ID, string(tok.Role)
				}
				rec.Outcome = concord.OutcomeMinor
				rec.Detail = fmt.Sprintf("%s %s refused: %s", r.Method, routePath(r), concord.ErrorMessage(err))
				s.appendAudit(r.Context(), rec)
			}
			writeError(w, r, err)
			return
		}
		p.Address = rec.Address
		rec.Actor, rec.Role = p.Actor, string(p.Role)
		setActor(r.Context(), p.Actor)
		ctx := concord.WithPrincipal(r.Context(), p)
		if !access.AnyCaller {
			g, err := concord.Authorize(p, access.Action)
			if err != nil {
				s.deny(w, r, rec, access, err)
				return
			}
			ctx = concord.WithGrant(ctx, g)
		}
		ctx = concord.WithAuditTemplate(ctx, rec)
		if access.Audit == "" {
			h.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		ctx, note := concord.WithAuditNote(ctx)
		r = r.WithContext(ctx)
		buf := responses.Get().(*bufferedResponse)
		defer buf.release()
		h.ServeHTTP(buf, r)
		if note.Object != "" {
			rec.Object = note.Object
		}
		rec.Patient = note.Patient
		rec.Action = access.Audit
		rec.Outcome = concord.HTTPOutcome(buf.status)
		rec.Detail = fmt.Sprintf("%s %s %d", r.Method, routePath(r), buf.status)
		if err := s.appendAudit(ctx, rec); err != nil {
			writeError(w, r, concord.WrapError(concord.EUNAVAILABLE, err, "audit trail unavailable: response withheld"))
			return
		}
		buf.flushTo(w)
	})
}

// deny audits a refused request and answers it.
func (s *Server) deny(w http.ResponseWriter, r *http.Request, rec concord.AuditRecord, access concord.Access, err error) {
	rec.Action = access.Audit
	if rec.Action == "" {
		rec.Action = concord.AuditExecute
	}
	rec.Outcome = concord.OutcomeMinor
	rec.Detail = fmt.Sprintf("%s %s denied: %s", r.Method, routePath(r), concord.ErrorMessage(err))
	if aerr := s.appendAudit(r.Context(), rec); aerr != nil {
		err = aerr
	}
	writeError(w, r, err)
}

// appendAudit writes one audit record in its own transaction.
func (s *Server) appendAudit(ctx context.Context, rec concord.AuditRecord) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
	defer cancel()
	rec.Time = s.opt.Now()
	err := s.opt.Store.Update(ctx, func(tx concord.Tx) error {
		r := rec // Update may run this more than once
		return tx.AppendAudit(ctx, &r)
	})
	if err != nil {
		s.opt.Logger.Error("audit append failed", "request_id", rec.RequestID, "err", err)
	}
	return err
}

// routePath returns the path part of the matched route pattern
// ("/api/status" for "GET /api/status"): what was asked for, without the
// identifiers a concrete path may hold.
func routePath(r *http.Request) string {
	p := r.Pattern
	if i := strings.IndexByte(p, ' '); i >= 0 {
		p = p[i+1:]
	}
	return p
}

// remoteIP returns the caller's address without the port. Forwarding
// headers are not trusted: a proxy in front must be configured as such.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// responses keeps buffered responses between requests, so that a read's
// body is not copied into a freshly grown buffer each time.
var responses = sync.Pool{New: func() any { return &bufferedResponse{header: http.Header{}, status: http.StatusOK} }}

// release empties b and returns it to the pool, unless its body grew
// past what is worth keeping (a large search page).
func (b *bufferedResponse) release() {
	if b.body.Cap() > 1<<20 {
		return
	}
	clear(b.header)
	b.body.Reset()
	b.status, b.wroteHeader = http.StatusOK, false
	responses.Put(b)
}

// bufferedResponse holds a response until its audit record is written.
type bufferedResponse struct {
	header      http.Header
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(status int) {
	if !b.wroteHeader {
		b.status, b.wroteHeader = status, true
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.wroteHeader = true
	return b.body.Write(p)
}

func (b *bufferedResponse) flushTo(w http.ResponseWriter) {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	w.WriteHeader(b.status)
	w.Write(b.body.Bytes())
}
