// Package adminapi is the JSON admin API under /api: the server's status
// now, channels, messages and configuration as they arrive.
package adminapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/httperr"
)

// Router is where the admin API registers its routes; the HTTP server
// guards each with the declared access.
type Router interface {
	Handle(pattern string, access concord.Access, h http.Handler)
}

// Info is what the status page says about this node.
type Info struct {
	Version string
	Node    string
	Started time.Time
	// Listeners describes what the node listens on now (sources may
	// change with a reload); nil means nothing.
	Listeners func() map[string]string
}

// Register adds the admin API's routes to r.
func Register(r Router, store concord.Store, info Info, engine Engine) {
	a := &api{store: store, info: info, engine: engine}
	r.Handle("GET /api/status", concord.Access{
		Action: concord.Action{Permission: concord.PermStatusRead},
		Audit:  concord.AuditRead,
		Object: "api/status",
	}, http.HandlerFunc(a.status))
	a.registerMessages(r)
	a.registerOperations(r)
	RegisterLab(r, store)
}

// listeners returns what the node listens on now.
func (a *api) listeners() map[string]string {
	if a.info.Listeners == nil {
		return map[string]string{}
	}
	return a.info.Listeners()
}

type api struct {
	store  concord.Store
	info   Info
	engine Engine
}

// Status is the body of GET /api/status.
type Status struct {
	Version       string              `json:"version"`
	Node          string              `json:"node"`
	StartedAt     time.Time           `json:"started_at"`
	UptimeSeconds float64             `json:"uptime_seconds"`
	Store         StoreStatus         `json:"store"`
	Counts        concord.StoreCounts `json:"counts"`
	Listeners     map[string]string   `json:"listeners"`
}

// StoreStatus describes the store in Status.
type StoreStatus struct {
	Kind    string `json:"kind"`
	Ready   bool   `json:"ready"`
	Problem string `json:"problem,omitempty"`
	Open    int    `json:"connections_open"`
	InUse   int    `json:"connections_in_use"`
	MaxOpen int    `json:"connections_max"`
	Commits int64  `json:"commits"`
	Writes  int64  `json:"writes"`
}

func (a *api) status(w http.ResponseWriter, r *http.Request) {
	counts, err := a.store.Counts(r.Context())
	if err != nil {
		storeFailed(w, r, err)
		return
	}
	st := a.store.Stats()
	ss := StoreStatus{Kind: a.store.Kind(), Ready: true, Open: st.Open, InUse: st.InUse, MaxOpen: st.MaxOpen,
		Commits: st.Commits, Writes: st.Writes}
	if err := a.store.Ready(r.Context()); err != nil {
		ss.Ready, ss.Problem = false, concord.ErrorMessage(err)
	}
	writeJSON(w, http.StatusOK, Status{
		Version:       a.info.Version,
		Node:          a.info.Node,
		StartedAt:     a.info.Started.UTC(),
		UptimeSeconds: time.Since(a.info.Started).Seconds(),
		Store:         ss,
		Counts:        counts,
		Listeners:     a.listeners(),
	})
}

// writeJSON writes an answer indented for people reading the admin API.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// storeFailed answers a failure to reach the store.
func storeFailed(w http.ResponseWriter, r *http.Request, err error) {
	httperr.Write(w, r, concord.WrapError(concord.EUNAVAILABLE, err, "store unavailable"))
}
