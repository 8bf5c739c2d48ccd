package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/concord-health/concord"
)

type requestKey struct{}

// requestState is what the outer middleware learns about a request from
// the layers inside it.
type requestState struct {
	id    string
	actor string
}

func requestID(ctx context.Context) string {
	if st, ok := ctx.Value(requestKey{}).(*requestState); ok {
		return st.id
	}
	return ""
}

func setActor(ctx context.Context, actor string) {
	if st, ok := ctx.Value(requestKey{}).(*requestState); ok {
		st.actor = actor
	}
}

// validRequestID accepts a caller's X-Request-ID only if it is short and
// plain, so it can go into logs and audit records as it is.
func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// observe is the outermost layer: request ID, panic recovery, one log line
// per request and the HTTP metrics. Logs name the route pattern, not the
// path, so patient identifiers in paths stay out of them unless LogPHI.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-ID")
		if !validRequestID(id) {
			id = newRequestID()
		}
		st := &requestState{id: id}
		w.Header().Set("X-Request-ID", id)
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		r = r.WithContext(context.WithValue(r.Context(), requestKey{}, st))
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.opt.Logger.Error("handler panicked", "request_id", id, "panic", p, "stack", string(debug.Stack()))
				if !sw.wrote {
					writeError(sw, r, concord.Errorf(concord.EINTERNAL, "internal error"))
				}
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			d := time.Since(start)
			s.metrics.observe(route, r.Method, sw.status, d)
			attrs := []slog.Attr{
				slog.String("request_id", id), slog.String("method", r.Method), slog.String("route", route),
				slog.Int("status", sw.status), slog.Float64("ms", float64(d.Microseconds())/1000),
				slog.Int64("bytes", sw.bytes), slog.String("remote", remoteIP(r)),
			}
			if st.actor != "" {
				attrs = append(attrs, slog.String("actor", st.actor))
			}
			if s.opt.LogPHI {
				attrs = append(attrs, slog.String("path", r.URL.Path), slog.String("query", r.URL.RawQuery))
			}
			s.opt.Logger.LogAttrs(r.Context(), slog.LevelInfo, "http request", attrs...)
		}()
		next.ServeHTTP(sw, r)
	})
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (w *statusWriter) WriteHeader(status int) {
	if !w.wrote {
		w.status, w.wrote = status, true
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	w.wrote = true
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
