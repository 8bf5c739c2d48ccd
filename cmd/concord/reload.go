package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/config"
	"github.com/concord-health/concord/internal/engine"
	"github.com/concord-health/concord/internal/httperr"
)

// reloader rereads the configuration and applies its channels to the
// running node: the engine's filters, transformers and destinations, and
// the sources. Other settings need a restart; a reload that finds them
// changed says so. Each reload, applied or refused, is audited.
type reloader struct {
	mu    sync.Mutex
	cfg   config.Config // as applied last
	load  func() (config.Config, error)
	eng   *engine.Engine
	src   *sources
	store concord.Store
	log   *slog.Logger
	wire  wiring
}

// ReloadResult is the answer of POST /api/channels/reload.
type ReloadResult struct {
	Added    []string `json:"added"`
	Removed  []string `json:"removed"`
	Changed  []string `json:"changed"`
	Problems []string `json:"problems,omitempty"`
	Restart  []string `json:"needs_restart,omitempty"`
}

func (r ReloadResult) String() string {
	s := fmt.Sprintf("added %v, removed %v, changed %v", r.Added, r.Removed, r.Changed)
	if len(r.Problems) > 0 {
		s += "; problems: " + strings.Join(r.Problems, "; ")
	}
	if len(r.Restart) > 0 {
		s += "; settings that need a restart changed: " + strings.Join(r.Restart, ", ")
	}
	return s
}

// reload applies the channels of the configuration as it is now. A
// configuration that does not load or compile changes nothing and is
// returned as an EINVALID error.
func (rl *reloader) reload(ctx context.Context, by concord.AuditRecord) (ReloadResult, error) {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	var res ReloadResult
	cfg, err := rl.load()
	var chs []engine.Channel
	if err == nil {
		chs, err = engineChannels(cfg, rl.wire)
	}
	if err != nil {
		err = concord.Errorf(concord.EINVALID, "configuration not reloaded: %v", err)
		rl.audit(ctx, by, concord.OutcomeMinor, err.Error())
		return res, err
	}
	res.Added, res.Removed, res.Changed = channelDiff(rl.cfg.Channels, cfg.Channels)
	res.Restart = restartNeeded(rl.cfg, cfg)
	rl.eng.Configure(chs)
	if err := rl.src.apply(cfg.Channels, false); err != nil {
		res.Problems = strings.Split(err.Error(), "\n")
	}
	rl.cfg.Channels = cfg.Channels
	outcome := concord.OutcomeSuccess
	if len(res.Problems) > 0 {
		outcome = concord.OutcomeMinor
	}
	rl.audit(ctx, by, outcome, "channels reloaded: "+res.String())
	return res, nil
}

// audit records a reload; a failure to record it is logged.
func (rl *reloader) audit(ctx context.Context, by concord.AuditRecord, outcome concord.Outcome, detail string) {
	rec := by
	rec.Time, rec.Action, rec.Object, rec.Outcome, rec.Detail = time.Now(), concord.AuditUpdate, "config/channels", outcome, engine.Truncate(detail, 2000)
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := rl.store.Update(actx, func(tx concord.Tx) error { r := rec; return tx.AppendAudit(actx, &r) }); err != nil {
		rl.log.Error("reload not audited", "err", err)
	}
}

// serveHTTP is POST /api/channels/reload.
func (rl *reloader) serveHTTP(w http.ResponseWriter, r *http.Request) {
	res, err := rl.reload(r.Context(), concord.AuditTemplateFrom(r.Context()))
	if err != nil {
		httperr.Write(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(res)
}

// channelDiff names the channels added, removed and changed between two
// configurations (where a channel is written does not count).
func channelDiff(old, next []config.Channel) (added, removed, changed []string) {
	key := func(ch config.Channel) string {
		ch.File, ch.Line = "", 0
		b, _ := json.Marshal(ch) // follows the pointers (tls, file_drop, application_ack)
		return string(b)
	}
	before := map[string]string{}
	for _, ch := range old {
		before[ch.Name] = key(ch)
	}
	seen := map[string]bool{}
	for _, ch := range next {
		seen[ch.Name] = true
		k, ok := before[ch.Name]
		switch {
		case !ok:
			added = append(added, ch.Name)
		case k != key(ch):
			changed = append(changed, ch.Name)
		}
	}
	for _, ch := range old {
		if !seen[ch.Name] {
			removed = append(removed, ch.Name)
		}
	}
	return added, removed, changed
}

// restartNeeded names the settings other than channels that differ.
func restartNeeded(old, next config.Config) []string {
	var names []string
	for _, k := range config.Keys {
		if k.Get(&old) != k.Get(&next) {
			names = append(names, k.Name)
		}
	}
	return names
}
