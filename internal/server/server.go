// Package server is Concord's HTTP front door: routing, authentication of
// every request but the health probes, authorisation through the one
// authoriser, audit of every access to health data and configuration,
// request IDs, structured logs, Prometheus metrics and graceful shutdown.
// Feature packages (admin API, FHIR, DICOMweb, …) register their routes
// through Handle and never deal with any of this themselves.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/concord-health/concord"
)

// Options configure a Server.
type Options struct {
	Store  concord.Store
	Logger *slog.Logger
	// Node names this node in audit records.
	Node string
	// LogPHI lets request paths and queries into the logs.
	LogPHI bool
	// ShutdownTimeout bounds the wait for in-flight requests.
	ShutdownTimeout time.Duration
	// Now returns the time; time.Now when nil.
	Now func() time.Time
	// Collectors are more Prometheus collectors for /metrics (the
	// interface engine's, say).
	Collectors []prometheus.Collector
}

// Server is the HTTP front door.
type Server struct {
	opt      Options
	mux      *http.ServeMux
	metrics  *metrics
	stopping atomic.Bool
}

// New returns a server with the health, readiness and metrics routes.
func New(opt Options) *Server {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.ShutdownTimeout <= 0 {
		opt.ShutdownTimeout = 30 * time.Second
	}
	s := &Server{opt: opt, mux: http.NewServeMux()}
	s.metrics = newMetrics(opt.Store)
	s.metrics.reg.MustRegister(opt.Collectors...)
	s.Handle("GET /healthz", concord.Access{Public: true}, http.HandlerFunc(s.healthz))
	s.Handle("GET /readyz", concord.Access{Public: true}, http.HandlerFunc(s.readyz))
	s.Handle("GET /metrics", concord.Access{Action: concord.Action{Permission: concord.PermMetricsRead}}, s.metrics.handler())
	// Every other path needs a token too, so that an unauthenticated
	// caller cannot even learn which routes exist.
	s.Handle("/", concord.Access{AnyCaller: true},
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeError(w, r, concord.Errorf(concord.ENOTFOUND, "no such route: %s %s", r.Method, r.URL.Path))
		}))
	return s
}

// Handle registers h for pattern (net/http ServeMux syntax, with method),
// guarded as access says.
func (s *Server) Handle(pattern string, access concord.Access, h http.Handler) {
	s.mux.Handle(pattern, s.guard(access, h))
}

// Handler returns the server's root handler with every middleware.
func (s *Server) Handler() http.Handler {
	return s.observe(s.mux)
}

// Serve answers HTTP on ln until ctx ends, then stops accepting, lets
// in-flight requests finish (up to the shutdown timeout) and returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.opt.Logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.stopping.Store(true)
	sctx, cancel := context.WithTimeout(context.Background(), s.opt.ShutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.stopping.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "stopping"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.opt.Store.Ready(ctx); err != nil {
		s.opt.Logger.Warn("not ready", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": concord.ErrorMessage(err)})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready", "store": s.opt.Store.Kind()})
}
